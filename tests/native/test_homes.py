"""Rules 1, 2 and 4: Home resolution and validation before Python starts; loading; venv Homes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from native_helpers import BUILD, FULL_VERSIONS, NOOP, PYENV_VERSIONS, base_python, run_host, write_script


def make_venv(path: Path, version: str) -> Path:
    subprocess.run([str(base_python(version)), "-m", "venv", "--without-pip", str(path)], check=True)
    return path


def site_packages(venv: Path, version: str) -> Path:
    return venv / "lib" / f"python{version}" / "site-packages"


def bad_home(kind: str, tmp_path: Path) -> tuple[Path, list[str]]:
    """A broken Home of the given kind and the host flags to use with it."""
    if kind == "missing":
        return tmp_path / "nowhere", []
    if kind == "file":
        path = tmp_path / "python_home.txt"
        path.write_text("not a folder")
        return path, []
    if kind == "not_python":
        path = tmp_path / "photos"
        path.mkdir()
        return path, []
    if kind == "broken_symlink":
        path = tmp_path / "link"
        path.symlink_to(tmp_path / "gone")
        return path, []
    if kind == "too_old":
        return PYENV_VERSIONS / "3.8.18", []
    if kind == "no_bridge":
        return PYENV_VERSIONS / "3.11.7", []
    if kind == "no_numpy":
        return PYENV_VERSIONS / "3.10.13", []
    if kind == "no_stdlib":
        path = tmp_path / "gutted"
        (path / "bin").mkdir(parents=True)
        (path / "bin" / "python3").symlink_to(base_python("3.10"))
        (path / "lib" / "python3.10").mkdir(parents=True)
        return path, []
    if kind == "venv_base_gone":
        venv = make_venv(tmp_path / "venv", "3.10")
        config = venv / "pyvenv.cfg"
        config.write_text(config.read_text().replace(str(PYENV_VERSIONS), str(tmp_path / "deleted")))
        return venv, []
    if kind == "numpy_broken":
        venv = make_venv(tmp_path / "venv", "3.10")
        numpy = site_packages(venv, "3.10") / "numpy"
        numpy.mkdir(parents=True)
        (numpy / "__init__.py").write_text("raise ImportError('numpy broken on purpose')\n")
        return venv, []
    if kind == "numpy_hangs":
        venv = make_venv(tmp_path / "venv", "3.10")
        numpy = site_packages(venv, "3.10") / "numpy"
        numpy.mkdir(parents=True)
        (numpy / "__init__.py").write_text("import time\ntime.sleep(60)\n")
        return venv, ["--import-timeout", "1"]
    raise AssertionError(kind)


EXPECTED_REASONS = {
    "missing": "does not exist",
    "file": "is a file, not a folder",
    "not_python": "no bin/python3: not a Python installation",
    "broken_symlink": "broken symbolic link",
    "too_old": "needs 3.10 or newer",
    "no_bridge": "no bridge for",
    "no_numpy": "numpy is not installed",
    "no_stdlib": "standard library of Python 3.10 is missing",
    "venv_base_gone": "no longer exists",
    "numpy_broken": "numpy broken on purpose",
    "numpy_hangs": "did not finish within",
}


@pytest.mark.parametrize("kind", sorted(EXPECTED_REASONS))
def test_bad_home_is_refused_with_its_reason(kind: str, tmp_path: Path) -> None:
    path, flags = bad_home(kind, tmp_path)
    script = write_script(tmp_path / "scripts", "noop.py", NOOP)
    result = run_host("--script", script, *flags, home=path)
    assert result.returncode == 3
    assert result.report is not None
    assert result.report["fatal"]["stage"] == "home"
    candidate = result.report["home"]["candidates"][0]
    assert candidate["origin"] == "chain"
    assert candidate["accepted"] is False
    assert EXPECTED_REASONS[kind] in candidate["reason"]
    assert EXPECTED_REASONS[kind] in result.stderr
    assert "Traceback" not in result.stderr


def test_later_good_home_from_the_default_home_file_wins(tmp_path: Path, homes: dict[str, Path]) -> None:
    root = tmp_path / "gui-root"
    (root / "configs-api10").mkdir(parents=True)
    (root / "configs-api10" / "oe-pyproc.json").write_text(
        json.dumps(
            {"schema": 1, "python_home": str(homes["3.10"]), "written_by": "test", "written_at": "now"}
        )
    )
    script = write_script(tmp_path, "noop.py", NOOP)
    result = run_host("--script", script, "--gui-root", root, home=tmp_path / "dead-home", default_home=True)
    assert result.returncode == 0, result.stderr
    assert result.report is not None
    home = result.report["home"]
    assert home["origin"] == "default_home_file"
    assert home["chosen"] == str(homes["3.10"])
    assert "does not exist" in home["candidates"][0]["reason"]
    assert home["candidates"][1]["accepted"] is True


def test_malformed_default_home_file_is_a_warning_not_a_crash(tmp_path: Path, homes: dict[str, Path]) -> None:
    root = tmp_path / "gui-root"
    (root / "configs-api10").mkdir(parents=True)
    (root / "configs-api10" / "oe-pyproc.json").write_text('{"python_home": ')
    script = write_script(tmp_path, "noop.py", NOOP)
    result = run_host("--script", script, "--gui-root", root, home=homes["3.10"], default_home=True)
    assert result.returncode == 0
    assert result.report is not None
    assert any("malformed JSON" in warning["message"] for warning in result.report["warnings"])


def test_check_home_reports_without_running(homes: dict[str, Path]) -> None:
    result = run_host("--check-home", home=homes["3.12"])
    assert result.returncode == 0
    assert result.report is not None
    assert result.report["home"]["venv"] is True
    assert result.report["home"]["numpy_version"]
    assert result.report["instances"] == []


def test_dlopen_local_plugin_imports_numpy_and_refuses_second_home(
    version: str, homes: dict[str, Path], tmp_path: Path
) -> None:
    """Rule 2 + 3: the loader inside an RTLD_LOCAL-loaded module; one interpreter per process."""
    other = homes["3.12" if version == "3.10" else "3.10"]
    completed = subprocess.run(
        [
            str(BUILD / "test_dlopen_local"),
            str(BUILD / "oe_pyproc_gui_sim_plugin.so"),
            str(homes[version]),
            str(BUILD),
            str(tmp_path),
            str(other),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "numpy ran in the script" in completed.stdout
    assert "restart the GUI to switch Home" in completed.stdout


def test_bridges_are_not_linked_to_libpython() -> None:
    for bridge in sorted(BUILD.glob("oe_pyproc_bridge_cp3*.bridge")):
        dynamic = subprocess.run(["readelf", "-d", str(bridge)], capture_output=True, text=True, check=True)
        assert "libpython" not in dynamic.stdout, bridge
    assert len(list(BUILD.glob("oe_pyproc_bridge_cp3*.bridge"))) == len(FULL_VERSIONS)


def test_plugin_metadata_lists_the_bridges() -> None:
    metadata = json.loads((BUILD / "oe-pyproc-plugin.json").read_text())
    assert metadata["schema"] == 1
    assert metadata["plugin_api"] == 10
    assert metadata["platform"] == sys.platform
    for version, file_name in metadata["bridges"].items():
        assert file_name == f"oe_pyproc_bridge_cp{version.replace('.', '')}.bridge"
        assert (BUILD / file_name).is_file()


INFO = """
import json, os, sys
OUT = {out!r}


