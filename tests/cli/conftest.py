"""Shared fixtures for the CLI tests: real pyenv interpreters, real venvs (one with pip-installed numpy,
built once and cached), a conda-style env assembled from real files, GUI folders, GUI-format chains and
a running process that looks like the GUI. Add fixtures here; do not change existing ones' meaning."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
GOOD_VERSION = "3.10"


def pyenv_root() -> Path:
    return Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")


def pyenv_prefix(minor: str) -> Path:
    """The pyenv install of Python `minor` (e.g. "3.10"); fails (never skips) when it is missing."""
    matches = sorted((pyenv_root() / "versions").glob(f"{minor}.*"))
    matches = [m for m in matches if (m / "bin" / f"python{minor}").exists()]
    if not matches:
        pytest.fail(
            f"pyenv Python {minor} is required by these tests (looked in {pyenv_root() / 'versions'})"
        )
    return matches[-1]


def make_venv(base_prefix: Path, target: Path, minor: str) -> Path:
    """A real venv of the pyenv Python at `base_prefix`, without pip (fast)."""
    subprocess.run(
        [str(base_prefix / "bin" / f"python{minor}"), "-m", "venv", "--without-pip", str(target)], check=True
    )
    return target


def venv_site_packages(venv: Path, minor: str = GOOD_VERSION) -> Path:
    return venv / "lib" / f"python{minor}" / "site-packages"


def _has_working_numpy(venv: Path) -> bool:
    python = venv / "bin" / "python"
    if not python.exists():
        return False
    probe = subprocess.run([str(python), "-I", "-c", "import numpy"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.fixture(scope="session")
def good_base() -> Path:
    """pyenv's Python 3.10: a base install without numpy."""
    return pyenv_prefix(GOOD_VERSION)


