"""`oe-pyproc macos allow-plugins` and its undo: re-sign the user's copy of the GUI ad hoc with its own
entitlements plus com.apple.security.cs.disable-library-validation, so it loads plugins it did not sign.

Before `codesign` runs, every file its `--deep` signing can rewrite is copied to a backup folder (the
Mach-O files, `_CodeSignature/` folders and `CodeResources` files of the app), with the original
entitlements and a record of hashes; undo puts those files back, removes the signature files codesign
added, and checks the original signature is back. Only the re-signing needs macOS (`codesign`); the plan is
computed and shown anywhere. A GUI update replaces the app and so resets all of this.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import plistlib
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oe_pyproc_setup.binfmt import read_binary_info
from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.fsutil import atomic_copy, atomic_write_bytes
from oe_pyproc_setup.gui import gui_binary_path
from oe_pyproc_setup.macos.library_validation import (
    describe_slice,
    enforces_library_validation,
    signed_target,
)
from oe_pyproc_setup.macos.signature import DISABLE_LIBRARY_VALIDATION, SliceSignature, read_signatures
from oe_pyproc_setup.shell import quote

RECORD = "record.json"
FILES = "files"
ORIGINAL_ENTITLEMENTS = "original-entitlements.plist"
NEW_ENTITLEMENTS = "entitlements.plist"
RECORD_SCHEMA = 1


def default_backup_root() -> Path:
    return Path.home() / "Library" / "Application Support" / "oe-pyproc" / "gui-signatures"


def backup_dir_for(target: Path, backup_root: Path) -> Path:
    """One backup folder per app path: "<app name>-<8 hex of its absolute path>"."""
    digest = hashlib.sha256(str(target.absolute()).encode()).hexdigest()[:8]
    return backup_root / f"{target.name}-{digest}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_signature_file(path: Path) -> bool:
    return "_CodeSignature" in path.parts or path.name == "CodeResources"


def signature_affected_files(target: Path) -> list[Path]:
    """Files under `target` (relative) that `codesign --force --deep` may rewrite: every Mach-O (the
    signature is embedded in it) and every code-signature file; `target` itself when it is a file."""
    if target.is_file():
        return [Path(target.name)]
    found = []
    for path in sorted(target.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        if _is_signature_file(path.relative_to(target)):
            found.append(path.relative_to(target))
            continue
        info = read_binary_info(path)
        if info is not None and info.format in ("macho", "macho-fat"):
            found.append(path.relative_to(target))
    return found


def _root_of(target: Path) -> Path:
    """The folder the recorded relative paths start from: the app bundle, or a bare binary's folder."""
    return target if target.is_dir() else target.parent


@dataclass
class AllowPluginsPlan:
    target: Path  # the .app (or a bare executable) that is re-signed
    binary: Path  # its main executable, whose entitlements are kept
    slices: list[SliceSignature]
    entitlements: dict[str, Any]  # the original ones
    backup_dir: Path
    files: list[Path]  # relative to _root_of(target)
    already_allowed: bool
    replaces_stale_backup: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def new_entitlements(self) -> dict[str, Any]:
        return {**self.entitlements, DISABLE_LIBRARY_VALIDATION: True}

    def codesign_arguments(self, codesign: str = "codesign") -> list[str]:
        return [
            codesign,
            "--force",
            "--deep",
            "--options",
            "runtime",
            "--sign",
            "-",
            "--entitlements",
            str(self.backup_dir / NEW_ENTITLEMENTS),
            str(self.target),
        ]


def _gui_target(gui_exe: Path) -> tuple[Path, Path]:
    path = Path(gui_exe).expanduser().absolute()
    if not path.exists():
        raise UserFacingError(f"--gui-exe {path} does not exist")
    binary = gui_binary_path(path)
    return (path if path.suffix == ".app" else signed_target(binary)), binary


def plan_allow_plugins(gui_exe: Path, backup_root: Path) -> AllowPluginsPlan:
    target, binary = _gui_target(gui_exe)
    try:
        slices = read_signatures(binary)
    except OSError as error:
        raise UserFacingError(f"cannot read {binary}: {error.strerror or error}") from None
    if not slices:
        raise UserFacingError(f"{binary} is not a macOS executable: there is no signature to change")
    already_allowed = not any(enforces_library_validation(e) for e in slices)
    kinds = {json.dumps(e.entitlements, sort_keys=True, default=str) for e in slices}
    if len(kinds) > 1 and not already_allowed:
        raise UserFacingError(
            f"the architecture slices of {binary} carry different entitlements; codesign takes one set, so "
            "oe-pyproc does not re-sign this GUI",
            hint="Reinstall the GUI from its official download, then run this again.",
        )
    backup_dir = backup_dir_for(target, backup_root)
    plan = AllowPluginsPlan(
        target,
        binary,
        slices,
        dict(slices[0].entitlements or {}),
        backup_dir,
        signature_affected_files(target),
        already_allowed=already_allowed,
    )
    record = _read_record(backup_dir)
    if record is not None and record.get("after") is None:
        # codesign never finished (the process was killed): the backup holds the only original files.
        raise UserFacingError(
            f"an earlier allow-plugins on {target} did not finish; {backup_dir} holds its original files",
            hint=f"Put them back first: oe-pyproc macos undo-allow-plugins --gui-exe {quote(target)}",
        )
    if record is not None and not plan.already_allowed:
        # A backup whose app no longer matches what we signed: the GUI was updated or reinstalled since.
        plan.replaces_stale_backup = True
        plan.notes.append(
            f"an earlier backup in {backup_dir} (from {record.get('signed_at', 'an earlier run')}) no longer "
            "matches this app (updated or reinstalled since?); it is replaced by a backup of the app as it is"
        )
    return plan


