"""Putting the plugin from a conda environment into the GUI's plugin folder.

`plan_install` checks everything first (the environment's plugin, its API version, platform and
architecture, the GUI folder, a running GUI, an upstream plugin, files in the way, and that every path it
will touch — and every path of a previous install's manifest — stays inside the folders we own) and
changes nothing; `execute_install` then copies file by file (temp file + rename), moves an upstream plugin
aside (out of the folder the GUI searches) and drops its installedPlugins.xml entry, writes the default
Home file and finally the manifest, rolling back what it did if a step fails. `uninstall` undoes it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from oe_pyproc_setup.binfmt import normalize_machine, read_binary_info
from oe_pyproc_setup.chains import refuse_unreadable_value
from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.fsutil import (
    LONG_PATH_HINT,
    atomic_copy,
    atomic_write_bytes,
    backup_path_for,
    read_regular_bytes,
    refuse_special_file,
    temp_leftovers,
    windows_path_too_long,
)
from oe_pyproc_setup.gui import GuiLayout, RunningProcess, gui_process_arch, running_gui_processes_for
from oe_pyproc_setup.install import installed_plugins
from oe_pyproc_setup.install.containment import (
    MOVED_ASIDE_FOLDER,
    OwnedFolders,
    manifest_violations,
    refuse_violations,
)
from oe_pyproc_setup.install.manifest import (
    PENDING,
    DefaultHomeRecord,
    InstalledFile,
    InstalledPluginsRecord,
    InstallManifest,
    MovedAside,
    read_manifest,
    root_relative,
    write_manifest,
)
from oe_pyproc_setup.macos.library_validation import refuse_library_validation
from oe_pyproc_setup.plugin_meta import (
    METADATA_FILE,
    PLUGIN_FOLDER,
    PluginMetadata,
    find_adapter,
    find_upstream_plugins,
    gui_version_text,
    prefix_plugin_dir,
    prefix_plugin_dirs,
    read_plugin_metadata,
    sha256_file,
    this_platform,
    tree_files,
)

UNINSTALL_REMINDER = (
    "Run `oe-pyproc uninstall` before removing this environment: the GUI would otherwise keep a plugin "
    "whose Python Home is gone."
)


# ------------------------------------------------------------------------------------------- helpers


def resolve_prefix(prefix: Path | None, environ: dict[str, str] | None = None) -> tuple[Path, str]:
    """--prefix, else the active conda environment (CONDA_PREFIX), else the environment running oe-pyproc."""
    env = os.environ if environ is None else environ
    if prefix is not None:
        chosen, origin = Path(prefix).expanduser(), "--prefix"
    elif env.get("CONDA_PREFIX"):
        chosen, origin = Path(env["CONDA_PREFIX"]), "the active conda environment (CONDA_PREFIX)"
    else:
        chosen, origin = Path(sys.prefix), "the environment running oe-pyproc"
    if not chosen.exists():
        raise UserFacingError(f"{origin}: {chosen} does not exist")
    if not chosen.is_dir():
        raise UserFacingError(f"{origin}: {chosen} is a file; an environment's folder was expected")
    return chosen.absolute(), origin


def gui_arch_for(gui_exe: Path | None, running: list[RunningProcess]) -> tuple[str, str]:
    """The GUI process's architecture and how we know: --gui-exe, a running GUI, else this machine."""
    if gui_exe is not None:
        arch = gui_process_arch(Path(gui_exe).expanduser())
        if arch is None:
            raise UserFacingError(f"--gui-exe {gui_exe}: not a GUI binary whose architecture can be read")
        return arch, f"--gui-exe {gui_exe}"
    for process in running:
        if process.executable is not None:
            arch = gui_process_arch(process.executable)
            if arch is not None:
                return arch, f"the running GUI (pid {process.pid})"
    return normalize_machine(platform.machine()), "this machine (pass --gui-exe to check the GUI binary)"


def _tree_relatives(folder: Path) -> list[str]:
    return [p.relative_to(folder).as_posix() for p in tree_files(folder)]