@pytest.fixture(scope="session")
def numpy_home(request: pytest.FixtureRequest, good_base: Path) -> Path:
    """The good Home: a venv of pyenv's 3.10 with numpy installed by pip. Built once, cached in pytest's
    cache folder across runs (rebuilt if it no longer imports numpy)."""
    cache_dir = Path(request.config.cache.mkdir("oe-pyproc-numpy-home"))
    venv = cache_dir / f"venv-{good_base.name}"
    if not _has_working_numpy(venv):
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([str(good_base / "bin" / "python3.10"), "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [
                str(venv / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                "numpy",
            ],
            check=True,
        )
    return venv


def link_numpy(source_venv: Path, target_site: Path) -> None:
    """Make numpy importable in another site-packages by linking the real package files (fast, real)."""
    source_site = venv_site_packages(source_venv)
    for entry in source_site.iterdir():
        if entry.name.startswith("numpy"):
            (target_site / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())


@pytest.fixture
def venv_factory(tmp_path: Path, good_base: Path) -> Callable[..., Path]:
    """make(name, minor="3.10", numpy_from=None): a fresh real venv under tmp_path (any name, spaces and
    non-ASCII allowed); with numpy_from, numpy linked in from that venv."""

    def make(name: str, minor: str = GOOD_VERSION, numpy_from: Path | None = None) -> Path:
        base = good_base if minor == GOOD_VERSION else pyenv_prefix(minor)
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        make_venv(base, target, minor)
        if numpy_from is not None:
            link_numpy(numpy_from, venv_site_packages(target, minor))
        return target

    return make


def conda_record(name: str, version: str, build: str) -> dict[str, object]:
    """A conda-meta record with the fields conda writes that we read (name, version) and a few more."""
    return {
        "name": name,
        "version": version,
        "build": build,
        "build_number": 0,
        "channel": "https://conda.anaconda.org/conda-forge/linux-64",
        "subdir": "linux-64",
        "files": [],
        "depends": [],
    }


@pytest.fixture
def conda_env_factory(tmp_path: Path, good_base: Path, numpy_home: Path) -> Callable[..., Path]:
    """make(name, numpy_installer="conda"|"pip"|None): a conda-style prefix built from real files: the
    interpreter binary copied (its RUNPATH finds pyenv's libpython), the stdlib linked, libpython linked,
    conda-meta records for python (and numpy), numpy linked into its own site-packages. Its interpreter
    really runs and imports that numpy."""

    def make(name: str, numpy_installer: str | None = "conda", root: Path | None = None) -> Path:
        prefix = (root or tmp_path / "miniforge3" / "envs") / name
        (prefix / "bin").mkdir(parents=True)
        shutil.copy2(good_base / "bin" / "python3.10", prefix / "bin" / "python3.10")
        (prefix / "bin" / "python").symlink_to("python3.10")
        lib = prefix / "lib"
        stdlib = lib / "python3.10"
        (stdlib / "site-packages").mkdir(parents=True)
        for entry in (good_base / "lib" / "python3.10").iterdir():
            if entry.name != "site-packages":
                (stdlib / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
        (lib / "libpython3.10.so.1.0").symlink_to(good_base / "lib" / "libpython3.10.so.1.0")
        (lib / "libpython3.10.so").symlink_to("libpython3.10.so.1.0")
        meta = prefix / "conda-meta"
        meta.mkdir()
        full = good_base.name
        (meta / "history").write_text("==> 2026-01-01 00:00:00 <==\n")
        (meta / f"python-{full}-h955ad1f_0_cpython.json").write_text(
            json.dumps(conda_record("python", full, "h955ad1f_0_cpython"))
        )
        if numpy_installer is not None:
            site = stdlib / "site-packages"
            link_numpy(numpy_home, site)
            dist_info = next(site.glob("numpy-*.dist-info"))
            version = dist_info.name.removesuffix(".dist-info").split("-")[1]
            # A real copy of the dist-info so that its INSTALLER can say who installed it.
            dist_info.unlink()
            shutil.copytree(venv_site_packages(numpy_home) / dist_info.name, dist_info)
            (dist_info / "INSTALLER").write_text(numpy_installer + "\n")
            if numpy_installer == "conda":
                (meta / f"numpy-{version}-py310h_0.json").write_text(
                    json.dumps(conda_record("numpy", version, "py310h_0"))
                )
        return prefix

    return make


@pytest.fixture
def gui_root(tmp_path: Path) -> Path:
    """An empty GUI saved-state root with configs-api10/ and plugins-api10/, in a folder whose path has a
    space and non-ASCII characters."""
    root = tmp_path / "Open Ephys Données" / "open-ephys"
    (root / "configs-api10").mkdir(parents=True)
    (root / "plugins-api10").mkdir()
    return root


def chain_text(name: str) -> str:
    """A GUI-format chain from tests/cli/data (see README there)."""
    return (DATA / name).read_text(encoding="utf-8")


@pytest.fixture
def gui_with_chains(gui_root: Path) -> Path:
    """The GUI root with identical lastConfig.xml and recoveryConfig.xml (GUI 1.0 style, two Python
    Processors) and a windowState.xml with reload on start-up."""
    configs = gui_root / "configs-api10"
    (configs / "lastConfig.xml").write_bytes((DATA / "chain_v1.xml").read_bytes())
    (configs / "recoveryConfig.xml").write_bytes((DATA / "chain_v1.xml").read_bytes())
    (configs / "windowState.xml").write_bytes((DATA / "windowState.xml").read_bytes())
    return gui_root


@pytest.fixture
def fake_gui_home(tmp_path: Path) -> Path:
    """The HOME of fake_gui_process: its GUI root is default_gui_root("Linux", home=this)."""
    home = tmp_path / "gui user home"
    home.mkdir(exist_ok=True)
    return home


@pytest.fixture
def fake_gui_process(tmp_path: Path, fake_gui_home: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real running process whose executable is named `open-ephys` (a copy of sleep), run with
    HOME=fake_gui_home so that its saved-state root is known and private to the test."""
    sleep = shutil.which("sleep")
    assert sleep is not None
    folder = tmp_path / "GUI bin"
    folder.mkdir()
    executable = folder / "open-ephys"
    shutil.copy2(sleep, executable)
    process = subprocess.Popen([str(executable), "60"], env=dict(os.environ, HOME=str(fake_gui_home)))
    # Wait until the kernel shows the new executable (exec has happened).
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            if os.readlink(f"/proc/{process.pid}/exe").startswith(str(executable)):
                break
        except OSError:
            pass
        time.sleep(0.01)
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m oe_pyproc_setup ARGS` as a real subprocess (stdin not a terminal)."""
    full_env = dict(os.environ if env is None else env)
    return subprocess.run(
        [sys.executable, "-m", "oe_pyproc_setup", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """run_cli as a fixture (test modules cannot import conftest under --import-mode=importlib)."""
    return run_cli


@pytest.fixture
def chain_data() -> Path:
    """The folder of GUI-format chain files (tests/cli/data)."""
    return DATA


@pytest.fixture
def ours_installed(gui_root: Path) -> Path:
    """The GUI root as `oe-pyproc install` leaves it (DESIGN §5): our plugin folder with its metadata and
    the manifest, so Homes are judged by our plugin's rules. (The plugin binaries themselves are not needed
    by the CLI tests and are not faked here.)"""
    plugins = gui_root / "plugins-api10"
    ours = plugins / "oe-pyproc"
    ours.mkdir(parents=True, exist_ok=True)
    metadata = {
        "schema": 1,
        "version": "0.1.0",
        "plugin_api": 10,
        "platform": "linux",
        "arch": "x86_64",
        "bridges": {"3.10": "liboe_pyproc_bridge_cp310.bridge"},
    }
    (ours / "oe-pyproc-plugin.json").write_text(json.dumps(metadata))
    manifest = {"schema": 1, "source_prefix": "/opt/conda", "files": [], "moved_aside": []}
    (plugins / "oe-pyproc-manifest.json").write_text(json.dumps(manifest))
    return gui_root
