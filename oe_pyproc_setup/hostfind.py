"""Finding the native host `oe-pyproc-host` for `oe-pyproc run` (DESIGN §5).

Order: `--host PATH` → the `OE_PYPROC_HOST` environment variable → `<Home>/bin/oe-pyproc-host`
(`<Home>\\bin\\oe-pyproc-host.exe` on Windows: the conda package installs into the prefix on every
platform) → `PATH`. A host named explicitly
(`--host` or the variable) that is not usable is an error of its own, never silently skipped: the user
asked for that one.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from oe_pyproc_setup.errors import UserFacingError

HOST_ENV = "OE_PYPROC_HOST"
HOST_NAME = "oe-pyproc-host"


def _on_windows() -> bool:
    return sys.platform.startswith("win")


def host_file_name() -> str:
    return HOST_NAME + (".exe" if _on_windows() else "")


def host_in_home(home: Path) -> Path:
    """Where a conda environment used as Home carries the host: bin/ on every platform (DESIGN §5; on
    Windows the recipe installs into %PREFIX%, not %PREFIX%\\Library, and Scripts\\ is pip's)."""
    return Path(home) / "bin" / host_file_name()


def _unusable_reason(path: Path) -> str | None:
    """None when `path` is an executable file, else why it is not."""
    if not path.exists():
        return "does not exist" if not path.is_symlink() else "is a broken symbolic link"
    if path.is_dir():
        return "is a folder, not the host executable"
    if not _on_windows() and not os.access(path, os.X_OK):
        return "is not executable (chmod +x?)"
    return None


@dataclass(frozen=True)
class FoundHost:
    path: Path
    origin: str  # "--host", "OE_PYPROC_HOST", "Home", "PATH"


def find_host(
    explicit: Path | None,
    home: Path | None,
    environ: Mapping[str, str] | None = None,
) -> FoundHost:
    """The host to run, in the order above; a UserFacingError naming every place looked at if none is."""
    environ = os.environ if environ is None else environ
    if explicit is not None:
        reason = _unusable_reason(Path(explicit))
        if reason:
            raise UserFacingError(f"--host {explicit} {reason}")
        return FoundHost(Path(explicit).absolute(), "--host")

    from_env = environ.get(HOST_ENV, "")
    if from_env:
        reason = _unusable_reason(Path(from_env))
        if reason:
            raise UserFacingError(
                f"{HOST_ENV}={from_env} {reason}",
                hint=f"Fix or unset {HOST_ENV}, or pass --host PATH.",
            )
        return FoundHost(Path(from_env).absolute(), HOST_ENV)

    looked: list[str] = ["  1. --host PATH: not given", f"  2. {HOST_ENV}: not set"]
    if home is not None:
        candidate = host_in_home(home)
        reason = _unusable_reason(candidate)
        if reason is None:
            return FoundHost(candidate, "Home")
        looked.append(f"  3. the Home's {candidate}: {reason}")
    else:
        looked.append(f"  3. <Home>/{host_in_home(Path('.')).as_posix()}: no Home configured or given")

    search_path = environ.get("PATH", "")
    on_path = shutil.which(host_file_name(), path=search_path)
    if on_path:
        return FoundHost(Path(on_path), "PATH")
    looked.append(f"  4. PATH: no {host_file_name()} in any of its folders")
    raise UserFacingError(
        "the native host oe-pyproc-host was not found; looked at, in order:\n" + "\n".join(looked),
        hint=(
            "Install the plugin package into the Home's environment (it ships bin/oe-pyproc-host), "
            f"or pass --host PATH, or set {HOST_ENV}."
        ),
    )