def os_error(action: str, error: OSError) -> UserFacingError:
    where = f" {error.filename}" if error.filename else ""
    return UserFacingError(f"{action}:{where}: {error.strerror or error}")


# ------------------------------------------------------------------------------------------- install


@dataclass
class InstallPlan:
    prefix: Path
    prefix_origin: str
    source_dir: Path
    metadata: PluginMetadata
    layout: GuiLayout
    gui_arch: str
    gui_arch_source: str
    files: list[tuple[Path, str, str]]  # (source file, path relative to plugins dir, sha256)
    previous: InstallManifest | None
    to_move_aside: list[tuple[Path, Path]] = field(default_factory=list)  # (upstream plugin, aside path)
    installed_plugins_edit: installed_plugins.PlannedEdit | None = None  # entries of what is moved aside
    stale_files: list[str] = field(default_factory=list)  # in the previous manifest, not in this install
    running: list[RunningProcess] = field(default_factory=list)
    up_to_date: bool = False


def _check_plugin(prefix: Path, api: int) -> tuple[Path, PluginMetadata]:
    source = prefix_plugin_dir(prefix, api)
    if not source.is_dir():
        others = [p for p in prefix_plugin_dirs(prefix) if p != source]
        if others:
            apis = sorted({int(p.parent.name.removeprefix("plugins-api")) for p in others}, reverse=True)
            built_for = ", ".join(gui_version_text(a) for a in apis)
            raise UserFacingError(
                f"the oe-pyproc plugin in {prefix} was built for {built_for}, not {gui_version_text(api)}",
                hint="Install the package built for your GUI, or pass the --api of the GUI you run.",
            )
        raise UserFacingError(
            f"no oe-pyproc plugin in {prefix} (expected {source})",
            hint="Install the conda package into that environment (`conda install -c conda-forge oe-pyproc`) "
            "or pass --prefix with the environment that has it.",
        )
    metadata = read_plugin_metadata(source / METADATA_FILE)
    if metadata.plugin_api != api:
        raise UserFacingError(
            f"the plugin in {source} is built for {gui_version_text(metadata.plugin_api)}, "
            f"not {gui_version_text(api)}",
            hint="Install the package built for your GUI's plugin API, or pass the matching --api.",
        )
    if metadata.platform != this_platform():
        raise UserFacingError(
            f"the plugin in {source} is built for {metadata.platform}, not {this_platform()}"
        )
    adapter = find_adapter(source)
    if adapter is None:
        raise UserFacingError(
            f"the plugin in {source} has no GUI adapter (python-processor.so/.dll/.bundle): the package was "
            "built without the GUI headers (OE_PYPROC_WITHOUT_ADAPTER), so the GUI could not load it",
            hint="Install a package built with the adapter; `oe-pyproc run` works without it.",
        )
    missing = metadata.missing_bridges()
    if missing:
        raise UserFacingError(
            f"the plugin in {source} is incomplete: bridge files missing: {', '.join(missing)}"
        )
    adapter_binary = (
        adapter if adapter.is_file() else next(iter(sorted(adapter.glob("Contents/MacOS/*"))), adapter)
    )
    info = read_binary_info(adapter_binary)
    if info is not None and metadata.arch not in info.archs:
        raise UserFacingError(
            f"{adapter} is built for {', '.join(info.archs)} but its metadata says {metadata.arch}: "
            "the package is damaged; reinstall it"
        )
    return source, metadata


def _planned_files(source: Path, metadata: PluginMetadata) -> list[tuple[Path, str, str]]:
    """Source file → path relative to the GUI's plugin folder. macOS: bundles at the top (the GUI loads only
    top-level bundles), the rest in our folder (*unverified*); elsewhere everything in our folder."""
    planned = []
    for path in tree_files(source):
        relative = path.relative_to(source)
        if metadata.platform == "macos" and relative.parts[0].endswith(".bundle"):
            target = relative.as_posix()
        else:
            target = f"{PLUGIN_FOLDER}/{relative.as_posix()}"
        planned.append((path, target, sha256_file(path)))
    return planned


