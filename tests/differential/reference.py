"""A reference runner: calls a processor script the way the upstream Python Processor plugin does.

Run by the Python Home itself (`<home>/bin/python -X utf8 reference.py ...`), never by the project's venv.
What it reproduces, from upstream's PythonProcessor.cpp (read for facts, nothing copied):

- the script's folder is appended to `sys.path` and the script is imported *by its file stem*; an
  embedded `oe_pyprocessor` module provides the handle type with `add_python_event(line, state)`;
- `PyProcessor(processor, num_channels, sample_rate)`; `start_acquisition`/`stop_acquisition` and the event
  handlers are called only when `hasattr` finds them, checked on every call;
- per block: the block's TTL events and spikes are handed to the script first (`checkForEvents` before
  the data), a spike as a new float32 (channels, samples) array; then a *new* float32 C-contiguous
  (channels, samples) array is filled from the buffer, `process` is looked up and called with it, and the
  array is copied back into the buffer;
- `add_python_event` queues an event only while acquisition runs; after `process`, every queued event is
  emitted at the block's first sample, in the order queued.

Upstream's interpreter is not isolated: `PYTHONPATH` comes first on `sys.path` and, under the C locale,
Python's UTF-8 mode turns itself on (PEP 540): `-X utf8` here gives the same under `LC_ALL=C`.

The GUI counts as acquiring from the moment `start_acquisition` is called (its play button's state is set
before the processors are told): events added there are emitted with the first block, events added in
`__init__` are dropped. The block partition is given (`--blocks-file`, measured from the host) rather than
produced by an audio device.

Input and output use the host's formats (plugin/host/README.md): float32 channel-major chunks, the text
events file (TTL lines and `spike` lines). Emitted events are written as JSON
(`[{"sample_number", "line", "state"}]`).
"""

from __future__ import annotations

import argparse
import importlib
import json
import shlex
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class TtlEvent:
    sample_number: int
    line: int
    state: bool


@dataclass(frozen=True)
class Spike:
    sample_number: int
    source_node: int
    electrode: str
    num_channels: int
    num_samples: int
    sorted_id: int
    values: tuple[float, ...]


def read_input(path: Path, channels: int, chunk: int) -> np.ndarray:
    """The host's raw input: float32 channel-major chunks of `chunk` samples (the last may be shorter)."""
    raw = np.fromfile(path, dtype="<f4")
    rows: list[list[np.ndarray]] = [[] for _ in range(channels)]
    offset = 0
    while offset < raw.size:
        count = min(chunk, (raw.size - offset) // channels)
        for channel in range(channels):
            rows[channel].append(raw[offset : offset + count])
            offset += count
    return np.array([np.concatenate(row) for row in rows], dtype=np.float32)


def write_output(path: Path, data: np.ndarray, chunk: int) -> None:
    with path.open("wb") as stream:
        for start in range(0, data.shape[1], chunk):
            stream.write(np.ascontiguousarray(data[:, start : start + chunk], dtype="<f4").tobytes())


def read_events(path: Path) -> list[TtlEvent | Spike]:
    """The host's text events file; delivered in sample order, a TTL event first at equal samples."""
    events: list[TtlEvent | Spike] = []
    for line in path.read_text().splitlines():
        fields = shlex.split(line, comments=True)
        if not fields:
            continue
        if fields[0] == "spike":
            sample, source, electrode, channels, samples, sorted_id = fields[1:7]
            values = tuple(float(value) for value in fields[7:])
            events.append(
                Spike(
                    int(sample), int(source), electrode, int(channels), int(samples), int(sorted_id), values
                )
            )
        else:
            events.append(TtlEvent(int(fields[0]), int(fields[1]), fields[2] == "1"))
    return sorted(events, key=lambda event: (event.sample_number, isinstance(event, Spike)))


class ReferenceHandle:
    """What upstream's `oe_pyprocessor.PythonProcessor` gives the script: add_python_event(line, state)."""

    def __init__(self) -> None:
        self.acquiring = False
        self.queue: list[tuple[int, bool]] = []

    def add_python_event(self, line: int, state: bool) -> None:
        if self.acquiring:
            self.queue.append((int(line), bool(state)))


def import_by_stem(script: Path) -> types.ModuleType:
    module = types.ModuleType("oe_pyprocessor")
    module.PythonProcessor = ReferenceHandle  # type: ignore[attr-defined]
    sys.modules["oe_pyprocessor"] = module
    sys.path.append(str(script.parent))
    return importlib.import_module(script.stem)


def call_if_present(processor: Any, name: str, *args: Any) -> None:
    if hasattr(processor, name):
        getattr(processor, name)(*args)


def run(args: argparse.Namespace) -> None:
    script = Path(args.script).resolve()
    data = read_input(Path(args.input), args.channels, args.chunk)
    block_sizes: list[int] = json.loads(Path(args.blocks_file).read_text())
    events = read_events(Path(args.events)) if args.events else []
    module = import_by_stem(script)
    handle = ReferenceHandle()
    processor = module.PyProcessor(handle, args.channels, float(args.sample_rate))
    handle.acquiring = True
    call_if_present(processor, "start_acquisition")
    emitted: list[dict[str, Any]] = []
    start = 0
    next_event = 0
    for size in block_sizes:
        end = start + size
        while next_event < len(events) and events[next_event].sample_number < end:
            event = events[next_event]
            next_event += 1
            if event.sample_number < start:
                continue
            if isinstance(event, TtlEvent):
                if hasattr(processor, "handle_ttl_event"):
                    processor.handle_ttl_event(
                        args.source_node, "TTL", event.sample_number, event.line, event.state
                    )
            else:
                waveform = np.array(event.values, dtype=np.float32).reshape(
                    event.num_channels, event.num_samples
                )
                call_if_present(
                    processor,
                    "handle_spike",
                    event.source_node,
                    event.electrode,
                    event.num_channels,
                    event.num_samples,
                    event.sample_number,
                    event.sorted_id,
                    waveform,
                )
        block = np.empty((args.channels, size), dtype=np.float32)
        block[:] = data[:, start:end]
        processor.process(block)
        data[:, start:end] = block
        emitted += [{"sample_number": start, "line": line, "state": state} for line, state in handle.queue]
        handle.queue.clear()
        start = end
    call_if_present(processor, "stop_acquisition")
    handle.acquiring = False
    write_output(Path(args.output), data[:, :start], args.chunk)
    Path(args.events_out).write_text(json.dumps(emitted))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--script", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--channels", type=int, required=True)
    parser.add_argument("--chunk", type=int, required=True)
    parser.add_argument("--sample-rate", type=float, required=True)
    parser.add_argument("--blocks-file", required=True, help="JSON list of the block lengths, in order")
    parser.add_argument("--events", help="the host's text events file")
    parser.add_argument(
        "--source-node", type=int, default=100, help="source node of TTL events (host's default)"
    )
    parser.add_argument("--output", required=True)
    parser.add_argument("--events-out", required=True)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
