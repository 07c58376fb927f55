"""PYTHONHOME / PYTHONPATH in the environment: upstream's plugin inherits them; ours runs Python isolated."""

from __future__ import annotations

from oe_pyproc_setup.doctor.context import Context
from oe_pyproc_setup.doctor.model import Check, Finding, Remediation

VARIABLES = ("PYTHONHOME", "PYTHONPATH")


def run(context: Context) -> list[Finding]:
    present = {name: context.environ[name] for name in VARIABLES if context.environ.get(name)}
    if not present:
        return [CHECK.finding("ok", "neither PYTHONHOME nor PYTHONPATH is set")]
    details = [f"{name}={value}" for name, value in present.items()]
    names = " and ".join(present)
    if context.rules.name == "upstream":
        return [
            CHECK.finding(
                "warn",
                f"{names} set: upstream's Python Processor lets them override its Home (a wrong value ends "
                "the GUI with \"No module named 'encodings'\")",
                details=details,
                remediation=Remediation(
                    f"Unset {names} in the environment the GUI starts from:",
                    [f"unset {' '.join(present)}"],
                ),
            )
        ]
    return [
        CHECK.finding(
            "ok",
            f"{names} set, and ignored: oe-pyproc's plugin starts Python isolated from the environment",
            details=details,
        )
    ]


CHECK = Check("env.python-vars", "PYTHONHOME / PYTHONPATH", run)
