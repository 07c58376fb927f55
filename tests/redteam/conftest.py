"""Fixtures of the red-team suite: real subprocesses of the CLI (each with a timeout: a hang is a failure,
never a wait), GUI roots in temporary folders, a conda-style prefix holding the plugin package's files
(shared libraries compiled here by gcc) and victims: the user's files outside the GUI root that no input
may change. The CLI tests' fixtures (real pyenv interpreters and venvs) are loaded from tests/cli."""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from oe_pyproc_setup.binfmt import normalize_machine

if "redteam_helpers" not in sys.modules:
    _helpers_spec = importlib.util.spec_from_file_location(
        "redteam_helpers", Path(__file__).with_name("helpers.py")
    )
    assert _helpers_spec is not None and _helpers_spec.loader is not None
    _helpers = importlib.util.module_from_spec(_helpers_spec)
    sys.modules["redteam_helpers"] = _helpers
    _helpers_spec.loader.exec_module(_helpers)

from redteam_helpers import CHAIN, INSTALLED_PLUGINS, Outcome, run

_CLI_CONFTEST = Path(__file__).resolve().parents[1] / "cli" / "conftest.py"
_spec = importlib.util.spec_from_file_location("oe_pyproc_cli_fixtures", _CLI_CONFTEST)
assert _spec is not None and _spec.loader is not None
_cli_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_cli_fixtures)
good_base = _cli_fixtures.good_base
numpy_home = _cli_fixtures.numpy_home
venv_factory = _cli_fixtures.venv_factory
chain_data = _cli_fixtures.chain_data

PLUGIN_REL = Path("lib/oe-pyproc/plugins-api10/oe-pyproc")


@pytest.fixture
def cli() -> Callable[..., Outcome]:
    return run


@pytest.fixture(scope="session")
def shared_libraries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real ELF shared libraries, compiled once: our adapter, a bridge, upstream's plugin."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.fail("gcc is required to build the test plugins")
    folder = tmp_path_factory.mktemp("libs")
    built = {}
    for name in ("adapter", "bridge", "upstream"):
        source = folder / f"{name}.c"
        source.write_text(f"int {name}_marker(void) {{ return 1; }}\n")
        target = folder / f"{name}.so"
        subprocess.run([gcc, "-shared", "-fPIC", "-o", str(target), str(source)], check=True, timeout=120)
        built[name] = target
    return built


@pytest.fixture
def plugin_env(tmp_path: Path, shared_libraries: dict[str, Path]) -> Path:
    """A conda-style prefix with the plugin package's files (no interpreter: install only warns then)."""
    prefix = tmp_path / "envs" / "oe-python-plugin"
    plugin_dir = prefix / PLUGIN_REL
    plugin_dir.mkdir(parents=True)
    shutil.copy2(shared_libraries["adapter"], plugin_dir / "python-processor.so")
    shutil.copy2(shared_libraries["bridge"], plugin_dir / "oe_pyproc_bridge_cp310.bridge")
    metadata = {
        "schema": 1,
        "version": "0.1.0",
        "plugin_api": 10,
        "platform": "linux-64",
        "arch": normalize_machine(platform.machine()),
        "bridges": {"3.10": "oe_pyproc_bridge_cp310.bridge"},
    }
    (plugin_dir / "oe-pyproc-plugin.json").write_text(json.dumps(metadata, indent=2))
    return prefix


@pytest.fixture
def gui_root(tmp_path: Path, shared_libraries: dict[str, Path]) -> Path:
    """A used GUI root (path with a space and non-ASCII): another plugin, upstream's Python Processor
    listed in installedPlugins.xml as the GUI's installer writes it, a default Home file of the user's."""
    root = tmp_path / "Open Ephys Données" / "open-ephys"
    plugins = root / "plugins-api10"
    plugins.mkdir(parents=True)
    (root / "configs-api10").mkdir()
    shutil.copy2(shared_libraries["upstream"], plugins / "some-other-plugin.so")
    shutil.copy2(shared_libraries["upstream"], plugins / "python-processor.so")
    (plugins / "installedPlugins.xml").write_text(INSTALLED_PLUGINS)
    (root / "configs-api10" / "oe-pyproc.json").write_text(
        '{"schema": 1, "python_home": "/opt/earlier", "written_by": "user", "written_at": "then"}\n'
    )
    return root


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """The user's own files outside the GUI root; no case may change them."""
    folder = tmp_path / "victim"
    folder.mkdir()
    (folder / "thesis.txt").write_text("years of work\n")
    (folder / "empty-folder").mkdir()
    return folder


@pytest.fixture
def settings_root(tmp_path: Path) -> Path:
    """A GUI root with identical lastConfig.xml and recoveryConfig.xml, reload on start-up on."""
    root = tmp_path / "gui" / "open-ephys"
    configs = root / "configs-api10"
    configs.mkdir(parents=True)
    (root / "plugins-api10").mkdir()
    for name in ("lastConfig.xml", "recoveryConfig.xml"):
        (configs / name).write_text(CHAIN.format(encoding="UTF-8"))
    (configs / "windowState.xml").write_text('<MAINWINDOW shouldReloadOnStartup="1"/>\n')
    return root


REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def host() -> Path:
    """The built oe-pyproc-host: $OE_PYPROC_TEST_HOST, else part 20's build/native, else
    build/redteam-host (.ci/parts/50-redteam.sh builds it when part 20 did not run)."""
    candidates = [os.environ.get("OE_PYPROC_TEST_HOST", "")]
    candidates += [str(REPO_ROOT / "build" / d / "oe-pyproc-host") for d in ("native", "redteam-host")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate).absolute()
    pytest.fail(
        "no built oe-pyproc-host: set OE_PYPROC_TEST_HOST or run .ci/parts/50-redteam.sh", pytrace=False
    )


@pytest.fixture(scope="session")
def run_home(numpy_home: Path) -> Path:
    """The Home scripts run with: a venv of pyenv's 3.10 with numpy."""
    return numpy_home


_RUN_CONFTEST = Path(__file__).resolve().parents[1] / "run" / "conftest.py"


@pytest.fixture(scope="session")
def write_recording() -> object:
    """tests/run's writer of Binary-format recordings (made from the published format, not from ours)."""
    spec = importlib.util.spec_from_file_location("oe_pyproc_run_fixtures", _RUN_CONFTEST)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module.write_binary_recording
