"""Scripts that hang, end the process or exhaust memory, through `oe-pyproc run` and the real native host
(issue 14 items 2, 3 and 6; README "Reliability").

Each case runs with a timeout (reaching it is a hang) and asserts: no traceback of our own code, no signal
death, never exit 0 with data missing, and the message saying what happened. A stuck call is stopped by the
watchdog (an exception raised into it) and the run goes on with the instance bypassed; a call that cannot
be interrupted (a sleep, C code holding the GIL) ends the run with a report; a script's os._exit, abort,
exec or signal to itself is refused with ProcessExitRefused and the run goes on.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from redteam_helpers import TIMEOUT, run_or_fail_on_hang

SECONDS = 1.0
SAMPLES = 30000  # SECONDS at the default 30 kHz
RUN = [sys.executable, "-m", "oe_pyproc_setup", "run"]
LOADING = ("module", "__init__")  # a fault there means the script could not be loaded (exit code 4)


def script_with(folder: Path, name: str, method: str, statement: str) -> Path:
    """A script running `statement` (one or more lines) in `method` (in process: at the 5th block;
    "module": at import)."""

    def body(where: str, indent: int) -> str:
        return textwrap.indent(statement if where == method else "pass", " " * indent)

    path = folder / f"{name}.py"
    path.write_text(
        "import ctypes, os, re, signal, sys, time\n\n"
        f"{body('module', 0)}\n\n"
        "class PyProcessor:\n"
        "    def __init__(self, processor, num_channels, sample_rate):\n"
        "        self.blocks = 0\n"
        f"{body('__init__', 8)}\n\n"
        "    def start_acquisition(self):\n"
        f"{body('start_acquisition', 8)}\n\n"
        "    def process(self, data):\n"
        "        self.blocks += 1\n"
        "        if self.blocks == 5:\n"
        f"{body('process', 12)}\n\n"
        "    def handle_ttl_event(self, source_node, channel, sample_number, line, state):\n"
        f"{body('handle_ttl_event', 8)}\n\n"
        "    def stop_acquisition(self):\n"
        f"{body('stop_acquisition', 8)}\n"
    )
    return path


class Finished:
    """A finished `run --json`: exit code, its JSON document, stderr, and how long it took."""

    def __init__(self, completed: subprocess.CompletedProcess[str], seconds: float) -> None:
        self.returncode = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        self.seconds = seconds
        self.document = json.loads(completed.stdout) if completed.stdout.strip() else {}
        self.report = self.document.get("report") or {}

    @property
    def text(self) -> str:
        return self.stdout + self.stderr

    def check_clean(self) -> None:
        """Never a signal death; no traceback of our own code (a script's traceback is in the report)."""
        assert self.returncode >= 0, f"killed by signal {-self.returncode}: {self.stderr}"
        assert self.returncode != 0 or self.report["stream"]["samples"] == SAMPLES, self.text
        own = self.stderr.split("Error:")[0] if "Error:" in self.stderr else ""
        assert "Traceback (most recent call last)" not in own, self.stderr
        assert "oe_pyproc_setup" not in self.stderr, self.stderr

    def errors_text(self) -> str:
        return "\n".join(
            error.get("message", "") + error.get("traceback", "") for error in self.report["errors"]
        )


def run_json(
    host: Path,
    home: Path,
    script: Path,
    *extra: str,
    preexec: Callable[[], None] | None = None,
    env: dict[str, str] | None = None,
) -> Finished:
    started = time.monotonic()
    command = [*RUN, str(script), "--host", str(host), "--python-home", str(home), "--seconds", str(SECONDS)]
    completed = run_or_fail_on_hang(
        [*command, "--json", *extra], f"run {script.name}", env=env, preexec=preexec
    )
    finished = Finished(completed, time.monotonic() - started)
    finished.check_clean()
    return finished


def assert_faulted_and_went_on(result: Finished, phrase: str) -> None:
    """Exit 1; the instance is faulted with `phrase` in its error; every block still went through."""
    assert result.returncode == 1, result.text
    assert result.report["stream"]["samples"] == SAMPLES, result.report["stream"]
    assert result.report["instances"][0]["faulted"], result.report["instances"]
    assert phrase in result.errors_text(), result.errors_text()


def assert_not_loaded(result: Finished, phrase: str) -> None:
    assert result.returncode == 4, result.text
    assert "could not be loaded" in result.document["error"], result.document["error"]
    assert phrase in result.document["error"], result.document["error"]


ENDLESS = "while True: pass"
RUNTIME_METHODS = ("start_acquisition", "process", "handle_ttl_event", "stop_acquisition")


def run_host(host: Path, home: Path, scripts: list[Path], *extra: str) -> tuple[int, dict[str, Any], str]:
    """The host itself (faster than `run`), one instance per script, --json; a timeout is a hang."""
    command = [
        str(host),
        "--python-home",
        str(home),
        "--no-default-home",
        "--duration",
        str(SECONDS),
        "--json",
    ]
    for script in scripts:
        command += ["--script", str(script)]
    completed = run_or_fail_on_hang([*command, *extra], "the host")
    assert completed.returncode >= 0, f"killed by signal {-completed.returncode}: {completed.stderr}"
    return completed.returncode, json.loads(completed.stdout), completed.stderr


def assert_each_instance_faulted(report: dict[str, Any], phrases: list[str]) -> None:
    """Every instance faulted with its phrase in its error; the stream went through whole (exit 1)."""
    assert report["exit_code"] == 1, report
    assert report["stream"]["samples"] == SAMPLES, report["stream"]
    for index, phrase in enumerate(phrases):
        assert report["instances"][index]["faulted"], (index, report["instances"][index])
        texts = [e["message"] + e["traceback"] for e in report["errors"] if e["instance"] == index]
        assert any(phrase in text for text in texts), (index, phrase, texts)


@pytest.mark.parametrize("method", ["module", "process"])
def test_an_endless_loop_is_stopped_by_the_watchdog(
    host: Path, run_home: Path, tmp_path: Path, method: str
) -> None:
    script = script_with(tmp_path, "endless", method, ENDLESS)
    result = run_json(host, run_home, script, "--load-watchdog", "1")
    if method in LOADING:
        assert_not_loaded(result, "over the watchdog limit of 1 s")
        assert "loading the script" in result.document["error"]
    else:
        assert_faulted_and_went_on(result, "process() ran for")
        assert "over the watchdog limit of 1 s" in result.errors_text()
        assert "WatchdogTimeout" in result.errors_text()  # the traceback shows where it was stopped
    assert result.seconds < 20


def test_an_endless_loop_in_any_method_is_stopped_by_the_watchdog(
    host: Path, run_home: Path, tmp_path: Path
) -> None:
    scripts = [script_with(tmp_path, f"endless_{m}", m, ENDLESS) for m in RUNTIME_METHODS]
    code, report, _ = run_host(host, run_home, scripts, "--watchdog", "0.5", "--load-watchdog", "0.5")
    assert code == 1
    assert_each_instance_faulted(report, [f"{m}() ran for" for m in RUNTIME_METHODS])
    code, report, _ = run_host(
        host, run_home, [script_with(tmp_path, "endless_init", "__init__", ENDLESS)], "--load-watchdog", "0.5"
    )
    assert code == 4 and "over the watchdog limit of 0.5 s" in report["fatal"]["message"], report["fatal"]


def test_the_watchdog_limit_follows_the_option_and_reacts_quickly(
    host: Path, run_home: Path, tmp_path: Path
) -> None:
    script = script_with(tmp_path, "endless", "process", ENDLESS)
    result = run_json(host, run_home, script, "--watchdog", "0.3")
    assert_faulted_and_went_on(result, "over the watchdog limit of 0.3 s")
    ran = float(result.errors_text().split("process() ran for ")[1].split(" s")[0])
    # Polled every 20 ms, the exception lands within a switch interval: ~0.32 s; the slack is for a loaded CI.
    assert 0.3 <= ran < 0.8, ran


def test_a_script_swallowing_the_watchdog_exception_is_abandoned(
    host: Path, run_home: Path, tmp_path: Path
) -> None:
    statement = "while True:\n    try:\n        while True: pass\n    except BaseException: pass"
    script = script_with(tmp_path, "swallow", "process", statement)
    result = run_json(host, run_home, script)
    assert result.returncode == 1, result.text
    assert "could not be interrupted" in result.document["error"], result.document["error"]
    assert f"of {SAMPLES} samples were processed" in result.document["error"]
    assert result.seconds < 20


@pytest.mark.parametrize(
    ("method", "statement"),
    [
        ("process", "time.sleep(100)"),
        ("__init__", "time.sleep(100)"),
        # C code holding the GIL: the watchdog cannot even raise its exception; the call is given up on.
        ("process", "re.match(r'(a+)+$', 'a' * 64 + 'b')"),
    ],
    ids=["sleep-in-process", "sleep-in-init", "regex-holding-the-gil"],
)
def test_a_call_that_cannot_be_interrupted_ends_the_run_with_a_report(
    host: Path, run_home: Path, tmp_path: Path, method: str, statement: str
) -> None:
    script = script_with(tmp_path, "stuck", method, statement)
    result = run_json(host, run_home, script, "--load-watchdog", "1")
    assert result.returncode == 1, result.text
    error = result.document["error"]
    assert "the script was stopped by the watchdog" in error and "could not be interrupted" in error, error
    assert "the run is incomplete" in error, error
    assert result.report["fatal"]["stage"] == "watchdog"
    assert result.report["instances"][0]["faulted"]
    assert result.seconds < 20


def _host_pids_of(parent: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{parent}/task").iterdir():
        try:
            children += [int(pid) for pid in (task / "children").read_text().split()]
        except OSError:
            continue
    return children


def _start_run_on_stuck_script(host: Path, home: Path, tmp_path: Path) -> tuple[subprocess.Popen[str], int]:
    """`run` on a script sleeping in process with the watchdog off; returns it and its host's pid."""
    script = script_with(tmp_path, "asleep", "process", "time.sleep(1000)")
    process = subprocess.Popen(
        [
            *RUN,
            str(script),
            "--host",
            str(host),
            "--python-home",
            str(home),
            "--seconds",
            "1",
            "--watchdog",
            "0",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        hosts = [pid for pid in _host_pids_of(process.pid) if "oe-pyproc-host" in _cmdline(pid)]
        if hosts and "--script" in _cmdline(hosts[0]) and _has_run_blocks(hosts[0]):
            return process, hosts[0]
        time.sleep(0.1)
    process.kill()
    pytest.fail("the host never started")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _has_run_blocks(pid: int) -> bool:
    """The host's audio thread exists (the script is past loading)."""
    try:
        return len(list(Path(f"/proc/{pid}/task").iterdir())) >= 3
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def test_ctrl_c_during_a_stuck_script_ends_promptly(host: Path, run_home: Path, tmp_path: Path) -> None:
    process, host_pid = _start_run_on_stuck_script(host, run_home, tmp_path)
    time.sleep(1.0)
    started = time.monotonic()
    process.send_signal(signal.SIGINT)
    try:
        _, stderr = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("Ctrl-C did not end the run")
    assert time.monotonic() - started < 8  # the patience for a host that does not stop: 3 s here
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    assert not _alive(host_pid)


def test_the_host_dies_with_run_when_run_is_killed(host: Path, run_home: Path, tmp_path: Path) -> None:
    process, host_pid = _start_run_on_stuck_script(host, run_home, tmp_path)
    process.kill()  # SIGKILL: `run` cannot stop its host itself
    process.communicate()
    deadline = time.monotonic() + 5
    while _alive(host_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(host_pid), "the host outlived `run` (it would spin on alone)"


EXITS = {
    "os_exit": ("os._exit(0)", "ProcessExitRefused: os._exit(0)"),
    "abort": ("os.abort()", "ProcessExitRefused: os.abort()"),
    "kill_self": ("os.kill(os.getpid(), signal.SIGKILL)", "ProcessExitRefused: os.kill("),
    "raise_signal": ("signal.raise_signal(signal.SIGTERM)", "ProcessExitRefused: signal.raise_signal("),
    "execv": ("os.execv('/bin/true', ['true'])", "ProcessExitRefused: os.execv("),
    "sys_exit": ("sys.exit(0)", "SystemExit"),
}


@pytest.mark.parametrize("ending", sorted(EXITS))
def test_a_script_cannot_end_the_host(host: Path, run_home: Path, tmp_path: Path, ending: str) -> None:
    """In every method (one instance each, in series) and at load: the instance is faulted with the
    refusal, the host goes on and reports."""
    statement, phrase = EXITS[ending]
    scripts = [script_with(tmp_path, f"{ending}_{m}", m, statement) for m in RUNTIME_METHODS]
    code, report, _ = run_host(host, run_home, scripts)
    assert code == 1
    assert_each_instance_faulted(report, [phrase] * len(RUNTIME_METHODS))
    for method in LOADING:
        code, report, _ = run_host(
            host, run_home, [script_with(tmp_path, f"{ending}_{method}", method, statement)]
        )
        assert code == 4 and phrase in report["fatal"]["message"], (method, report["fatal"])


def test_a_forked_child_still_ends_with_os_exit(host: Path, run_home: Path, tmp_path: Path) -> None:
    """multiprocessing's workers end with os._exit: the guard acts only in the plugin's own process."""
    statement = (
        "pid = os.fork()\nif pid == 0:\n    os._exit(7)\n"
        "assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 7"
    )
    script = script_with(tmp_path, "forks", "process", statement)
    result = run_json(host, run_home, script)
    assert result.returncode == 0, result.text


def test_a_segfault_in_c_code_is_reported_as_a_crash(host: Path, run_home: Path, tmp_path: Path) -> None:
    script = script_with(tmp_path, "segfault", "process", "ctypes.string_at(0)")
    result = run_json(host, run_home, script, "--output", str(tmp_path / "out"))
    assert result.returncode == 1, result.text
    error = result.document["error"]
    assert "the host crashed: signal 11 (SIGSEGV)" in error, error
    assert "the run is incomplete" in error and "--output was not written" in error, error
    assert not (tmp_path / "out").exists()


def _limit_memory(megabytes: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (megabytes << 20, megabytes << 20))

    return apply


def test_a_script_exhausting_memory_is_an_error(host: Path, run_home: Path, tmp_path: Path) -> None:
    """Under a memory limit (RLIMIT_AS, inherited by the host): the script's MemoryError faults it, the
    run goes on."""
    allocation = "import numpy\nself.kept = [numpy.empty(256 << 20, numpy.uint8) for _ in range(1000)]"
    script = script_with(tmp_path, "hungry", "process", allocation)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    result = run_json(host, run_home, script, preexec=_limit_memory(3072), env=env)
    assert_faulted_and_went_on(result, "MemoryError")


@pytest.mark.parametrize("block", [1 << 14, 1 << 16, 1 << 17])
def test_a_stream_too_large_for_the_memory_limit_is_a_clear_error(
    host: Path, run_home: Path, tmp_path: Path, block: int
) -> None:
    """4096 channels x `block` samples under a 1.5 GB limit: whichever allocation fails first (the host's
    buffers, the bridge's staging buffer or the script's view), the host says so and exits; never an abort
    (std::bad_alloc crossing the bridge's C ABI would be one)."""
    script = script_with(tmp_path, "plain", "process", "pass")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    command = [str(host), "--script", str(script), "--python-home", str(run_home), "--no-default-home"]
    command += ["--channels", "4096", "--block-size", str(block), "--block-jitter", "0"]
    command += ["--callback-size", str(block), "--blocks", "3", "--json"]
    completed = run_or_fail_on_hang(
        command, "the host under a memory limit", env=env, preexec=_limit_memory(1536)
    )
    assert completed.returncode >= 0, f"killed by signal {-completed.returncode}: {completed.stderr}"
    assert "Traceback" not in completed.stderr, completed.stderr
    report = json.loads(completed.stdout)
    if completed.returncode == 0:
        assert report["stream"]["samples"] == 3 * block
    else:
        assert completed.returncode == 6, completed.stderr
        fatal = report["fatal"]
        assert fatal["stage"] == "internal" and "memory" in fatal["message"].lower(), fatal
