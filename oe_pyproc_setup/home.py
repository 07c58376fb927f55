"""Python Homes: find them, inspect them from their files, optionally probe their interpreter, judge them.

A *Home* is the prefix folder of a Python installation or environment (what the plugin embeds). Everything
here except `probe_home` works without running the Home's interpreter: version, architecture, venv base,
stdlib and numpy are read from files (DESIGN §7: the CLI judges a Home by that Home, never by itself).
Windows and macOS layouts follow the documented installs and are *unverified* on this machine.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from oe_pyproc_setup.binfmt import normalize_machine, read_binary_info

HomeKind = Literal["conda-env", "venv", "base-install", "not-python", "missing"]
Status = Literal["ok", "warn", "error"]

HOME_ENV_NAME = "oe-python-plugin"
CONDA_CREATE_COMMAND = "conda create -n oe-python-plugin -c conda-forge python=3.10 numpy scipy"
# Our plugin writes this into the chain's libraryVersion, so a chain tells which plugin saved it.
OURS_LIBRARY_VERSION_MARKER = "oe-pyproc"

_LIB_PYTHON_DIR = re.compile(r"^python(\d+)\.(\d+)t?$")
_LIBPYTHON_FILE = re.compile(r"^libpython(\d+)\.(\d+)[a-z]*\.(so(\.[\d.]+)?|dylib)$")
_WINDOWS_DLL = re.compile(r"^python(\d)(\d+)\.dll$", re.IGNORECASE)
_VERSION_TEXT = re.compile(r"^(\d+)\.(\d+)")
# Modules compiled into every CPython 3 interpreter (never files on disk); a script must not shadow them.
BUILTIN_MODULE_NAMES = frozenset(
    {
        "_abc", "_ast", "_codecs", "_collections", "_functools", "_imp", "_io", "_locale", "_operator",
        "_signal", "_sre", "_stat", "_string", "_symtable", "_thread", "_tokenize", "_tracemalloc",
        "_typing", "_warnings", "_weakref", "atexit", "builtins", "errno", "faulthandler", "gc",
        "itertools", "marshal", "nt", "posix", "pwd", "sys", "time", "winreg", "xxsubtype", "zipimport",
    }
)  # fmt: skip


# --------------------------------------------------------------------------------------------- inspection


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
            "problems": list(self.problems),
        }


def _read_pyvenv_cfg(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip().lower()] = value.strip()
    return values


def _parse_version(text: str | None) -> tuple[int, int] | None:
    match = _VERSION_TEXT.match(text or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def _conda_records(prefix: Path, name: str) -> list[dict[str, Any]]:
    """The conda-meta JSON records of package `name` (normally one)."""
    meta = prefix / "conda-meta"
    records = []
    for record_file in sorted(meta.glob(f"{name}-*.json")):
        try:
            record = json.loads(record_file.read_text(encoding="utf-8"))
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
        candidates = [p for p in candidates if p.name.startswith(wanted) and p.name[len(wanted)] in ".dm"]
    existing = [p for p in candidates if p.exists()]
    if existing:
        # Prefer the real soname file (libpython3.10.so.1.0) over the dev symlink, then the shortest path.
        return sorted(existing, key=lambda p: (p.is_symlink(), len(p.name) * -1, str(p)))[0]
    framework_binary = prefix / "Python"
    if framework_binary.is_file():
        return framework_binary
    return None


def _find_interpreter(prefix: Path, version: tuple[int, int] | None) -> Path | None:
    names = []
    if version:
        names.append(f"bin/python{version[0]}.{version[1]}")
    names += ["bin/python3", "bin/python", "python.exe", "Scripts/python.exe"]
    for name in names:
        candidate = prefix / name
        if os.path.lexists(candidate):
            return candidate
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
            info.version = _parse_version(info.full_version)
            info.version_source = f"conda-meta/{records[0]['_file']}"
    cfg: dict[str, str] = {}
    if kind == "venv":
        try:
            cfg = _read_pyvenv_cfg(pyvenv)
        except OSError as error:
            info.problems.append(f"cannot read pyvenv.cfg: {error.strerror}")
        text = cfg.get("version") or cfg.get("version_info")
        if info.version is None and _parse_version(text):
            info.version, info.full_version, info.version_source = _parse_version(text), text, "pyvenv.cfg"
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

    info.interpreter = _find_interpreter(path, info.version)
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
        info.problems.append("no Python found here (no bin/python, lib/pythonX.Y, python.exe or conda-meta)")
    elif info.interpreter is not None and not info.interpreter.exists():
        info.problems.append(f"{info.interpreter.relative_to(path)} is a broken symbolic link")
    return info


# ---------------------------------------------------------------------------------------------- discovery


@dataclass(frozen=True)
class HomeCandidate:
    """A folder that may be a Home, with where it was found ("given", "CONDA_PREFIX", "pyenv", ...)."""

    path: Path
    source: str


_CONDA_INSTALL_NAMES = (
    "miniconda3",
    "anaconda3",
    "miniforge3",
    "mambaforge",
    "micromamba",
    "miniconda",
    "anaconda",
)


def _conda_roots(home: Path, env: Mapping[str, str], windows: bool) -> list[Path]:
    roots = [home / name for name in _CONDA_INSTALL_NAMES]
    roots += [Path("/opt") / name for name in ("conda", *_CONDA_INSTALL_NAMES)]
    if windows:
        for variable in ("LOCALAPPDATA", "PROGRAMDATA"):
            if env.get(variable):
                roots += [Path(env[variable]) / name for name in _CONDA_INSTALL_NAMES]
    if env.get("CONDA_EXE"):
        exe = Path(env["CONDA_EXE"])
        roots.append(exe.parent.parent)
    if env.get("MAMBA_ROOT_PREFIX"):
        roots.append(Path(env["MAMBA_ROOT_PREFIX"]))
    return roots


def _children(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []


def discover_homes(
    extra: Iterable[Path] = (),
    *,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
    system: str | None = None,
    include_self: bool = True,
    only_given: bool = False,
) -> list[HomeCandidate]:
    """Folders that may be Homes, deduplicated by real path, in this order: the paths given; envs named
    oe-python-plugin; the active environment (CONDA_PREFIX, then this process's sys.prefix); conda's
    environments.txt; the usual conda installs and their envs/ (miniconda3, anaconda3, miniforge3,
    mambaforge, ~/.conda/envs); pyenv versions; python.org and Homebrew on macOS; per-user and all-user
    installs on Windows. Candidates are not inspected here (see inspect_home)."""
    env = os.environ if environ is None else environ
    user_home = home if home is not None else Path.home()
    system_name = system or (
        "Windows" if sys.platform == "win32" else "Darwin" if sys.platform == "darwin" else "Linux"
    )
    windows = system_name == "Windows"
    found: list[HomeCandidate] = [HomeCandidate(Path(p).expanduser(), "given") for p in extra]
    if only_given:
        return _deduplicated(found)

    if env.get("CONDA_PREFIX"):
        found.append(HomeCandidate(Path(env["CONDA_PREFIX"]), "CONDA_PREFIX (active)"))
    if include_self:
        found.append(HomeCandidate(Path(sys.prefix), "sys.prefix (this oe-pyproc)"))
        if sys.base_prefix != sys.prefix:
            found.append(HomeCandidate(Path(sys.base_prefix), "sys.base_prefix (this oe-pyproc)"))

    environments_txt = user_home / ".conda" / "environments.txt"
    try:
        for line in environments_txt.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.strip() and "\0" not in line:  # a damaged file: no path holds a NUL byte
                found.append(HomeCandidate(Path(line.strip()), "conda environments.txt"))
    except OSError:
        pass
    for root in _conda_roots(user_home, env, windows):
        if (root / "conda-meta").is_dir():
            found.append(HomeCandidate(root, f"conda base {root.name}"))
        found += [HomeCandidate(p, f"conda env ({root.name}/envs)") for p in _children(root / "envs")]
    found += [HomeCandidate(p, "conda env (~/.conda/envs)") for p in _children(user_home / ".conda" / "envs")]

    pyenv_root = Path(env.get("PYENV_ROOT") or user_home / ".pyenv")
    for version_dir in _children(pyenv_root / "versions"):
        found.append(HomeCandidate(version_dir, "pyenv"))
        found += [HomeCandidate(p, "pyenv-virtualenv") for p in _children(version_dir / "envs")]

    if system_name == "Darwin":  # *unverified* here
        found += [
            HomeCandidate(p, "python.org")
            for p in _children(Path("/Library/Frameworks/Python.framework/Versions"))
        ]
        for brew in (Path("/opt/homebrew"), Path("/usr/local")):
            for formula in sorted((brew / "opt").glob("python@3*")):
                found += [
                    HomeCandidate(p, "Homebrew")
                    for p in _children(formula / "Frameworks" / "Python.framework" / "Versions")
                    if p.name != "Current"
                ]
    if windows:  # *unverified* here
        if env.get("LOCALAPPDATA"):
            per_user = Path(env["LOCALAPPDATA"]) / "Programs" / "Python"
            found += [
                HomeCandidate(p, "per-user install")
                for p in _children(per_user)
                if p.name.startswith("Python")
            ]
        for variable in ("ProgramFiles", "ProgramFiles(x86)", "PROGRAMFILES"):
            if env.get(variable):
                found += [
                    HomeCandidate(p, "all-users install")
                    for p in _children(Path(env[variable]))
                    if p.name.startswith("Python3")
                ]

    return _deduplicated(found)


def _deduplicated(found: list[HomeCandidate]) -> list[HomeCandidate]:
    """First of each real path (given paths even if missing, others only if they are folders); given
    paths first, then envs named oe-python-plugin, then discovery order."""
    unique: dict[str, HomeCandidate] = {}
    for candidate in found:
        try:
            key = os.path.realpath(candidate.path)
        except OSError:
            key = str(candidate.path)
        if candidate.source != "given" and not Path(key).is_dir():
            continue
        unique.setdefault(os.path.normcase(key), candidate)
    ordered = list(unique.values())
    # Given paths keep their place at the top; then an env named oe-python-plugin; then discovery order.
    ordered.sort(key=lambda c: (c.source != "given", c.path.name != HOME_ENV_NAME))
    return ordered


# ------------------------------------------------------------------------------------------------ probing


@dataclass(frozen=True)
class ProbeResult:
    """What the Home's own interpreter said when run isolated (-I). `status` is never raised as an error."""

    status: Literal["ok", "numpy-missing", "timeout", "crashed", "failed", "no-interpreter"]
    message: str
    version: tuple[int, int] | None = None
    full_version: str | None = None
    arch: str | None = None
    bits: int | None = None
    numpy_version: str | None = None
    numpy_error: str | None = None
    prefix: str | None = None
    base_prefix: str | None = None
    returncode: int | None = None
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "message": self.message,
            "version": f"{self.version[0]}.{self.version[1]}" if self.version else None,
            "full_version": self.full_version,
            "arch": self.arch,
            "bits": self.bits,
            "numpy_version": self.numpy_version,
            "numpy_error": self.numpy_error,
            "returncode": self.returncode,
            "seconds": round(self.seconds, 3),
        }