def plan_install(
    *,
    prefix: Path | None,
    layout: GuiLayout,
    gui_exe: Path | None,
    force: bool,
    replace_upstream: bool,
    environ: dict[str, str] | None = None,
    ignore_gui_signature: bool = False,
) -> InstallPlan:
    chosen, origin = resolve_prefix(prefix, environ)
    # It becomes the default Home the plugin reads as text (oe-pyproc.json): it must be representable.
    refuse_unreadable_value(str(chosen), f"the environment ({origin})")
    source, metadata = _check_plugin(chosen, layout.api)
    if not layout.root.is_dir():
        raise UserFacingError(
            f"the GUI's folder {layout.root} does not exist yet",
            hint="Start the Open Ephys GUI once (it creates the folder), or pass --gui-root with the folder "
            "of the GUI you use.",
        )
    if layout.plugins_dir.exists() and not layout.plugins_dir.is_dir():
        raise UserFacingError(f"{layout.plugins_dir} is a file; the GUI's plugin folder was expected")
    running = running_gui_processes_for(layout)
    if running and not force:
        pids = ", ".join(str(p.pid) for p in running)
        raise UserFacingError(
            f"the Open Ephys GUI is running (pid {pids}); it keeps its plugins loaded",
            hint="Close the GUI and run this again, or pass --force to install anyway (it takes effect "
            "at the GUI's next start).",
        )
    gui_arch, arch_source = gui_arch_for(gui_exe, running)
    if metadata.arch != gui_arch:
        hint = "Install the package built for the GUI's architecture."
        if metadata.platform == "macos" and gui_arch == "x86_64":
            hint = (
                "An Intel (x86_64) GUI on Apple Silicon needs an osx-64 environment: "
                "`CONDA_SUBDIR=osx-64 conda create -n oe-python-plugin-x86 -c conda-forge oe-pyproc`, "
                "then install from it (unverified here)."
            )
        raise UserFacingError(
            f"the plugin is built for {metadata.arch} but the GUI runs as {gui_arch} ({arch_source})",
            hint=hint,
        )
    if not ignore_gui_signature:
        refuse_library_validation(gui_exe, [p.executable for p in running if p.executable], gui_arch)
    previous = read_manifest(layout.manifest)
    if previous is not None:
        refuse_violations(
            manifest_violations(previous, layout), f"the previous install's manifest {layout.manifest}"
        )
    files = _planned_files(source, metadata)
    plan = InstallPlan(chosen, origin, source, metadata, layout, gui_arch, arch_source, files, previous)
    plan.running = running
    previous_paths = {f.path for f in previous.files} if previous else set()
    new_paths = {target for _, target, _ in files}
    plan.stale_files = sorted(previous_paths - new_paths)

    # Anything in our way that we did not put there is the user's: refuse rather than overwrite it.
    in_the_way = [
        target
        for _, target, _ in files
        if (layout.plugins_dir / target).exists() and target not in previous_paths
    ]
    our_folder = layout.plugins_dir / PLUGIN_FOLDER
    if our_folder.is_dir():
        # Temp files a killed copy left of our own files are ours: the next copy of that file removes them.
        ours = {layout.plugins_dir / p for p in previous_paths | new_paths}
        leftovers = {left for path in ours for left in temp_leftovers(path)}
        in_the_way += [
            f"{PLUGIN_FOLDER}/{rel}"
            for rel in _tree_relatives(our_folder)
            if f"{PLUGIN_FOLDER}/{rel}" not in previous_paths | new_paths
            and our_folder / rel not in leftovers
        ]
    if in_the_way:
        raise UserFacingError(
            f"files not installed by oe-pyproc are in the way in {layout.plugins_dir}: "
            + ", ".join(sorted(in_the_way)),
            hint="Move them somewhere else (they are not ours to overwrite), then run install again.",
        )

    ours = {layout.plugins_dir / p for p in previous_paths | new_paths}
    upstream = find_upstream_plugins(layout.plugins_dir, ours)
    if upstream and not replace_upstream:
        raise UserFacingError(
            "upstream's Python Processor is installed: "
            + ", ".join(str(p) for p in upstream)
            + "; both provide the processor 'Python Processor' and the GUI takes whichever it finds first",
            hint="Re-run with --replace-upstream to move it aside (out of the plugin folder; "
            "`oe-pyproc uninstall` puts it back), or remove it with the GUI's Plugin Installer.",
        )
    aside_root = layout.root / MOVED_ASIDE_FOLDER / layout.plugins_dir.name
    for path in upstream:
        aside = aside_root / path.relative_to(layout.plugins_dir)
        if aside.exists():
            raise UserFacingError(f"cannot move {path} aside: {aside} already exists; move one of them away")
        plan.to_move_aside.append((path, aside))
    refuse_violations(_paths_outside(plan), "this install")
    written = [
        layout.manifest,
        *(layout.plugins_dir / t for _, t, _ in files),
        *(a for _, a in plan.to_move_aside),
    ]
    for path, backup in [(layout.default_home_file, True), *((p, False) for p in written)]:
        too_long = windows_path_too_long(path, backup=backup)
        if too_long is not None:
            raise UserFacingError(
                f"cannot install into {layout.root}: {path}: {too_long}; nothing was changed",
                hint=LONG_PATH_HINT,
            )
    for path in [layout.manifest, layout.default_home_file, layout.installed_plugins_xml]:
        refuse_special_file(path)
    for _, target, _ in files:
        refuse_special_file(layout.plugins_dir / target)
    if plan.to_move_aside:
        plan.installed_plugins_edit = installed_plugins.plan_removal(
            layout.installed_plugins_xml, layout.plugins_dir, [original for original, _ in plan.to_move_aside]
        )

    plan.up_to_date = (
        previous is not None
        and previous.complete
        and not plan.to_move_aside
        and Path(previous.source_prefix) == chosen
        and {(f.path, f.sha256) for f in previous.files} == {(t, s) for _, t, s in files}
        and all(
            (layout.plugins_dir / t).is_file() and sha256_file(layout.plugins_dir / t) == s
            for _, t, s in files
        )
        and _default_home_is(layout, chosen)
    )
    return plan


