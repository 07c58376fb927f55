"""Spikes into the host: 100,000 spikes of a recording through `oe-pyproc run --recording`'s path (decode the
recording, write the events for the host, run the host, which reads them and calls handle_spike), via the
binary event stream vs the text path, in the same run. Prints a table of ratios; asserts nothing.

Rows (best of REPEATS, wall seconds):
- floor: the same recording with its spikes left out (everything but the spikes' cost);
- binary: what `run` does (plugin/host/README.md, "Binary events");
- text: the text events file (one line per spike, every waveform value printed).
The spike cost of each path is its time minus the floor's; the table gives both ratios.

    python benchmarks/spike_stream.py --host build/native/oe-pyproc-host --python-home build/run/home-py310
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from oe_pyproc_setup.hostfind import FoundHost
from oe_pyproc_setup.recording import Channel, RecordingWriter, SpikeChannel, Stream
from oe_pyproc_setup.run.host import run_host
from oe_pyproc_setup.run.output import OutputSink
from oe_pyproc_setup.run.plan import Plan, RunOptions, gui_block_size
from oe_pyproc_setup.run.session import make_source
from oe_pyproc_setup.script_check import check_script

SPIKES = 100_000
ELECTRODES = 4  # tetrodes: 4 channels × 40 samples per spike
SPIKE_CHANNELS, SPIKE_SAMPLES = 4, 40
CHANNELS = 16
SECONDS = 60.0
SAMPLE_RATE = 30000.0
BIT_VOLTS = 0.195
REPEATS = 3
COUNTING_SCRIPT = """class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        self.spikes = 0

    def process(self, data):
        pass

    def handle_spike(self, source_node, electrode_name, num_channels, num_samples, sample_number, sorted_id,
                     spike_data):
        self.spikes += 1
"""


def make_recording(folder: Path, with_spikes: bool, seed: int = 1) -> Path:
    """A 16-channel recording of SECONDS, with SPIKES tetrode spikes over ELECTRODES electrodes or none."""
    samples = round(SECONDS * SAMPLE_RATE)
    rng = np.random.default_rng(seed)
    template = Stream(
        folder_name="Neuropix-PXI-100.ProbeA-AP",
        stream_name="ProbeA-AP",
        source_processor_name="Neuropix-PXI",
        source_processor_id=100,
        sample_rate=SAMPLE_RATE,
        channels=[Channel(name=f"CH{c + 1}", bit_volts=BIT_VOLTS) for c in range(CHANNELS)],
        samples=np.zeros((0, CHANNELS), dtype=np.int16),
        sample_numbers=np.arange(samples, dtype=np.int64),
        timestamps=None,
    )
    writer = RecordingWriter(folder, template)
    for start in range(0, samples, 1 << 16):
        stop = min(samples, start + (1 << 16))
        block = rng.normal(0.0, 20.0, size=(CHANNELS, stop - start)).astype(np.float32)
        writer.append_block(block, np.arange(start, stop), np.arange(start, stop) / SAMPLE_RATE)
    if with_spikes:
        for electrode in range(ELECTRODES):
            count = SPIKES // ELECTRODES
            name = f"Tetrode {electrode + 1}"
            writer.add_spikes(
                SpikeChannel(
                    name=name,
                    source_processor_id=104,
                    folder=f"Spike_Detector-104.ProbeA-AP.Tetrode_{electrode + 1}",
                    sample_numbers=np.sort(rng.integers(0, samples, size=count)).astype(np.int64),
                    waveforms=rng.integers(-400, 400, size=(count, SPIKE_CHANNELS, SPIKE_SAMPLES)).astype(
                        "<i2"
                    ),
                    sorted_ids=rng.integers(0, 5, size=count).astype(np.int64),
                    bit_volts=np.full(SPIKE_CHANNELS, BIT_VOLTS),
                    entry={
                        "name": name,
                        "stream_name": "ProbeA-AP",
                        "sample_rate": SAMPLE_RATE,
                        "source_processor_id": 104,
                        "num_channels": SPIKE_CHANNELS,
                        "source_channels": [{"bit_volts": BIT_VOLTS} for _ in range(SPIKE_CHANNELS)],
                    },
                )
            )
    return writer.close().directory


def timed_run(recording: Path, script: Path, host: Path, home: Path, events_format: str) -> tuple[float, int]:
    """One run as `oe-pyproc run --recording` does it, from opening the recording to the host's report."""
    start = time.perf_counter()
    source = make_source(RunOptions(script=script, recording=recording))
    plan = Plan(
        script=script,
        check=check_script(script),
        host=FoundHost(host, "--host"),
        python_home=home,
        source=source,
        recording=recording,
        block=gui_block_size(source.sample_rate),
        instances=1,
        gui_root=None,
        api=10,
        output_dir=None,
        plot_path=None,
        spikes=[records for records in source.relative_spikes() if len(records)],
    )
    result = run_host(plan, OutputSink(plan, None), show_progress=False, events_format=events_format)
    elapsed = time.perf_counter() - start
    if result.exit_code != 0 or result.report is None:
        sys.exit(f"the host failed ({events_format}): {result.stderr[-2000:]}")
    return elapsed, int(result.report.raw["stream"]["spikes_in"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", type=Path, required=True)
    parser.add_argument("--python-home", type=Path, required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="oe-pyproc-spike-bench-") as temp:
        folder = Path(temp)
        script = folder / "count_spikes.py"
        script.write_text(COUNTING_SCRIPT)
        with_spikes = make_recording(folder / "spikes", with_spikes=True)
        without = make_recording(folder / "plain", with_spikes=False)
        best: dict[str, float] = {}
        delivered: dict[str, int] = {}
        for _ in range(REPEATS):
            for name, recording, events_format in (
                ("floor", without, "binary"),
                ("binary", with_spikes, "binary"),
                ("text", with_spikes, "text"),
            ):
                elapsed, spikes = timed_run(
                    recording, script, args.host.absolute(), args.python_home, events_format
                )
                best[name] = min(best.get(name, elapsed), elapsed)
                delivered[name] = spikes
    if delivered["binary"] != SPIKES or delivered["text"] != SPIKES:
        sys.exit(f"spikes delivered: {delivered} (expected {SPIKES})")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"Spikes into the host: {SPIKES} spikes ({ELECTRODES} electrodes, {SPIKE_CHANNELS} ch × "
        f"{SPIKE_SAMPLES} samples) in a {CHANNELS}-channel {SECONDS:g} s recording, run --recording's path, "
        f"best of {REPEATS}; load average {load:.1f}"
    )
    header = f"{'path':<34} {'wall s':>8} {'/ floor':>8} {'spike cost s':>13} {'cost / binary':>14}"
    print(header)
    print("-" * len(header))
    binary_cost = best["binary"] - best["floor"]
    for name, label in (
        ("floor", "floor: same recording, no spikes"),
        ("binary", "binary event stream (run's)"),
        ("text", "text events file"),
    ):
        cost = best[name] - best["floor"]
        cost_ratio = "-" if name == "floor" or binary_cost <= 0 else f"{cost / binary_cost:.1f}"
        ratio = best[name] / best["floor"]
        print(f"{label:<34} {best[name]:>8.3f} {ratio:>8.2f} {cost:>13.3f} {cost_ratio:>14}")
    print(f"text / binary, whole run: {best['text'] / best['binary']:.2f}×")


if __name__ == "__main__":
    main()