def describe_allow_plugins(plan: AllowPluginsPlan) -> list[str]:
    root = _root_of(plan.target)
    lines = [f"the GUI: {plan.target} (main executable {plan.binary})"]
    lines += [f"  now: {describe_slice(entry)}" for entry in plan.slices]
    lines += plan.notes
    lines.append(
        f"1. back up {len(plan.files)} files codesign may rewrite, from {root}, to {plan.backup_dir}:"
    )
    lines += [f"     {relative}" for relative in plan.files]
    lines.append(
        f"   with the original entitlements ({ORIGINAL_ENTITLEMENTS}) and a record of every file's hash"
    )
    kept = ", ".join(sorted(plan.entitlements)) or "none"
    lines.append(f"2. write {plan.backup_dir / NEW_ENTITLEMENTS}: the GUI's own entitlements ({kept})")
    lines.append(f"   plus {DISABLE_LIBRARY_VALIDATION}")
    lines.append("3. re-sign the app ad hoc (no Apple identity), keeping the hardened runtime:")
    lines.append("     " + " ".join(quote(a) for a in plan.codesign_arguments()))
    lines.append("4. read the new signature back and check library validation is off")
    return lines


CONSEQUENCES = [
    "The GUI will load plugins and libraries signed by anyone (that is what disable-library-validation "
    "means), not only Apple's and the GUI team's.",
    "The app is no longer signed by the Open Ephys team: macOS may ask again for permissions it had granted "
    "(microphone, files), and Gatekeeper may ask you to confirm opening it (right-click > Open).",
    "A GUI update or reinstall brings back the original signature: run this command again afterwards.",
    "`oe-pyproc macos undo-allow-plugins --gui-exe ...` restores the original signature from the backup.",
]


# ------------------------------------------------------------------------------------- the record


