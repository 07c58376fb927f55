"""Rules 9, 10 and 11: the data policy (view, staging, strided, kept references, zero allocations), the
script contract of DESIGN §3, upstream-style scripts; the host's raw input/output and bad arguments."""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import pytest
from native_helpers import BUILD, NOOP, read_channel_major, run_host, write_channel_major, write_script

SHAPE_CHECK = """
class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.channels = num_channels

    def process(self, data):
        assert data.dtype.name == "float32" and data.ndim == 2 and data.shape[0] == self.channels
        assert data.flags.writeable
        assert {layout_check}, data.strides
        data *= 0.5
"""


@pytest.mark.parametrize(
    ("flags", "path", "layout_check"),
    [
        # opted in: the view of contiguous rows, after the staging copies of the probation
        (["--contiguous", "--zero-copy"], "view", "data.flags.c_contiguous"),
        # by default contiguous rows are staged too (copy-on-keep without a gap)
        (["--contiguous"], "staging", "data.flags.c_contiguous"),
        ([], "staging", "data.flags.c_contiguous"),
        # the strided view, or the staging copy during the probation after the load
        (["--zero-copy"], "strided", "data.flags.c_contiguous or data.strides == (4096, 4)"),
    ],
)
def test_data_paths_modify_the_buffer_in_place(
    flags: list[str], path: str, layout_check: str, home: Path, tmp_path: Path
) -> None:
    script = write_script(tmp_path, "halve.py", SHAPE_CHECK.format(layout_check=layout_check))
    source = tmp_path / "in.f32"
    # Whole blocks (a shorter last block in 697-sample rows would take the staging path), more than the
    # 64 blocks after a load that always take the staging path (copy-on-keep's probation, block_array.h).
    samples = 697 * 70
    write_channel_major(source, 4, samples, 1024, lambda c, s: float(c * 1000 + s % 997))
    output = tmp_path / "out.f32"
    result = run_host(
        "--script", script, "--channels", "4", "--input", source, "--output", output, *flags, home=home
    )
    assert result.returncode == 0, result.stderr
    instance = result.instance()
    assert result.report is not None
    blocks = result.report["stream"]["blocks"]
    staged = blocks if path == "staging" else 64
    assert instance["data_path"]["staging"] == staged
    assert instance["data_path"][path] == (blocks if path == "staging" else blocks - staged)
    rows = read_channel_major(output, 4, 1024)
    for channel, row in enumerate(rows):
        assert row == [float(channel * 1000 + s % 997) * 0.5 for s in range(samples)]


KEEPS_BLOCK = """
class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.kept = []

    def process(self, data):
        data += 1
        if len(self.kept) < 3:
            self.kept.append(data)
"""


def test_a_script_keeping_the_block_is_informed_and_keeps_working(home: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path, "keeper.py", KEEPS_BLOCK)
    source = tmp_path / "in.f32"
    write_channel_major(source, 2, 2000, 1000, lambda c, s: 0.0)
    output = tmp_path / "out.f32"
    flags = ["--channels", "2", "--chunk", "1000"]
    result = run_host("--script", script, "--input", source, "--output", output, *flags, home=home)
    assert result.returncode == 0, result.stderr
    assert result.report is not None and result.report["warnings"] == []  # keeping: no defect (copy-on-keep)
    assert result.stderr.count("[info] instance 1: process() keeps (part of) its data array") == 1
    assert all(row == [1.0] * 2000 for row in read_channel_major(output, 2, 1000))


RESHAPES_THE_BLOCK = """
import numpy as np


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.block = 0

    def process(self, data):
        assert data.ndim == 2 and data.dtype == np.float32 and data.flags.writeable
        data *= 2
        self.block += 1
        if self.block % 3 == 0:
            data.shape = (-1,)
        elif self.block % 3 == 1:
            data.dtype = np.int32
        else:
            data.flags.writeable = False
"""


