"""The loader as the judge: the verdict of the native host that belongs to the plugin (`oe-pyproc-host
--check-home --json`), which runs the plugin's own loader and the Home's own interpreter (DESIGN §4, "One
truth for Homes"). The file rules of `rules` are used only when no host is at hand, and for upstream's
plugin; a shared corpus of Home layouts keeps them equal to the loader's (tests/homes_corpus).

Which host: OE_PYPROC_HOST, else the host of the environment the GUI's plugin was installed from (the
manifest's source_prefix), else the Home's own, else PATH. With our plugin installed in the GUI, the host
judges with that plugin's bridges (--bridge-dir), so a Python version is accepted exactly when the
installed plugin can load it.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.gui import GuiLayout
from oe_pyproc_setup.hostfind import HOST_ENV, find_host, host_in_home
from oe_pyproc_setup.install.manifest import read_manifest
from oe_pyproc_setup.plugin_meta import METADATA_FILE

# The host runs the Home's interpreter (`import numpy`) with its own timeout; this one only bounds a host
# that hangs for another reason.
HOST_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class HostJudge:
    """A host that can judge Homes, and which bridges it judges with."""

    host: Path
    origin: str  # "OE_PYPROC_HOST", "the plugin's environment", "Home", "PATH"
    bridge_dir: Path | None = None  # the installed plugin's folder; None: the bridges beside the host

    @property
    def description(self) -> str:
        bridges = f", bridges of {self.bridge_dir}" if self.bridge_dir is not None else ""
        return f"oe-pyproc-host {self.host} ({self.origin}{bridges})"


@dataclass(frozen=True)
class LoaderVerdict:
    """What the loader said about one Home: accepted, or refused with its one-line reason."""

    accepted: bool
    reason: str
    judge: HostJudge
    numpy_version: str | None = None
    python_version: str | None = None


def _is_executable(path: Path) -> bool:
    return path.is_file() and (os.name == "nt" or os.access(path, os.X_OK))


def _installed_plugin_folder(layout: GuiLayout) -> Path | None:
    if not layout.plugins_dir.is_dir():
        return None
    metadata = sorted(layout.plugins_dir.glob(f"**/{METADATA_FILE}"))
    return metadata[0].parent if metadata else None


def find_host_judge(
    layout: GuiLayout | None, home: Path | None = None, environ: Mapping[str, str] | None = None
) -> HostJudge | None:
    """The host that judges for the plugin, in the order of the module's docstring; None when there is none
    (then the file rules judge)."""
    env = os.environ if environ is None else environ
    bridge_dir = _installed_plugin_folder(layout) if layout is not None else None
    if not env.get(HOST_ENV) and layout is not None:
        try:
            manifest = read_manifest(layout.manifest)
        except UserFacingError:
            manifest = None
        if manifest is not None and manifest.source_prefix:
            candidate = host_in_home(Path(manifest.source_prefix))
            if _is_executable(candidate):
                return HostJudge(candidate, "the plugin's environment", bridge_dir)
    try:
        found = find_host(None, home, env)
    except UserFacingError:
        return None
    origin = {"Home": "the Home's own"}.get(found.origin, found.origin)
    return HostJudge(found.path, origin, bridge_dir)


def check_with_host(
    judge: HostJudge, home: Path, timeout: float = HOST_TIMEOUT_SECONDS
) -> LoaderVerdict | None:
    """Ask the host about `home` alone (no default Home file, no manifest fallback). None when the host
    gave no report (crashed, hung, not a host): the file rules judge then."""
    command = [str(judge.host), "--check-home", "--json", "--no-default-home", "--python-home", str(home)]
    if judge.bridge_dir is not None:
        command += ["--bridge-dir", str(judge.bridge_dir)]
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, errors="replace", timeout=timeout, check=False
        )
        report = json.loads(completed.stdout)
        candidates = report["home"]["candidates"]
    except (OSError, subprocess.TimeoutExpired, ValueError, KeyError, TypeError):
        return None
    # The Home given is the "chain" candidate (the host's --python-home stands for the chain's python_home).
    given = next((c for c in candidates if isinstance(c, dict) and c.get("origin") == "chain"), None)
    if given is None:
        return None
    accepted = bool(given.get("accepted"))
    home_report = report["home"]
    return LoaderVerdict(
        accepted,
        "" if accepted else str(given.get("reason") or "refused"),
        judge,
        numpy_version=home_report.get("numpy_version") if accepted else None,
        python_version=home_report.get("python_version") if accepted else None,
    )
