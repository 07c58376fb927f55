"""lastConfig.xml / recoveryConfig.xml: Python Processors whose python_home or script_path points nowhere."""

from __future__ import annotations

from pathlib import Path

from oe_pyproc_setup.doctor.context import Context
from oe_pyproc_setup.doctor.model import Check, Finding, Remediation


def run(context: Context) -> list[Finding]:
    findings: list[Finding] = []
    for chain in context.chains:
        name = chain.path.name
        if chain.error is not None:
            findings.append(
                CHECK.finding(
                    "warn",
                    f"{chain.path} cannot be read: {chain.error}",
                    subject=name,
                    remediation=Remediation(
                        "The GUI cannot restore this chain either; it writes a new one when it next exits."
                    ),
                )
            )
            continue
        if chain.document is None:
            findings.append(CHECK.finding("skip", f"no {name} yet", subject=name))
            continue
        processors = chain.document.processors
        if not processors:
            findings.append(CHECK.finding("ok", f"{name}: no Python Processor in the chain", subject=name))
            continue
        problems: list[str] = []
        details: list[str] = []
        for processor in processors:
            label = f"Python Processor {processor.node_id or processor.index + 1}"
            home, script = processor.python_home, processor.script_path
            details.append(f"{label}: python_home={home or '(none)'} script_path={script or '(none)'}")
            if home and not Path(home).is_dir():
                problems.append(f"{label}: python_home {home} does not exist")
            if script and not Path(script).is_file():
                problems.append(f"{label}: script_path {script} does not exist")
        if problems:
            findings.append(
                CHECK.finding(
                    "error",
                    f"{name}: " + "; ".join(problems),
                    subject=name,
                    details=details,
                    remediation=Remediation(
                        "Point the chain at an existing Home (and fix the script path in the GUI):",
                        [f"oe-pyproc configure --python-home <Home>{context.gui_options}"],
                    ),
                )
            )
        else:
            count = len(processors)
            findings.append(
                CHECK.finding(
                    "ok",
                    f"{name}: {count} Python Processor{'s' if count > 1 else ''}, paths exist",
                    subject=name,
                    details=details,
                )
            )
    return findings


CHECK = Check("chains.paths", "Saved chains", run)
