"""Bad scripts through `oe-pyproc run` and the real native host (issue 14 items 2, 3 and around them).

A script that ends the process (`os._exit`, `os.abort`, a segfault in C code, a signal to itself,
`sys.exit`), reads the host's standard input, forks, closes the host's output streams or leaves a thread
running: `run` must end by itself and never report success when data is missing. Whether the instance is
faulted inside the host or the host's end is reported, the exit code is 1 and the message is clear.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from redteam_helpers import TIMEOUT, run_or_fail_on_hang

SECONDS = "1"
SAMPLES = 30000  # 1 s at the default 30 kHz
RUN = [sys.executable, "-m", "oe_pyproc_setup", "run"]


def run_script(host: Path, home: Path, script: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [
        *RUN,
        str(script),
        "--host",
        str(host),
        "--python-home",
        str(home),
        "--seconds",
        SECONDS,
        *extra,
    ]
    return run_or_fail_on_hang(command, f"run {script.name}")


def script_doing(folder: Path, name: str, statement: str, *, at_block: int = 5, setup: str = "") -> Path:
    """A script whose process() runs `statement` at block `at_block` (and `setup` in __init__)."""
    path = folder / f"{name}.py"
    path.write_text(
        textwrap.dedent(
            f"""
            import os, signal, sys, threading, time

            class PyProcessor:
                def __init__(self, processor, num_channels, sample_rate):
                    self.blocks = 0
                    {setup or "pass"}

                def process(self, data):
                    self.blocks += 1
                    if self.blocks == {at_block}:
                        {statement}
            """
        ).lstrip()
    )
    return path


def assert_clean_failure(result: subprocess.CompletedProcess[str], code: int = 1) -> None:
    """Exit `code`, a message, and no traceback of the CLI itself (a script's traceback in the report is
    fine)."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback (most recent call last)" not in result.stderr.split("Error:")[0], result.stderr
    assert (result.stdout + result.stderr).strip()


ENDINGS = {
    "os_exit_0": "os._exit(0)",
    "os_exit_3": "os._exit(3)",
    "abort": "os.abort()",
    "segfault": "import ctypes; ctypes.string_at(0)",
    "sigterm_self": "os.kill(os.getpid(), signal.SIGTERM)",
    "sigkill_self": "os.kill(os.getpid(), signal.SIGKILL)",
    "sys_exit_0": "sys.exit(0)",
    "keyboard_interrupt": "raise KeyboardInterrupt",
    "read_stdin": "sys.stdin.buffer.read()",
    "fork": "os.fork()",
}


@pytest.mark.parametrize("ending", sorted(ENDINGS))
def test_a_script_ending_the_process_is_never_a_success(
    host: Path, run_home: Path, tmp_path: Path, ending: str
) -> None:
    script = script_doing(tmp_path, ending, ENDINGS[ending])
    assert_clean_failure(run_script(host, run_home, script))
    if ending == "fork":  # the forked copy of the host must not be left running
        time.sleep(1)
        assert str(script) not in _command_lines(), "a forked host is still running"


@pytest.mark.parametrize("when", ["init", "process_first_block"])
def test_os_exit_before_any_block_is_an_error(host: Path, run_home: Path, tmp_path: Path, when: str) -> None:
    if when == "init":
        script = script_doing(tmp_path, "init_exit", "pass", setup="os._exit(0)")
    else:
        script = script_doing(tmp_path, "first_exit", "os._exit(0)", at_block=1)
    # Refused in the host (ProcessExitRefused): at load the script could not be loaded (exit code 4).
    assert_clean_failure(run_script(host, run_home, script), 4 if when == "init" else 1)


@pytest.mark.parametrize(
    "statement",
    ["os.close(1); os.close(2)", "sys.stdout.close(); sys.stderr.close()", "print('x' * 10_000_000)"],
    ids=["close-fds", "close-streams", "huge-print"],
)
def test_a_script_abusing_the_output_streams_loses_no_data(
    host: Path, run_home: Path, tmp_path: Path, statement: str
) -> None:
    script = script_doing(tmp_path, "streams", statement)
    result = run_script(host, run_home, script, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)["report"]
    assert report["stream"]["samples"] == SAMPLES
    assert report["instances"][0]["blocks_processed"] == report["stream"]["blocks"]


def test_a_thread_left_running_does_not_hang_the_end(host: Path, run_home: Path, tmp_path: Path) -> None:
    script = script_doing(
        tmp_path,
        "thread",
        "pass",
        setup="threading.Thread(target=lambda: [time.sleep(0.01) for _ in iter(int, 1)]).start()",
    )
    result = run_script(host, run_home, script, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["report"]["stream"]["samples"] == SAMPLES


def _command_lines() -> str:
    lines = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                lines.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
            except OSError:
                continue
    return "\n".join(lines)


def test_environment_is_not_trusted(host: Path, run_home: Path, tmp_path: Path) -> None:
    """A broken PYTHONHOME / PYTHONPATH in the user's environment must not reach the embedded Python."""
    script = script_doing(tmp_path, "plain", "pass")
    env = dict(os.environ, PYTHONHOME=str(tmp_path / "nowhere"), PYTHONPATH=str(tmp_path / "nowhere"))
    result = subprocess.run(
        [sys.executable, "-I", *RUN[1:], str(script), "--host", str(host), "--python-home", str(run_home)],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_non_utf8_folder_gives_a_valid_json_report(host: Path, run_home: Path, tmp_path: Path) -> None:
    """The report is valid UTF-8 JSON; the folder's bytes come back with os.fsencode (escaped \\udcXX)."""
    folder = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9-\xff"))
    folder.mkdir()
    script = script_doing(folder, "plain", "pass")
    completed = subprocess.run(
        [str(host), "--script", str(script), "--python-home", str(run_home), "--no-default-home", "--json"],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=TIMEOUT,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout.decode("utf-8"))  # strict: raw non-UTF-8 bytes would fail here
    assert os.fsencode(report["instances"][0]["script"]) == bytes(script)
    result = run_script(host, run_home, script, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["report"]["instances"][0]["script"] == str(script)
    # A script there that raises: its traceback (which names the folder) is kept whole.
    raising = script_doing(folder, "raising", "raise ValueError('boom')", at_block=1)
    completed = subprocess.run(
        [str(host), "--script", str(raising), "--python-home", str(run_home), "--no-default-home", "--json"],
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=TIMEOUT,
        check=False,
    )
    assert completed.returncode == 1, completed.stderr
    error = json.loads(completed.stdout.decode("utf-8"))["errors"][0]
    assert error["message"] == "ValueError: boom", error
    assert bytes(raising) in os.fsencode(error["traceback"]), error["traceback"]