def _paths_outside(plan: InstallPlan) -> list[str]:
    """Every path this install would write, move or create that resolves outside the folders we own: a
    symbolic link put in our plugin folder, the configs folder or the moved-aside folder would otherwise
    make install write elsewhere."""
    layout = plan.layout
    owned = OwnedFolders(layout, macos=plan.metadata.platform == "macos")
    home_file = layout.default_home_file
    problems = [owned.plugin_file(target) for _, target, _ in plan.files]
    problems += [
        owned.upstream_plugin(original) or owned.aside(aside) for original, aside in plan.to_move_aside
    ]
    problems += [
        owned.exact_file(layout.manifest, layout.manifest),
        owned.exact_file(home_file, home_file),
        owned.exact_file(backup_path_for(home_file), backup_path_for(home_file)),
    ]
    if plan.to_move_aside:
        problems.append(owned.exact_file(layout.installed_plugins_xml, layout.installed_plugins_xml))
    return [p for p in problems if p]


def _default_home_is(layout: GuiLayout, prefix: Path) -> bool:
    from oe_pyproc_setup.defaulthome import read_default_home

    try:
        record = read_default_home(layout.default_home_file)
    except UserFacingError:
        return False
    return record is not None and Path(record.python_home) == prefix


def describe_install(plan: InstallPlan) -> list[str]:
    layout, meta = plan.layout, plan.metadata
    lines = [
        f"from {plan.source_dir} ({plan.prefix_origin})",
        f"oe-pyproc plugin {meta.version}, {gui_version_text(meta.plugin_api)}, {meta.platform} {meta.arch}, "
        f"bridges for Python {', '.join(sorted(meta.bridges)) or 'none'}",
    ]
    for path, aside in plan.to_move_aside:
        lines.append(f"move upstream's plugin {path} aside to {aside}")
    if plan.installed_plugins_edit is not None:
        lines.append(
            f"remove its entry from {layout.installed_plugins_xml} (as the GUI's Plugin Installer does for a "
            "plugin that is gone)"
        )
    for stale in plan.stale_files:
        lines.append(f"remove {layout.plugins_dir / stale} (from the previous install, not in this one)")
    lines.append(f"copy {len(plan.files)} files into {layout.plugins_dir}:")
    lines += [f"  {target}" for _, target, _ in plan.files]
    lines.append(f"record {plan.prefix} as the default Home in {layout.default_home_file}")
    lines.append(f"write the manifest {layout.manifest}")
    return lines


