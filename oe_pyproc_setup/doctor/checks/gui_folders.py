"""The GUI's saved-state folders (DESIGN §2): none at all is a warning, with the commands that fix it."""

from __future__ import annotations

from oe_pyproc_setup.doctor.context import Context
from oe_pyproc_setup.doctor.model import Check, Finding, Remediation


def run(context: Context) -> list[Finding]:
    layout = context.layout
    folders = [
        ("configs", layout.configs_dir),
        ("plugins", layout.plugins_dir),
        ("shared", layout.shared_dir),
    ]
    details = [f"{label}: {path} ({'present' if path.is_dir() else 'missing'})" for label, path in folders]
    root_option = context.gui_options
    if not layout.root.is_dir():
        return [
            CHECK.finding(
                "warn",
                f"no Open Ephys GUI settings at {layout.root}: the GUI (plugin API {layout.api}) has not "
                "run as this user, or it keeps them elsewhere (give --gui-root)",
                details=details,
                remediation=Remediation(
                    "Start the Open Ephys GUI once and close it (it creates these folders), then install the "
                    "plugin and check again:",
                    [context.install_command, f"oe-pyproc doctor{root_option}"],
                ),
            )
        ]
    missing = [label for label, path in folders if not path.is_dir()]
    if missing:
        return [
            CHECK.finding(
                "warn",
                f"{layout.root} lacks the {', '.join(missing)} folder(s) of plugin API {layout.api}",
                details=details,
                remediation=Remediation(
                    "Start the GUI once (it creates configs-*), and let install create the plugin folders:",
                    [context.install_command],
                ),
            )
        ]
    return [CHECK.finding("ok", f"{layout.root} (plugin API {layout.api})", details=details)]


CHECK = Check("gui.folders", "GUI folders", run)