_PROBE_CODE = """
import json, platform, struct, sys
report = {"version": list(sys.version_info[:3]), "machine": platform.machine(),
          "bits": struct.calcsize("P") * 8, "prefix": sys.prefix, "base_prefix": sys.base_prefix}
try:
    import numpy
    report["numpy"] = numpy.__version__
except BaseException as error:
    report["numpy_error"] = "%s: %s" % (type(error).__name__, error)
sys.stdout.write("OE-PYPROC-PROBE " + json.dumps(report) + "\\n")
"""


def probe_home(info: HomeInfo, timeout: float = 10) -> ProbeResult:
    """Run the Home's interpreter isolated (-I, no PYTHON* variables) with a timeout; a hang, a crash or
    a failed import is reported in the result, never raised."""
    interpreter = info.interpreter
    if interpreter is None or not interpreter.exists():
        return ProbeResult("no-interpreter", "no interpreter to run in this Home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    started = time.monotonic()
    try:
        completed = subprocess.run(
            [str(interpreter), "-I", "-c", _PROBE_CODE],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return ProbeResult("timeout", f"the interpreter did not finish within {timeout:g} s", seconds=timeout)
    except OSError as error:
        return ProbeResult("failed", f"cannot start {interpreter}: {error.strerror or error}")
    seconds = time.monotonic() - started
    if completed.returncode < 0:
        try:
            name = signal.Signals(-completed.returncode).name
        except ValueError:
            name = f"signal {-completed.returncode}"
        last_lines = completed.stderr.strip().splitlines()[-1:] or [""]
        return ProbeResult(
            "crashed",
            f"the interpreter crashed ({name}) {last_lines[0]}".strip(),
            returncode=completed.returncode,
            seconds=seconds,
        )
    line = next((ln for ln in completed.stdout.splitlines() if ln.startswith("OE-PYPROC-PROBE ")), None)
    if completed.returncode != 0 or line is None:
        tail = " | ".join(completed.stderr.strip().splitlines()[-3:])
        return ProbeResult(
            "failed",
            f"exit code {completed.returncode}: {tail}",
            returncode=completed.returncode,
            seconds=seconds,
        )
    report = json.loads(line.split(" ", 1)[1])
    version = (int(report["version"][0]), int(report["version"][1]))
    common: dict[str, Any] = {
        "version": version,
        "full_version": ".".join(str(n) for n in report["version"]),
        "arch": normalize_machine(str(report["machine"])),
        "bits": int(report["bits"]),
        "prefix": report["prefix"],
        "base_prefix": report["base_prefix"],
        "returncode": 0,
        "seconds": seconds,
    }
    if "numpy" in report:
        return ProbeResult(
            "ok",
            f"Python {common['full_version']}, numpy {report['numpy']}",
            numpy_version=str(report["numpy"]),
            **common,
        )
    return ProbeResult(
        "numpy-missing",
        f"import numpy failed: {report.get('numpy_error')}",
        numpy_error=str(report.get("numpy_error")),
        **common,
    )


# ---------------------------------------------------------------------------------------- rules, verdicts


@dataclass(frozen=True)
class PluginRules:
    """What the plugin that will load the Home accepts (DESIGN §7)."""

    name: Literal["ours", "upstream"]
    allow_venv: bool
    versions: frozenset[tuple[int, int]]  # Python minor versions it can embed
    source: str = "default"  # why these rules apply (for reports)
    notes: tuple[str, ...] = ()

    @property
    def versions_text(self) -> str:
        return ", ".join(f"{a}.{b}" for a, b in sorted(self.versions))

    def to_json(self) -> dict[str, Any]:
        return {
            "plugin": self.name,
            "allow_venv": self.allow_venv,
            "versions": sorted(f"{a}.{b}" for a, b in self.versions),
            "source": self.source,
            "notes": list(self.notes),
        }


def ours_rules(bridges: Iterable[tuple[int, int]] = ((3, 10),), source: str = "default") -> PluginRules:
    """Our plugin: venvs allowed, any Python with a bridge (3.10 for now)."""
    return PluginRules("ours", True, frozenset(bridges), source)


OURS = ours_rules()
UPSTREAM = PluginRules("upstream", False, frozenset({(3, 10)}), "upstream python-processor")


def _bridges_from_metadata(metadata_file: Path) -> list[tuple[int, int]]:
    try:
        data = json.loads(metadata_file.read_text(encoding="utf-8"))
        return [v for v in (_parse_version(k) for k in data.get("bridges", {})) if v is not None]
    except (OSError, ValueError, AttributeError):
        return []


def _upstream_plugin_files(plugins_dir: Path) -> list[Path]:
    if not plugins_dir.is_dir():
        return []
    names = {"python-processor.so", "python-processor.dll", "python-processor.bundle", "python_processor.so"}
    names |= {"pythonprocessor.so", "pythonprocessor.dll", "pythonprocessor.bundle"}
    found = []
    for candidate in plugins_dir.rglob("*"):
        if candidate.name.lower() in names and "oe-pyproc" not in candidate.relative_to(plugins_dir).parts:
            found.append(candidate)
    return found


def detect_plugin_rules(
    layout: Any | None,
    chain_library_version: str | None = None,
    executable_plugin_dirs: Iterable[Path] = (),
) -> PluginRules:
    """Which plugin will load the Home. The GUI searches the plugin folders beside its executable
    (`executable_plugin_dirs`, see gui.executable_plugin_dirs) before plugins-api<N>, and the first
    Python Processor found wins. Then: ours when our manifest or metadata is in the GUI's plugin folder,
    upstream's when its plugin file or an installedPlugins.xml entry is there; otherwise the chain's
    libraryVersion (ours carries "oe-pyproc") decides; with nothing to go on, ours (what `install` sets up).

    `layout` is a gui.GuiLayout (typed loosely so importing this module stays cheap)."""
    for folder in executable_plugin_dirs:
        if not folder.is_dir():
            continue
        metadata = sorted(folder.glob("**/oe-pyproc-plugin.json"))
        if metadata:
            bridges = [b for m in metadata for b in _bridges_from_metadata(m)] or [(3, 10)]
            return ours_rules(bridges, f"oe-pyproc plugin beside the GUI in {folder}")
        upstream_beside = _upstream_plugin_files(folder)
        if upstream_beside:
            return PluginRules(
                "upstream",
                False,
                UPSTREAM.versions,
                f"upstream plugin beside the GUI at {upstream_beside[0]}",
            )
    if layout is None:
        return OURS
    plugins_dir: Path = layout.plugins_dir
    ours_metadata = sorted(plugins_dir.glob("**/oe-pyproc-plugin.json")) if plugins_dir.is_dir() else []
    ours_present = layout.manifest.is_file() or bool(ours_metadata)
    upstream_files = _upstream_plugin_files(plugins_dir)
    upstream_listed = False
    installed = layout.installed_plugins_xml
    if installed.is_file():
        try:
            text = installed.read_text(encoding="utf-8", errors="replace").lower()
            upstream_listed = "python-processor" in text or "python processor" in text
        except OSError:
            pass
    notes: list[str] = []
    if ours_present and (upstream_files or (upstream_listed and not layout.manifest.is_file())):
        notes.append(
            "both ours and upstream's Python Processor are installed; the GUI loads whichever it finds first"
        )
    if ours_present:
        bridges = [b for m in ours_metadata for b in _bridges_from_metadata(m)] or [(3, 10)]
        rules = ours_rules(bridges, f"oe-pyproc plugin in {plugins_dir}")
        return PluginRules(rules.name, rules.allow_venv, rules.versions, rules.source, tuple(notes))
    if upstream_files or upstream_listed:
        where = upstream_files[0] if upstream_files else installed
        return PluginRules("upstream", False, UPSTREAM.versions, f"upstream plugin at {where}", tuple(notes))
    if chain_library_version is not None:
        if OURS_LIBRARY_VERSION_MARKER in chain_library_version:
            return ours_rules(source=f"chain saved by oe-pyproc ({chain_library_version})")
        return PluginRules(
            "upstream",
            False,
            UPSTREAM.versions,
            f"chain saved by upstream's plugin (libraryVersion {chain_library_version!r})",
        )
    return ours_rules(source="no plugin installed yet")


@dataclass(frozen=True)
class Reason:
    """One thing wrong with a Home, with what to do about it."""

    code: str
    severity: Literal["warn", "error"]
    message: str
    remediation: str

    def to_json(self) -> dict[str, str]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "remediation": self.remediation,
        }


@dataclass(frozen=True)
class Verdict:
    status: Status
    reasons: tuple[Reason, ...]
    rules: PluginRules

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "plugin": self.rules.name,
            "reasons": [r.to_json() for r in self.reasons],
        }


