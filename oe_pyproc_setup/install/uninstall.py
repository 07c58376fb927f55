"""Taking the plugin out of the GUI again: exactly what the install manifest lists, nothing else.

`plan_uninstall` reads the manifest and refuses it whole when any path in it resolves outside the folders
install owns (containment); it changes nothing. `execute_uninstall` removes the files, puts upstream's
plugin back, restores installedPlugins.xml and the default Home file as they were before install, and
removes the folders install created when they are empty, so an install followed by an uninstall leaves the
GUI's folders byte for byte as they were.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.fsutil import atomic_write_bytes, read_regular_bytes, temp_leftovers
from oe_pyproc_setup.gui import GuiLayout, RunningProcess, running_gui_processes_for
from oe_pyproc_setup.install import installed_plugins
from oe_pyproc_setup.install.containment import OwnedFolders, manifest_violations, refuse_violations
from oe_pyproc_setup.install.manifest import PENDING, InstallManifest, read_manifest
from oe_pyproc_setup.install.plugin import os_error
from oe_pyproc_setup.plugin_meta import sha256_file


def _current_bytes(path: Path) -> bytes | None:
    """The file's bytes; None when it is missing or not a regular file (never opened then)."""
    try:
        return read_regular_bytes(path)
    except OSError:
        return None


def _written_by_install(data: bytes) -> bool:
    """A default Home file that `install` wrote (its written_by says so): for a journal whose run was
    killed between writing that file and recording its hash."""
    try:
        record = json.loads(data.decode("utf-8"))
    except ValueError:
        return False
    return isinstance(record, dict) and str(record.get("written_by", "")).endswith(" install")


@dataclass
class UninstallPlan:
    layout: GuiLayout
    manifest: InstallManifest
    remove: list[Path]
    modified: list[Path]  # listed files whose content changed since install (removed all the same)
    missing: list[Path]
    restore: list[tuple[Path, Path]]  # (aside, original)
    restore_conflicts: list[tuple[Path, Path]]
    default_home_file: Path | None
    default_home_action: str  # "restore", "remove", "keep (changed since install)", "none"
    installed_plugins_file: Path | None = None
    installed_plugins_new: bytes | None = None  # what installedPlugins.xml becomes; None: left as it is
    installed_plugins_note: str = ""  # how it is put back, or why it cannot be
    running: list[RunningProcess] = field(default_factory=list)


def plan_uninstall(layout: GuiLayout, force: bool) -> UninstallPlan | None:
    """None when nothing was installed (no manifest)."""
    manifest = read_manifest(layout.manifest)
    if manifest is None:
        return None
    refuse_violations(manifest_violations(manifest, layout), f"the install manifest {layout.manifest}")
    running = running_gui_processes_for(layout)
    if running and not force:
        pids = ", ".join(str(p.pid) for p in running)
        raise UserFacingError(
            f"the Open Ephys GUI is running (pid {pids}); it keeps the plugin loaded",
            hint="Close the GUI and run this again, or pass --force.",
        )
    owned = OwnedFolders(layout)
    remove, modified, missing = [], [], []
    for entry in manifest.files:
        path = layout.plugins_dir / entry.path
        if path.is_file():
            remove.append(path)
            if sha256_file(path) != entry.sha256:
                modified.append(path)
        else:
            missing.append(path)
    restore, conflicts = [], []
    for moved in manifest.moved_aside:
        original, aside = owned.from_manifest(moved.path), owned.from_manifest(moved.aside)
        if os.path.lexists(original) and not os.path.lexists(aside):
            # Already in place: an install killed before it moved it, or an uninstall killed after it put
            # it back (run again to finish).
            continue
        if original.exists() or not aside.exists():
            conflicts.append((aside, original))
        else:
            restore.append((aside, original))
    action, home_file = "none", None
    record = manifest.default_home
    if record is not None:
        home_file = owned.from_manifest(record.path)
        current = _current_bytes(home_file)
        if current == record.previous:
            action = "none"  # as it was before install (an install killed before it wrote the file)
        elif current is not None and (
            hashlib.sha256(current).hexdigest() == record.written_sha256
            or (record.written_sha256 == PENDING and _written_by_install(current))
        ):
            action = "remove" if record.previous is None else "restore"
        else:
            action = "keep (changed since install)"
    plan = UninstallPlan(layout, manifest, remove, modified, missing, restore, conflicts, home_file, action)
    _plan_installed_plugins(plan, owned)
    plan.running = running
    return plan


