"""Every command the tools print works as printed: the quick start's next steps and new-script's, pasted
into a real shell (bash) in another folder, with no help from the test's own environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import HOST_NAME, REPO_ROOT

QUICKSTART_HOME = REPO_ROOT / "build" / "run" / "quickstart-home"
BRIDGE = Path("lib/oe-pyproc/plugins-api10/oe-pyproc/oe_pyproc_bridge_cp310.bridge")


@pytest.fixture(scope="module")
def quickstart_home(test_home: Path) -> Path:
    """A Home of its own for the quick start to install into (a copy of the test Home, at a stable path so
    build/quickstart is rebuilt incrementally), without a host or bridge from an earlier run."""
    if not (QUICKSTART_HOME / "bin" / "python").exists():
        shutil.rmtree(QUICKSTART_HOME, ignore_errors=True)
        shutil.copytree(test_home, QUICKSTART_HOME, symlinks=True)
    (QUICKSTART_HOME / "bin" / HOST_NAME).unlink(missing_ok=True)
    shutil.rmtree(QUICKSTART_HOME / "lib" / "oe-pyproc", ignore_errors=True)
    return QUICKSTART_HOME


def _user_env(user_home: Path) -> dict[str, str]:
    """A user's terminal: HOME is `user_home` (the GUI keeps its state under ~/.config/open-ephys, found from
    HOME as JUCE does), no host named by the environment, no project venv on PATH. pip keeps the real
    user's configuration and cache (the quick start installs the CLI with it)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OE_PYPROC_HOST", "PYTHONHOME", "PYTHONPATH", "VIRTUAL_ENV", "OE_PYPROC_HOME")
    }
    real_home = Path.home()
    for variable, path in (
        ("PIP_CONFIG_FILE", real_home / ".config" / "pip" / "pip.conf"),
        ("PIP_CACHE_DIR", real_home / ".cache" / "pip"),
    ):
        if variable not in env and path.exists():
            env[variable] = str(path)
    env["PATH"] = os.pathsep.join(
        p
        for p in env.get("PATH", "").split(os.pathsep)
        if p and not (Path(p) / HOST_NAME).exists() and not (Path(p) / "oe-pyproc").exists()
    )
    user_home.mkdir(parents=True, exist_ok=True)
    env["HOME"] = str(user_home)
    env.pop("XDG_CONFIG_HOME", None)
    return env


def _printed_block(output: str, heading: str) -> list[str]:
    """The indented lines after `heading` (the printed commands), as printed."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading)) + 1
    block = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        block.append(line.strip())
    return block


def _printed_run_commands(output: str) -> list[str]:
    """The `oe-pyproc run` commands new-script prints under its step 2."""
    return [line.strip() for line in output.splitlines() if line.startswith("       oe-pyproc run ")]


def _paste(commands: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The commands typed into one bash, one after the other; the first failure stops it."""
    script = "set -e\n" + "\n".join(commands) + "\n"
    return subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )


@pytest.mark.parametrize("gui_set_up", [False, True], ids=["fresh-machine", "gui-already-set-up"])
def test_quickstart_next_steps_work_as_printed(
    gui_set_up: bool, quickstart_home: Path, tmp_path: Path
) -> None:
    user_home = tmp_path / "user"
    gui_root = user_home / ".config" / "open-ephys"
    if gui_set_up:
        (gui_root / "configs-api10").mkdir(parents=True)
    env = _user_env(user_home)
    done = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "quickstart.sh")],
        cwd=tmp_path,
        env={**env, "OE_PYPROC_HOME": str(quickstart_home)},
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # Host and bridge installed into the Home (DESIGN §5), and the quick start's own run used that host.
    assert (quickstart_home / "bin" / HOST_NAME).is_file()
    assert (quickstart_home / BRIDGE).is_file()
    assert f"Host:   {quickstart_home / 'bin' / HOST_NAME} (found via Home)" in done.stdout
    default_home_file = gui_root / "configs-api10" / "oe-pyproc.json"
    assert default_home_file.exists() is not gui_set_up  # an existing GUI set-up is left alone

    steps = _printed_block(done.stdout, "Next steps")
    assert steps[0].startswith(". ") and steps[1].startswith("oe-pyproc run ")
    assert ("--python-home" in steps[1]) is gui_set_up
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    pasted = _paste(steps, elsewhere, env)
    assert pasted.returncode == 0, pasted.stdout[-3000:] + pasted.stderr[-3000:]
    assert "Verdict: fits" in pasted.stdout
    assert (elsewhere / "my_filter.py").is_file()

    # new-script's own next step, pasted into the same kind of shell (activated as the quick start says).
    [new_script_run] = _printed_run_commands(pasted.stdout)
    again = _paste([steps[0], new_script_run], tmp_path, env)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "Script: " in again.stdout and "my_filter.py" in again.stdout and "Verdict: fits" in again.stdout


def test_new_script_next_step_names_the_home_it_was_given(
    test_home: Path, host_path: Path, tmp_path: Path
) -> None:
    """No default Home recorded: the printed run command carries --python-home, quoted for a folder whose
    name has a space and a quote, and runs as printed."""
    env = _user_env(tmp_path / "user")
    env["PATH"] = os.pathsep.join([str(host_path.parent), str(Path(sys.executable).parent), env["PATH"]])
    folder = tmp_path / "my 'lab' scripts"
    folder.mkdir()
    made = subprocess.run(
        [
            "oe-pyproc",
            "new-script",
            "lab_filter",
            "--template",
            "bandpass",
            "--dir",
            str(folder),
            "--python-home",
            str(test_home),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    [printed] = _printed_run_commands(made.stdout)
    assert "--python-home" in printed
    pasted = _paste([printed + " --seconds 1"], tmp_path, env)
    assert pasted.returncode == 0, pasted.stdout[-3000:] + pasted.stderr[-3000:]
    assert "Verdict: fits" in pasted.stdout