@pytest.mark.parametrize("flags", [["--contiguous"], []])
def test_a_script_changing_the_array_itself_does_not_break_later_blocks(
    flags: list[str], home: Path, tmp_path: Path
) -> None:
    script = write_script(tmp_path, "reshaper.py", RESHAPES_THE_BLOCK)
    source = tmp_path / "in.f32"
    samples = 697 * 6
    write_channel_major(source, 3, samples, 697, lambda c, s: float(c + s))
    output = tmp_path / "out.f32"
    arguments = ["--channels", "3", "--chunk", "697", "--input", source, "--output", output, *flags]
    result = run_host("--script", script, *arguments, home=home)
    assert result.returncode == 0, result.stderr
    assert result.instance()["blocks_processed"] == result.report["stream"]["blocks"]  # type: ignore[index]
    for channel, row in enumerate(read_channel_major(output, 3, 697)):
        assert row == [2.0 * (channel + s) for s in range(samples)]


def test_zero_heap_allocations_per_block(version: str, home: Path, tmp_path: Path) -> None:
    completed = subprocess.run(
        [str(BUILD / "test_bridge_allocations"), str(home), str(BUILD), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    for path in ("view", "staging", "strided"):
        assert f"{path:<8} path: operator new calls 0," in completed.stdout


CONTRACT = """
import json
import os

import numpy as np
import oe_pyprocessor

OUT = {out!r}


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.processor = processor
        self.log = [["init", type(processor).__name__, num_channels, sample_rate]]
        self.errors = []
        try:
            oe_pyprocessor.PythonProcessor()
        except TypeError:
            self.errors.append("cannot construct handles")

    def start_acquisition(self):
        self.log.append(["start_acquisition"])

    def start_recording(self, recording_dir):
        self.log.append(["start_recording", recording_dir, os.path.isabs(recording_dir)])

    def handle_ttl_event(self, source_node, channel, sample_number, line, state):
        self.log.append(["ttl", source_node, channel, sample_number, line, state])

    def handle_spike(self, source_node, electrode_name, num_channels, num_samples, sample_number,
                     sorted_id, spike_data):
        assert isinstance(spike_data, np.ndarray) and spike_data.dtype == np.float32
        assert spike_data.shape == (num_channels, num_samples) and spike_data.flags.writeable
        self.log.append(["spike", source_node, electrode_name, num_channels, num_samples, sample_number,
                         sorted_id])

    def process(self, data):
        self.log.append(["process", data.shape[1]])
        samples = data.shape[1]
        for line, offset in ((256, 0), (-1, 0), (1, samples), (1, -1)):
            try:
                self.processor.add_python_event(line, True, offset)
            except ValueError as error:
                self.errors.append(str(error))
        self.processor.add_python_event(255, True, samples - 1)
        self.processor.add_python_event(7, False)

    def stop_recording(self):
        self.log.append(["stop_recording"])

    def stop_acquisition(self):
        self.log.append(["stop_acquisition"])
        with open(OUT, "w") as stream:
            json.dump({{"log": self.log, "errors": self.errors}}, stream)
"""


def test_script_contract(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "contract.json"
    script = write_script(tmp_path, "contract.py", CONTRACT.format(out=str(out)))
    flags = [
        "--channels",
        "8",
        "--duration",
        "2",
        "--spike-rate",
        "20",
        "--ttl-lines",
        "2",
        "--ttl-period",
        "0.3",
    ]
    result = run_host("--script", script, "--record-dir", "rec", *flags, home=home, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    recorded = json.loads(out.read_text())
    log = recorded["log"]
    assert log[0] == ["init", "PythonProcessor", 8, 30000.0]
    assert log[1] == ["start_acquisition"]
    assert log[2] == ["start_recording", str(tmp_path / "rec"), True]
    assert log[-2:] == [["stop_recording"], ["stop_acquisition"]]
    assert recorded["errors"][0] == "cannot construct handles"
    # Events of a block come before its process(), and fall inside that block.
    first_sample = 0
    pending: list[list[object]] = []
    ttl_count = spike_count = 0
    for entry in log[3:-2]:
        if entry[0] == "process":
            samples = int(entry[1])  # type: ignore[call-overload]
            for event in pending:
                number = int(event[3] if event[0] == "ttl" else event[5])  # type: ignore[call-overload]
                assert first_sample <= number < first_sample + samples, (event, first_sample)
            pending = []
            first_sample += samples
        else:
            pending.append(entry)
            if entry[0] == "ttl":
                ttl_count += 1
                _, source_node, channel, _, line, state = entry
                assert (source_node, channel) == (100, "TTL") and line in (0, 1) and isinstance(state, bool)
            else:
                spike_count += 1
                _, source_node, electrode, channels, samples_, _, sorted_id = entry
                assert source_node == 100 and str(electrode).startswith("Electrode ")
                assert (channels, samples_, sorted_id) == (1, 40, 0)
    assert ttl_count == 6 + 3  # line 0 every 0.3 s, line 1 every 0.6 s, over 2 s
    assert spike_count > 10
    blocks = result.report["stream"]["blocks"]  # type: ignore[index]
    checks = recorded["errors"][1:]
    assert len(checks) == 4 * blocks
    assert "line must be in 0..255, got 256" in checks[0]
    assert "line must be in 0..255, got -1" in checks[1]
    assert "offset must be in 0.." in checks[2] and "offset must be in 0.." in checks[3]
    events = result.instance()["events_emitted"]
    assert result.instance()["events_emitted_count"] == 2 * blocks
    # Placed as the adapter places them: in sample order within the block (offset 0 before the last sample).
    first_block = [event for event in events if event["block"] == 0]
    assert first_block[0] == {"sample_number": 0, "line": 7, "state": False, "block": 0}
    last_sample = next(entry[1] for entry in log if entry[0] == "process") - 1
    assert first_block[1] == {"sample_number": last_sample, "line": 255, "state": True, "block": 0}


UPSTREAM_STYLE = """
import numpy as np
import oe_pyprocessor


class PyProcessor:

    def __init__(self, processor, num_channels, sample_rate):
        print("Num Channels: ", num_channels, " | Sample Rate: ", sample_rate)
        self.processor = processor

    def process(self, data):
        data[:] = data - np.mean(data, axis=1, keepdims=True)
        if data[0, 0] > 1e9:
            self.processor.add_python_event(0, True)

    def start_acquisition(self):
        pass

    def stop_acquisition(self):
        pass

    def handle_ttl_event(self, source_node, channel, sample_number, line, state):
        if state:
            self.processor.add_python_event(line, state)

    def handle_spike(self, source_node, electrode_name, num_channels, num_samples, sample_number,
                     sorted_id, spike_data):
        pass

    def start_recording(self, recording_dir):
        pass

    def stop_recording(self):
        pass
"""


def test_upstream_style_script_runs_unchanged(version: str, home: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path, "upstream_template.py", UPSTREAM_STYLE)
    flags = ["--channels", "16", "--duration", "1.5", "--spike-rate", "10", "--record-dir", str(tmp_path)]
    result = run_host("--script", script, *flags, home=home)
    assert result.returncode == 0, result.stderr
    assert "Num Channels:  16  | Sample Rate:  30000.0" in result.stderr  # script output kept off stdout
    instance = result.instance()
    assert instance["events_emitted_count"] == 1  # TTL line 0 rises at 0.5 s (falls at 1.0 s)
    assert instance["error_count"] == 0


def test_raw_int16_input_with_scale_and_events_file(home: Path, tmp_path: Path) -> None:
    source = tmp_path / "in.i16"
    with source.open("wb") as stream:
        for channel in range(2):
            stream.write(struct.pack("<300h", *[channel * 100 + s for s in range(300)]))
    events = tmp_path / "events.txt"
    events.write_text("# sample line state\n5 1 1\n150 1 0\n299 2 1\n")
    out = tmp_path / "seen.json"
    script = write_script(
        tmp_path,
        "seen.py",
        f"""
        import json

        class PyProcessor:
            def __init__(self, processor, num_channels, sample_rate):
                self.rows = [[] for _ in range(num_channels)]
                self.ttl = []

            def handle_ttl_event(self, source_node, channel, sample_number, line, state):
                self.ttl.append([sample_number, line, state])

            def process(self, data):
                for row, values in zip(self.rows, data.tolist()):
                    row.extend(values)

            def stop_acquisition(self):
                with open({str(out)!r}, "w") as stream:
                    json.dump({{"rows": self.rows, "ttl": self.ttl}}, stream)
        """,
    )
    flags = ["--input", source, "--input-format", "int16", "--input-scale", "0.5", "--chunk", "300"]
    result = run_host("--script", script, "--channels", "2", "--events", events, *flags, home=home)
    assert result.returncode == 0, result.stderr
    seen = json.loads(out.read_text())
    assert seen["rows"] == [[0.5 * (c * 100 + s) for s in range(300)] for c in range(2)]
    assert seen["ttl"] == [[5, 1, True], [150, 1, False], [299, 2, True]]
    assert result.report is not None and result.report["stream"]["samples"] == 300


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--channels", "0"], "--channels expects an integer in 1..4096"),
        (["--channels", "many"], "--channels expects an integer"),
        (["--block-size", "100", "--block-jitter", "100"], "--block-jitter must be smaller"),
        (["--callback-size", "500"], "must hold the largest block"),
        (["--policy", "retry"], "--policy expects bypass or continue"),
        (["--input-format", "int8"], "--input-format expects float32 or int16"),
        (["--remove-at-block", "3"], "--remove-at-block expects BLOCK:INSTANCE"),
        (["--remove-at-block", "3:4"], "names instance 4 but there are only 1"),
        (["--frobnicate"], "unknown argument '--frobnicate'"),
        (["--duration"], "--duration needs a value"),
        (["--reload-wait-stdin"], "--reload-wait-stdin needs --reload-at-block"),
        (["--output", "-", "--json"], "--output - cannot be combined with --json"),
        (["--channels", "4096", "--block-size", "300000"], "more than the 4 GB this host allows"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    arguments: list[str], message: str, homes: dict[str, Path], tmp_path: Path
) -> None:
    script = write_script(tmp_path, "noop.py", NOOP)
    result = run_host("--script", script, *arguments, home=homes["3.10"], json_report=False)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_script_and_no_script(homes: dict[str, Path], tmp_path: Path) -> None:
    result = run_host("--script", tmp_path / "absent.py", home=homes["3.10"], json_report=False)
    assert result.returncode == 2 and "script not found" in result.stderr
    result = run_host("--script", tmp_path, home=homes["3.10"], json_report=False)
    assert result.returncode == 2 and "script is not a file" in result.stderr
    result = run_host(home=homes["3.10"], json_report=False)
    assert result.returncode == 2 and "no script given" in result.stderr


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing_input", "cannot read the input file"),
        ("truncated_input", "the input ends inside a chunk"),
        ("unsorted_events", "events must be sorted by sample number"),
        ("malformed_events", "expected 'sample_number line state'"),
        ("unwritable_output", "cannot write the output file"),
    ],
)
def test_input_and_output_problems_exit_5(
    setup: str, message: str, homes: dict[str, Path], tmp_path: Path
) -> None:
    script = write_script(tmp_path, "noop.py", NOOP)
    source = tmp_path / "in.f32"
    write_channel_major(source, 2, 100, 100, lambda c, s: 0.0)
    arguments: list[str | Path] = ["--channels", "2", "--input", source]
    if setup == "missing_input":
        arguments[-1] = tmp_path / "absent.f32"
    elif setup == "truncated_input":
        source.write_bytes(source.read_bytes()[:-2])
    elif setup in ("unsorted_events", "malformed_events"):
        events = tmp_path / "events.txt"
        events.write_text("10 1 1\n5 1 0\n" if setup == "unsorted_events" else "10 1 yes\n")
        arguments += ["--events", events]
    elif setup == "unwritable_output":
        arguments += ["--output", tmp_path / "no-such-dir" / "out.f32"]
    result = run_host("--script", script, *arguments, home=homes["3.10"])
    assert result.returncode == 5, result.stderr
    assert result.report is not None and result.report["fatal"]["stage"] == "io"
    assert message in result.report["fatal"]["message"]
    assert message in result.stderr


def test_json_file_is_written_and_text_report_goes_to_stdout(homes: dict[str, Path], tmp_path: Path) -> None:
    script = write_script(tmp_path, "noop.py", NOOP)
    report = tmp_path / "report.json"
    result = run_host("--script", script, "--json-file", report, home=homes["3.10"], json_report=False)
    assert result.returncode == 0
    assert "oe-pyproc-host 0.1.0: ok (exit 0)" in result.stdout
    assert json.loads(report.read_text())["instances"][0]["blocks_processed"] > 0
