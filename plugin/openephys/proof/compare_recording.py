"""Compare a GUI recording of File Reader -> Python Processor(s) -> Record Node with the same scripts run
offline on the File Reader's source data (numpy + scipy, no GUI).

The File Reader plays its int16 source (channel-interleaved ``continuous.dat`` scaled by ``bit_volts``)
from sample 0 and loops it; the processors' state starts with acquisition. So the offline input for
acquisition sample ``n`` is ``source[n % length] * bit_volts`` as float32, where ``n`` is the recording's
first sample number plus the position in the recording (the File Reader's own numbers step back when it
loops, so start recording together with acquisition, before the first loop), and each script's
``PyProcessor`` processes the whole span from sample 0 to the last recorded sample in one call (the
block-wise GUI output of a stateful filter equals the whole-signal output). The Record Node stores
``round(x / bit_volts)`` as int16, so agreement within one least significant bit is exact agreement.

Usage (see plugin/openephys/README.md):
    python compare_recording.py --recording REC_DIR --source-dat DAT --source-channels 16 \\
        --source-bit-volts 0.05 --sample-rate 40000 --script bandpass.py [--script bandpass.py ...]

Exit status: 0 when every recorded sample is within --tolerance-lsb of the offline result, 1 otherwise,
2 on bad input.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np


class _OfflineProcessorHandle:
    """Stands in for the plugin's ``processor`` argument; output events are collected, not sent."""

    def __init__(self) -> None:
        self.events: list[tuple[int, bool, int]] = []

    def add_python_event(self, line: int, state: bool, offset: int = 0) -> None:
        self.events.append((line, bool(state), offset))


