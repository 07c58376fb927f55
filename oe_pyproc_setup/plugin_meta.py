"""The plugin as the conda package lays it out (DESIGN §5), and the GUI's plugin folder as install sees it.

    <prefix>/lib/oe-pyproc/plugins-api<N>/oe-pyproc/   adapter, bridges, oe-pyproc-plugin.json
    oe-pyproc-plugin.json: {"schema": 1, "version", "plugin_api", "platform", "arch", "bridges": {"3.10": f}}

macOS keeps the adapter as `python-processor.bundle` (bridges inside) and the GUI loads only top-level
bundles, so there the bundle goes to the top of the GUI's plugin folder: *unverified* here.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from oe_pyproc_setup.binfmt import normalize_machine
from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.fsutil import read_regular_bytes

SCHEMA = 1
METADATA_FILE = "oe-pyproc-plugin.json"
PLUGIN_FOLDER = "oe-pyproc"  # our folder, in the prefix and in the GUI's plugins-api<N>/
ADAPTER_STEM = "python-processor"
ADAPTER_NAMES = (f"{ADAPTER_STEM}.so", f"{ADAPTER_STEM}.dll", f"{ADAPTER_STEM}.bundle")
# Names upstream's Python Processor has shipped under; only outside our own folder are they upstream's.
UPSTREAM_NAMES = frozenset(
    {
        "python-processor.so",
        "python-processor.dll",
        "python-processor.bundle",
        "python_processor.so",
        "pythonprocessor.so",
        "pythonprocessor.dll",
        "pythonprocessor.bundle",
    }
)
GUI_VERSION_FOR_API = {10: "1.0.x", 8: "0.6.x"}


def gui_version_text(api: int) -> str:
    version = GUI_VERSION_FOR_API.get(api)
    return f"API {api} (GUI {version})" if version else f"API {api}"


def normalize_platform(value: str) -> str:
    """ "linux-64", "linux", "osx-arm64", "darwin", "win-64", "win32" ... → "linux" | "macos" | "windows"."""
    lowered = value.lower()
    if lowered.startswith("linux"):
        return "linux"
    if lowered.startswith(("osx", "darwin", "mac")):
        return "macos"
    if lowered.startswith("win"):
        return "windows"
    return lowered


def this_platform() -> str:
    return normalize_platform(sys.platform)


@dataclass(frozen=True)
class PluginMetadata:
    """oe-pyproc-plugin.json as read from `path`."""

    path: Path
    version: str
    plugin_api: int
    platform: str  # normalized: linux, macos, windows
    arch: str
    bridges: dict[str, str] = field(default_factory=dict)  # "3.10" -> file name beside the metadata

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def bridge_versions(self) -> list[tuple[int, int]]:
        versions = []
        for key in self.bridges:
            major, _, minor = key.partition(".")
            if major.isdigit() and minor.isdigit():
                versions.append((int(major), int(minor)))
        return sorted(versions)

    def missing_bridges(self) -> list[str]:
        """Bridge files the metadata names that are not in its folder (or inside the macOS bundle)."""
        missing = []
        for name in self.bridges.values():
            if not any(p.exists() for p in (self.folder / name, *self.folder.glob(f"*.bundle/**/{name}"))):
                missing.append(name)
        return missing


def read_plugin_metadata(path: Path) -> PluginMetadata:
    """Parse oe-pyproc-plugin.json; UserFacingError when it is missing, unreadable or malformed."""
    try:
        data = json.loads(read_regular_bytes(path).decode("utf-8"))
    except FileNotFoundError:
        raise UserFacingError(f"no plugin metadata at {path}") from None
    except OSError as error:
        raise UserFacingError(f"cannot read {path}: {error.strerror or error}") from None
    except ValueError as error:
        raise UserFacingError(f"{path} is not valid JSON ({error})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise UserFacingError(f"{path} is not oe-pyproc plugin metadata of schema {SCHEMA}")
    bridges = data.get("bridges")
    api = data.get("plugin_api")
    if (
        not isinstance(bridges, dict)
        or not bridges  # a plugin without a bridge can load no Python at all
        or not isinstance(api, int)
        or isinstance(api, bool)
        or not all(isinstance(data.get(key), str) for key in ("version", "platform", "arch"))
    ):
        raise UserFacingError(
            f"{path} lacks version, plugin_api, platform, arch or bridges (schema {SCHEMA}, DESIGN §5)"
        )
    return PluginMetadata(
        path=path,
        version=data["version"],
        plugin_api=api,
        platform=normalize_platform(data["platform"]),
        arch=normalize_machine(data["arch"]),  # metadata written before the names were unified said aarch64
        bridges={str(k): str(v) for k, v in bridges.items()},
    )


def prefix_plugin_dirs(prefix: Path) -> list[Path]:
    """Every plugins-api<N>/oe-pyproc folder an environment holds (lib/, and Library/lib on Windows)."""
    found = []
    for base in (prefix / "lib" / "oe-pyproc", prefix / "Library" / "lib" / "oe-pyproc"):
        if base.is_dir():
            found += sorted(
                p / PLUGIN_FOLDER
                for p in base.glob("plugins-api*")
                if p.name.removeprefix("plugins-api").isdigit() and (p / PLUGIN_FOLDER).is_dir()
            )
    return found


def prefix_plugin_dir(prefix: Path, api: int) -> Path:
    """Where the environment keeps the plugin for `api` (it may not exist)."""
    for base in (prefix / "lib" / "oe-pyproc", prefix / "Library" / "lib" / "oe-pyproc"):
        candidate = base / f"plugins-api{api}" / PLUGIN_FOLDER
        if candidate.is_dir():
            return candidate
    return prefix / "lib" / "oe-pyproc" / f"plugins-api{api}" / PLUGIN_FOLDER


def find_adapter(folder: Path) -> Path | None:
    for name in ADAPTER_NAMES:
        if (folder / name).exists():
            return folder / name
    return None


def find_upstream_plugins(plugins_dir: Path, ours: set[Path] | None = None) -> list[Path]:
    """Upstream's Python Processor in the GUI's plugin folder: its known file names anywhere the GUI
    searches, except inside our folder and except the paths in `ours` (what our manifest installed)."""
    if not plugins_dir.is_dir():
        return []
    ours = ours or set()
    found = []
    for candidate in sorted(plugins_dir.rglob("*")):
        relative = candidate.relative_to(plugins_dir)
        if (
            relative.parts[0] == PLUGIN_FOLDER
            or candidate in ours
            or any(candidate in o.parents for o in ours)
        ):
            continue
        if any(part.endswith(".bundle") for part in relative.parts[:-1]):
            continue  # inside a bundle: the bundle itself is what counts
        if candidate.name.lower() in UPSTREAM_NAMES:
            found.append(candidate)
    return found


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tree_files(folder: Path) -> list[Path]:
    """Every regular file under `folder` (symlinks to files included), sorted."""
    return sorted(p for p in folder.rglob("*") if p.is_file())
