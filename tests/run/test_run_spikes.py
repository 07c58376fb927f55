"""`oe-pyproc run` with spikes (a recording's spikes/ folders, the synthetic input's spikes), the recording's
own sample numbering in the script, and --plot's per-block histogram."""

from __future__ import annotations

import json
import struct
import subprocess
import textwrap
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from open_ephys.analysis import Session

from .conftest import MadeRecording, cli_command, copy_template

FIRST = 123456


@dataclass
class MadeSpikes:
    name: str
    stream_name: str
    sample_numbers: np.ndarray  # int64
    waveforms: np.ndarray  # int16 (n, channels, samples) as stored
    clusters: np.ndarray
    bit_volts: float


def add_spikes(made: MadeRecording, electrodes: list[MadeSpikes]) -> None:
    """Spike folders and "spikes" entries as the GUI's Record Node writes them (published Binary format)."""
    oebin_path = made.folder / "structure.oebin"
    oebin = json.loads(oebin_path.read_text())
    for index, spikes in enumerate(electrodes):
        folder = f"Spike_Detector-104.{spikes.stream_name}.{spikes.name.replace(' ', '_')}"
        target = made.folder / "spikes" / folder
        target.mkdir(parents=True)
        count, channels = spikes.waveforms.shape[:2]
        np.save(target / "waveforms.npy", spikes.waveforms.astype("<i2"))
        np.save(target / "sample_numbers.npy", spikes.sample_numbers.astype("<i8"))
        np.save(target / "timestamps.npy", spikes.sample_numbers / 30000.0)
        np.save(target / "clusters.npy", spikes.clusters.astype("<u2"))
        np.save(target / "electrode_indices.npy", np.full(count, index, dtype="<u2"))
        oebin["spikes"].append(
            {
                "folder": folder + "/",
                "sample_rate": 30000.0,
                "source_processor_name": "Spike Detector",
                "source_processor_id": 104,
                "stream_name": spikes.stream_name,
                "name": spikes.name,
                "description": "spike detector output",
                "identifier": "spikes",
                "num_channels": channels,
                "pre_peak_samples": 8,
                "post_peak_samples": spikes.waveforms.shape[2] - 8,
                "source_channels": [
                    {"name": f"CH{c + 1}", "local_index": c, "bit_volts": spikes.bit_volts}
                    for c in range(channels)
                ],
            }
        )
    oebin_path.write_text(json.dumps(oebin, indent=2))


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli_command("run", *args), capture_output=True, text=True, timeout=300)


def host_args(host_path: Path, test_home: Path) -> list[str]:
    return ["--host", str(host_path), "--python-home", str(test_home)]


def spike_recording(make_recording, rng: np.random.Generator) -> tuple[MadeRecording, list[MadeSpikes]]:  # type: ignore[no-untyped-def]
    made = make_recording(
        channels=4, samples=60000, first_sample=FIRST, ttl=[(100, 0, True), (30000, 0, False)],
        streams=("ProbeA-AP", "ProbeA-LFP"),
    )  # fmt: skip
    tetrode = MadeSpikes(
        name="Tetrode 1",
        stream_name="ProbeA-AP",
        sample_numbers=np.sort(rng.choice(np.arange(FIRST, FIRST + 60000), 37, replace=False)),
        waveforms=rng.integers(-2000, 2000, size=(37, 4, 40)).astype(np.int16),
        clusters=rng.integers(0, 4, size=37),
        bit_volts=0.195,
    )
    # A spike on the first sample, on a sample that is also a TTL event, and on the last one.
    single_numbers = np.array([FIRST, FIRST + 100, FIRST + 697, FIRST + 59999], dtype=np.int64)
    single = MadeSpikes(
        name='SE "1"',
        stream_name="ProbeA-AP",
        sample_numbers=single_numbers,
        waveforms=rng.integers(-100, 100, size=(4, 1, 40)).astype(np.int16),
        clusters=np.array([0, 1, 2, 0]),
        bit_volts=0.5,
    )
    other_stream = MadeSpikes(
        name="LFP electrode",
        stream_name="ProbeA-LFP",
        sample_numbers=np.array([FIRST + 5], dtype=np.int64),
        waveforms=np.ones((1, 1, 40), dtype=np.int16),
        clusters=np.zeros(1, dtype=np.int64),
        bit_volts=0.195,
    )
    add_spikes(made, [tetrode, single, other_stream])
    return made, [tetrode, single]