def _read_record(backup_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((backup_dir / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("schema") == RECORD_SCHEMA else None


def _write_record(backup_dir: Path, record: dict[str, Any]) -> None:
    atomic_write_bytes(backup_dir / RECORD, json.dumps(record, indent=2).encode(), backup=False)


def _folders(target: Path) -> list[str]:
    return (
        sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_dir())
        if target.is_dir()
        else []
    )


def _hashes(root: Path, files: list[Path]) -> dict[str, str]:
    return {
        relative.as_posix(): _sha256(root / relative) for relative in files if (root / relative).is_file()
    }


# ------------------------------------------------------------------------------------------ execute


@dataclass(frozen=True)
class AllowPluginsResult:
    slices: list[SliceSignature]
    still_refusing: list[str]  # slices on which library validation is still on (codesign did not do it)


def execute_allow_plugins(plan: AllowPluginsPlan, codesign: str = "codesign") -> AllowPluginsResult:
    """Back up, write the entitlements, run codesign, record the result. When codesign fails, the backed-up
    files are put back and the files it added removed, so the app is as it was."""
    root = _root_of(plan.target)
    partial = plan.backup_dir.with_name(plan.backup_dir.name + ".partial")
    try:
        if partial.exists():
            shutil.rmtree(partial)
        (partial / FILES).mkdir(parents=True)
        for relative in plan.files:
            destination = partial / FILES / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / relative, destination)
        (partial / ORIGINAL_ENTITLEMENTS).write_bytes(plistlib.dumps(plan.entitlements))
        (partial / NEW_ENTITLEMENTS).write_bytes(plistlib.dumps(plan.new_entitlements))
        record: dict[str, Any] = {
            "schema": RECORD_SCHEMA,
            "target": str(plan.target),
            "binary": str(plan.binary),
            "original_signature": [describe_slice(e) for e in plan.slices],
            "files": _hashes(root, plan.files),
            "signed_at": None,
            "after": None,
            "created": None,
            "folders": _folders(plan.target),
        }
        _write_record(partial, record)
        if plan.backup_dir.exists():
            shutil.rmtree(plan.backup_dir)  # the stale backup the plan announced
        os.replace(partial, plan.backup_dir)
    except OSError as error:
        with contextlib.suppress(OSError):
            shutil.rmtree(partial)
        raise UserFacingError(
            f"cannot write the backup in {plan.backup_dir}: {error.strerror or error}"
        ) from None

    arguments = plan.codesign_arguments(codesign)
    try:
        completed = subprocess.run(arguments, capture_output=True, text=True, check=False, timeout=600)
        failure = None if completed.returncode == 0 else (completed.stderr or completed.stdout).strip()
    except (OSError, subprocess.SubprocessError) as error:
        failure = str(error)
    after_files = signature_affected_files(plan.target)
    if failure is not None:
        _restore(plan.backup_dir, record, after_files)
        shutil.rmtree(plan.backup_dir, ignore_errors=True)
        hint = "Nothing was changed: the app's files were put back."
        if "not permitted" in failure.lower():
            hint += (
                " macOS protects apps in /Applications: allow your terminal under System Settings > Privacy "
                "& Security > App Management, then run this again."
            )
        raise UserFacingError(f"codesign failed: {failure}", hint=hint)
    record["signed_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    record["after"] = _hashes(root, after_files)
    record["created"] = sorted(set(record["after"]) - set(record["files"]))
    _write_record(plan.backup_dir, record)
    slices = read_signatures(plan.binary)
    return AllowPluginsResult(slices, [e.arch for e in slices if enforces_library_validation(e)])


def _restore(backup_dir: Path, record: dict[str, Any], current_files: list[Path]) -> None:
    """Put every backed-up file back (atomically each) and remove signature files the backup lacks."""
    root = Path(record["target"])
    root = root if root.is_dir() else root.parent
    for relative in record["files"]:
        atomic_copy(backup_dir / FILES / relative, root / relative)
    for relative in current_files:
        if relative.as_posix() not in record["files"]:
            with contextlib.suppress(FileNotFoundError):
                (root / relative).unlink()
    # Folders codesign added (a nested bundle's _CodeSignature), deepest first, only when left empty.
    if root == Path(record["target"]):
        for folder in sorted(set(_folders(root)) - set(record["folders"]), key=len, reverse=True):
            with contextlib.suppress(OSError):
                (root / folder).rmdir()


# ---------------------------------------------------------------------------------------------- undo


@dataclass
class UndoPlan:
    target: Path
    backup_dir: Path
    record: dict[str, Any]
    restore: list[str]
    remove: list[str]


def plan_undo(gui_exe: Path, backup_root: Path) -> UndoPlan:
    target, _ = _gui_target(gui_exe)
    backup_dir = backup_dir_for(target, backup_root)
    record = _read_record(backup_dir)
    reinstall = "Reinstall the GUI from its official download to get its original signature back."
    if record is None:
        raise UserFacingError(
            f"oe-pyproc has no backup of {target}'s signature (looked in {backup_dir})", hint=reinstall
        )
    root = _root_of(target)
    current = _hashes(root, signature_affected_files(target))
    if record.get("after") is None:
        # An interrupted re-sign: the app's state is unknown, the backup is the original: put it all back
        # and remove signature files the original did not have.
        added = sorted(set(current) - set(record["files"]))
        return UndoPlan(target, backup_dir, record, sorted(record["files"]), added)
    if current != record["after"]:
        changed = sorted(
            name
            for name in set(current) | set(record["after"])
            if current.get(name) != record["after"].get(name)
        )
        raise UserFacingError(
            f"{target} changed since oe-pyproc re-signed it ({len(changed)} files differ, e.g. "
            f"{changed[0]}): a GUI update or reinstall already replaced it, or something else re-signed it; "
            "the backup is not put back over it",
            hint=f"Check it with `oe-pyproc doctor --gui-exe ...`; if in doubt: {reinstall}",
        )
    return UndoPlan(target, backup_dir, record, sorted(record["files"]), sorted(record["created"] or []))


def describe_undo(plan: UndoPlan) -> list[str]:
    when = plan.record.get("signed_at")
    state = f"re-signed by oe-pyproc at {when}" if when else "an interrupted oe-pyproc re-sign"
    lines = [f"the GUI: {plan.target}, {state}"]
    lines.append(f"put back {len(plan.restore)} files from {plan.backup_dir}:")
    lines += [f"  {name}" for name in plan.restore]
    lines += [f"remove {name} (added by codesign)" for name in plan.remove]
    lines.append("the original signature, as it was:")
    lines += [f"  {line}" for line in plan.record.get("original_signature", [])]
    lines.append(f"then remove the backup {plan.backup_dir}")
    return lines


def execute_undo(plan: UndoPlan) -> list[SliceSignature]:
    """Restore; returns the signature read back from the main executable. The backup is removed only when
    the restored files are byte for byte the backed-up ones."""
    root = _root_of(plan.target)
    try:
        _restore(plan.backup_dir, plan.record, [Path(name) for name in plan.remove])
    except OSError as error:
        raise UserFacingError(
            f"undo stopped: {error.strerror or error}; the backup in {plan.backup_dir} is kept",
            hint="Run the command again, or reinstall the GUI from its official download.",
        ) from None
    if _hashes(root, [Path(name) for name in plan.restore]) != plan.record["files"]:
        raise UserFacingError(
            f"the restored files differ from the backup in {plan.backup_dir}; it is kept",
            hint="Reinstall the GUI from its official download.",
        )
    shutil.rmtree(plan.backup_dir)
    return read_signatures(Path(plan.record["binary"]))
