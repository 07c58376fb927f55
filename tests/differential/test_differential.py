"""The host against the reference runner (reference.py: upstream's calling convention), sample for sample
and event for event, over a corpus of scripts written for upstream's idioms (corpus/), on real Pythons.

Both run the same script on the same input in the same Home under the GUI's C locale, with PYTHONPATH
naming tests/differential/lab. Compared: the output stream (bit for bit), the emitted TTL events
(sample, line, state, in order), what the script recorded of what it saw (corpus/record.py) and the lines
it printed. The input has the GUI's layout: rows spaced by the callback size (1024), blocks of 697 ± 1
samples, TTL events on three lines and spikes on two electrodes.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
HOST = Path(os.environ.get("OE_PYPROC_DIFF_HOST", str(ROOT / "build" / "native" / "oe-pyproc-host")))
FULL_VERSIONS = {"3.10": "3.10.13", "3.12": "3.12.1", "3.13": "3.13.0"}
VERSIONS = os.environ.get("OE_PYPROC_DIFF_VERSIONS", "3.10,3.12").split(",")

CHANNELS = 8
SAMPLE_RATE = 30000
SAMPLES = 697 * 128  # 2.97 s: 128 blocks of 697 samples when the rows are contiguous
CHUNK = 1024
# The GUI's layout (rows 1024 apart, 697 ± 1 samples), contiguous rows (both staged by default), and
# contiguous rows with the opt-in zero-copy view (a script that keeps nothing sees the caller's rows).
LAYOUTS = {
    "gui": ["--block-size", "697", "--block-jitter", "1", "--callback-size", "1024", "--seed", "3"],
    "contiguous": ["--block-size", "697", "--contiguous"],
    "zero-copy": ["--block-size", "697", "--contiguous", "--zero-copy"],
}

# Every idiom of issue 9 and upstream's two published scripts (their behaviour, in our own words), with
# what each must produce, so that no comparison is vacuous: a changed stream, emitted events, records,
# printed lines.
CORPUS = {
    "template_like": {"printed"},
    "bandpass_like": {"output"},
    "rebind_process": {"output", "records"},
    "handlers_live": {"output", "events", "records"},
    "spike_inplace": {"output", "events", "records"},
    "print_unicode": {"printed", "records"},
    "from_pythonpath": {"output", "records"},
    "stem_import": {"output", "records"},
    "sibling_helpers": {"output"},
    "ttl_threshold": {"output", "events", "records"},
    "array_properties": {"output", "records"},
    # Keeping what `data` holds across blocks (copy-on-keep): rows in a deque, the previous block and a
    # closure over it, the last blocks in a list and views of them in a dict.
    "deque_rows": {"output", "events", "records"},
    "previous_block": {"output", "records"},
    "concat_blocks": {"output", "records"},
    "late_keeper": {"output", "records"},
}
KEEPS = {"deque_rows", "previous_block", "concat_blocks", "late_keeper"}
# Differences known and documented (README, script contract): expected to fail, and the suite fails when
# one stops failing, so that its documentation is updated.
KNOWN_DIFFERENCES = {
    (
        "late_keeper",
        "zero-copy",
    ): "copy-on-keep's gap with the opt-in zero-copy view: rows kept from the first kept block after 64 "
    "zero-copy blocks are views of the caller's buffer",
}

# Records the length of every block: the partition the reference runner replays.
BLOCK_PROBE = """
import json
import os


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.lengths = []

    def process(self, data):
        self.lengths.append(data.shape[1])

    def stop_acquisition(self):
        with open(os.environ["OE_DIFF_BLOCKS"], "w") as stream:
            json.dump(self.lengths, stream)
