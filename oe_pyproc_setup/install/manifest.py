"""`<root>/plugins-api<N>/oe-pyproc-manifest.json`: what `oe-pyproc install` put into the GUI (DESIGN §5).

    {"schema": 1, "source_prefix": "<env>", "files": [{"path", "sha256"}], "moved_aside": [{"path", "aside"}],
     "plugin": {"version", "platform", "arch", "bridges"}, "default_home": {...} | null,
     "installed_plugins": {...} | null, "created_dirs": [...], "complete": bool, "written_by", "written_at"}

`files[].path` is relative to the plugin folder (plugins-api<N>/); every other path (`moved_aside`: an
upstream plugin moved out of the folder the GUI searches; `default_home.path`, `backup_created`,
`created_dirs`, `installed_plugins.path`) is relative to the GUI root, so a root that is moved or mounted
elsewhere keeps a working manifest. All are `/`-separated. Manifests written before that hold absolute
paths: `GUI root / path` reads both, and `containment` refuses any that lead outside the folders we own.
`default_home` records the default Home file as it was before install (its exact bytes, or that it did not
exist), `installed_plugins` the GUI's installedPlugins.xml before install removed the entries of the
plugins it moved aside, so uninstall can put both back. `created_dirs` are the folders install created,
removed again by uninstall when empty. `complete` is false in the journal install writes before its
first change (a run killed midway leaves that: uninstall and the next install follow it, and what was
not done yet is simply not there; absent in older manifests: true). The adapter reads `source_prefix`
as a Home candidate; `doctor` reads all of it.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oe_pyproc_setup import __version__
from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.fsutil import atomic_write_text, read_regular_bytes

SCHEMA = 1
PENDING = ""  # default_home.written_sha256 of a journal: install had not written the file yet


@dataclass(frozen=True)
class InstalledFile:
    path: str  # relative to the GUI's plugin folder, "/"-separated
    sha256: str


@dataclass(frozen=True)
class MovedAside:
    path: str  # where it was (relative to the GUI root)
    aside: str  # where it is now (relative to the GUI root)


@dataclass(frozen=True)
class DefaultHomeRecord:
    """The default Home file before install: its bytes (None: there was none) and what install wrote."""

    path: str  # relative to the GUI root
    previous: bytes | None
    written_sha256: str
    backup_created: str | None  # the `.oe-pyproc-backup` file install's atomic write made, if any

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "previous_base64": None if self.previous is None else base64.b64encode(self.previous).decode(),
            "written_sha256": self.written_sha256,
            "backup_created": self.backup_created,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DefaultHomeRecord:
        previous = data.get("previous_base64")
        return cls(
            path=str(data["path"]),
            previous=None if previous is None else base64.b64decode(previous),
            written_sha256=str(data["written_sha256"]),
            backup_created=data.get("backup_created"),
        )


@dataclass(frozen=True)
class InstalledPluginsRecord:
    """installedPlugins.xml before install removed the entries of plugins it moved aside: its exact bytes,
    the entries removed (each element's bytes, to put back into a file the GUI rewrote since) and what
    install wrote."""

    path: str  # relative to the GUI root
    previous: bytes
    removed: list[bytes]
    written_sha256: str

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "previous_base64": base64.b64encode(self.previous).decode(),
            "removed_base64": [base64.b64encode(entry).decode() for entry in self.removed],
            "written_sha256": self.written_sha256,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InstalledPluginsRecord:
        return cls(
            path=str(data["path"]),
            previous=base64.b64decode(data["previous_base64"], validate=True),
            removed=[base64.b64decode(entry, validate=True) for entry in data["removed_base64"]],
            written_sha256=str(data["written_sha256"]),
        )


def root_relative(path: Path, root: Path) -> str:
    """`path` as the manifest stores it: relative to the GUI root, `/`-separated. Install records only
    paths it checked to resolve inside the root; one of an older manifest spelled through another path to
    the same folders (a link to the root) stays absolute, as it was."""
    relative = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return str(path)
    return Path(relative).as_posix()


@dataclass
class InstallManifest:
    source_prefix: str
    files: list[InstalledFile]
    moved_aside: list[MovedAside] = field(default_factory=list)
    plugin: dict[str, Any] = field(default_factory=dict)
    default_home: DefaultHomeRecord | None = None
    installed_plugins: InstalledPluginsRecord | None = None
    created_dirs: list[str] = field(default_factory=list)
    complete: bool = True
    written_by: str = ""
    written_at: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "source_prefix": self.source_prefix,
            "files": [{"path": f.path, "sha256": f.sha256} for f in self.files],
            "moved_aside": [{"path": m.path, "aside": m.aside} for m in self.moved_aside],
            "plugin": self.plugin,
            "default_home": None if self.default_home is None else self.default_home.to_json(),
            "installed_plugins": None if self.installed_plugins is None else self.installed_plugins.to_json(),
            "created_dirs": list(self.created_dirs),
            "complete": self.complete,
            "written_by": self.written_by,
            "written_at": self.written_at,
        }


def read_manifest(path: Path) -> InstallManifest | None:
    """The manifest, None when there is none; UserFacingError when it exists but cannot be used."""
    try:
        data = json.loads(read_regular_bytes(path).decode("utf-8"))
    except FileNotFoundError:
        return None
    except OSError as error:
        raise UserFacingError(f"cannot read {path}: {error.strerror or error}") from None
    except ValueError as error:
        raise UserFacingError(f"{path} is not valid JSON ({error}); it was left untouched") from None
    try:
        if data["schema"] != SCHEMA:
            raise UserFacingError(
                f"{path} has schema {data['schema']!r}; this oe-pyproc reads schema {SCHEMA}"
            )
        default_home = data.get("default_home")
        installed_plugins = data.get("installed_plugins")
        return InstallManifest(
            source_prefix=str(data["source_prefix"]),
            files=[InstalledFile(str(f["path"]), str(f["sha256"])) for f in data["files"]],
            moved_aside=[MovedAside(str(m["path"]), str(m["aside"])) for m in data.get("moved_aside", [])],
            plugin=dict(data.get("plugin") or {}),
            default_home=DefaultHomeRecord.from_json(default_home) if default_home else None,
            installed_plugins=(
                InstalledPluginsRecord.from_json(installed_plugins) if installed_plugins else None
            ),
            created_dirs=[str(d) for d in data.get("created_dirs", [])],
            complete=data.get("complete", True) is not False,
            written_by=str(data.get("written_by", "")),
            written_at=str(data.get("written_at", "")),
        )
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise UserFacingError(
            f"{path} is not an oe-pyproc install manifest of schema {SCHEMA} "
            f"({type(error).__name__}: {error}); it was left untouched"
        ) from None


def write_manifest(path: Path, manifest: InstallManifest, command: str) -> None:
    manifest.written_by = f"oe-pyproc {__version__} {command}"
    manifest.written_at = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    atomic_write_text(path, json.dumps(manifest.to_json(), indent=2) + "\n", backup=False)