def _load_processor_class(path: Path, index: int) -> Any:
    spec = importlib.util.spec_from_file_location(f"_offline_script_{index}", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PyProcessor


def _recorded_ttl(
    recording_dir: Path, identifier: str, numbers: np.ndarray, first: int
) -> list[tuple[int, int, bool]]:
    """(acquisition sample, line, state) of every TTL event on channels with this identifier.

    Events carry the File Reader's sample numbers, which repeat after it loops; in file order each event
    maps to the first recorded position at or after the previous event's with its number.
    """
    positions: dict[int, list[int]] = {}
    for position, number in enumerate(numbers.tolist()):
        positions.setdefault(int(number), []).append(position)
    structure = json.loads((recording_dir / "structure.oebin").read_text())
    found: list[tuple[int, int, bool]] = []
    for channel in structure.get("events", []):
        if channel.get("identifier") != identifier:
            continue
        folder = recording_dir / "events" / channel["folder_name"]
        samples = np.load(folder / "sample_numbers.npy")
        states = np.load(folder / "states.npy")
        previous = 0
        for sample, state in zip(samples.tolist(), states.tolist()):
            later = [p for p in positions.get(int(sample), []) if p >= previous]
            if not later:
                continue  # outside the recorded span
            previous = later[0]
            found.append((first + previous, abs(int(state)) - 1, int(state) > 0))
    return sorted(found)


def _find_stream(recording: Path) -> tuple[Path, dict[str, Any]]:
    """The recording folder holding structure.oebin, and its first continuous stream."""
    candidates = sorted(recording.rglob("structure.oebin"))
    if not candidates:
        raise SystemExit(f"no structure.oebin under {recording}")
    if len(candidates) > 1:
        names = ", ".join(str(c.parent) for c in candidates)
        raise SystemExit(f"several recordings under {recording} ({names}): name one")
    oebin = candidates[0]
    structure = json.loads(oebin.read_text())
    streams = structure.get("continuous", [])
    if not streams:
        raise SystemExit(f"{oebin} lists no continuous stream")
    return oebin.parent, streams[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recording", type=Path, required=True, help="the recording (or a folder above it)")
    parser.add_argument("--source-dat", type=Path, required=True, help="the File Reader's continuous.dat")
    parser.add_argument("--source-channels", type=int, required=True)
    parser.add_argument("--source-bit-volts", type=float, required=True)
    parser.add_argument("--sample-rate", type=float, required=True)
    parser.add_argument("--script", type=Path, action="append", required=True, help="in chain order")
    parser.add_argument(
        "--loop-samples",
        type=int,
        help="samples the File Reader plays before it loops (default: the whole source); a chain loaded "
        "from XML stores the stop time in whole milliseconds, e.g. 199960 instead of 199974 at 40 kHz",
    )
    parser.add_argument("--tolerance-lsb", type=float, default=1.0)
    parser.add_argument(
        "--events-identifier",
        help="also compare the TTL events the scripts sent (channels with this identifier, e.g. "
        "pythonprocessor.ttl) with the ones they send offline",
    )
    args = parser.parse_args(argv)

    for path in [args.source_dat, *args.script]:
        if not path.is_file():
            print(f"error: {path} is not a file", file=sys.stderr)
            return 2
    recording_dir, stream = _find_stream(args.recording)
    folder = recording_dir / "continuous" / stream["folder_name"]
    num_channels = int(stream["num_channels"])
    bit_volts = np.array([float(c["bit_volts"]) for c in stream["channels"]])
    recorded = np.fromfile(folder / "continuous.dat", dtype="<i2").reshape(-1, num_channels).T
    sample_numbers = np.load(folder / "sample_numbers.npy")

    source = np.fromfile(args.source_dat, dtype="<i2").reshape(-1, args.source_channels).T
    if num_channels != args.source_channels:
        print(f"error: recording has {num_channels} channels, source {args.source_channels}", file=sys.stderr)
        return 2
    # The File Reader numbers samples by file position: when it loops, the numbers step back by the
    # source length (at the end of the block that crossed it). Any other step means samples were lost.
    loop = args.loop_samples or source.shape[1]
    if not 0 < loop <= source.shape[1]:
        print(f"error: --loop-samples must be 1..{source.shape[1]}", file=sys.stderr)
        return 2
    steps = np.diff(sample_numbers)
    if np.any((steps != 1) & (steps != 1 - loop)):
        print(
            "error: the recording's sample numbers have gaps (lost samples, or the File Reader loops "
            "before the end of the source: see --loop-samples)",
            file=sys.stderr,
        )
        return 2
    first = int(sample_numbers[0])
    last = first + recorded.shape[1] - 1  # acquisition sample of the last recorded sample
    span = np.arange(0, last + 1) % loop
    data = np.ascontiguousarray(source[:, span].astype(np.float32) * np.float32(args.source_bit_volts))

    offline_events: list[tuple[int, int, bool]] = []
    for index, script in enumerate(args.script):
        handle = _OfflineProcessorHandle()
        processor_class = _load_processor_class(script, index)
        processor = processor_class(handle, num_channels, args.sample_rate)
        if hasattr(processor, "start_acquisition"):
            processor.start_acquisition()
        processor.process(data)
        # One block from sample 0: an event's offset is its sample number.
        offline_events += [(offset, line, state) for line, state, offset in handle.events]

    expected = data[:, first : last + 1]
    got = recorded.astype(np.float64) * bit_volts[:, None]
    diff_lsb = np.abs(got - expected) / bit_volts[:, None]
    worst = float(diff_lsb.max())
    signal_rms = float(np.sqrt(np.mean(expected.astype(np.float64) ** 2)))
    input_rms = float(np.sqrt(np.mean(source.astype(np.float64) ** 2)) * args.source_bit_volts)
    within = worst <= args.tolerance_lsb
    events: dict[str, Any] = {}
    if args.events_identifier:
        recorded_events = _recorded_ttl(recording_dir, args.events_identifier, sample_numbers, first)
        expected_events = sorted(e for e in offline_events if first <= e[0] <= last)
        events = {
            "ttl_recorded": len(recorded_events),
            "ttl_offline": len(expected_events),
            "ttl_identical": recorded_events == expected_events,
            "ttl_first": recorded_events[:3],
        }
        within = within and recorded_events == expected_events and len(expected_events) > 0
    print(
        json.dumps(
            {
                "recording": str(folder),
                "channels": num_channels,
                "first_sample": first,
                "last_sample": last,
                "samples_compared": int(expected.shape[1]),
                "seconds_compared": expected.shape[1] / args.sample_rate,
                "loop_samples": loop,
                "max_abs_diff_lsb": worst,
                "mean_abs_diff_lsb": float(diff_lsb.mean()),
                "fraction_exact": float(np.mean(diff_lsb < 0.5)),
                "output_rms_uv": signal_rms,
                "input_rms_uv": input_rms,
                "scripts": [str(s) for s in args.script],
                **events,
                "within_tolerance": within,
            },
            indent=2,
        )
    )
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
