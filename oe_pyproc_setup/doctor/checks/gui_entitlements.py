"""macOS: the GUI's code signature and entitlements. A hardened-runtime app without
com.apple.security.cs.disable-library-validation may refuse a self-built plugin or a conda libpython.
That the GUI 1.0 app is signed this way is *unverified* (DESIGN §2); the check reports what the file says."""

from __future__ import annotations

from oe_pyproc_setup.doctor.context import Context
from oe_pyproc_setup.doctor.macho_signature import DISABLE_LIBRARY_VALIDATION, read_signatures
from oe_pyproc_setup.doctor.model import Check, Finding, Remediation


def run(context: Context) -> list[Finding]:
    binary = context.gui_binary
    if binary is None or binary.info is None:
        return [CHECK.finding("skip", "no macOS GUI executable given (--gui-exe)")]
    if binary.info.format not in ("macho", "macho-fat"):
        return [CHECK.finding("skip", f"{binary.path} is not a macOS executable: nothing to check")]
    try:
        slices = read_signatures(binary.path)
    except OSError as error:
        return [CHECK.finding("error", f"cannot read {binary.path}: {error.strerror or error}")]
    details = []
    risky = []
    for entry in slices:
        if not entry.signed:
            details.append(f"{entry.arch}: not code-signed")
            continue
        runtime = {True: "hardened runtime", False: "no hardened runtime", None: "runtime flags unknown"}
        validation = (
            "disables library validation" if entry.library_validation_disabled else "library validation ON"
        )
        details.append(f"{entry.arch}: signed, {runtime[entry.hardened_runtime]}, {validation}")
        details += [f"{entry.arch}: {problem}" for problem in entry.problems]
        if entry.hardened_runtime is not False and not entry.library_validation_disabled:
            risky.append(entry.arch)
    if risky:
        return [
            CHECK.finding(
                "warn",
                f"the GUI ({', '.join(risky)}) is signed with library validation and lacks "
                f"{DISABLE_LIBRARY_VALIDATION}: macOS may refuse to load the plugin or the Home's libpython "
                "(unverified)",
                details=details,
                remediation=Remediation(
                    "If the plugin fails to load with a code-signature error, see the GUI's documentation on "
                    "plugins and macOS security settings; please report it with `oe-pyproc doctor --report`."
                ),
            )
        ]
    return [
        CHECK.finding(
            "ok", "nothing in the GUI's signature stops it loading the plugin (unverified)", details=details
        )
    ]


CHECK = Check("gui.entitlements", "GUI entitlements (macOS)", run)
