"""A Home's files: version, architecture, venv base, stdlib and numpy, read without running anything.

A *Home* is the prefix folder of a Python installation or environment (what the plugin embeds). Nothing
here runs the Home's interpreter (DESIGN §7: the CLI judges a Home by that Home, never by itself).
Windows layouts are judged alike by these rules and by the loader under wine on real Windows Homes
(CI part 24-windows); macOS layouts follow the documented installs and are *unverified* here.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from oe_pyproc_setup.binfmt import read_binary_info
from oe_pyproc_setup.fsutil import read_regular_bytes  # never opens a FIFO or device (it could block)

HomeKind = Literal["conda-env", "venv", "base-install", "not-python", "missing"]

_LIB_PYTHON_DIR = re.compile(r"^python(\d+)\.(\d+)t?$")
# What the loader dlopens: the soname file or the dev link (no debug `d` or free-threaded `t` builds).
_LIBPYTHON_FILE = re.compile(r"^libpython(\d+)\.(\d+)\.(so|so\.1\.0|dylib)$")
_WINDOWS_DLL = re.compile(r"^python(\d)(\d+)\.dll$", re.IGNORECASE)
_VERSION_TEXT = re.compile(r"^(\d+)\.(\d+)")


@dataclass
class HomeInfo:
    """Everything the files of a Home say about it. Paths are absolute; None means "not found"."""

    path: Path
    kind: HomeKind
    version: tuple[int, int] | None = None
    version_source: str | None = None  # e.g. "conda-meta/python-3.10.13-h955ad1f_0.json", "lib/python3.10"
    full_version: str | None = None  # "3.10.13" when a record says so
    interpreter: Path | None = None
    arch: str | None = None  # normalized (x86_64, arm64, ...); from libpython, else the interpreter
    arch_source: Path | None = None
    archs: tuple[str, ...] = ()  # all slices of a universal binary
    libpython: Path | None = None
    venv_base: Path | None = None  # from pyvenv.cfg `home =`: the base install's prefix
    venv_base_exists: bool | None = None
    stdlib_dir: Path | None = None
    has_encodings: bool = False
    site_packages: tuple[Path, ...] = ()
    numpy_version: str | None = None
    numpy_installer: str | None = None  # "conda", "pip", another INSTALLER value, or None
    numpy_path: Path | None = None
    windows_layout: bool = False
    # Windows' embeddable package: python3XY._pth (beside the DLL) or python._pth (beside python.exe)
    pth_file: Path | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def version_text(self) -> str | None:
        return f"{self.version[0]}.{self.version[1]}" if self.version else None

    @property
    def has_numpy(self) -> bool:
        return self.numpy_path is not None

    def to_json(self) -> dict[str, Any]:
        """The `homes --json` representation of the inspection (schema 1)."""

        def text(value: Path | None) -> str | None:
            return None if value is None else str(value)

        return {
            "path": str(self.path),
            "kind": self.kind,
            "version": self.version_text,
            "full_version": self.full_version,
            "version_source": self.version_source,
            "interpreter": text(self.interpreter),
            "arch": self.arch,
            "archs": list(self.archs),
            "libpython": text(self.libpython),
            "venv_base": text(self.venv_base),
            "venv_base_exists": self.venv_base_exists,
            "stdlib": text(self.stdlib_dir),
            "has_encodings": self.has_encodings,
            "site_packages": [str(p) for p in self.site_packages],
            "numpy": None
            if self.numpy_path is None
            else {
                "version": self.numpy_version,
                "installer": self.numpy_installer,
                "path": str(self.numpy_path),
            },
            "pth_file": text(self.pth_file),
            "problems": list(self.problems),
        }


def _read_pyvenv_cfg(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    # utf-8-sig: CPython reads a pyvenv.cfg that starts with a byte-order mark (an editor's) as usual.
    for line in read_regular_bytes(path).decode("utf-8-sig", errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip().lower()] = value.strip()
    return values


def parse_version(text: str | None) -> tuple[int, int] | None:
    match = _VERSION_TEXT.match(text or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def _conda_records(prefix: Path, name: str) -> list[dict[str, Any]]:
    """The conda-meta JSON records of package `name` (normally one)."""
    meta = prefix / "conda-meta"
    records = []
    for record_file in sorted(meta.glob(f"{name}-*.json")):
        try:
            record = json.loads(read_regular_bytes(record_file).decode("utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and record.get("name") == name:
            record["_file"] = record_file.name
            records.append(record)
    return records


def _is_windows_layout(prefix: Path) -> bool:
    return (prefix / "python.exe").is_file() or (prefix / "Scripts" / "python.exe").is_file()


def _stdlib_candidates(prefix: Path) -> list[tuple[tuple[int, int], Path]]:
    """lib/pythonX.Y folders that hold a standard library (os.py) or a venv's site-packages."""
    found = []
    lib = prefix / "lib"
    if lib.is_dir():
        for child in lib.iterdir():
            match = _LIB_PYTHON_DIR.match(child.name)
            if (
                match
                and child.is_dir()
                and ((child / "os.py").exists() or (child / "site-packages").is_dir())
            ):
                found.append(((int(match.group(1)), int(match.group(2))), child))
    return sorted(found)


