"""Home inspection from files, discovery, probing the real interpreter, plugin rules and verdicts.

Real pyenv interpreters and real venvs throughout; the conda env is assembled from real files and its
interpreter really runs; only the Windows Home uses crafted PE headers."""

from __future__ import annotations

import json
import os
import platform
import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from oe_pyproc_setup.binfmt import normalize_machine
from oe_pyproc_setup.gui import GuiLayout
from oe_pyproc_setup.home import (
    OURS,
    UPSTREAM,
    HomeCandidate,
    ProbeResult,
    detect_plugin_rules,
    discover_homes,
    home_module_names,
    inspect_home,
    judge_home,
    judge_probe,
    probe_home,
)

HOST = normalize_machine(platform.machine())


def real_numpy_version(home: Path) -> str:
    code = "import numpy; print(numpy.__version__)"
    return subprocess.run(
        [str(home / "bin" / "python"), "-I", "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def codes(verdict: object) -> list[str]:
    return [reason.code for reason in verdict.reasons]  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------ inspection


def test_pyenv_base_install_without_numpy(good_base: Path) -> None:
    info = inspect_home(good_base)
    assert info.kind == "base-install"
    assert info.version == (3, 10)
    assert info.version_source == "lib/python3.10"
    assert info.libpython == good_base / "lib" / "libpython3.10.so.1.0"
    assert info.arch == HOST and info.arch_source == info.libpython
    assert info.stdlib_dir == good_base / "lib" / "python3.10" and info.has_encodings
    assert info.interpreter == good_base / "bin" / "python3"  # what the loader runs
    assert not info.has_numpy and info.numpy_installer is None
    verdict = judge_home(info, OURS)
    assert verdict.status == "error"
    assert codes(verdict) == ["numpy-missing"]
    # Upstream's rules accept a 3.10 base install: only numpy is missing there too.
    assert codes(judge_home(info, UPSTREAM)) == ["numpy-missing"]


def test_venv_with_pip_numpy_is_the_good_home(numpy_home: Path, good_base: Path) -> None:
    info = inspect_home(numpy_home)
    assert info.kind == "venv"
    assert info.version == (3, 10) and info.version_source == "pyvenv.cfg"
    assert info.full_version == good_base.name
    assert info.venv_base == good_base and info.venv_base_exists
    assert info.libpython == good_base / "lib" / "libpython3.10.so.1.0"
    assert info.stdlib_dir == good_base / "lib" / "python3.10" and info.has_encodings
    assert info.site_packages == (numpy_home / "lib" / "python3.10" / "site-packages",)
    assert info.numpy_version == real_numpy_version(numpy_home)
    assert info.numpy_installer == "pip"
    assert info.arch == HOST
    assert judge_home(info, OURS).status == "ok"
    upstream = judge_home(info, UPSTREAM)
    assert upstream.status == "error" and codes(upstream) == ["venv-unsupported"]


@pytest.mark.parametrize("minor", ["3.9", "3.11", "3.12", "3.13"])
def test_other_versions_are_wrong_homes(venv_factory: Callable[..., Path], minor: str) -> None:
    venv = venv_factory(f"venv-{minor}", minor=minor)
    info = inspect_home(venv)
    assert info.kind == "venv" and info.version == tuple(int(n) for n in minor.split("."))
    verdict = judge_home(info, OURS)
    assert verdict.status == "error" and "version" in codes(verdict)
    assert "3.10" in verdict.reasons[0].message
    assert "conda create -n oe-python-plugin" in verdict.reasons[0].remediation


def test_a_bridge_for_312_makes_312_acceptable(venv_factory: Callable[..., Path], numpy_home: Path) -> None:
    from oe_pyproc_setup.home import ours_rules

    info = inspect_home(venv_factory("v312", minor="3.12"))
    rules = ours_rules([(3, 10), (3, 12)])
    assert "version" not in codes(judge_home(info, rules))


def test_venv_whose_base_is_gone(tmp_path: Path, conda_env_factory: Callable[..., Path]) -> None:
    # A real base (copied interpreter + stdlib links), a real venv made from it, then the base removed.
    base = conda_env_factory("base-to-remove", numpy_installer=None, root=tmp_path / "bases")
    venv = tmp_path / "orphan venv"
    subprocess.run([str(base / "bin" / "python3.10"), "-m", "venv", "--without-pip", str(venv)], check=True)
    assert inspect_home(venv).venv_base_exists
    shutil.rmtree(base)
    info = inspect_home(venv)
    assert info.kind == "venv"
    assert info.venv_base == base and info.venv_base_exists is False
    assert info.version == (3, 10)  # pyvenv.cfg still says so
    verdict = judge_home(info, OURS)
    assert verdict.status == "error"
    assert "venv-base-missing" in codes(verdict)
    assert str(base) in next(r.message for r in verdict.reasons if r.code == "venv-base-missing")


def test_conda_env_with_conda_numpy(conda_env_factory: Callable[..., Path], good_base: Path) -> None:
    env = conda_env_factory("oe-python-plugin")
    info = inspect_home(env)
    assert info.kind == "conda-env"
    assert info.version == (3, 10) and info.full_version == good_base.name
    assert info.version_source is not None and info.version_source.startswith("conda-meta/python-")
    assert info.numpy_installer == "conda" and info.numpy_version
    assert info.libpython == env / "lib" / "libpython3.10.so.1.0"
    assert judge_home(info, OURS).status == "ok"
    assert judge_home(info, UPSTREAM).status == "ok"


def test_conda_env_with_pip_numpy_is_a_warning(conda_env_factory: Callable[..., Path]) -> None:
    info = inspect_home(conda_env_factory("pip-numpy", numpy_installer="pip"))
    assert info.numpy_installer == "pip"
    verdict = judge_home(info, OURS)
    assert verdict.status == "warn" and codes(verdict) == ["numpy-pip-in-conda"]


def test_home_path_with_spaces_and_non_ascii(venv_factory: Callable[..., Path], numpy_home: Path) -> None:
    venv = venv_factory("Mes Homes/énv ü 3.10", numpy_from=numpy_home)
    info = inspect_home(venv)
    assert info.path == venv
    assert judge_home(info, OURS).status == "ok"
    assert probe_home(info).status == "ok"


def test_not_python_missing_file_and_broken_link(tmp_path: Path, good_base: Path) -> None:
    empty = tmp_path / "empty folder"
    empty.mkdir()
    assert inspect_home(empty).kind == "not-python"
    assert judge_home(inspect_home(empty), OURS).status == "error"
    missing = inspect_home(tmp_path / "nowhere")
    assert missing.kind == "missing" and codes(judge_home(missing, OURS)) == ["missing"]
    interpreter = inspect_home(good_base / "bin" / "python3.10")
    assert interpreter.kind == "not-python"
    assert str(good_base) in interpreter.problems[0]  # points at the Home the user meant
    link = tmp_path / "dangling"
    link.symlink_to(tmp_path / "gone")
    broken = inspect_home(link)
    assert broken.kind == "missing" and "broken symbolic link" in broken.problems[0]


def test_stdlib_without_encodings_is_an_error(tmp_path: Path, conda_env_factory: Callable[..., Path]) -> None:
    env = conda_env_factory("damaged")
    (env / "lib" / "python3.10" / "encodings").unlink()
    verdict = judge_home(inspect_home(env), OURS)
    assert "encodings-missing" in codes(verdict)
    assert "No module named 'encodings'" in verdict.reasons[0].message


def test_static_python_without_libpython_is_an_error(conda_env_factory: Callable[..., Path]) -> None:
    env = conda_env_factory("static")
    for name in ("libpython3.10.so", "libpython3.10.so.1.0"):
        (env / "lib" / name).unlink()
    info = inspect_home(env)
    assert info.libpython is None
    assert info.arch == HOST and info.arch_source == env / "bin" / "python3.10"  # from the interpreter
    assert "libpython-missing" in codes(judge_home(info, OURS))


def test_architecture_mismatch_with_the_gui(numpy_home: Path) -> None:
    other = "arm64" if HOST != "arm64" else "x86_64"
    verdict = judge_home(inspect_home(numpy_home), OURS, gui_arch=other)
    assert verdict.status == "error" and codes(verdict) == ["arch-mismatch"]
    assert judge_home(inspect_home(numpy_home), OURS, gui_arch=HOST).status == "ok"


def pe(machine: int = 0x8664) -> bytes:
    header = bytearray(0x80)
    header[0:2] = b"MZ"
    struct.pack_into("<I", header, 0x3C, 0x80)
    return (
        bytes(header)
        + b"PE\0\0"
        + struct.pack("<HHIIIHH", machine, 1, 0, 0, 0, 240, 0)
        + b"\x0b\x02"
        + bytes(32)
    )


def test_windows_layout_from_crafted_headers(tmp_path: Path) -> None:
    home = tmp_path / "Python310"
    (home / "Lib" / "encodings").mkdir(parents=True)
    (home / "Lib" / "os.py").write_text("")
    (home / "Lib" / "encodings" / "__init__.py").write_text("")
    (home / "DLLs").mkdir()
    (home / "DLLs" / "_socket.pyd").write_bytes(pe())
    (home / "python.exe").write_bytes(pe())
    (home / "python3.dll").write_bytes(pe())
    (home / "python310.dll").write_bytes(pe(0xAA64))
    site = home / "Lib" / "site-packages"
    (site / "numpy").mkdir(parents=True)
    (site / "numpy" / "__init__.py").write_text("")
    (site / "numpy-1.26.4.dist-info").mkdir()
    (site / "numpy-1.26.4.dist-info" / "INSTALLER").write_text("pip\n")
    info = inspect_home(home)
    assert info.windows_layout and info.kind == "base-install"
    assert info.version == (3, 10) and info.version_source == "python310.dll"
    assert info.libpython == home / "python310.dll"
    assert info.arch == "arm64"  # from the DLL the plugin loads, not python.exe
    assert info.numpy_version == "1.26.4" and info.numpy_installer == "pip"
    assert {"_socket", "numpy", "os", "encodings"} <= home_module_names(info)
    assert judge_home(info, OURS, gui_arch="arm64").status == "ok"


@pytest.mark.parametrize("pth_name", ["python310._pth", "python._pth"])
def test_windows_embeddable_package_is_refused_for_its_pth_file(tmp_path: Path, pth_name: str) -> None:
    """Refused even with Lib\\ and numpy: the ._pth file decides, not what is missing (as in the loader)."""
    home = tmp_path / "python-3.10.0-embed-amd64"
    (home / "Lib" / "encodings").mkdir(parents=True)
    (home / "Lib" / "os.py").write_text("")
    (home / "Lib" / "encodings" / "__init__.py").write_text("")
    (home / "Lib" / "site-packages" / "numpy").mkdir(parents=True)
    (home / "Lib" / "site-packages" / "numpy" / "__init__.py").write_text("")
    (home / "python.exe").write_bytes(pe())
    (home / "python310.dll").write_bytes(pe())
    (home / pth_name).write_text("python310.zip\n.\n")
    info = inspect_home(home)
    assert info.pth_file == home / pth_name
    verdict = judge_home(info, OURS)
    assert verdict.status == "error" and codes(verdict) == ["embeddable"]
    assert pth_name in verdict.reasons[0].message
    (home / pth_name).unlink()
    assert judge_home(inspect_home(home), OURS).status == "ok"


def test_windows_venv_from_crafted_headers(tmp_path: Path) -> None:
    base = tmp_path / "Python310"
    (base / "Lib" / "encodings").mkdir(parents=True)
    (base / "Lib" / "os.py").write_text("")
    (base / "Lib" / "encodings" / "__init__.py").write_text("")
    (base / "python.exe").write_bytes(pe())
    (base / "python310.dll").write_bytes(pe())
    venv = tmp_path / "my venv"
    (venv / "Scripts").mkdir(parents=True)
    (venv / "Scripts" / "python.exe").write_bytes(pe())
    (venv / "Lib" / "site-packages").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text(
        f"home = {base}\ninclude-system-site-packages = false\nversion = 3.10.11\n"
    )
    info = inspect_home(venv)
    assert info.kind == "venv" and info.windows_layout
    assert info.venv_base == base and info.venv_base_exists
    assert info.libpython == base / "python310.dll" and info.stdlib_dir == base / "Lib" and info.has_encodings
    assert info.interpreter == venv / "Scripts" / "python.exe"
    assert codes(judge_home(info, OURS)) == ["numpy-missing"]


def test_module_names_are_scanned(numpy_home: Path) -> None:
    names = home_module_names(inspect_home(numpy_home))
    assert {"numpy", "os", "json", "encodings", "math", "sys", "builtins", "asyncio"} <= names
    assert "__pycache__" not in names
    assert not any("-" in n or "." in n for n in names)


# --------------------------------------------------------------------------------------------- probing


def test_probe_good_home_and_one_without_numpy(numpy_home: Path, good_base: Path) -> None:
    good = probe_home(inspect_home(numpy_home))
    assert good.status == "ok" and good.version == (3, 10) and good.arch == HOST
    assert good.numpy_version == real_numpy_version(numpy_home)
    bare = probe_home(inspect_home(good_base))
    assert bare.status == "numpy-missing" and "numpy" in (bare.numpy_error or "")


def test_probe_conda_env_runs_its_own_numpy(conda_env_factory: Callable[..., Path]) -> None:
    env = conda_env_factory("probe-me")
    result = probe_home(inspect_home(env))
    assert result.status == "ok"
    assert result.prefix == str(env)


def fake_interpreter_home(tmp_path: Path, script: str) -> Path:
    home = tmp_path / "fake home"
    (home / "bin").mkdir(parents=True)
    (home / "lib" / "python3.10").mkdir(parents=True)
    (home / "lib" / "python3.10" / "os.py").write_text("")
    interpreter = home / "bin" / "python3.10"
    interpreter.write_text("#!/bin/sh\n" + script + "\n")
    interpreter.chmod(0o755)
    return home


def test_probe_reports_a_hang(tmp_path: Path) -> None:
    home = fake_interpreter_home(tmp_path, "exec sleep 30")
    result = probe_home(inspect_home(home), timeout=0.5)
    assert result.status == "timeout"
    verdict = judge_probe(judge_home(inspect_home(home), OURS), inspect_home(home), result)
    assert "probe-timeout" in codes(verdict)


def test_probe_reports_a_crash_and_a_failure(tmp_path: Path) -> None:
    home = fake_interpreter_home(tmp_path, "kill -SEGV $$")
    crashed = probe_home(inspect_home(home))
    assert crashed.status == "crashed" and "SIGSEGV" in crashed.message
    failing = fake_interpreter_home(
        tmp_path / "second", "echo 'Fatal Python error: init_fs_encoding' >&2; exit 1"
    )
    failed = probe_home(inspect_home(failing))
    assert failed.status == "failed" and "init_fs_encoding" in failed.message


def test_probe_without_interpreter(tmp_path: Path) -> None:
    assert probe_home(inspect_home(tmp_path)).status == "no-interpreter"


def test_numpy_present_but_broken_is_found_by_the_probe(
    venv_factory: Callable[..., Path], numpy_home: Path
) -> None:
    venv = venv_factory("broken numpy", numpy_from=numpy_home)
    site = venv / "lib" / "python3.10" / "site-packages"
    (site / "numpy").unlink()  # replace the linked package by one that fails on import
    (site / "numpy").mkdir()
    (site / "numpy" / "__init__.py").write_text("raise ImportError('numpy core extension missing')\n")
    info = inspect_home(venv)
    assert judge_home(info, OURS).status == "ok"  # the files look fine
    verdict = judge_probe(judge_home(info, OURS), info, probe_home(info))
    assert codes(verdict) == ["probe-numpy"] and "core extension missing" in verdict.reasons[0].message


def test_probe_contradicting_files_is_reported(numpy_home: Path) -> None:
    info = inspect_home(numpy_home)
    probe = ProbeResult("ok", "", version=(3, 11), full_version="3.11.7", arch=HOST)
    assert "probe-version" in codes(judge_probe(judge_home(info, OURS), info, probe))


# ------------------------------------------------------------------------------------------- discovery


def test_discovery_order_sources_and_deduplication(
    tmp_path: Path, conda_env_factory: Callable[..., Path], numpy_home: Path, good_base: Path
) -> None:
    home = tmp_path / "user home"
    envs = home / "miniforge3" / "envs"
    other = conda_env_factory("analysis", root=envs)
    ours = conda_env_factory("oe-python-plugin", root=envs)
    (home / ".conda").mkdir(parents=True)
    (home / ".conda" / "environments.txt").write_text(f"{other}\n{ours}\n{tmp_path / 'deleted env'}\n")
    environ = {"CONDA_PREFIX": str(other), "PYENV_ROOT": str(good_base.parent.parent)}
    found = discover_homes([numpy_home], environ=environ, home=home, system="Linux", include_self=False)
    paths = [c.path for c in found]
    assert found[0] == HomeCandidate(numpy_home, "given")
    assert found[1].path == ours  # the env named oe-python-plugin comes first after given paths
    assert paths.count(other) == 1 and paths.count(ours) == 1  # listed three times, kept once
    assert next(c for c in found if c.path == other).source == "CONDA_PREFIX (active)"
    assert good_base in paths and next(c for c in found if c.path == good_base).source == "pyenv"
    assert tmp_path / "deleted env" not in paths


def test_discovery_finds_venvs_where_people_keep_them(
    tmp_path: Path, venv_factory: Callable[..., Path]
) -> None:
    """virtualenvwrapper's WORKON_HOME (default ~/.virtualenvs), pipenv's folder, ~/venvs, ~/.venvs: only
    sub-folders that are venvs (a pyvenv.cfg), in that order."""
    home = tmp_path / "user home"
    made = {
        name: venv_factory(f"user home/{folder}/{name}")
        for folder, name in [
            (".virtualenvs", "wrapped"),
            (".local/share/virtualenvs", "pipenv-abc123"),
            ("venvs", "lab"),
            (".venvs", "hidden-folder"),
        ]
    }
    (home / "venvs" / "notes").mkdir()  # not a venv
    found = discover_homes(environ={}, home=home, system="Linux", include_self=False)
    assert [(c.path, c.source) for c in found] == [
        (made["wrapped"], "virtualenvwrapper"),
        (made["pipenv-abc123"], "pipenv"),
        (made["lab"], "venv (~/venvs)"),
        (made["hidden-folder"], "venv (~/.venvs)"),
    ]
    elsewhere = tmp_path / "workon"
    moved = venv_factory("workon/moved")
    found = discover_homes(
        environ={"WORKON_HOME": str(elsewhere)}, home=home, system="Linux", include_self=False
    )
    assert [c.path for c in found if c.source == "virtualenvwrapper"] == [moved]


def test_discovery_survives_a_damaged_environments_txt(tmp_path: Path, numpy_home: Path) -> None:
    """Binary garbage (NUL bytes made os.path.realpath raise) and lines that are no folder are skipped."""
    home = tmp_path / "user home"
    (home / ".conda").mkdir(parents=True)
    (home / ".conda" / "environments.txt").write_bytes(
        b"\x00\xff\xfe garbage\n" + f"{tmp_path / 'a file'}\n{numpy_home}\n".encode()
    )
    (tmp_path / "a file").write_text("x")
    found = discover_homes(environ={}, home=home, system="Linux", include_self=False)
    assert [c.path for c in found] == [numpy_home]


def test_discovery_only_given(tmp_path: Path) -> None:
    found = discover_homes([tmp_path / "a", tmp_path / "a"], only_given=True)
    assert found == [HomeCandidate(tmp_path / "a", "given")]


# ----------------------------------------------------------------------------------------------- rules


def test_rules_detected_from_the_gui_plugin_folder(tmp_path: Path) -> None:
    assert detect_plugin_rules(None) == OURS
    layout = GuiLayout(tmp_path, 10)
    layout.plugins_dir.mkdir(parents=True)
    nothing = detect_plugin_rules(layout)
    assert nothing.name == "ours" and "no plugin" in nothing.source
    assert detect_plugin_rules(layout, "0.1.0").name == "upstream"
    assert detect_plugin_rules(layout, "0.1.0+oe-pyproc").name == "ours"

    (layout.plugins_dir / "python-processor").mkdir()
    (layout.plugins_dir / "python-processor" / "python-processor.so").write_bytes(b"\x7fELF")
    upstream = detect_plugin_rules(layout)
    assert upstream.name == "upstream" and not upstream.allow_venv and upstream.versions == {(3, 10)}

    ours_dir = layout.plugins_dir / "oe-pyproc"
    ours_dir.mkdir()
    (ours_dir / "oe-pyproc-plugin.json").write_text(
        json.dumps(
            {
                "schema": 1,
                "version": "0.1.0",
                "plugin_api": 10,
                "platform": "linux",
                "arch": "x86_64",
                "bridges": {"3.10": "a", "3.12": "b"},
            }
        )
    )
    both = detect_plugin_rules(layout)
    assert both.name == "ours" and both.versions == {(3, 10), (3, 12)}
    assert both.notes and "both" in both.notes[0]


def test_plugins_beside_the_gui_executable_come_first(tmp_path: Path) -> None:
    from oe_pyproc_setup.gui import executable_plugin_dirs

    layout = GuiLayout(tmp_path / "root", 10)
    ours_dir = layout.plugins_dir / "oe-pyproc"
    ours_dir.mkdir(parents=True)
    (ours_dir / "oe-pyproc-plugin.json").write_text(
        json.dumps(
            {
                "schema": 1,
                "version": "0.1.0",
                "plugin_api": 10,
                "platform": "linux",
                "arch": "x86_64",
                "bridges": {"3.10": "b"},
            }
        )
    )
    gui_exe = tmp_path / "opt" / "open-ephys" / "open-ephys"
    [beside] = executable_plugin_dirs(gui_exe, "Linux")
    assert beside == gui_exe.parent / "plugins"
    assert detect_plugin_rules(layout, executable_plugin_dirs=[beside]).name == "ours"  # folder absent
    beside.mkdir(parents=True)
    (beside / "python-processor.so").write_bytes(b"\x7fELF")
    rules = detect_plugin_rules(layout, executable_plugin_dirs=[beside])
    assert rules.name == "upstream" and "beside the GUI" in rules.source
    app = tmp_path / "Open Ephys GUI.app"
    assert executable_plugin_dirs(app / "Contents" / "MacOS" / "open-ephys", "Darwin") == [
        app / "Contents" / "PlugIns"
    ]


def test_rules_from_installed_plugins_xml(tmp_path: Path) -> None:
    layout = GuiLayout(tmp_path, 10)
    layout.plugins_dir.mkdir(parents=True)
    layout.installed_plugins_xml.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n\n<PluginInstaller gui_version="1.0.1">\n'
        "  <InstalledPlugins>\n"
        '    <python-processor version="0.1.0" dllName="python-processor.so"/>\n  </InstalledPlugins>\n'
        "</PluginInstaller>\n"
    )
    assert detect_plugin_rules(layout).name == "upstream"


def test_environment_does_not_leak_into_probe(numpy_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONHOME", "/nonexistent")
    monkeypatch.setenv("PYTHONPATH", "/nonexistent")
    assert probe_home(inspect_home(numpy_home)).status == "ok"
    assert os.environ["PYTHONHOME"] == "/nonexistent"