def judge_home(info: HomeInfo, rules: PluginRules = OURS, gui_arch: str | None = None) -> Verdict:
    """The verdict of `rules`' plugin on the Home `info`: error (it will not work), warn, or ok."""
    reasons: list[Reason] = []

    def add(code: str, severity: Literal["warn", "error"], message: str, remediation: str) -> None:
        reasons.append(Reason(code, severity, message, remediation))

    create = f"Create a working Home: {CONDA_CREATE_COMMAND}"
    if info.kind == "missing":
        add("missing", "error", f"{info.path} does not exist", create)
        return Verdict("error", tuple(reasons), rules)
    if info.kind == "not-python":
        detail = info.problems[0] if info.problems else "not a Python installation"
        add(
            "not-python",
            "error",
            detail,
            "Give the environment's prefix folder (the one holding bin/ or python.exe). " + create,
        )
        return Verdict("error", tuple(reasons), rules)

    if info.version is None:
        add("version-unknown", "error", "the Python version cannot be told from the files", create)
    elif info.version not in rules.versions:
        if rules.name == "upstream":
            message = f"Python {info.version_text}: upstream's Python Processor embeds exactly Python 3.10"
        else:
            message = (
                f"Python {info.version_text}: this plugin has bridges for Python {rules.versions_text} only"
            )
        add("version", "error", message, create)
    if info.kind == "venv":
        if not rules.allow_venv:
            base = f" (its base is {info.venv_base})" if info.venv_base else ""
            add(
                "venv-unsupported",
                "error",
                f"a venv{base}: upstream's plugin sets PYTHONHOME to it and finds no standard library there",
                "Use a conda env or a base install of Python 3.10 with numpy, "
                "or install oe-pyproc's plugin (venvs work there).",
            )
        if info.venv_base_exists is False:
            add(
                "venv-base-missing",
                "error",
                f"the venv's base install {info.venv_base or '(unknown)'} is gone",
                "Recreate the venv from an existing Python 3.10 (python3.10 -m venv ...), or " + create,
            )
    if info.venv_base_exists is not False and info.version is not None:
        if info.stdlib_dir is None:
            add("stdlib-missing", "error", "no standard library (lib/pythonX.Y/os.py) found", create)
        elif not info.has_encodings:
            add(
                "encodings-missing",
                "error",
                f"{info.stdlib_dir} has no encodings/ package: "
                "the GUI would die with \"No module named 'encodings'\"",
                create,
            )
        if info.libpython is None:
            add(
                "libpython-missing",
                "error",
                "no shared libpython (the plugin loads libpythonX.Y.so / .dylib / pythonXY.dll): "
                "this Python was built without --enable-shared",
                "Use a conda env or a Python built with --enable-shared "
                "(pyenv: PYTHON_CONFIGURE_OPTS=--enable-shared). " + create,
            )
    if info.arch is None and not info.archs:
        if info.kind != "venv" or info.venv_base_exists:
            add(
                "arch-unknown",
                "warn",
                "the CPU architecture cannot be read from the interpreter or libpython",
                "Check with --exec.",
            )
    elif gui_arch is not None and gui_arch not in info.archs:
        add(
            "arch-mismatch",
            "error",
            f"the Home is {'/'.join(info.archs)} but the GUI runs as {gui_arch}",
            f"Install a {gui_arch} Python (e.g. a {gui_arch} conda) and create the env again: "
            + CONDA_CREATE_COMMAND,
        )
    wrong_version = any(r.code == "version" for r in reasons)
    if not info.has_numpy and not wrong_version:  # a Home of the wrong version is replaced, not fixed
        add(
            "numpy-missing",
            "error",
            "numpy is not installed in this Home (the plugin hands data to scripts as numpy arrays)",
            "conda install -n <env> -c conda-forge numpy  (a venv: <Home>/bin/python -m pip install numpy)",
        )
    elif info.kind == "conda-env" and info.numpy_installer not in (None, "conda"):
        add(
            "numpy-pip-in-conda",
            "warn",
            f"numpy {info.numpy_version or '(unknown version)'} was installed by {info.numpy_installer} "
            "into a conda env",
            "Prefer conda's numpy: pip uninstall numpy && conda install -c conda-forge numpy",
        )
    for problem in info.problems:
        if "broken symbolic link" in problem and any(r.code == "venv-base-missing" for r in reasons):
            continue
        add(
            "layout",
            "warn",
            problem,
            "Check the Home's files; recreate the environment if it was moved or damaged.",
        )

    status: Status = "error" if any(r.severity == "error" for r in reasons) else ("warn" if reasons else "ok")
    return Verdict(status, tuple(reasons), rules)


