"""One truth for Homes (issue 10): every layout of corpus.json gets the same verdict from the CLI's file
rules, from the plugin's loader (the real oe-pyproc-host --check-home for the Linux Homes, which runs the
Home's own interpreter; the check_home_files driver for the other platforms' trees) and, for the Linux
Homes, from `oe-pyproc doctor --python-home H --json`, both judged by that host and by the files alone.

Needs the native build (build/native, or OE_PYPROC_NATIVE_BUILD) and its venvs with numpy
(build/native-venvs): `.ci/parts/20-native.sh` makes both; `.ci/parts/21-homes.sh` runs this.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("homes_corpus_build", Path(__file__).with_name("build.py"))
assert _spec is not None and _spec.loader is not None
corpus_build = importlib.util.module_from_spec(_spec)
sys.modules["homes_corpus_build"] = corpus_build
_spec.loader.exec_module(corpus_build)

from oe_pyproc_setup.home import inspect_home, judge_home, ours_rules  # noqa: E402

BUILD = Path(os.environ.get("OE_PYPROC_NATIVE_BUILD", str(corpus_build.ROOT / "build" / "native")))
HOST = BUILD / "oe-pyproc-host"
DRIVER = BUILD / "check_home_files"
BRIDGES = ((3, 10), (3, 12), (3, 13))  # what build/native has bridges for
LAYOUTS = corpus_build.load_corpus()
DRIVER_LAYOUT = {"linux": "posix", "macos": "macos", "windows": "windows"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    if not HOST.is_file() or not DRIVER.is_file():
        pytest.fail(f"no native build in {BUILD}: run bash .ci/parts/20-native.sh first")
    folder = tmp_path_factory.mktemp("homes") / "corpus"
    return folder, corpus_build.build_corpus(folder)


@pytest.fixture(scope="module")
def gui_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GUI root with the built plugin installed (its metadata and bridges), so the rules are its bridges."""
    root = tmp_path_factory.mktemp("gui") / "open-ephys"
    plugin = root / "plugins-api10" / "oe-pyproc"
    plugin.mkdir(parents=True)
    (root / "configs-api10").mkdir()
    (plugin / "oe-pyproc-plugin.json").write_bytes((BUILD / "oe-pyproc-plugin.json").read_bytes())
    for bridge in BUILD.glob("*.bridge"):
        (plugin / bridge.name).symlink_to(bridge)
    return root


@pytest.fixture
def in_corpus(corpus: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """HOME and the working directory are the corpus folder: `~/x` and `x` name its Homes."""
    folder, _ = corpus
    monkeypatch.setenv("HOME", str(folder))
    monkeypatch.chdir(folder)
    yield folder


def _files_usable(named: str) -> bool:
    verdict = judge_home(inspect_home(Path(named)), ours_rules(BRIDGES))
    return verdict.status != "error"


def _host_usable(named: str, folder: Path) -> tuple[bool, str]:
    completed = subprocess.run(
        [str(HOST), "--check-home", "--json", "--no-default-home", "--python-home", named],
        capture_output=True,
        text=True,
        cwd=folder,
        env={**os.environ, "HOME": str(folder)},
        timeout=120,
        check=False,
    )
    report = json.loads(completed.stdout)
    given = next(c for c in report["home"]["candidates"] if c["origin"] == "chain")
    assert (completed.returncode == 0) == given["accepted"], completed.stderr
    return bool(given["accepted"]), str(given["reason"])


def _driver_verdicts(folder: Path, named: dict[str, str]) -> dict[str, tuple[bool, str]]:
    verdicts = {}
    for platform, layout_name in DRIVER_LAYOUT.items():
        homes = [layout for layout in LAYOUTS if layout.platform == platform and not layout.real]
        if not homes:
            continue
        completed = subprocess.run(
            [
                str(DRIVER),
                "--layout",
                layout_name,
                "--bridge-dir",
                str(BUILD),
                *(named[h.name] for h in homes),
            ],
            capture_output=True,
            text=True,
            cwd=folder,
            check=True,
        )
        for layout, line in zip(homes, completed.stdout.splitlines()):
            result = json.loads(line)
            verdicts[layout.name] = (bool(result["ok"]), str(result["reason"]))
    return verdicts


def _doctor(named: str, folder: Path, gui_root: Path, with_host: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "OE_PYPROC_HOST"}
    env["HOME"] = str(folder)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if "build" not in p)
    if with_host:
        env["OE_PYPROC_HOST"] = str(HOST)
    doctor = [sys.executable, "-m", "oe_pyproc_setup", "doctor", "--python-home", named, "--json"]
    completed = subprocess.run(
        [*doctor, "--gui-root", str(gui_root), "--check", "home.resolve"],
        capture_output=True,
        text=True,
        cwd=folder,
        env=env,
        timeout=300,
        check=False,
    )
    context: dict[str, str] = json.loads(completed.stdout)["context"]
    return context


