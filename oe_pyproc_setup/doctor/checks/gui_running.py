"""A running GUI: settings edits wait for it to close, and it rewrites lastConfig.xml when it exits."""

from __future__ import annotations

from oe_pyproc_setup.doctor.context import Context
from oe_pyproc_setup.doctor.model import Check, Finding, Remediation


def run(context: Context) -> list[Finding]:
    running = context.running_guis
    if not running:
        return [CHECK.finding("ok", "the Open Ephys GUI is not running")]
    details = [f"pid {p.pid}: {p.executable or p.name}" for p in running]
    return [
        CHECK.finding(
            "warn",
            "the Open Ephys GUI is running: configure and install wait until it is closed, and it rewrites "
            "lastConfig.xml when it exits",
            details=details,
            remediation=Remediation("Close the GUI before changing its settings."),
        )
    ]


CHECK = Check("gui.running", "GUI running", run)