"""


def home_for(version: str) -> Path:
    variable = "OE_PYPROC_DIFF_HOME_" + version.replace(".", "_")
    default = ROOT / "build" / "differential-venvs" / FULL_VERSIONS[version]
    return Path(os.environ.get(variable, str(default)))


@dataclass(frozen=True)
class Stimulus:
    folder: Path
    input: Path
    events: Path
    corpus: Path
    lab: Path
    ttl_count: int
    spike_count: int


def write_input(path: Path) -> None:
    """Oscillations and noise per channel, with short pulses on channel 0 that the detectors cross."""
    generator = random.Random(11)
    rows = []
    for channel in range(CHANNELS):
        frequency = 7.0 * (channel + 1)
        row = [
            40.0 * math.sin(2 * math.pi * frequency * s / SAMPLE_RATE) + generator.gauss(0.0, 8.0)
            for s in range(SAMPLES)
        ]
        rows.append(row)
    for start in range(311, SAMPLES, 1777):
        for s in range(start, min(start + 15, SAMPLES)):
            rows[0][s] += 120.0
    with path.open("wb") as stream:
        for chunk_start in range(0, SAMPLES, CHUNK):
            count = min(CHUNK, SAMPLES - chunk_start)
            for row in rows:
                stream.write(struct.pack(f"<{count}f", *row[chunk_start : chunk_start + count]))


def write_events(path: Path) -> tuple[int, int]:
    """TTL events on lines 0-2 and spikes of a tetrode and a stereotrode (names with spaces), sorted."""
    generator = random.Random(5)
    lines: list[tuple[int, str]] = []
    for sample in sorted(generator.sample(range(SAMPLES), 60)):
        lines.append((sample, f"{sample} {generator.randrange(3)} {generator.randrange(2)}"))
    spikes = 0
    for sample in sorted(generator.sample(range(SAMPLES), 40)):
        electrode, channels = ("Tetrode 1", 4) if generator.random() < 0.5 else ("Stereotrode 2", 2)
        values = " ".join(f"{generator.uniform(-90.0, 30.0):.3f}" for _ in range(channels * 20))
        lines.append(
            (sample, f'spike {sample} 104 "{electrode}" {channels} 20 {generator.randrange(3)} {values}')
        )
        spikes += 1
    lines.sort(key=lambda item: (item[0], item[1].startswith("spike")))
    path.write_text("".join(text + "\n" for _, text in lines))
    return len(lines) - spikes, spikes


@pytest.fixture(scope="session")
def stimulus(tmp_path_factory: pytest.TempPathFactory) -> Stimulus:
    folder = tmp_path_factory.mktemp("stimulus")
    input_path = folder / "input.f32"
    write_input(input_path)
    events = folder / "events.txt"
    ttl_count, spike_count = write_events(events)
    # A copy, so that nothing a run writes (or caches) lands in the repository.
    corpus = shutil.copytree(HERE / "corpus", folder / "corpus")
    lab = shutil.copytree(HERE / "lab", folder / "lab")
    return Stimulus(folder, input_path, events, corpus, lab, ttl_count, spike_count)


def run_env(record: Path, stimulus: Stimulus, **extra: str) -> dict[str, str]:
    """The GUI's C locale, the lab folder on PYTHONPATH, the script's record file."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "PYTHONPATH")}
    return {
        **env,
        "LC_ALL": "C",
        "LANG": "C",
        "PYTHONPATH": str(stimulus.lab),
        "OE_DIFF_RECORD": str(record),
        **extra,
    }


def run_host(
    script: Path, home: Path, stimulus: Stimulus, output: Path, env: dict[str, str], layout: str
) -> dict[str, Any]:
    if not HOST.exists():
        pytest.fail(f"{HOST} is missing: build it first (bash .ci/parts/25-differential.sh)")
    command = [
        str(HOST),
        "--python-home",
        str(home),
        "--no-default-home",
        "--json",
        "--script",
        str(script),
        "--channels",
        str(CHANNELS),
        "--sample-rate",
        str(SAMPLE_RATE),
        "--input",
        str(stimulus.input),
        "--chunk",
        str(CHUNK),
        "--events",
        str(stimulus.events),
        "--output",
        str(output),
        *LAYOUTS[layout],
    ]
    completed = subprocess.run(command, capture_output=True, env=env, timeout=120, check=False)
    stderr = completed.stderr.decode("utf-8", "replace")
    assert completed.returncode == 0, f"host failed ({completed.returncode}):\n{stderr}"
    report: dict[str, Any] = json.loads(completed.stdout)
    report["_stderr"] = stderr
    return report


@pytest.fixture(scope="session")
def block_lengths(
    stimulus: Stimulus, tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], Path]:
    """Per version and layout: a JSON file of the host's block lengths (the same on every run)."""
    found = {}
    for version in VERSIONS:
        for layout in LAYOUTS:
            folder = tmp_path_factory.mktemp(f"blocks-{version}-{layout}")
            probe = folder / "block_probe.py"
            probe.write_text(BLOCK_PROBE)
            lengths_file = folder / "blocks.json"
            env = run_env(folder / "record.jsonl", stimulus, OE_DIFF_BLOCKS=str(lengths_file))
            report = run_host(probe, home_for(version), stimulus, folder / "out.f32", env, layout)
            lengths = json.loads(lengths_file.read_text())
            assert sum(lengths) == SAMPLES and len(lengths) == report["stream"]["blocks"]
            jitter = 1 if layout == "gui" else 0
            assert all(abs(length - 697) <= jitter for length in lengths[:-1]), lengths
            assert report["stream"]["ttl_events_in"] == stimulus.ttl_count
            assert report["stream"]["spikes_in"] == stimulus.spike_count
            found[version, layout] = lengths_file
    return found