# ------------------------------------------------------------------------------------------- module names


def _module_names_in(folder: Path, *, packages_need_init: bool) -> set[str]:
    names: set[str] = set()
    try:
        entries = list(folder.iterdir())
    except OSError:
        return names
    for entry in entries:
        name = entry.name
        if entry.is_dir():
            if name.isidentifier() and (not packages_need_init or (entry / "__init__.py").is_file()):
                names.add(name)
        elif name.endswith(".py"):
            stem = name[:-3]
            if stem.isidentifier():
                names.add(stem)
        elif name.endswith((".so", ".pyd", ".dylib")):
            stem = name.split(".", 1)[0]
            if stem.isidentifier() and not stem.startswith("lib"):
                names.add(stem)
    return names


def home_module_names(info: HomeInfo) -> set[str]:
    """Top-level names importable in the Home, found by scanning (never importing): the builtin modules
    of CPython, the stdlib (.py files, packages, lib-dynload/DLLs extensions) and every site-packages
    folder (packages, namespace folders, modules, extensions). Names added by .pth files are not included."""
    names = set(BUILTIN_MODULE_NAMES)
    if info.stdlib_dir is not None:
        names |= _module_names_in(info.stdlib_dir, packages_need_init=True)
        for extension_dir in (info.stdlib_dir / "lib-dynload", info.stdlib_dir.parent / "DLLs"):
            if extension_dir.is_dir():
                names |= _module_names_in(extension_dir, packages_need_init=True)
    for folder in info.site_packages:
        names |= _module_names_in(folder, packages_need_init=False)
    names.discard("__pycache__")
    return names