def _plan_installed_plugins(plan: UninstallPlan, owned: OwnedFolders) -> None:
    record = plan.manifest.installed_plugins
    if record is None:
        return
    path = owned.from_manifest(record.path)
    plan.installed_plugins_file = path
    current = _current_bytes(path)
    if current is not None and installed_plugins.sha256(current) == record.written_sha256:
        plan.installed_plugins_new = record.previous
        plan.installed_plugins_note = "restore it as it was before install"
        return
    merged = installed_plugins.with_entries_put_back(current, record.removed) if current is not None else None
    if merged is None:
        plan.installed_plugins_note = (
            "it is gone or no longer the GUI's format; upstream's entry was not put back (the GUI's Plugin "
            "Installer lists upstream's plugin again once it reinstalls it)"
        )
    elif merged != current:
        plan.installed_plugins_new = merged
        plan.installed_plugins_note = "the GUI rewrote it since install: put upstream's entry back into it"


def describe_uninstall(plan: UninstallPlan) -> list[str]:
    lines = [f"remove {len(plan.remove)} files listed in {plan.layout.manifest}:"]
    lines += [f"  {p}" + ("  (changed since install)" if p in plan.modified else "") for p in plan.remove]
    lines += [f"  {p}  (already gone)" for p in plan.missing]
    lines += [f"put back {original} (from {aside})" for aside, original in plan.restore]
    lines += [
        f"cannot put back {original}: "
        + ("something is there now" if original.exists() else f"{aside} is gone")
        for aside, original in plan.restore_conflicts
    ]
    if plan.installed_plugins_file is not None and plan.installed_plugins_note:
        lines.append(f"{plan.installed_plugins_file}: {plan.installed_plugins_note}")
    if plan.default_home_file is not None:
        texts = {
            "restore": f"restore {plan.default_home_file} as it was before install",
            "remove": f"remove {plan.default_home_file} (install created it)",
            "keep (changed since install)": f"keep {plan.default_home_file}: it changed since install",
        }
        lines.append(texts.get(plan.default_home_action, ""))
    lines.append(f"remove the manifest {plan.layout.manifest}")
    return lines


def execute_uninstall(plan: UninstallPlan) -> list[str]:
    """Undo the install; returns problems that were left as they are (empty when everything was undone)."""
    layout = plan.layout
    owned = OwnedFolders(layout)
    problems: list[str] = []
    try:
        for path in plan.remove:
            path.unlink()
        for aside, original in plan.restore:
            original.parent.mkdir(parents=True, exist_ok=True)
            os.replace(aside, original)
        for aside, original in plan.restore_conflicts:
            problems.append(
                f"{original} was not put back: "
                + ("something is there now" if original.exists() else f"{aside} is missing")
                + (f"; it is still at {aside}" if aside.exists() else "")
            )
        if plan.installed_plugins_file is not None:
            if plan.installed_plugins_new is not None:
                atomic_write_bytes(plan.installed_plugins_file, plan.installed_plugins_new, backup=False)
            elif plan.installed_plugins_note:
                problems.append(f"{plan.installed_plugins_file}: {plan.installed_plugins_note}")
        record = plan.manifest.default_home
        if record is not None and plan.default_home_file is not None:
            home_file = plan.default_home_file
            if plan.default_home_action == "restore" and record.previous is not None:
                atomic_write_bytes(home_file, record.previous, backup=False)
            elif plan.default_home_action == "remove":
                home_file.unlink()
            elif plan.default_home_action.startswith("keep"):
                problems.append(f"{home_file} changed since install and was kept as it is")
            backup = owned.from_manifest(record.backup_created) if record.backup_created else None
            if backup is not None and _current_bytes(backup) == record.previous:
                backup.unlink()
        # Temp files of a write that was killed (an interrupted install) are ours too.
        written = [*plan.remove, *plan.missing, layout.manifest, layout.installed_plugins_xml]
        written += [plan.default_home_file] if plan.default_home_file is not None else []
        for leftover in (left for path in written for left in temp_leftovers(path)):
            leftover.unlink()
        # Folders install created (ours, the moved-aside folder, a configs folder), deepest first, and only
        # when empty: anything the user added since stays. Before the manifest goes, so that a run killed
        # here is finished by the next one; the folder holding the manifest itself, after it.
        created = sorted(
            (owned.from_manifest(d) for d in plan.manifest.created_dirs),
            key=lambda p: len(p.parts),
            reverse=True,
        )
        for folder in created:
            with contextlib.suppress(OSError):
                folder.rmdir()
        layout.manifest.unlink()
        for folder in created:
            if folder in layout.manifest.parents:
                with contextlib.suppress(OSError):
                    folder.rmdir()
    except OSError as error:
        raise os_error("uninstall stopped", error) from None
    return problems