def _find_libpython(prefix: Path, version: tuple[int, int] | None) -> Path | None:
    """The shared libpython of a base install: lib/, a multiarch lib/<triplet>/ (Debian), a framework's
    `Python` (macOS), or pythonXY.dll (Windows)."""
    if _is_windows_layout(prefix):
        dlls = [
            p
            for p in prefix.glob("python3*.dll")
            if _WINDOWS_DLL.match(p.name) and p.name.lower() != "python3.dll"
        ]
        if version:
            dlls = [p for p in dlls if p.name.lower() == f"python{version[0]}{version[1]}.dll"]
        return sorted(dlls)[0] if dlls else None
    candidates: list[Path] = []
    for folder in (prefix / "lib", *sorted((prefix / "lib").glob("*-linux-gnu*"))):
        if folder.is_dir():
            candidates.extend(p for p in folder.iterdir() if _LIBPYTHON_FILE.match(p.name))
    if version:
        wanted = f"libpython{version[0]}.{version[1]}"
        candidates = [p for p in candidates if p.name.startswith(wanted + ".")]
    existing = [p for p in candidates if p.exists()]
    if existing:
        # Prefer the real soname file (libpython3.10.so.1.0) over the dev symlink, then the shortest path.
        return sorted(existing, key=lambda p: (p.is_symlink(), len(p.name) * -1, str(p)))[0]
    framework_binary = prefix / "Python"
    if framework_binary.is_file():
        return framework_binary
    return None


def _find_interpreter(
    prefix: Path, version: tuple[int, int] | None, windows: bool, venv: bool
) -> Path | None:
    """The interpreter the loader runs (its `import numpy` check) and embeds as sys.executable: bin/python3,
    else bin/python3.X; on Windows a venv's Scripts/python.exe or an install's python.exe."""
    if windows:
        names = ["Scripts/python.exe" if venv else "python.exe"]
    else:
        names = ["bin/python3"] + ([f"bin/python{version[0]}.{version[1]}"] if version else [])
    for name in names:
        if (prefix / name).is_file():
            return prefix / name
    return None


def _base_prefix_from_venv_home(home_value: str, windows: bool) -> Path:
    """pyvenv.cfg's `home` is the folder of the base interpreter: <prefix>/bin, or the prefix on Windows."""
    home_dir = Path(home_value)
    if not windows and home_dir.name == "bin":
        return home_dir.parent
    return home_dir


def _site_packages(prefix: Path, version: tuple[int, int] | None, windows: bool) -> list[Path]:
    folders: list[Path] = []
    if windows:
        folders.append(prefix / "Lib" / "site-packages")
    elif version:
        folders.append(prefix / "lib" / f"python{version[0]}.{version[1]}" / "site-packages")
        folders.append(prefix / "local" / "lib" / f"python{version[0]}.{version[1]}" / "dist-packages")
        folders.append(prefix / "lib" / "python3" / "dist-packages")
    return [p for p in folders if p.is_dir()]


def _find_numpy(info: HomeInfo, conda_prefix: Path | None) -> None:
    for folder in info.site_packages:
        package = folder / "numpy"
        if not (package / "__init__.py").is_file():
            continue
        info.numpy_path = package
        dist_infos = sorted(folder.glob("numpy-*.dist-info")) + sorted(folder.glob("numpy-*.egg-info"))
        if dist_infos:
            stem = dist_infos[0].name.removesuffix(".dist-info").removesuffix(".egg-info")
            info.numpy_version = stem.split("-")[1]
            installer_file = dist_infos[0] / "INSTALLER"
            if installer_file.is_file():
                installer = installer_file.read_text(encoding="utf-8", errors="replace").strip()
                info.numpy_installer = installer or None
        if conda_prefix is not None and folder.is_relative_to(conda_prefix):
            records = _conda_records(conda_prefix, "numpy")
            if records:
                info.numpy_installer = "conda"
                info.numpy_version = str(records[0].get("version", info.numpy_version))
        if info.numpy_version is None:
            version_file = package / "version.py"
            if version_file.is_file():
                match = re.search(
                    r"^(?:__)?version(?:__)?\s*[:=].*?['\"]([^'\"]+)['\"]", version_file.read_text(), re.M
                )
                info.numpy_version = match.group(1) if match else None
        return


def _find_pth_file(base: Path, libpython: Path | None, interpreter: Path | None) -> Path | None:
    """The ._pth file CPython on Windows reads instead of its usual sys.path, as the loader looks for it:
    beside the DLL (python310._pth, the embeddable package's) or beside python.exe (python._pth)."""
    candidates = [base / f"{libpython.stem}._pth"] if libpython is not None else []
    if interpreter is not None:
        candidates.append(interpreter.parent / "python._pth")
    return next((p for p in candidates if p.is_file()), None)


def _stdlib_of(prefix: Path, version: tuple[int, int] | None, windows: bool) -> Path | None:
    if windows:
        candidate = prefix / "Lib"
    elif version:
        candidate = prefix / "lib" / f"python{version[0]}.{version[1]}"
    else:
        return None
    return candidate if (candidate / "os.py").is_file() else None


