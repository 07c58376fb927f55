"""The host runs the adapter's own code (plugin/adapter_logic): its Home candidates (the install manifest
included), its script session (reloads on a second "message" thread while the audio thread only tries the
session), its output-event placement, and events still queued when an instance goes away."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from native_helpers import HOST, NOOP, read_channel_major, run_host, write_channel_major, write_script

GAIN_2 = """
class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        pass

    def process(self, data):
        data *= 2
"""

# Imported slowly (0.6 s at module level), so the reload holds the session across many 10 ms blocks.
SLOW_IMPORT_GAIN_3 = """
import time

time.sleep(0.6)


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        pass

    def process(self, data):
        data *= 3
"""


def segments(row: list[float]) -> list[tuple[float, int]]:
    """Run-length encoding of a row: [(value, count), ...]."""
    runs: list[tuple[float, int]] = []
    for value in row:
        if runs and runs[-1][0] == value:
            runs[-1] = (value, runs[-1][1] + 1)
        else:
            runs.append((value, 1))
    return runs


def test_reload_from_the_message_thread_while_the_audio_thread_goes_on(home: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path, "gain.py", GAIN_2)
    source = tmp_path / "in.f32"
    write_channel_major(source, 1, 20000, 1000, lambda c, s: 1.0)  # 2 s at 10 kHz, 10 ms blocks
    output = tmp_path / "out.f32"
    command = [
        str(HOST),
        "--python-home",
        str(home),
        "--no-default-home",
        "--json",
        "--script",
        str(script),
        "--input",
        str(source),
        "--output",
        str(output),
        "--channels",
        "1",
        "--sample-rate",
        "10000",
        "--chunk",
        "1000",
        "--block-size",
        "100",
        "--block-jitter",
        "0",
        "--realtime",
        "--reload-at-block",
        "40",
        "--reload-concurrent",
        "--reload-wait-stdin",
    ]
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        assert process.stderr is not None
        while "waiting for stdin to reload" not in process.stderr.readline().decode():
            assert process.poll() is None, "the host ended before asking to reload"
        script.write_text(SLOW_IMPORT_GAIN_3)
        stdout, stderr = process.communicate(b"\n", timeout=60)
    assert process.returncode == 0, stderr.decode()
    report = json.loads(stdout)
    [reload] = report["reloads"]
    assert reload["ok"] is True and reload["waited"] is False and reload["on_audio_thread"] is False
    assert reload["requested_at_block"] == 40
    assert reload["duration_s"] >= 0.6
    # The audio thread went on while the message thread imported: blocks kept coming during the reload.
    assert reload["finished_at_block"] - reload["started_at_block"] >= 20
    instance = report["instances"][0]
    busy = instance["blocks_passed_busy"]
    assert busy >= 20
    # Old script, then the blocks that found the session busy passed through unchanged, then the new one.
    [row] = read_channel_major(output, 1, 1000)
    runs = segments(row)
    assert [value for value, _ in runs] == [2.0, 1.0, 3.0], runs
    assert runs[0][1] >= 40 * 100 and runs[1][1] == busy * 100 and sum(n for _, n in runs) == 20000
    assert instance["blocks_processed"] + busy == report["stream"]["blocks"]


EMITS_AT_STOP = """
class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.processor = processor

    def process(self, data):
        self.processor.add_python_event(1, True, data.shape[1] - 1)
        self.processor.add_python_event(2, True, 0)

    def stop_acquisition(self):
        for _ in range(3):
            self.processor.add_python_event(4, True)
"""


def test_output_events_are_placed_in_sample_order_and_queued_ones_at_removal_are_counted(
    home: Path, tmp_path: Path
) -> None:
    script = write_script(tmp_path, "emits.py", EMITS_AT_STOP)
    flags = ["--blocks", "5", "--block-jitter", "0", "--block-size", "100"]
    result = run_host("--script", script, *flags, home=home)
    assert result.returncode == 0, result.stderr
    instance = result.instance()
    events = instance["events_emitted"]
    assert [(event["line"], event["sample_number"]) for event in events[:2]] == [(2, 0), (1, 99)]
    assert instance["events_emitted_count"] == 10
    # Emitted in stop_acquisition, after the last block: no block carries them, so they are counted.
    assert instance["events_dropped_at_removal"] == 3


def test_removed_instance_counts_the_events_it_still_had_queued(home: Path, tmp_path: Path) -> None:
    emitter = write_script(tmp_path, "emits.py", EMITS_AT_STOP)
    noop = write_script(tmp_path, "noop.py", NOOP)
    result = run_host(
        "--script", emitter, "--script", noop, "--blocks", "6", "--remove-at-block", "3:0", home=home
    )
    assert result.returncode == 0, result.stderr
    removed = result.instance(0)
    assert removed["removed_at_block"] == 3 and removed["blocks_processed"] == 3
    assert removed["events_emitted_count"] == 6 and removed["events_dropped_at_removal"] == 0
    assert result.instance(1)["blocks_processed"] == 6


def test_the_install_manifest_source_prefix_is_a_home_candidate(tmp_path: Path, home: Path) -> None:
    root = tmp_path / "gui-root"
    (root / "plugins-api10").mkdir(parents=True)
    (root / "plugins-api10" / "oe-pyproc-manifest.json").write_text(
        json.dumps({"schema": 1, "source_prefix": str(home), "files": [], "moved_aside": []})
    )
    result = run_host("--check-home", "--gui-root", root, home=tmp_path / "dead-home", default_home=True)
    assert result.returncode == 0, result.stderr
    assert result.report is not None
    report_home = result.report["home"]
    assert report_home["origin"] == "install_manifest" and report_home["chosen"] == str(home)
    origins = [candidate["origin"] for candidate in report_home["candidates"]]
    assert origins == ["chain", "default_home_file", "install_manifest", "host_prefix"]
    assert report_home["candidates"][1]["reason"] == "not set"
    assert report_home["candidates"][3]["reason"] == "not needed: an earlier candidate was valid"