def _missing_folders(folders: list[Path]) -> list[Path]:
    """The folders (and their missing parents) that do not exist yet, parents first, each once."""
    missing: dict[Path, None] = {}
    for folder in folders:
        chain = []
        current = folder
        while not current.exists():
            chain.append(current)
            current = current.parent
        missing.update(dict.fromkeys(reversed(chain)))
    return list(missing)


def execute_install(plan: InstallPlan) -> InstallManifest:
    """Perform the plan. The manifest is written twice: first, before anything changes, as a journal of
    what is about to be done (`complete: false`), so that a run killed at any moment leaves a manifest
    that uninstall and the next install can follow; last, complete, with what was really written."""
    from oe_pyproc_setup.defaulthome import write_default_home

    layout = plan.layout
    plugins_dir = layout.plugins_dir
    home_file = layout.default_home_file

    def relative(path: str | Path) -> str:
        """A path for the manifest: relative to the GUI root (one from an older manifest may be absolute)."""
        return root_relative(layout.root / path, layout.root)

    previous = plan.previous
    previous_record = previous.default_home if previous else None
    before = read_regular_bytes(home_file) if home_file.exists() else None
    backup_existed = backup_path_for(home_file).exists()
    # Made by the default Home file's atomic write when there is a file of the user's and no backup yet.
    backup_expected = backup_path_for(home_file) if before is not None and not backup_existed else None
    to_create = _missing_folders(
        [plugins_dir]
        + [aside.parent for _, aside in plan.to_move_aside]
        + [(plugins_dir / target).parent for _, target, _ in plan.files]
        + [home_file.parent]
    )
    new_originals = {relative(original) for original, _ in plan.to_move_aside}
    earlier_moves = [
        m for m in (previous.moved_aside if previous else []) if relative(m.path) not in new_originals
    ]

    def manifest_with(default_home: DefaultHomeRecord, complete: bool) -> InstallManifest:
        return InstallManifest(
            source_prefix=str(plan.prefix),
            files=[InstalledFile(target, sha) for _, target, sha in plan.files],
            moved_aside=[MovedAside(relative(m.path), relative(m.aside)) for m in earlier_moves]
            + [MovedAside(relative(o), relative(a)) for o, a in plan.to_move_aside],
            plugin={
                "version": plan.metadata.version,
                "plugin_api": plan.metadata.plugin_api,
                "platform": plan.metadata.platform,
                "arch": plan.metadata.arch,
                "bridges": dict(plan.metadata.bridges),
            },
            default_home=default_home,
            installed_plugins=_installed_plugins_record(plan, relative),
            created_dirs=list(
                dict.fromkeys(
                    [relative(d) for d in (previous.created_dirs if previous else [])]
                    + [relative(d) for d in to_create]
                )
            ),
            complete=complete,
        )

    def home_record(written_sha: str, backup: Path | None) -> DefaultHomeRecord:
        if previous_record is not None:
            # Keep what the file was before the *first* install: that is what uninstall restores.
            return DefaultHomeRecord(
                relative(previous_record.path),
                previous_record.previous,
                written_sha,
                relative(previous_record.backup_created) if previous_record.backup_created else None,
            )
        return DefaultHomeRecord(
            relative(home_file), before, written_sha, relative(backup) if backup else None
        )

    previous_manifest = read_regular_bytes(layout.manifest) if previous is not None else None
    created_dirs: list[Path] = []
    moved: list[tuple[Path, Path]] = []
    written: list[Path] = []
    default_home_state: tuple[bytes | None, Path | None] | None = None  # before, backup made now
    installed_plugins_before: bytes | None = None  # set once installedPlugins.xml was rewritten

    def rollback() -> None:
        if installed_plugins_before is not None:
            with contextlib.suppress(OSError, UserFacingError):
                atomic_write_bytes(layout.installed_plugins_xml, installed_plugins_before, backup=False)
        for path in reversed(written):
            with contextlib.suppress(OSError):
                path.unlink()
        if default_home_state is not None:
            home_before, backup = default_home_state
            with contextlib.suppress(OSError, UserFacingError):
                if home_before is None:
                    home_file.unlink()
                else:
                    atomic_write_bytes(home_file, home_before, backup=False)
                if backup is not None:
                    backup.unlink()
        for original, aside in reversed(moved):
            with contextlib.suppress(OSError):
                os.replace(aside, original)
        with contextlib.suppress(OSError, UserFacingError):
            if previous_manifest is None:
                layout.manifest.unlink()
            else:
                atomic_write_bytes(layout.manifest, previous_manifest, backup=False)
        for folder in reversed(created_dirs):
            with contextlib.suppress(OSError):
                folder.rmdir()

    try:
        for folder in to_create:
            if folder == plugins_dir or folder in plugins_dir.parents:
                folder.mkdir()
                created_dirs.append(folder)
        journal = manifest_with(home_record(PENDING, backup_expected), complete=False)
        write_manifest(layout.manifest, journal, "install (started)")
        for folder in to_create:
            if not folder.exists():
                folder.mkdir()
                created_dirs.append(folder)
        for original, aside in plan.to_move_aside:
            os.replace(original, aside)
            moved.append((original, aside))
        edit = plan.installed_plugins_edit
        if edit is not None:
            atomic_write_bytes(layout.installed_plugins_xml, edit.new, backup=False)
            installed_plugins_before = edit.previous
        for stale in plan.stale_files:
            with contextlib.suppress(FileNotFoundError):
                (plugins_dir / stale).unlink()
        for source, target, _ in plan.files:
            destination = plugins_dir / target
            existed = destination.exists()
            atomic_copy(source, destination)
            if not existed:
                written.append(destination)

        write_default_home(home_file, plan.prefix, command="install")
        backup_made = backup_expected
        if backup_made is not None and previous_record is not None:
            # A re-install replaced the file the previous install wrote: that copy is not the user's.
            backup_made.unlink()
            backup_made = None
        default_home_state = (before, backup_made)
        written_sha = hashlib.sha256(read_regular_bytes(home_file)).hexdigest()
        manifest = manifest_with(home_record(written_sha, backup_made), complete=True)
        write_manifest(layout.manifest, manifest, "install")
    except OSError as error:
        rollback()
        raise os_error("install failed and was rolled back", error) from None
    except UserFacingError:
        rollback()
        raise
    return manifest


def _installed_plugins_record(
    plan: InstallPlan, relative: Callable[[str | Path], str]
) -> InstalledPluginsRecord | None:
    """What uninstall needs to put installedPlugins.xml back: the file before the *first* install that
    edited it, every entry removed since, and what this install left there."""
    earlier = plan.previous.installed_plugins if plan.previous else None
    edit = plan.installed_plugins_edit
    if edit is None:
        if earlier is None:
            return None
        return InstalledPluginsRecord(
            relative(earlier.path), earlier.previous, earlier.removed, earlier.written_sha256
        )
    path = relative(plan.layout.installed_plugins_xml)
    if earlier is None:
        return InstalledPluginsRecord(path, edit.previous, edit.removed, installed_plugins.sha256(edit.new))
    removed = list(dict.fromkeys(earlier.removed + edit.removed))  # a re-run after a kill removes them again
    return InstalledPluginsRecord(path, earlier.previous, removed, installed_plugins.sha256(edit.new))
