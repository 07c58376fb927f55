"""The default Home file (DESIGN §5): valid, and naming a Home that exists and loads. Fixable with --fix."""

from __future__ import annotations

from pathlib import Path

from oe_pyproc_setup.doctor.checks.home_resolve import create_home_remediation
from oe_pyproc_setup.doctor.context import Context
from oe_pyproc_setup.doctor.model import Check, Finding, Fix


def _fix(context: Context) -> Fix | None:
    """Write the usable Home into the file, keeping a backup of the old file (fsutil's one backup)."""
    choice = context.usable_candidate
    if choice is None:
        return None
    target = context.layout.default_home_file
    home = choice.info.path

    def apply() -> str:
        from oe_pyproc_setup.defaulthome import write_default_home

        _, backup = write_default_home(target, home, command="doctor --fix")
        kept = f"; the previous file is kept as {backup}" if backup else ""
        return f"wrote {home} into {target}{kept}"

    return Fix(f"record {home} (from {choice.source}) as the default Home in {target}", apply)


def run(context: Context) -> list[Finding]:
    layout = context.layout
    if not layout.root.is_dir():
        return [CHECK.finding("skip", f"no GUI settings folder {layout.root} (see GUI folders)")]
    state = context.default_home
    if state.error is not None:
        return [
            CHECK.finding(
                "error",
                f"{state.path} is unusable: {state.error}",
                remediation=create_home_remediation(context),
                fix=_fix(context),
            )
        ]
    if state.record is None:
        return [
            CHECK.finding(
                "warn",
                f"no default Home file ({state.path}): for a chain without python_home the plugin falls "
                "back to the install's environment, or asks for a folder",
                remediation=create_home_remediation(context),
                fix=_fix(context),
            )
        ]
    home: Path = state.record.python_home
    details = [f"written by {state.record.written_by or '?'} at {state.record.written_at or '?'}"]
    if not home.exists():
        return [
            CHECK.finding(
                "error",
                f"{state.path} names {home}, which does not exist",
                details=details,
                remediation=create_home_remediation(context),
                fix=_fix(context),
            )
        ]
    verdict = context.judge(home, f"the default Home file {state.path}").verdict
    if verdict.status == "error":
        details += [reason.message for reason in verdict.reasons]
        plugin_name = "oe-pyproc" if context.rules.name == "ours" else "upstream"
        return [
            CHECK.finding(
                "error",
                f"{state.path} names {home}, which {plugin_name}'s plugin cannot use",
                details=details,
                remediation=create_home_remediation(context),
                fix=_fix(context),
            )
        ]
    return [CHECK.finding("ok", f"{state.path} names {home}", details=details)]


CHECK = Check("gui.default-home", "Default Home file", run)