def caught_signals():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("SigCgt:"):
                return int(line.split()[1], 16)

class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        import numpy
        info = dict(
            path=sys.path, prefix=sys.prefix, base_prefix=sys.base_prefix, executable=sys.executable,
            isolated=sys.flags.isolated, no_user_site=sys.flags.no_user_site,
            ignore_environment=sys.flags.ignore_environment, cwd=os.getcwd(),
            sigint_caught=bool(caught_signals() & (1 << 1)), signal_imported='signal' in sys.modules,
            numpy_file=numpy.__file__, dont_write_bytecode=sys.dont_write_bytecode,
            switch_interval=sys.getswitchinterval(),
        )
        with open(OUT, "w") as stream:
            json.dump(info, stream)

    def process(self, data):
        pass
"""


def test_venv_home_uses_only_the_venv_packages_and_is_isolated(
    version: str, home: Path, tmp_path: Path
) -> None:
    """Rules 3 and 4: isolated PyConfig start-up; a venv Home with its own site-packages only."""
    out = tmp_path / "info.json"
    script = write_script(tmp_path / "scripts", "info.py", INFO.format(out=str(out)))
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "evil"), PYTHONHOME="/nonexistent", PYTHONNOUSERSITE="")
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    result = run_host("--script", script, "--duration", "0.05", home=home, env=env, cwd=workdir)
    assert result.returncode == 0, result.stderr
    info = json.loads(out.read_text())
    base = PYENV_VERSIONS / FULL_VERSIONS[version]
    assert info["prefix"] == str(home)
    assert info["base_prefix"] == str(base)
    assert str(site_packages(home, version)) in info["path"]
    assert str(base / "lib" / f"python{version}" / "site-packages") not in info["path"]
    assert info["numpy_file"].startswith(str(home))
    assert "" not in info["path"] and str(workdir) not in info["path"]
    # PYTHONPATH's entries come after the Home's own paths, so they cannot shadow its modules (issue 9).
    evil = str(tmp_path / "evil")
    assert info["path"].index(evil) > info["path"].index(str(site_packages(home, version)))
    assert info["path"][-1] == str(tmp_path / "scripts")  # the script folder is appended, not prepended
    assert info["isolated"] == 1 and info["no_user_site"] == 1 and info["ignore_environment"] == 1
    assert info["sigint_caught"] is False  # install_signal_handlers=0: no KeyboardInterrupt handler
    assert info["dont_write_bytecode"] is True
    assert info["switch_interval"] == 0.0005  # bounds the audio thread's wait behind a script thread


def test_python_is_never_finalised(home: Path, tmp_path: Path) -> None:
    """Rule 3: no Py_Finalize (atexit handlers of the script never run), state survives instances."""
    marker = tmp_path / "atexit-ran"
    script = write_script(
        tmp_path,
        "atexit_probe.py",
        f"""
        import atexit, sys
        atexit.register(lambda: open({str(marker)!r}, "w").close())
        sys.oe_pyproc_loads = getattr(sys, "oe_pyproc_loads", 0) + 1

        class PyProcessor:
            def __init__(self, processor, num_channels, sample_rate):
                self.processor = processor
                self.loads = sys.oe_pyproc_loads

            def process(self, data):
                self.processor.add_python_event(self.loads, True)
        """,
    )
    result = run_host("--script", script, "--instances", "2", "--blocks", "1", home=home)
    assert result.returncode == 0, result.stderr
    lines = [result.instance(i)["events_emitted"][0]["line"] for i in range(2)]
    assert lines == [1, 2]  # one interpreter: the second instance saw the first's import
    assert not marker.exists()


def test_installed_layout_runs_from_the_prefix(homes: dict[str, Path], tmp_path: Path) -> None:
    """DESIGN §5 layout from `cmake --install`; the installed host finds the installed bridges."""
    prefix = tmp_path / "prefix"
    subprocess.run(
        ["cmake", "--install", str(BUILD), "--prefix", str(prefix)], check=True, capture_output=True
    )
    plugin_dir = prefix / "lib" / "oe-pyproc" / "plugins-api10" / "oe-pyproc"
    metadata = json.loads((plugin_dir / "oe-pyproc-plugin.json").read_text())
    assert sorted(path.name for path in plugin_dir.iterdir()) == sorted(
        ["oe-pyproc-plugin.json", *metadata["bridges"].values()]
    )
    script = write_script(tmp_path, "noop.py", NOOP)
    host = prefix / "bin" / "oe-pyproc-host"
    arguments = ["--python-home", str(homes["3.12"]), "--no-default-home", "--script", str(script), "--json"]
    completed = subprocess.run(
        [str(host), *arguments],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["home"]["bridge"] == str(plugin_dir / "oe_pyproc_bridge_cp312.bridge")