SPIKE_LOG = """
import json

class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.position = None
        self.pending = []
        self.log = []

    def handle_ttl_event(self, source_node, channel, sample_number, line, state):
        self.pending.append(["ttl", sample_number, line, bool(state)])

    def handle_spike(self, source_node, electrode_name, num_channels, num_samples, sample_number, sorted_id,
                     spike_data):
        self.pending.append(["spike", sample_number, source_node, electrode_name, num_channels, num_samples,
                             sorted_id, spike_data.tolist()])

    def process(self, data):
        if self.position is None:
            self.position = {first}
        for entry in self.pending:
            entry.append(self.position <= entry[1] < self.position + data.shape[1])  # in this block
        self.log.extend(self.pending)
        self.pending = []
        self.position += data.shape[1]

    def stop_acquisition(self):
        with open({out!r}, "w") as stream:
            json.dump(self.log, stream)
"""


def test_a_recordings_spikes_reach_handle_spike_as_the_official_reader_reads_them(  # type: ignore[no-untyped-def]
    host_path: Path, test_home: Path, make_recording, tmp_path: Path
) -> None:
    made, electrodes = spike_recording(make_recording, np.random.default_rng(3))
    log = tmp_path / "log.json"
    script = tmp_path / "spike_log.py"
    script.write_text(textwrap.dedent(SPIKE_LOG.format(first=FIRST, out=str(log))))
    result = run_cli(str(script), *host_args(host_path, test_home), "--recording", str(made.folder), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["input"]["spikes"] == 41 and document["input"]["first_sample_number"] == FIRST
    assert document["report"]["stream"]["spikes_in"] == 41
    assert not any("handle_spike" in limit or "sample number" in limit for limit in document["limits"])

    seen = json.loads(log.read_text())
    assert all(entry[-1] is True for entry in seen), "an event came with the wrong block"
    numbers = [entry[1] for entry in seen]
    assert numbers == sorted(numbers)
    # The TTL event and the spike on the same sample: the TTL event first.
    assert [entry[0] for entry in seen if entry[1] == FIRST + 100] == ["ttl", "spike"]
    assert [entry[1] for entry in seen if entry[0] == "ttl"] == [FIRST + 100, FIRST + 30000]

    # Every spike exactly as the official reader decodes it (its waveforms in µV, float64).
    recording = Session(str(made.session)).recordnodes[0].recordings[0]
    official = {spikes.metadata.name: spikes for spikes in recording.spikes}
    got = [entry for entry in seen if entry[0] == "spike"]
    for made_spikes in electrodes:
        reference = official[made_spikes.name]
        mine = [entry for entry in got if entry[3] == made_spikes.name]
        assert [entry[1] for entry in mine] == reference.sample_numbers.tolist()
        assert [entry[6] for entry in mine] == reference.clusters.tolist()
        channels, samples = made_spikes.waveforms.shape[1:]
        assert all(entry[2] == 104 and entry[4:6] == [channels, samples] for entry in mine)
        waveforms = np.array([entry[7] for entry in mine], dtype=np.float64)
        assert np.allclose(waveforms, reference.waveforms, rtol=1e-6)
    assert len(got) == 41  # the other stream's electrode is not this stream's


def test_spike_rate_template_counts_the_recordings_spikes(  # type: ignore[no-untyped-def]
    host_path: Path, test_home: Path, make_recording, tmp_path: Path
) -> None:
    made, electrodes = spike_recording(make_recording, np.random.default_rng(4))
    script = copy_template("spike_rate", tmp_path)
    with script.open("a") as stream:  # report what it counted when acquisition stops
        stream.write(
            "\n\n_Counted = PyProcessor\n\n\nclass PyProcessor(_Counted):\n"
            "    def stop_acquisition(self):\n"
            "        print('TOTALS', sorted(self.total_spikes.items()), flush=True)\n"
        )
    result = run_cli(str(script), *host_args(host_path, test_home), "--recording", str(made.folder), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    totals = next(line for line in document["host_output"].splitlines() if line.startswith("TOTALS"))
    assert totals == f"TOTALS {sorted((e.name, len(e.sample_numbers)) for e in electrodes)}"


def test_synthetic_spikes_reach_handle_spike(host_path: Path, test_home: Path, tmp_path: Path) -> None:
    log = tmp_path / "log.json"
    script = tmp_path / "spike_log.py"
    script.write_text(textwrap.dedent(SPIKE_LOG.format(first=0, out=str(log))))
    result = run_cli(str(script), *host_args(host_path, test_home), "--seconds", "2", "--channels", "4")
    assert result.returncode == 0, result.stderr
    assert "Input:  synthetic (seeded), 4 ch at 30000 Hz, 2.00 s, 6 TTL events, 10 spikes" in result.stdout
    assert "handle_spike() was not called" not in result.stdout
    spikes = [entry for entry in json.loads(log.read_text()) if entry[0] == "spike"]
    # A dip every 0.2 s, on channels 1, 2, 3, 4, 1, … in turn.
    assert [entry[1] for entry in spikes] == list(range(0, 60000, 6000))
    assert Counter(entry[3] for entry in spikes) == {"Electrode 1": 3, "Electrode 2": 3, "Electrode 3": 2,
                                                     "Electrode 4": 2}  # fmt: skip
    assert all(entry[-1] is True and entry[2] == 101 and entry[4:7] == [1, 40, 0] for entry in spikes)
    waveform = np.array(spikes[0][7][0])
    assert waveform[:8].tolist() == [0.0] * 8 and waveform.min() < -100  # the 1 ms dip after 8 samples


def _png_text(path: Path) -> dict[str, str]:
    """The tEXt/zTXt/iTXt chunks of a PNG file."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    found, offset = {}, 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind, body = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]
        if kind == b"tEXt":
            key, value = body.split(b"\0", 1)
            found[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"zTXt":
            key, rest = body.split(b"\0", 1)
            found[key.decode("latin-1")] = zlib.decompress(rest[1:]).decode("latin-1")
        elif kind == b"iTXt":
            key, rest = body.split(b"\0", 1)
            compressed, rest = rest[0], rest[2:]
            text = rest.split(b"\0", 2)[2]
            found[key.decode()] = (zlib.decompress(text) if compressed else text).decode()
        offset += 12 + length
    return found


def test_plot_draws_the_histogram_of_every_block(host_path: Path, test_home: Path, tmp_path: Path) -> None:
    plot = tmp_path / "run.png"
    script = copy_template("processor", tmp_path)
    result = run_cli(
        str(script), *host_args(host_path, test_home), "--seconds", "3", "--plot", str(plot), "--json"
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)["report"]
    (instance,) = report["instances"]
    listed = instance["block_budget_percent"]
    assert len(listed) == instance["blocks_processed"] == report["stream"]["blocks"] > 128
    assert all(isinstance(value, float) and value > 0 for value in listed)
    # The histogram of every block, not the percentile bars of the summary.
    assert _png_text(plot)["Description"] == f"per-block time of {len(listed)} blocks vs the budget"


def test_inconsistent_spike_files_give_a_clear_error(  # type: ignore[no-untyped-def]
    host_path: Path, test_home: Path, make_recording, tmp_path: Path
) -> None:
    made, _ = spike_recording(make_recording, np.random.default_rng(5))
    folder = next((made.folder / "spikes").glob("*Tetrode_1"))
    np.save(folder / "clusters.npy", np.zeros(36, dtype="<u2"))  # one short of the 37 spikes
    script = copy_template("spike_rate", tmp_path)
    result = run_cli(str(script), *host_args(host_path, test_home), "--recording", str(made.folder))
    assert result.returncode == 1
    assert "the spike files of electrode 'Tetrode 1' do not fit together" in result.stderr
    assert "clusters.npy (36,)" in result.stderr and "Traceback" not in result.stderr
    (folder / "waveforms.npy").unlink()
    result = run_cli(str(script), *host_args(host_path, test_home), "--recording", str(made.folder))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"a spike file of electrode 'Tetrode 1' is missing: {folder / 'waveforms.npy'}" in result.stderr


def test_a_zero_bit_volts_recording_is_refused_by_run_before_anything_runs(  # type: ignore[no-untyped-def]
    make_recording, host_path: Path, test_home: Path, tmp_path: Path
) -> None:
    made = make_recording(samples=3000, channels=3, bit_volts=[0.195, 0.0, 0.195])
    script = copy_template("bandpass", tmp_path)
    output = tmp_path / "out"
    done = run_cli(
        str(script),
        "--recording",
        str(made.session),
        "--output",
        str(output),
        *host_args(host_path, test_home),
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "'bit_volts' is 0.0: it must be positive" in done.stderr and "channel 1" in done.stderr
    assert "Traceback" not in done.stderr and not output.exists()


def test_output_carries_the_inputs_spikes_as_the_official_reader_reads_them(  # type: ignore[no-untyped-def]
    host_path: Path, test_home: Path, make_recording, tmp_path: Path
) -> None:
    """--output, cut short by --seconds: the spikes of the processed range, as the official reader reads the
    input's (numbers, clusters, waveforms in µV, electrode names)."""
    made, _ = spike_recording(make_recording, np.random.default_rng(5))
    script = copy_template("processor", tmp_path)
    output = tmp_path / "out"
    result = run_cli(
        str(script),
        *host_args(host_path, test_home),
        "--recording",
        str(made.folder),
        "--output",
        str(output),
        "--seconds",
        "1.5",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    last = FIRST + 45000 - 1
    source = Session(str(made.session)).recordnodes[0].recordings[0]
    written = Session(str(output)).recordings[0]  # --output is a Record Node folder
    source_spikes = {s.metadata.name: s for s in source.spikes if s.metadata.stream_name == "ProbeA-AP"}
    written_spikes = {s.metadata.name: s for s in written.spikes}
    assert set(written_spikes) == set(source_spikes)
    total = 0
    for name, reference in source_spikes.items():
        keep = np.asarray(reference.sample_numbers) <= last
        mine = written_spikes[name]
        assert mine.sample_numbers.tolist() == np.asarray(reference.sample_numbers)[keep].tolist()
        assert mine.clusters.tolist() == np.asarray(reference.clusters)[keep].tolist()
        assert np.array_equal(mine.waveforms, reference.waveforms[keep])
        total += int(keep.sum())
    assert 0 < total < 41 and document["output"]["spikes"] == total


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (struct.pack("<II", 2, 0), "binary events version 2; this host reads version 1"),
        (struct.pack("<IIIQ", 1, 0, 7, 0), "unknown section kind 7"),
        (struct.pack("<IIIQ", 1, 0, 1, 5) + b"\0" * 12, "truncated (5 TTL events announced)"),
        (struct.pack("<IIIQiIII", 1, 0, 2, 3, 104, 1, 40, 2) + b"E1" + b"\0" * 30, "truncated (3 spikes"),
        (struct.pack("<IIIQiIII", 1, 0, 2, 1, 104, 0, 40, 0), "1..1024 channels"),
    ],
)
def test_a_damaged_binary_event_stream_is_an_input_error(
    payload: bytes, expected: str, host_path: Path, test_home: Path, tmp_path: Path
) -> None:
    events = tmp_path / "events.bin"
    events.write_bytes(b"OEPYEVNT" + payload)
    script = copy_template("processor", tmp_path)
    done = subprocess.run(
        [str(host_path), "--script", str(script), "--python-home", str(test_home), "--events", str(events)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 5 and expected in done.stderr + done.stdout, done.stderr
