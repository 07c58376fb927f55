"""Which folders of the GUI root install and uninstall own, and the one test every path they touch passes.

Owned: our plugin folder `plugins-api<N>/oe-pyproc/` (on macOS also our bundle at the top of
plugins-api<N>), the folder upstream's plugin is moved aside to (`<root>/oe-pyproc-moved-aside/`), and
exactly these files: the manifest, the default Home file (and its one backup), installedPlugins.xml.
Upstream's plugin is taken from anywhere under plugins-api<N> outside our folder. A path passes when it
resolves — `..` and every symbolic link on the way included — inside the folder it must be in; a
manifest is checked whole before anything is done, so a tampered or damaged one changes nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.fsutil import backup_path_for
from oe_pyproc_setup.gui import GuiLayout
from oe_pyproc_setup.install.manifest import InstallManifest
from oe_pyproc_setup.plugin_meta import PLUGIN_FOLDER

MOVED_ASIDE_FOLDER = "oe-pyproc-moved-aside"  # under the GUI root: outside every folder the GUI searches


def _real(path: Path) -> str:
    return os.path.realpath(path)


def _is_within(real_path: str, real_folder: str, *, or_equal: bool = False) -> bool:
    if real_path == real_folder:
        return or_equal
    return os.path.commonpath([real_path, real_folder]) == real_folder


@dataclass(frozen=True)
class OwnedFolders:
    layout: GuiLayout
    macos: bool = False  # our bundle sits at the top of plugins-api<N> (DESIGN §5)

    @property
    def plugin_folder(self) -> Path:
        return self.layout.plugins_dir / PLUGIN_FOLDER

    @property
    def aside_dir(self) -> Path:
        return self.layout.root / MOVED_ASIDE_FOLDER

    def from_manifest(self, text: str) -> Path:
        """A path as the manifest stores it (relative to the GUI root; absolute in older manifests)."""
        return self.layout.root / text

    def _real_folder(self, folder: Path) -> str:
        """Where an owned folder really is. The GUI's folders may be links (a plugins folder kept on
        another disk); the folders oe-pyproc creates never are: a link there leads elsewhere, so they
        count as where a real folder of that name would be."""
        for ours in (self.plugin_folder, self.aside_dir):
            if folder == ours or ours in folder.parents:
                return os.path.join(_real(ours.parent), os.path.relpath(folder, ours.parent))
        return _real(folder)

    # Each test returns why `path` is refused, or None when it passes.

    def _outside(self, path: Path, folder: Path, *, or_equal: bool = False) -> str | None:
        real_path, real_folder = _real(path), self._real_folder(folder)
        if _is_within(real_path, real_folder, or_equal=or_equal):
            return None
        lexical = os.path.normpath(os.path.abspath(path))
        if _is_within(lexical, os.path.normpath(os.path.abspath(folder)), or_equal=or_equal):
            return f"{path} leads outside {folder} through a symbolic link (it resolves to {real_path})"
        return f"{path} is outside {folder}"

    def plugin_file(self, relative: str) -> str | None:
        """A file of ours, `relative` to plugins-api<N>: inside our folder (macOS: or inside a bundle at the
        top of plugins-api<N>)."""
        path = self.layout.plugins_dir / relative
        parts = Path(relative).parts
        if self.macos and len(parts) >= 2 and parts[0].endswith(".bundle") and ".." not in parts:
            return self._outside(path, self.layout.plugins_dir / parts[0])
        return self._outside(path, self.plugin_folder)

    def upstream_plugin(self, path: Path) -> str | None:
        """Where upstream's plugin is (or goes back to): under plugins-api<N>, not in our folder."""
        why = self._outside(path, self.layout.plugins_dir)
        if why is None and _is_within(_real(path), self._real_folder(self.plugin_folder), or_equal=True):
            return f"{path} is inside our own plugin folder {self.plugin_folder}"
        return why

    def aside(self, path: Path) -> str | None:
        return self._outside(path, self.aside_dir)

    def exact_file(self, path: Path, expected: Path) -> str | None:
        """One of the files we own: the very path expected, resolving inside the expected file's folder."""
        if _real(path) != _real(expected):
            return f"{path} is not {expected}"
        return self._outside(expected, expected.parent)

    def created_dir(self, path: Path) -> str | None:
        """A folder install may create: plugins-api<N> or below, the configs folder, the aside folder or
        below."""
        real = _real(path)
        if real == _real(self.layout.configs_dir) or any(
            _is_within(real, self._real_folder(folder), or_equal=True)
            for folder in (self.layout.plugins_dir, self.aside_dir)
        ):
            return None
        return (
            f"{path} is none of the folders install creates "
            f"({self.layout.plugins_dir}, {self.aside_dir}, {self.layout.configs_dir})"
        )


def manifest_violations(manifest: InstallManifest, layout: GuiLayout) -> list[str]:
    """Every path of `manifest` that leads outside the folders install/uninstall own (empty: all pass)."""
    owned = OwnedFolders(layout, macos=manifest.plugin.get("platform") == "macos")
    problems: list[str | None] = [owned.exact_file(layout.manifest, layout.manifest)]
    problems += [_label("files[]", owned.plugin_file(entry.path)) for entry in manifest.files]
    for moved in manifest.moved_aside:
        original, aside = owned.from_manifest(moved.path), owned.from_manifest(moved.aside)
        problems.append(_label("moved_aside path", owned.upstream_plugin(original)))
        problems.append(_label("moved_aside aside", owned.aside(aside)))
    record = manifest.default_home
    if record is not None:
        problems.append(
            _label(
                "default_home path",
                owned.exact_file(owned.from_manifest(record.path), layout.default_home_file),
            )
        )
        if record.backup_created:
            backup = backup_path_for(layout.default_home_file)
            problems.append(
                _label(
                    "default_home backup_created",
                    owned.exact_file(owned.from_manifest(record.backup_created), backup),
                )
            )
    if manifest.installed_plugins is not None:
        problems.append(
            _label(
                "installed_plugins path",
                owned.exact_file(
                    owned.from_manifest(manifest.installed_plugins.path), layout.installed_plugins_xml
                ),
            )
        )
    problems += [
        _label("created_dirs", owned.created_dir(owned.from_manifest(d))) for d in manifest.created_dirs
    ]
    return [p for p in problems if p]


def _label(field_name: str, why: str | None) -> str | None:
    return f"{field_name}: {why}" if why else None


def refuse_violations(problems: list[str], source: str) -> None:
    """UserFacingError listing every path refused; `source` says where they come from."""
    if not problems:
        return
    listed = "\n".join(f"  {p}" for p in problems)
    raise UserFacingError(
        f"{source} names paths outside the folders of the GUI root that oe-pyproc owns; nothing was "
        f"done:\n{listed}",
        hint="The manifest may have been edited or damaged, or a symbolic link put in the plugin folder. "
        "Check those paths yourself; remove the plugin by hand if needed.",
    )
