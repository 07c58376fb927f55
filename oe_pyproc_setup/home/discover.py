"""Where Homes are: the folders that may be Python Homes on this machine (conda, pyenv, python.org, ...)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from oe_pyproc_setup.defaulthome import read_default_home
from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.fsutil import read_regular_bytes  # never opens a FIFO or device (it could block)
from oe_pyproc_setup.gui import GuiLayout

HOME_ENV_NAME = "oe-python-plugin"


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


def _venv_folders(home: Path, env: Mapping[str, str]) -> list[tuple[Path, str]]:
    """Folders whose sub-folders are venvs (only those with a pyvenv.cfg are taken)."""
    workon = Path(env["WORKON_HOME"]) if env.get("WORKON_HOME") else home / ".virtualenvs"
    return [
        (workon, "virtualenvwrapper"),
        (home / ".local" / "share" / "virtualenvs", "pipenv"),
        (home / "venvs", "venv (~/venvs)"),
        (home / ".venvs", "venv (~/.venvs)"),
    ]


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
    mambaforge, ~/.conda/envs); pyenv versions; venvs in virtualenvwrapper's WORKON_HOME (~/.virtualenvs),
    pipenv's folder, ~/venvs and ~/.venvs; python.org and Homebrew on macOS; per-user and all-user installs
    on Windows. Candidates are not inspected here (see inspect_home)."""
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
        for line in read_regular_bytes(environments_txt).decode("utf-8", errors="replace").splitlines():
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

    # venvs where people and tools keep them: virtualenvwrapper, pipenv, and the plain folders of venvs.
    for folder, source in _venv_folders(user_home, env):
        found += [HomeCandidate(p, source) for p in _children(folder) if (p / "pyvenv.cfg").is_file()]

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
    if windows:  # per-user and all-users python.org installs: found under wine in CI (24-windows-cli)
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


def configured_home(layout: GuiLayout) -> HomeCandidate | None:
    """The Home recorded in the GUI's default Home file (DESIGN §5), None when there is none; a
    UserFacingError (with what to do) when the file exists but cannot be used."""
    try:
        record = read_default_home(layout.default_home_file)
    except UserFacingError as error:
        raise UserFacingError(
            error.message,
            hint="Give --python-home, or record a Home again: oe-pyproc configure --python-home HOME "
            "(oe-pyproc doctor --fix proposes one).",
        ) from None
    if record is None:
        return None
    return HomeCandidate(record.python_home, f"the default Home file {layout.default_home_file}")