def channel_major(path: Path) -> list[list[bytes]]:
    """Per channel, the float32 samples as 4-byte strings (bit-exact comparison, NaN included)."""
    data = path.read_bytes()
    rows: list[list[bytes]] = [[] for _ in range(CHANNELS)]
    offset = 0
    while offset < len(data):
        count = min(CHUNK, (len(data) - offset) // 4 // CHANNELS)
        for row in rows:
            row.extend(data[offset + 4 * i : offset + 4 * i + 4] for i in range(count))
            offset += 4 * count
    return rows


def first_difference(ours: Path, reference: Path, lengths: list[int]) -> str | None:
    if ours.read_bytes() == reference.read_bytes():
        return None
    ours_rows, reference_rows = channel_major(ours), channel_major(reference)
    for channel, (mine, theirs) in enumerate(zip(ours_rows, reference_rows)):
        if len(mine) != len(theirs):
            return f"channel {channel}: {len(mine)} samples vs the reference's {len(theirs)}"
        for sample, (a, b) in enumerate(zip(mine, theirs)):
            if a != b:
                block, start = 0, 0
                while start + lengths[block] <= sample:
                    start += lengths[block]
                    block += 1
                [value], [expected] = struct.unpack("<f", a), struct.unpack("<f", b)
                return (
                    f"channel {channel}, sample {sample} (block {block}, offset {sample - start}): "
                    f"{value!r} vs the reference's {expected!r}"
                )
    return None


def records(path: Path) -> list[Any]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()] if path.exists() else []


def is_subsequence(lines: list[str], within: list[str]) -> bool:
    remaining = iter(within)
    return all(any(line == candidate for candidate in remaining) for line in lines)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", CORPUS)
def test_host_equals_the_reference(
    name: str,
    version: str,
    layout: str,
    stimulus: Stimulus,
    block_lengths: dict[tuple[str, str], Path],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    if (name, layout) in KNOWN_DIFFERENCES:
        request.applymarker(pytest.mark.xfail(strict=True, reason=KNOWN_DIFFERENCES[name, layout]))
    home = home_for(version)
    script = stimulus.corpus / f"{name}.py"
    lengths_file = block_lengths[version, layout]

    reference_output, reference_record = tmp_path / "reference.f32", tmp_path / "reference.jsonl"
    reference_events = tmp_path / "reference-events.json"
    command = [
        str(home / "bin" / "python"),
        "-X",
        "utf8",
        "-B",
        str(HERE / "reference.py"),
        "--script",
        str(script),
        "--input",
        str(stimulus.input),
        "--channels",
        str(CHANNELS),
        "--chunk",
        str(CHUNK),
        "--sample-rate",
        str(SAMPLE_RATE),
        "--blocks-file",
        str(lengths_file),
        "--events",
        str(stimulus.events),
        "--output",
        str(reference_output),
        "--events-out",
        str(reference_events),
    ]
    ours_output, ours_record = tmp_path / "host.f32", tmp_path / "host.jsonl"
    # The reference runs while the host does (two processes, two cores).
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=run_env(reference_record, stimulus)
    ) as reference:
        report = run_host(script, home, stimulus, ours_output, run_env(ours_record, stimulus), layout)
        stdout, stderr = reference.communicate(timeout=120)
    assert reference.returncode == 0, stderr.decode("utf-8", "replace")
    reference_stdout = stdout.decode("utf-8", "replace")
    [instance] = report["instances"]
    assert report["errors"] == [] and not instance["faulted"], report["errors"]
    paths = instance["data_path"]
    if layout != "zero-copy":
        assert paths["staging"] == report["stream"]["blocks"], paths
    else:  # a script that keeps nothing gets zero-copy views (after the bridge's first blocks, if it waits)
        assert paths["staging"] + paths["view"] == report["stream"]["blocks"], paths
        assert paths["view"] > 0 or name in KEEPS, paths

    lengths = json.loads(lengths_file.read_text())
    difference = first_difference(ours_output, reference_output, lengths)
    assert difference is None, f"{name} on {version} ({layout}): the output differs at {difference}"

    ours_events = [
        {k: event[k] for k in ("sample_number", "line", "state")} for event in instance["events_emitted"]
    ]
    assert instance["events_emitted_count"] == len(ours_events)
    assert ours_events == json.loads(reference_events.read_text())

    assert records(ours_record) == records(reference_record)

    printed = [line for line in reference_stdout.splitlines() if line.strip()]
    assert is_subsequence(printed, report["_stderr"].splitlines()), (printed, report["_stderr"])

    produced = {
        "output": stimulus.input.read_bytes() != ours_output.read_bytes(),
        "events": bool(ours_events),
        "records": bool(records(ours_record)),
        "printed": bool(printed),
    }
    assert {kind for kind, present in produced.items() if present} == CORPUS[name]
