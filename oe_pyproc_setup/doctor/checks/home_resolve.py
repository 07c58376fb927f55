"""Which Python Home the plugin will use, and where that choice comes from."""

from __future__ import annotations

from oe_pyproc_setup.doctor.context import Context
from oe_pyproc_setup.doctor.model import Check, Finding, Remediation
from oe_pyproc_setup.home import CONDA_CREATE_COMMAND
from oe_pyproc_setup.shell import quote


def create_home_remediation(context: Context) -> Remediation:
    """Propose a usable Home found on this machine, else the command that creates one."""
    usable = context.usable_candidate
    if usable is not None:
        return Remediation(
            f"Record a Home the plugin accepts (found via {usable.source}):",
            [f"oe-pyproc configure --python-home {quote(usable.info.path)}{context.gui_options}"],
        )
    return Remediation(
        "Create the Home environment (Python 3.10 with numpy and scipy), then record it:",
        [
            CONDA_CREATE_COMMAND,
            f'oe-pyproc configure --python-home "<the new env\'s folder>"{context.gui_options}',
        ],
    )


def run(context: Context) -> list[Finding]:
    sources = context.home_sources
    home = context.home
    tried = [f"{c.source}: {c.info.path} ({c.verdict.status})" for c in sources]
    if home is None:
        usable = [c for c in context.candidates if c.verdict.status == "ok"]
        details = [f"{len(context.candidates)} candidate Homes found on this machine, {len(usable)} usable"]
        details += [f"usable: {c.info.path} ({c.source})" for c in usable[:5]]
        default_home = (
            "the default Home file is unusable (see Default Home file)"
            if context.default_home.error is not None
            else "there is no default Home file"
        )
        return [
            CHECK.finding(
                "error",
                f"no Python Home is configured: no chain names one, {default_home} and there is no "
                "install manifest (the GUI would ask for a folder)",
                details=details,
                remediation=create_home_remediation(context),
            )
        ]
    if home.verdict.status == "error":
        return [
            CHECK.finding(
                "error",
                f"no usable Python Home: {home.info.path} ({home.source}) will not load",
                details=[f"tried {line}" for line in tried]
                + [f"judged by {home.judged_by}"]
                + [r.message for r in home.verdict.reasons],
                remediation=create_home_remediation(context),
            )
        ]
    skipped = [line for line, choice in zip(tried, sources) if choice is not home]
    return [
        CHECK.finding(
            "ok",
            f"{home.info.path} (from {home.source}), judged for "
            f"{'oe-pyproc' if context.rules.name == 'ours' else 'upstream'}'s plugin by "
            f"{'its files' if home.judged_by == 'files' else home.judged_by}",
            details=[f"rules: {context.rules.source}", *(f"skipped {line}" for line in skipped)],
        )
    ]


CHECK = Check("home.resolve", "Python Home", run)
