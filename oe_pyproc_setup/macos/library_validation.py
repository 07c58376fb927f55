"""Will the GUI's signature let macOS load our plugin? Library validation, per architecture slice.

A process whose signature has the hardened runtime (or asks for library validation outright) gets only
code signed by Apple or by its own team, unless it holds the entitlement
com.apple.security.cs.disable-library-validation: dyld refuses anything else. The official GUI 1.0 is
signed that way without the entitlement (DESIGN §2), so our plugin (built by conda-forge or by the user)
and a Home's libpython are refused. This is dyld's documented rule read from the GUI's own file; it has
not been watched happening on a Mac here.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path

from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.gui import gui_binary_path
from oe_pyproc_setup.macos.signature import DISABLE_LIBRARY_VALIDATION, SliceSignature, read_signatures
from oe_pyproc_setup.shell import quote

UPDATE_NOTE = (
    "A GUI update (or reinstall) brings back the original signature: run `oe-pyproc macos allow-plugins` "
    "again after updating the GUI."
)


def enforces_library_validation(entry: SliceSignature) -> bool:
    hardened = bool(entry.hardened_runtime) or entry.requires_library_validation
    return entry.signed and hardened and not entry.library_validation_disabled


def describe_slice(entry: SliceSignature) -> str:
    """One line per slice: "arm64: signed by team X, hardened runtime, library validation ON; ..."."""
    if not entry.signed:
        return f"{entry.arch}: not code-signed"
    runtime = {True: "hardened runtime", False: "no hardened runtime", None: "runtime flags unknown"}
    validation = "library validation ON" if enforces_library_validation(entry) else "library validation off"
    if entry.library_validation_disabled:
        validation += f" ({DISABLE_LIBRARY_VALIDATION})"
    entitlements = ", ".join(sorted(entry.entitlements or {})) or "none"
    return (
        f"{entry.arch}: signed {entry.signer}, {runtime[entry.hardened_runtime]}, {validation}; "
        f"entitlements: {entitlements}"
    )


def signed_target(binary: Path) -> Path:
    """What to re-sign for the GUI binary `binary`: its .app bundle when it is inside one, else itself."""
    resolved = Path(binary)
    for parent in resolved.parents:
        if parent.suffix == ".app" and resolved.is_relative_to(parent / "Contents" / "MacOS"):
            return parent
    return resolved


def allow_plugins_command(binary: Path) -> str:
    return f"oe-pyproc macos allow-plugins --gui-exe {quote(signed_target(binary))}"


@dataclass(frozen=True)
class LibraryValidationVerdict:
    """The GUI binary's slices and which of them would refuse the plugin (those whose process it matters
    for: `refusing` lists the architectures)."""

    binary: Path
    slices: list[SliceSignature]
    refusing: list[str]

    @property
    def refuses(self) -> bool:
        return bool(self.refusing)

    def details(self) -> list[str]:
        lines = [describe_slice(entry) for entry in self.slices]
        lines += [f"{entry.arch}: {problem}" for entry in self.slices for problem in entry.problems]
        return lines

    def explanation(self) -> str:
        """What will happen and why, in plain words (only meaningful when `refuses`)."""
        teams = sorted({e.team_id for e in self.slices if e.arch in self.refusing and e.team_id})
        team = f"team {', '.join(teams)}" if teams else "its own signer"
        return (
            f"macOS will refuse to load the oe-pyproc plugin into this GUI ({self.binary}, "
            f"{'/'.join(self.refusing)}): it is signed with the hardened runtime and without "
            f"{DISABLE_LIBRARY_VALIDATION}, so library validation admits only code signed by Apple or by "
            f"{team}. The plugin (built by conda-forge or by you) and the Home's libpython are not; dyld "
            "refuses them when the GUI loads the plugin, and the GUI reports the plugin as failed to load."
        )

    def ways_through(self) -> list[str]:
        return [
            f"Let this GUI load plugins it did not sign (asks first, can be undone): "
            f"{allow_plugins_command(self.binary)}. It re-signs your copy of the GUI ad hoc with its own "
            f"entitlements plus {DISABLE_LIBRARY_VALIDATION}. {UPDATE_NOTE}",
            "Or use a GUI built from source on this Mac (not signed with the hardened runtime).",
        ]


def library_validation_verdict(binary: Path, arch: str | None = None) -> LibraryValidationVerdict | None:
    """The verdict for the Mach-O `binary` (for the slice `arch` only, when the process's architecture is
    known); None when it is not a Mach-O. OSError propagates."""
    slices = read_signatures(binary)
    if not slices:
        return None
    considered = [e for e in slices if arch is None or e.arch == arch] or slices
    refusing = [e.arch for e in considered if enforces_library_validation(e)]
    return LibraryValidationVerdict(binary, slices, refusing)


DEFAULT_MACOS_APP = Path("/Applications/Open Ephys GUI.app")


def gui_binary_to_check(gui_exe: Path | None, running_executables: list[Path]) -> Path | None:
    """The GUI binary whose signature matters: --gui-exe, else a running GUI's, else (on macOS) the app in
    /Applications where the GUI's installer puts it; None when none is known."""
    if gui_exe is not None:
        return gui_binary_path(Path(gui_exe).expanduser())
    if running_executables:
        return running_executables[0]
    return default_macos_gui_binary()


def default_macos_gui_binary() -> Path | None:
    """On macOS, the executable of the app where the GUI's installer puts it, when it is there."""
    if platform.system() == "Darwin" and DEFAULT_MACOS_APP.is_dir():
        return gui_binary_path(DEFAULT_MACOS_APP)
    return None


def refuse_library_validation(gui_exe: Path | None, running_executables: list[Path], arch: str) -> None:
    """For `install`: UserFacingError, before anything is copied, when the GUI process (running as `arch`)
    would refuse the plugin; saying what will happen, why, and the ways through."""
    binary = gui_binary_to_check(gui_exe, running_executables)
    if binary is None:
        return
    try:
        verdict = library_validation_verdict(binary, arch)
    except OSError as error:
        raise UserFacingError(
            f"cannot read the GUI's signature in {binary}: {error.strerror or error}"
        ) from None
    if verdict is None or not verdict.refuses:
        return
    ways = "\n".join(f"  - {way}" for way in verdict.ways_through())
    raise UserFacingError(
        verdict.explanation() + "\nNothing was installed.",
        hint=f"Ways through:\n{ways}\n  - Or install anyway with --ignore-gui-signature (the GUI will not "
        "load the plugin until one of the above is done).",
    )
