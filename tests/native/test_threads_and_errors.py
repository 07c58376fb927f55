"""Rules 5 and 6: GIL and thread states (script threads, audio device restarts, PyGILState users on the
audio thread); exceptions from every script method, bypass policy, reload recovery, continue policy."""

from __future__ import annotations

from pathlib import Path

from native_helpers import (
    read_channel_major,
    run_host,
    run_host_with_reload,
    write_channel_major,
    write_script,
)

THREADED = """
import threading
import time

import numpy as np


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.processor = processor
        self.stop = threading.Event()
        self.sent = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            np.sqrt(np.arange(2000.0)).sum()
            self.processor.add_python_event(3, self.sent % 2 == 0)
            self.sent += 1
            time.sleep(0.0002)

    def start_acquisition(self):
        self.thread.start()

    def process(self, data):
        data *= 1.0
        time.sleep(0.0001)

    def stop_acquisition(self):
        self.stop.set()
        self.thread.join(10)
        assert not self.thread.is_alive()
"""


def test_script_thread_with_events_over_audio_restarts(home: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path, "threaded.py", THREADED)
    result = run_host(
        "--script",
        script,
        "--instances",
        "2",
        "--blocks",
        "300",
        "--audio-restarts",
        "3",
        home=home,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.report is not None
    assert result.report["run"]["audio_threads"] == 4
    for index in range(2):
        instance = result.instance(index)
        assert instance["blocks_processed"] == 300
        assert instance["events_emitted_count"] > 0
        assert all(event["line"] == 3 for event in instance["events_emitted"])


THREAD_STATE_PROBE = """
import ctypes
import sys
import threading

ctypes.pythonapi.PyThreadState_Get.restype = ctypes.c_void_p
ctypes.pythonapi.PyThreadState_GetID.argtypes = [ctypes.c_void_p]
ctypes.pythonapi.PyThreadState_GetID.restype = ctypes.c_uint64
# OS thread -> thread state ids seen on it, shared by every instance's module.
SEEN = sys.__dict__.setdefault("oe_pyproc_thread_states", {})


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.processor = processor

    def process(self, data):
        # Thread state ids are never reused (addresses could be, after a free).
        state = ctypes.pythonapi.PyThreadState_GetID(ctypes.pythonapi.PyThreadState_Get())
        seen = SEEN.setdefault(threading.get_native_id(), set())
        seen.add(state)
        assert len(seen) == 1, f"{len(seen)} thread states on one audio thread"
        self.processor.add_python_event(len(SEEN), True)
"""


def test_one_persistent_thread_state_per_audio_thread_shared_by_instances(home: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path, "thread_state.py", THREAD_STATE_PROBE)
    flags = ["--instances", "3", "--blocks", "60", "--audio-restarts", "2"]
    result = run_host("--script", script, *flags, home=home)
    assert result.returncode == 0, result.stderr
    assert [result.instance(index)["events_emitted_count"] for index in range(3)] == [60, 60, 60]
    # A new thread state with each audio thread (device restart), the same one within it.
    lines = [event["line"] for event in result.instance(0)["events_emitted"]]
    assert lines == [1] * 20 + [2] * 20 + [3] * 20


GIL_STATE_USER = """
import ctypes

LIBC = ctypes.CDLL(None)
COMPARE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))


def compare(a, b):
    return a[0] - b[0]


CALLBACK = COMPARE(compare)


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        pass

    def process(self, data):
        # qsort calls back into Python from C: ctypes takes the GIL with PyGILState_Ensure on the
        # audio thread, which must find the persistent thread state instead of making a new one.
        values = (ctypes.c_int * 6)(5, 3, 6, 1, 4, 2)
        LIBC.qsort(values, 6, ctypes.sizeof(ctypes.c_int), CALLBACK)
        assert list(values) == [1, 2, 3, 4, 5, 6]
"""


def test_pygilstate_callbacks_on_the_audio_thread_do_not_deadlock(home: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path, "gilstate.py", GIL_STATE_USER)
    result = run_host("--script", script, "--blocks", "50", "--audio-restarts", "1", home=home, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.instance()["blocks_processed"] == 50


def ramp_input(tmp_path: Path, channels: int, samples: int) -> Path:
    path = tmp_path / "input.f32"
    write_channel_major(path, channels, samples, 1000, lambda c, s: float(c * 10000 + s))
    return path


RAISES_AT_BLOCK_5 = """
class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.block = 0

    def process(self, data):
        self.block += 1
        if self.block == 6:
            1 / 0
        data *= 2
"""


def test_exception_in_process_bypasses_the_block_and_the_instance(home: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path, "raises.py", RAISES_AT_BLOCK_5)
    source = ramp_input(tmp_path, 3, 2000)
    output = tmp_path / "out.f32"
    flags = ["--channels", "3", "--block-size", "100", "--block-jitter", "0", "--chunk", "1000"]
    result = run_host("--script", script, "--input", source, "--output", output, *flags, home=home)
    assert result.returncode == 1
    assert result.report is not None
    [error] = result.report["errors"]
    assert error["block"] == 5 and error["sample_number"] == 500 and error["method"] == "process"
    assert error["message"] == "ZeroDivisionError: division by zero"
    assert "Traceback (most recent call last)" in error["traceback"]
    assert f'File "{script}", line 8, in process' in error["traceback"]
    instance = result.instance()
    assert instance["faulted"] is True
    assert instance["blocks_bypassed"] == 14
    rows = read_channel_major(output, 3, 1000)
    for channel, row in enumerate(rows):
        for sample, value in enumerate(row):
            original = float(channel * 10000 + sample)
            assert value == (original * 2 if sample < 500 else original), (channel, sample)


EVENT_METHODS_RAISE = """
class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        pass

    def start_acquisition(self):
        raise RuntimeError("start failed")

    def handle_ttl_event(self, source_node, channel, sample_number, line, state):
        raise KeyError("ttl")

    def process(self, data):
        pass
"""


def test_exceptions_from_other_methods_are_caught_with_policy_continue(home: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path, "events_raise.py", EVENT_METHODS_RAISE)
    result = run_host(
        "--script", script, "--policy", "continue", "--duration", "2", "--ttl-period", "0.5", home=home
    )
    assert result.returncode == 1
    assert result.report is not None
    methods = [error["method"] for error in result.report["errors"]]
    assert methods[0] == "start_acquisition"
    assert methods.count("handle_ttl_event") == 3  # TTL toggles at 0.5, 1.0, 1.5 s
    assert result.instance()["faulted"] is False
    assert result.instance()["blocks_processed"] == result.report["stream"]["blocks"]


def test_exception_in_init_or_syntax_error_fails_the_load(home: Path, tmp_path: Path) -> None:
    broken = write_script(tmp_path, "syntax.py", "class PyProcessor:\n    def process(self, data)\n")
    result = run_host("--script", broken, home=home)
    assert result.returncode == 4
    assert result.report is not None
    assert result.report["fatal"]["stage"] == "script"
    assert "SyntaxError" in result.report["fatal"]["message"]
    failing_init = write_script(
        tmp_path,
        "init.py",
        """
        class PyProcessor:
            def __init__(self, processor, num_channels, sample_rate):
                raise ValueError(f"cannot handle {num_channels} channels")

            def process(self, data):
                pass
        """,
    )
    result = run_host("--script", failing_init, "--channels", "7", home=home)
    assert result.returncode == 4
    assert result.report is not None
    assert "ValueError: cannot handle 7 channels" in result.report["fatal"]["message"]
    no_class = write_script(tmp_path, "no_class.py", "x = 1\n")
    result = run_host("--script", no_class, home=home)
    assert result.returncode == 4
    assert result.report is not None
    assert "defines no class PyProcessor" in result.report["fatal"]["message"]


def test_reload_with_a_fixed_script_recovers_during_acquisition(home: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path, "flaky.py", RAISES_AT_BLOCK_5)
    source = ramp_input(tmp_path, 2, 2000)
    output = tmp_path / "out.f32"
    flags = ["--channels", "2", "--block-size", "100", "--block-jitter", "0", "--chunk", "1000"]

    def fix_script() -> None:
        write_script(
            tmp_path,
            "flaky.py",
            """
            class PyProcessor:
                def __init__(self, processor, num_channels, sample_rate):
                    pass

                def process(self, data):
                    data *= 3
            """,
        )

    result = run_host_with_reload(
        "--script",
        script,
        "--input",
        source,
        "--output",
        output,
        "--reload-at-block",
        "10",
        *flags,
        home=home,
        edit=fix_script,
    )
    assert result.returncode == 1  # the error before the reload is still reported
    report = result.report
    assert report is not None
    assert [error["block"] for error in report["errors"]] == [5]
    instance = report["instances"][0]
    assert instance["faulted"] is False
    assert instance["blocks_bypassed"] == 4  # blocks 6..9
    rows = read_channel_major(output, 2, 1000)
    for channel, row in enumerate(rows):
        for sample, value in enumerate(row):
            original = float(channel * 10000 + sample)
            expected = original * 2 if sample < 500 else original if sample < 1000 else original * 3
            assert value == expected, (channel, sample)


ALWAYS_RAISES = """
class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.calls = 0

    def process(self, data):
        self.calls += 1
        raise RuntimeError(f"failure {self.calls}")
"""


def test_continue_policy_keeps_calling_with_rate_limited_logging(home: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path, "always.py", ALWAYS_RAISES)
    result = run_host("--script", script, "--policy", "continue", "--blocks", "400", home=home)
    assert result.returncode == 1
    assert result.report is not None
    assert result.report["error_total"] == 400
    assert result.report["errors"][-1]["message"] == "RuntimeError: failure 400"
    instance = result.instance()
    assert instance["blocks_processed"] == 400 and instance["faulted"] is False
    logged = result.stderr.count("(policy continue)")
    assert 1 <= logged <= 1 + int(result.report["run"]["wall_time_s"]) + 1