def inspect_home(path: Path) -> HomeInfo:
    """Inspect the Home at `path` from its files only. Never raises for a bad Home: the result says why."""
    path = Path(os.path.abspath(Path(path).expanduser()))
    try:
        return _inspect(path)
    except OSError as error:  # an unreadable folder or file somewhere inside the Home
        info = HomeInfo(path, "not-python")
        info.problems.append(f"cannot read {error.filename or path}: {error.strerror or error}")
        return info


def _inspect(path: Path) -> HomeInfo:
    if not path.exists():
        info = HomeInfo(path, "missing")
        if os.path.lexists(path):
            info.problems.append(f"{path} is a broken symbolic link")
        return info
    if not path.is_dir():
        info = HomeInfo(path, "not-python")
        hint = ""
        if path.name.lower().startswith("python"):
            prefix = path.parent.parent if path.parent.name in ("bin", "Scripts") else path.parent
            hint = f" (an interpreter; its Home is probably {prefix})"
        info.problems.append(f"{path} is a file, not a folder{hint}")
        return info

    windows = _is_windows_layout(path)
    pyvenv = path / "pyvenv.cfg"
    is_conda = (path / "conda-meta").is_dir()
    kind: HomeKind = "venv" if pyvenv.is_file() else ("conda-env" if is_conda else "base-install")
    info = HomeInfo(path, kind, windows_layout=windows)

    # Version, from the most explicit record there is.
    if is_conda:
        records = _conda_records(path, "python")
        if records:
            info.full_version = str(records[0].get("version"))
            info.version = parse_version(info.full_version)
            info.version_source = f"conda-meta/{records[0]['_file']}"
    cfg: dict[str, str] = {}
    if kind == "venv":
        try:
            cfg = _read_pyvenv_cfg(pyvenv)
        except OSError as error:
            info.problems.append(f"cannot read pyvenv.cfg: {error.strerror}")
        text = cfg.get("version") or cfg.get("version_info")
        if info.version is None and parse_version(text):
            info.version, info.full_version, info.version_source = parse_version(text), text, "pyvenv.cfg"
    stdlib_dirs = _stdlib_candidates(path)
    if info.version is None and stdlib_dirs:
        info.version = stdlib_dirs[-1][0]
        info.version_source = f"lib/{stdlib_dirs[-1][1].name}"
        if len(stdlib_dirs) > 1:
            listed = ", ".join(p.name for _, p in stdlib_dirs)
            info.problems.append(f"several Python versions under lib/ ({listed}); using the newest")

    # The base install a venv runs on.
    base = path
    if kind == "venv":
        if "home" not in cfg:
            info.problems.append("pyvenv.cfg has no `home =` line: cannot find the base install")
            info.venv_base_exists = False
        else:
            base = _base_prefix_from_venv_home(cfg["home"], windows)
            info.venv_base = base
            info.venv_base_exists = base.is_dir()

    lib_source = path if kind != "venv" else base
    if info.venv_base_exists is not False:
        info.libpython = _find_libpython(lib_source, info.version)
        if info.version is None and info.libpython is not None:
            match = _LIBPYTHON_FILE.match(info.libpython.name) or _WINDOWS_DLL.match(info.libpython.name)
            if match:
                info.version = (int(match.group(1)), int(match.group(2)))
                info.version_source = str(info.libpython.relative_to(lib_source))
        if info.version is None and windows:
            libs = [p for p in lib_source.glob("python3*.dll") if _WINDOWS_DLL.match(p.name)]
            if libs:
                match = _WINDOWS_DLL.match(libs[0].name)
                assert match is not None
                info.version = (int(match.group(1)), int(match.group(2)))
                info.version_source = libs[0].name
        info.stdlib_dir = _stdlib_of(lib_source, info.version, windows)
        info.has_encodings = (
            info.stdlib_dir is not None and (info.stdlib_dir / "encodings" / "__init__.py").is_file()
        )

    info.interpreter = _find_interpreter(path, info.version, windows, kind == "venv")
    if windows:
        info.pth_file = _find_pth_file(lib_source, info.libpython, info.interpreter)
    for binary in (info.libpython, info.interpreter):
        if binary is None:
            continue
        binary_info = read_binary_info(binary)
        if binary_info is not None:
            info.archs = binary_info.archs
            info.arch = binary_info.arch
            info.arch_source = binary
            break

    site = _site_packages(path, info.version, windows)
    if (
        kind == "venv"
        and cfg.get("include-system-site-packages", "false").lower() == "true"
        and info.venv_base_exists
    ):
        site += _site_packages(base, info.version, windows)
    info.site_packages = tuple(site)
    _find_numpy(info, path if is_conda else None)

    if info.version is None and info.interpreter is None and info.stdlib_dir is None:
        info.kind = "not-python"
        info.problems.append("no Python found here (no bin/python3, lib/pythonX.Y, python.exe or conda-meta)")
    for name in ("bin/python3", "python.exe", "Scripts/python.exe"):
        if os.path.islink(path / name) and not (path / name).exists():
            info.problems.append(f"{name} is a broken symbolic link")
    return info
