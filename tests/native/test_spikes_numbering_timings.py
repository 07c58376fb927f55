"""The host's spike records in --events, --first-sample-number, and the report's per-block timing list."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from native_helpers import NOOP, run_host, write_channel_major, write_script

FIRST = 123456

# Logs every call in order; process logs the block's size, and sends line 3 at the block's first sample.
LOGGER = """
import json
import numpy as np

class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.processor = processor
        self.log = []

    def handle_ttl_event(self, source_node, channel, sample_number, line, state):
        self.log.append(["ttl", source_node, channel, sample_number, line, state])

    def handle_spike(self, source_node, electrode_name, num_channels, num_samples, sample_number, sorted_id,
                     spike_data):
        assert spike_data.dtype == np.float32 and spike_data.shape == (num_channels, num_samples)
        assert spike_data.flags.writeable
        spike_data *= 1.0  # a fresh writable array per spike: the script may modify it in place
        self.log.append(["spike", source_node, electrode_name, num_channels, num_samples, sample_number,
                         sorted_id, spike_data.tolist()])

    def process(self, data):
        self.log.append(["process", data.shape[1]])
        self.processor.add_python_event(3, True)

    def stop_acquisition(self):
        with open({out!r}, "w") as stream:
            json.dump(self.log, stream)
"""


def _raw_input(tmp_path: Path, samples: int) -> Path:
    source = tmp_path / "in.f32"
    write_channel_major(source, 2, samples, 100, lambda c, s: float(s))
    return source


def _blocks(log: list[list[object]]) -> list[list[list[object]]]:
    """The log cut after each process call: the events each block got, then the process call."""
    blocks: list[list[list[object]]] = [[]]
    for entry in log:
        blocks[-1].append(entry)
        if entry[0] == "process":
            blocks.append([])
    assert blocks[-1] == []
    return blocks[:-1]


def test_spikes_and_ttl_from_an_events_file_reach_the_script_in_sample_order(
    homes: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "log.json"
    script = write_script(tmp_path, "logger.py", LOGGER.format(out=str(out)))
    events = tmp_path / "events.txt"
    events.write_text(
        "# sample line state | spike sample source electrode channels samples sorted values\n"
        f"{FIRST + 5} 1 1\n"
        f'spike {FIRST + 7} 104 "Stereotrode #1" 2 3 4 1 2 3 4 5 6.5  # two channels of three samples\n'
        f"spike {FIRST + 7} 104 SE0 1 2 0 -1 -2\n"
        f"{FIRST + 7} 2 1\n"
        f"{FIRST + 99} 1 0\n"
        f'spike {FIRST + 100} 105 "Tetrode 2" 4 1 9 1 2 3 4\n'
        f"spike {FIRST + 250} 105 late 1 1 0 7\n"  # after the input ends: never delivered
    )
    source = _raw_input(tmp_path, 200)
    result = run_host(
        "--script", script, "--channels", "2", "--input", source, "--chunk", "100", "--events", events,
        "--block-size", "100", "--block-jitter", "0", "--callback-size", "100", "--source-node", "42",
        "--first-sample-number", str(FIRST), home=homes["3.10"],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    blocks = _blocks(json.loads(out.read_text()))
    assert blocks == [
        [
            ["ttl", 42, "TTL", FIRST + 5, 1, True],
            ["ttl", 42, "TTL", FIRST + 7, 2, True],  # a TTL event comes first at equal sample numbers
            ["spike", 104, "Stereotrode #1", 2, 3, FIRST + 7, 4, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.5]]],
            ["spike", 104, "SE0", 1, 2, FIRST + 7, 0, [[-1.0, -2.0]]],
            ["ttl", 42, "TTL", FIRST + 99, 1, False],
            ["process", 100],
        ],
        [["spike", 105, "Tetrode 2", 4, 1, FIRST + 100, 9, [[1.0], [2.0], [3.0], [4.0]]], ["process", 100]],
    ]
    assert result.report is not None
    stream = result.report["stream"]
    assert (stream["first_sample_number"], stream["ttl_events_in"], stream["spikes_in"]) == (FIRST, 3, 3)
    emitted = result.instance()["events_emitted"]
    assert [(e["sample_number"], e["block"]) for e in emitted] == [(FIRST, 0), (FIRST + 100, 1)]


def test_script_errors_carry_the_first_sample_number(homes: dict[str, Path], tmp_path: Path) -> None:
    script = write_script(
        tmp_path,
        "spike_raises.py",
        """
        class PyProcessor:
            def __init__(self, processor, num_channels, sample_rate):
                pass

            def handle_spike(self, *args):
                raise ValueError("spike " + str(args[4]))

            def process(self, data):
                pass
        """,
    )
    events = tmp_path / "events.txt"
    events.write_text(f"spike {FIRST + 150} 1 E 1 1 0 0.5\n")
    result = run_host(
        "--script", script, "--channels", "2", "--input", _raw_input(tmp_path, 200), "--chunk", "100",
        "--events", events, "--block-size", "100", "--block-jitter", "0", "--callback-size", "100",
        "--first-sample-number", str(FIRST), "--policy", "continue", home=homes["3.10"],
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert result.report is not None
    [error] = result.report["errors"]
    assert (error["method"], error["block"], error["sample_number"]) == ("handle_spike", 1, FIRST + 100)
    assert error["message"] == f"ValueError: spike {FIRST + 150}"


def test_synthetic_spikes_and_ttl_use_the_first_sample_number(homes: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "log.json"
    script = write_script(tmp_path, "logger.py", LOGGER.format(out=str(out)))
    result = run_host(
        "--script", script, "--channels", "4", "--duration", "2", "--spike-rate", "40", "--ttl-lines", "1",
        "--first-sample-number", str(FIRST), home=homes["3.10"],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    log = json.loads(out.read_text())
    position = FIRST
    spikes = ttl = 0
    for block in _blocks(log):
        size = block[-1][1]
        for entry in block[:-1]:
            number = entry[5] if entry[0] == "spike" else entry[3]
            assert position <= number < position + size
            if entry[0] == "spike":
                spikes += 1
                assert entry[1:5] == [100, entry[2], 1, 40]
                assert entry[2] in {f"Electrode {c}" for c in range(4)}
            else:
                ttl += 1
        numbers = [entry[5] if entry[0] == "spike" else entry[3] for entry in block[:-1]]
        assert numbers == sorted(numbers)
        position += size
    assert position == FIRST + 60000
    assert 40 < spikes < 130  # Poisson, 80 expected
    # Line 0 toggles at 0.5 s and 1.0 s and 1.5 s of the stream.
    assert [e[3] for e in log if e[0] == "ttl"] == [FIRST + 15000, FIRST + 30000, FIRST + 45000]
    assert ttl == 3
    assert result.report is not None and result.report["stream"]["spikes_in"] == spikes


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("spike 5 1 E 2 2 0 1 2 3", "expected 'spike sample_number"),  # one value short
        ("spike 5 1 E 1 2 0 1 2 3", "expected 'spike sample_number"),  # one value too many
        ("spike 5 1 E 0 2 0", "expected 'spike sample_number"),  # no channels
        ('spike 5 1 "E 1 1 0 1', "expected 'spike sample_number"),  # unclosed quote
        ("spike 5 1 E 1 1 0 x", "expected 'spike sample_number"),
        ("spike 9 1 E 1 1 0 1\n5 1 1", "events must be sorted by sample number"),
        ("spike 5 1 E 1 1 0 1\nspike 4 1 E 1 1 0 1", "events must be sorted by sample number"),
    ],
)
def test_malformed_spike_records_exit_5(
    line: str, problem: str, homes: dict[str, Path], tmp_path: Path
) -> None:
    script = write_script(tmp_path, "noop.py", NOOP)
    events = tmp_path / "events.txt"
    events.write_text("1 0 1\n" + line + "\n")
    result = run_host("--script", script, "--events", events, "--duration", "0.1", home=homes["3.10"])
    assert result.returncode == 5, result.stderr
    assert result.report is not None and problem in result.report["fatal"]["message"]
    assert f"{events}:" in result.report["fatal"]["message"]


def test_block_budget_percent_lists_every_processed_block(homes: dict[str, Path], tmp_path: Path) -> None:
    script = write_script(
        tmp_path,
        "slow_every_fifth.py",
        """
        import time

        class PyProcessor:
            def __init__(self, processor, num_channels, sample_rate):
                self.block = 0

            def process(self, data):
                if self.block % 5 == 0:
                    time.sleep(0.01)
                self.block += 1
        """,
    )
    result = run_host("--script", script, "--duration", "1", home=homes["3.10"])
    assert result.returncode == 0, result.stderr
    instance = result.instance()
    listed = instance["block_budget_percent"]
    assert len(listed) == instance["blocks_processed"] == result.report["stream"]["blocks"]  # type: ignore[index]
    # 10 ms of a 697-sample block's 23.2 ms is 43 %: every fifth block, and only those, is above 20 %.
    assert [index for index, value in enumerate(listed) if value > 20.0] == list(range(0, len(listed), 5))
    summary = instance["timing_us"]["budget_percent"]
    assert max(listed) == pytest.approx(summary["max"], rel=1e-5)
    assert statistics.median(listed) == pytest.approx(summary["median"], rel=0.05)


def test_block_budget_percent_skips_bypassed_blocks(homes: dict[str, Path], tmp_path: Path) -> None:
    script = write_script(
        tmp_path,
        "fails_at_3.py",
        """
        class PyProcessor:
            def __init__(self, processor, num_channels, sample_rate):
                self.block = 0

            def process(self, data):
                self.block += 1
                if self.block == 3:
                    raise RuntimeError("third block")
        """,
    )
    result = run_host("--script", script, "--blocks", "10", home=homes["3.10"])
    assert result.returncode == 1
    instance = result.instance()
    assert instance["blocks_bypassed"] == 7
    assert len(instance["block_budget_percent"]) == 3  # the bypassed blocks never reach the script


def test_block_budget_percent_is_capped(homes: dict[str, Path], tmp_path: Path) -> None:
    script = write_script(tmp_path, "noop.py", NOOP)
    flags = ["--channels", "1", "--block-size", "8", "--block-jitter", "0", "--callback-size", "8"]
    flags += ["--blocks", "100100", "--ttl-lines", "0"]
    result = run_host("--script", script, *flags, home=homes["3.10"])
    assert result.returncode == 0, result.stderr
    instance = result.instance()
    assert instance["blocks_processed"] == 100100
    assert len(instance["block_budget_percent"]) == 100000
