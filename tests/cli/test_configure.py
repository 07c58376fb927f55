"""`oe-pyproc configure` end to end: real Homes, GUI-format settings files, a process that looks like the
GUI, interactive choice on a real pseudo-terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from oe_pyproc_setup.chains import parse_chain, sections_equivalent
from oe_pyproc_setup.fsutil import backup_path_for
from oe_pyproc_setup.gui import default_gui_root

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(autouse=True)
def _judged_for_our_plugin(ours_installed: Path) -> None:
    """Every test here runs with our plugin installed in the GUI root (see test_upstream_chain_rules)."""


def configs(gui_root: Path) -> Path:
    return gui_root / "configs-api10"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_writes_both_configs_identically_with_backups(
    cli: Cli, numpy_home: Path, gui_with_chains: Path, chain_data: Path
) -> None:
    original = (chain_data / "chain_v1.xml").read_bytes()
    result = cli("configure", "--python-home", str(numpy_home), "--gui-root", str(gui_with_chains))
    assert result.returncode == 0, result.stderr
    folder = configs(gui_with_chains)
    last, recovery = (folder / "lastConfig.xml").read_bytes(), (folder / "recoveryConfig.xml").read_bytes()
    assert last == recovery
    assert [p.python_home for p in parse_chain(last).processors] == [str(numpy_home)] * 2
    assert sections_equivalent(last, recovery)
    for name in ("lastConfig.xml", "recoveryConfig.xml"):
        assert backup_path_for(folder / name).read_bytes() == original
        assert f"wrote {folder / name}" in result.stdout
    record = json.loads((folder / "oe-pyproc.json").read_text())
    assert record["schema"] == 1 and record["python_home"] == str(numpy_home)
    assert record["written_by"].startswith("oe-pyproc ") and record["written_at"].endswith("+00:00")
    assert "windowState" not in result.stdout  # reload is on, the files agree: no warning needed


def test_second_configure_keeps_first_backup(
    cli: Cli,
    numpy_home: Path,
    conda_env_factory: Callable[..., Path],
    gui_with_chains: Path,
    chain_data: Path,
) -> None:
    env = conda_env_factory("oe-python-plugin")
    assert (
        cli("configure", "--python-home", str(numpy_home), "--gui-root", str(gui_with_chains)).returncode == 0
    )
    result = cli("configure", "--python-home", str(env), "--gui-root", str(gui_with_chains))
    assert result.returncode == 0, result.stderr
    folder = configs(gui_with_chains)
    assert (
        backup_path_for(folder / "lastConfig.xml").read_bytes() == (chain_data / "chain_v1.xml").read_bytes()
    )
    assert json.loads(backup_path_for(folder / "oe-pyproc.json").read_text())["python_home"] == str(
        numpy_home
    )
    assert json.loads((folder / "oe-pyproc.json").read_text())["python_home"] == str(env)
    same_again = cli("configure", "--python-home", str(env), "--gui-root", str(gui_with_chains))
    assert "already use this Home; unchanged" in same_again.stdout


@pytest.mark.parametrize("which", ["wrong-version", "no-numpy", "missing"])
def test_unusable_home_is_refused_and_nothing_written(
    cli: Cli,
    which: str,
    venv_factory: Callable[..., Path],
    good_base: Path,
    gui_with_chains: Path,
    tmp_path: Path,
) -> None:
    home = {
        "wrong-version": lambda: venv_factory("py311", minor="3.11"),
        "no-numpy": lambda: good_base,
        "missing": lambda: tmp_path / "not here",
    }[which]()
    before = snapshot(configs(gui_with_chains))
    result = cli("configure", "--python-home", str(home), "--gui-root", str(gui_with_chains), "--force")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "cannot be used as the Python Home" in result.stderr
    assert "Nothing was written" in result.stderr
    assert snapshot(configs(gui_with_chains)) == before


def test_warnings_need_force(cli: Cli, conda_env_factory: Callable[..., Path], gui_with_chains: Path) -> None:
    env = conda_env_factory("pip-numpy", numpy_installer="pip")
    before = snapshot(configs(gui_with_chains))
    refused = cli("configure", "--python-home", str(env), "--gui-root", str(gui_with_chains))
    assert refused.returncode == 1 and "--force" in refused.stderr
    assert snapshot(configs(gui_with_chains)) == before
    forced = cli("configure", "--python-home", str(env), "--gui-root", str(gui_with_chains), "--force")
    assert forced.returncode == 0, forced.stderr
    assert "numpy-pip" not in forced.stderr and "installed by pip" in forced.stdout


def test_refuses_while_the_gui_runs(
    cli: Cli,
    numpy_home: Path,
    gui_with_chains: Path,
    fake_gui_home: Path,
    fake_gui_process: subprocess.Popen[bytes],
) -> None:
    # The running "GUI" uses the saved-state root of its HOME; configure that very root.
    root = default_gui_root("Linux", home=fake_gui_home)
    root.parent.mkdir(parents=True)
    shutil.copytree(gui_with_chains, root)
    before = snapshot(configs(root))
    result = cli("configure", "--python-home", str(numpy_home), "--gui-root", str(root))
    assert result.returncode == 1
    assert "GUI is running" in result.stderr and f"pid {fake_gui_process.pid}" in result.stderr
    assert snapshot(configs(root)) == before
    # The same running GUI does not block edits of another root (another user's or a test's).
    elsewhere = cli("configure", "--python-home", str(numpy_home), "--gui-root", str(gui_with_chains))
    assert elsewhere.returncode == 0, elsewhere.stderr
    forced = cli("configure", "--python-home", str(numpy_home), "--gui-root", str(root), "--force")
    assert forced.returncode == 0, forced.stderr
    assert "when it exits it saves its own chain" in forced.stdout


def test_chain_file_06_style(
    cli: Cli, numpy_home: Path, gui_with_chains: Path, chain_data: Path, tmp_path: Path
) -> None:
    chain = tmp_path / "saved chains" / "rig 2 – 0.6.xml"
    chain.parent.mkdir()
    chain.write_bytes((chain_data / "chain_v06.xml").read_bytes())
    before = snapshot(configs(gui_with_chains))
    result = cli(
        "configure",
        "--python-home",
        str(numpy_home),
        "--chain",
        str(chain),
        "--gui-root",
        str(gui_with_chains),
    )
    assert result.returncode == 0, result.stderr
    original = (chain_data / "chain_v06.xml").read_bytes()
    expected = original.replace(rb"C:\Users\me\miniconda3\envs\oe-python-plugin", str(numpy_home).encode())
    assert chain.read_bytes() == expected
    after = snapshot(configs(gui_with_chains))
    assert {k: v for k, v in after.items() if k != "oe-pyproc.json"} == before  # GUI configs untouched
    assert "oe-pyproc.json" in after


def test_chain_without_python_processor_and_malformed_chains(
    cli: Cli, numpy_home: Path, gui_root: Path, chain_data: Path, tmp_path: Path
) -> None:
    plain = tmp_path / "plain.xml"
    plain.write_bytes((chain_data / "chain_no_python.xml").read_bytes())
    result = cli(
        "configure", "--python-home", str(numpy_home), "--chain", str(plain), "--gui-root", str(gui_root)
    )
    assert result.returncode == 0 and "no Python Processor in this chain; left untouched" in result.stdout
    assert plain.read_bytes() == (chain_data / "chain_no_python.xml").read_bytes()

    good = tmp_path / "good.xml"
    good.write_bytes((chain_data / "chain_v1.xml").read_bytes())
    broken = tmp_path / "broken.xml"
    broken.write_bytes(b"<SETTINGS><SIGNALCHAIN></SETTINGS>")
    args = ["--chain", str(good), "--chain", str(broken), "--gui-root", str(gui_root), "--no-default-home"]
    result = cli("configure", "--python-home", str(numpy_home), *args)
    assert result.returncode == 1 and "not well-formed XML (line 1" in result.stderr
    assert "Traceback" not in result.stderr
    # All or nothing: the good file listed first was not written either.
    assert good.read_bytes() == (chain_data / "chain_v1.xml").read_bytes()
    assert broken.read_bytes() == b"<SETTINGS><SIGNALCHAIN></SETTINGS>"


def test_read_only_settings_are_a_clear_error(cli: Cli, numpy_home: Path, gui_with_chains: Path) -> None:
    last = configs(gui_with_chains) / "lastConfig.xml"
    last.chmod(0o444)
    result = cli("configure", "--python-home", str(numpy_home), "--gui-root", str(gui_with_chains))
    assert result.returncode == 1 and "read-only" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("read_only", ["recoveryConfig.xml", "oe-pyproc.json"])
def test_one_read_only_file_stops_the_edit_before_anything_is_written(
    cli: Cli, numpy_home: Path, gui_with_chains: Path, read_only: str
) -> None:
    """lastConfig.xml edited without recoveryConfig.xml would differ from it: the GUI would say it crashed."""
    folder = configs(gui_with_chains)
    (folder / "oe-pyproc.json").write_text('{"schema": 1, "python_home": "/old"}')
    (folder / read_only).chmod(0o444)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    result = cli("configure", "--python-home", str(numpy_home), "--gui-root", str(gui_with_chains))
    assert result.returncode == 1 and f"{folder / read_only} is read-only" in result.stderr
    assert "Traceback" not in result.stderr
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_reports_when_the_edit_will_not_take_effect(
    cli: Cli, numpy_home: Path, gui_with_chains: Path
) -> None:
    folder = configs(gui_with_chains)
    state = folder / "windowState.xml"
    state.write_bytes(state.read_bytes().replace(b'shouldReloadOnStartup="1"', b'shouldReloadOnStartup="0"'))
    recovery = folder / "recoveryConfig.xml"
    recovery.write_bytes(recovery.read_bytes().replace(b'bufferSize="1024"', b'bufferSize="512"'))
    result = cli("configure", "--python-home", str(numpy_home), "--gui-root", str(gui_with_chains))
    assert result.returncode == 0, result.stderr
    assert "'Reload on startup' is off" in result.stdout
    assert "already differed in <SIGNALCHAIN>/<AUDIO>" in result.stdout


def test_no_last_config_yet(cli: Cli, numpy_home: Path, gui_root: Path) -> None:
    result = cli("configure", "--python-home", str(numpy_home), "--gui-root", str(gui_root))
    assert result.returncode == 0, result.stderr
    assert "no lastConfig.xml yet" in result.stdout
    assert "windowState.xml is missing" in result.stdout
    assert sorted(p.name for p in configs(gui_root).iterdir()) == ["oe-pyproc.json"]


def test_active_conda_env_is_used_without_a_terminal(
    cli: Cli, conda_env_factory: Callable[..., Path], gui_with_chains: Path
) -> None:
    env_prefix = conda_env_factory("oe-python-plugin")
    result = cli(
        "configure", "--gui-root", str(gui_with_chains), env=dict(os.environ, CONDA_PREFIX=str(env_prefix))
    )
    assert result.returncode == 0, result.stderr
    assert f"Using the active conda environment {env_prefix}" in result.stdout
    processors = parse_chain((configs(gui_with_chains) / "lastConfig.xml").read_bytes()).processors
    assert {p.python_home for p in processors} == {str(env_prefix)}


def test_without_home_or_terminal_lists_candidates(cli: Cli, gui_with_chains: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CONDA_PREFIX"}
    before = snapshot(configs(gui_with_chains))
    result = cli("configure", "--gui-root", str(gui_with_chains), env=env)
    assert result.returncode == 1
    assert "no --python-home given" in result.stderr and "candidates" in result.stderr
    assert "sys.prefix" in result.stderr  # the listing names where each candidate came from
    assert snapshot(configs(gui_with_chains)) == before


def read_until(fd: int, marker: bytes, timeout: float = 30) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
    return data


def test_user_picks_a_home_on_a_terminal(
    numpy_home: Path, gui_with_chains: Path, tmp_path: Path, good_base: Path
) -> None:
    home = tmp_path / "home"
    (home / ".conda").mkdir(parents=True)
    (home / ".conda" / "environments.txt").write_text(f"{numpy_home}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("CONDA_PREFIX", "CONDA_EXE")}
    env.update(HOME=str(home), PYENV_ROOT=str(good_base.parent.parent), COLUMNS="200")
    main, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "oe_pyproc_setup", "configure", "--gui-root", str(gui_with_chains)],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=env,
        close_fds=True,
    )
    os.close(secondary)
    try:
        shown = read_until(main, b"Which Home").decode(errors="replace")
        numbered = [
            line.split(")")[0].strip()
            for line in shown.splitlines()
            if str(numpy_home) in line and ")" in line
        ]
        assert numbered, shown
        os.write(main, numbered[-1].encode() + b"\r")
        rest = read_until(main, b"oe-pyproc.json").decode(errors="replace")
        assert process.wait(timeout=30) == 0, shown + rest
    finally:
        process.kill()
        os.close(main)
    processors = parse_chain((configs(gui_with_chains) / "lastConfig.xml").read_bytes()).processors
    assert {p.python_home for p in processors} == {str(numpy_home)}


def test_chain_saved_by_upstream_without_our_plugin_uses_upstream_rules(
    cli: Cli, numpy_home: Path, gui_with_chains: Path
) -> None:
    # No plugin of ours in the GUI folder, and the chain was saved by upstream's plugin (libraryVersion
    # without the oe-pyproc marker): upstream's plugin loads the Home, and it cannot use a venv.
    plugins = gui_with_chains / "plugins-api10"
    (plugins / "oe-pyproc-manifest.json").unlink()
    (plugins / "oe-pyproc" / "oe-pyproc-plugin.json").unlink()
    result = cli("configure", "--python-home", str(numpy_home), "--gui-root", str(gui_with_chains))
    assert result.returncode == 1
    assert "upstream's plugin" in result.stderr and "a venv" in result.stderr


def test_dry_run_writes_nothing(cli: Cli, numpy_home: Path, gui_with_chains: Path) -> None:
    before = snapshot(configs(gui_with_chains))
    result = cli(
        "configure", "--python-home", str(numpy_home), "--gui-root", str(gui_with_chains), "--dry-run"
    )
    assert result.returncode == 0, result.stderr
    assert "would write" in result.stdout and "would write the default Home file" in result.stdout
    assert snapshot(configs(gui_with_chains)) == before


def test_gui_06_settings_with_api_8(cli: Cli, numpy_home: Path, gui_root: Path, chain_data: Path) -> None:
    folder = gui_root / "configs-api8"
    folder.mkdir()
    (folder / "lastConfig.xml").write_bytes((chain_data / "chain_v06.xml").read_bytes())
    (gui_root / "plugins-api8" / "oe-pyproc").mkdir(parents=True)
    (gui_root / "plugins-api8" / "oe-pyproc-manifest.json").write_text('{"schema": 1, "files": []}')
    result = cli("configure", "--python-home", str(numpy_home), "--gui-root", str(gui_root), "--api", "8")
    assert result.returncode == 0, result.stderr
    [processor] = parse_chain((folder / "lastConfig.xml").read_bytes()).processors
    assert processor.python_home == str(numpy_home)
    assert json.loads((folder / "oe-pyproc.json").read_text())["python_home"] == str(numpy_home)
    assert not (configs(gui_root) / "oe-pyproc.json").exists()  # API 10's folder untouched


def test_missing_gui_root_is_refused(cli: Cli, numpy_home: Path, tmp_path: Path) -> None:
    typo = tmp_path / "open-ephsy"
    result = cli("configure", "--python-home", str(numpy_home), "--gui-root", str(typo))
    assert result.returncode == 1 and "does not exist" in result.stderr
    assert not typo.exists()


def test_root_of_another_api_is_refused(cli: Cli, numpy_home: Path, tmp_path: Path) -> None:
    """A GUI 0.6.x root without --api 8: configs-api10 would be created where that GUI never looks."""
    root = tmp_path / "gui 0.6"
    (root / "configs-api8").mkdir(parents=True)
    (root / "plugins-api8").mkdir()
    for extra in ((), ("--dry-run",)):
        result = cli("configure", "--python-home", str(numpy_home), "--gui-root", str(root), *extra)
        assert result.returncode == 1, result.stdout
        assert f"{root} has folders of plugin API 8 but none of API 10; nothing was written" in result.stderr
        assert "Run again with --api 8 (GUI 0.6.x)." in result.stderr and "Traceback" not in result.stderr
    assert not (root / "configs-api10").exists()


def test_root_with_only_a_plugin_folder_gets_its_configs_folder(
    cli: Cli, numpy_home: Path, tmp_path: Path
) -> None:
    """Plugins copied in before the GUI's first start: the default Home file is written all the same."""
    root = tmp_path / "open-ephys"
    (root / "plugins-api10").mkdir(parents=True)
    result = cli("configure", "--python-home", str(numpy_home), "--gui-root", str(root))
    assert result.returncode == 0, result.stderr
    assert json.loads((root / "configs-api10" / "oe-pyproc.json").read_text())["python_home"] == str(
        numpy_home
    )