def judge_probe(verdict: Verdict, info: HomeInfo, probe: ProbeResult) -> Verdict:
    """`verdict` extended by what running the interpreter showed (homes --exec): a probe that hangs,
    crashes, fails, cannot import numpy or contradicts the files makes the verdict an error."""
    reasons = list(verdict.reasons)
    create = f"Create a working Home: {CONDA_CREATE_COMMAND}"
    if probe.status in ("timeout", "crashed", "failed"):
        reasons.append(
            Reason(f"probe-{probe.status}", "error", f"running the interpreter: {probe.message}", create)
        )
    elif probe.status == "numpy-missing" and not any(r.code in ("numpy-missing", "version") for r in reasons):
        # The files show numpy, yet it does not import: a broken or mismatched install.
        reasons.append(
            Reason(
                "probe-numpy",
                "error",
                f"numpy is installed but does not import: {probe.numpy_error}",
                "Reinstall numpy in this Home "
                "(conda install -c conda-forge numpy, or pip install --force-reinstall numpy).",
            )
        )
    if probe.version is not None and info.version is not None and probe.version != info.version:
        reasons.append(
            Reason(
                "probe-version",
                "warn",
                f"the files say Python {info.version_text} but the interpreter is {probe.full_version}",
                "The Home is inconsistent (a moved or partly upgraded environment): recreate it.",
            )
        )
    if probe.arch is not None and info.archs and probe.arch not in info.archs:
        reasons.append(
            Reason(
                "probe-arch",
                "warn",
                f"the binaries are {'/'.join(info.archs)} but the interpreter runs as {probe.arch}",
                "Under Rosetta or emulation the GUI must run as the same architecture as the Home.",
            )
        )
    status: Status = "error" if any(r.severity == "error" for r in reasons) else ("warn" if reasons else "ok")
    return Verdict(status, tuple(reasons), verdict.rules)
