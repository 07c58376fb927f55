"""macOS: the GUI's code signature, per architecture slice. With the hardened runtime and without
com.apple.security.cs.disable-library-validation, macOS loads only code of the GUI's own team into it:
our plugin and the Home's libpython are refused (DESIGN §2; oe_pyproc_setup.macos.library_validation)."""

from __future__ import annotations

from oe_pyproc_setup.doctor.context import Context
from oe_pyproc_setup.doctor.model import Check, Finding, Remediation
from oe_pyproc_setup.macos.library_validation import (
    UPDATE_NOTE,
    allow_plugins_command,
    library_validation_verdict,
)


def run(context: Context) -> list[Finding]:
    binary = context.gui_binary
    if binary is None or binary.info is None:
        return [CHECK.finding("skip", "no macOS GUI executable given (--gui-exe)")]
    if binary.info.format not in ("macho", "macho-fat"):
        return [CHECK.finding("skip", f"{binary.path} is not a macOS executable: nothing to check")]
    try:
        verdict = library_validation_verdict(binary.path)
    except OSError as error:
        return [CHECK.finding("error", f"cannot read {binary.path}: {error.strerror or error}")]
    if verdict is None:
        return [CHECK.finding("skip", f"{binary.path} is not a macOS executable: nothing to check")]
    if verdict.refuses:
        return [
            CHECK.finding(
                "error",
                verdict.explanation(),
                details=verdict.details(),
                remediation=Remediation(
                    "Re-sign your copy of the GUI ad hoc with its own entitlements plus "
                    "disable-library-validation (the command shows its plan and asks first; "
                    f"`oe-pyproc macos undo-allow-plugins` restores the original). {UPDATE_NOTE} "
                    "Or use a GUI built from source on this Mac.",
                    [allow_plugins_command(binary.path)],
                ),
            )
        ]
    return [
        CHECK.finding(
            "ok", "nothing in the GUI's signature stops it loading the plugin", details=verdict.details()
        )
    ]


CHECK = Check("gui.entitlements", "GUI signature (macOS)", run)