def test_the_corpus_covers_every_platform_and_both_verdicts() -> None:
    assert {layout.platform for layout in LAYOUTS} == {"linux", "windows", "macos"}
    for platform in ("linux", "windows", "macos"):
        assert {layout.usable for layout in LAYOUTS if layout.platform == platform} == {True, False}
    assert len({layout.name for layout in LAYOUTS}) == len(LAYOUTS)


def test_file_rules_and_loader_agree_on_every_layout(
    corpus: tuple[Path, dict[str, str]], in_corpus: Path
) -> None:
    folder, named = corpus
    driver = _driver_verdicts(folder, named)
    disagreements = []
    for layout in LAYOUTS:
        files = _files_usable(named[layout.name])
        loader, reason = _host_usable(named[layout.name], folder) if layout.real else driver[layout.name]
        if not files == loader == layout.usable:
            disagreements.append(
                f"{layout.name}: expected {layout.usable}, file rules {files}, loader {loader} ({reason})"
            )
    assert not disagreements, "\n".join(disagreements)


def test_doctor_agrees_with_the_host_on_every_linux_home(
    corpus: tuple[Path, dict[str, str]], gui_root: Path
) -> None:
    folder, named = corpus
    disagreements = []
    for layout in (layout for layout in LAYOUTS if layout.real):
        for with_host in (True, False):
            context = _doctor(named[layout.name], folder, gui_root, with_host)
            usable = context["python_home_status"] != "error"
            judged_by_host = context["python_home_judged_by"] != "files"
            if usable != layout.usable or judged_by_host != with_host:
                disagreements.append(f"{layout.name} (host: {with_host}): {context}")
    assert not disagreements, "\n".join(disagreements)


@pytest.mark.parametrize("root_name", ["open-ephys", "src/plugin-GUI/Build/Release"])
def test_configure_writes_the_default_home_where_the_host_reads_it(
    corpus: tuple[Path, dict[str, str]], tmp_path: Path, root_name: str
) -> None:
    """An installed GUI's root (configs-api10/) and a development build's (configs beside the executable)."""
    _, named = corpus
    root = tmp_path / root_name
    (root if "Build" in root_name else root / "configs-api10").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k != "OE_PYPROC_HOST"}
    configure = [sys.executable, "-m", "oe_pyproc_setup", "configure", "--python-home", named["venv-3.10"]]
    configured = subprocess.run(
        [*configure, "--gui-root", str(root)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert configured.returncode == 0, configured.stdout + configured.stderr
    written = root / "oe-pyproc.json" if "Build" in root_name else root / "configs-api10" / "oe-pyproc.json"
    assert json.loads(written.read_text())["python_home"] == named["venv-3.10"]
    checked = subprocess.run(
        [str(HOST), "--check-home", "--json", "--gui-root", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    home = json.loads(checked.stdout)["home"]
    assert checked.returncode == 0, checked.stderr
    assert home["chosen"] == named["venv-3.10"] and home["origin"] == "default_home_file"
