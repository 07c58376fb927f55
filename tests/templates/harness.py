"""A small pure-Python stand-in for the plugin's call sequence, to run the templates without the native host.

Order per DESIGN §3: ``__init__``, ``start_acquisition``, then per block: that block's TTL events, then its
spikes, then ``process`` on a C-contiguous float32 (channels, samples) block modified in place;
``start_recording``/``stop_recording`` at chosen blocks; ``stop_acquisition``.
"""

from __future__ import annotations

import importlib.util
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

_module_counter = itertools.count()


def load_template(path: Path) -> ModuleType:
    """Load a script by file path under a unique module name, as the bridge does."""
    name = f"oe_pyproc_template_{path.stem}_{next(_module_counter)}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class SentEvent:
    block: int
    line: int
    state: bool
    offset: int
    sample: int  # absolute sample number: block start + offset


class FakeProcessor:
    """Records ``add_python_event`` calls and checks their arguments like the plugin does."""

    def __init__(self) -> None:
        self.events: list[SentEvent] = []
        self.block_index = -1
        self.block_start = 0
        self.block_samples = 0

    def add_python_event(self, line: int, state: bool, offset: int = 0) -> None:
        assert isinstance(line, int) and not isinstance(line, bool), f"line must be an int, got {line!r}"
        assert 0 <= line <= 255, f"line {line} outside 0-255"
        assert isinstance(offset, int) and not isinstance(offset, bool), f"offset must be an int: {offset!r}"
        assert self.block_index >= 0, "add_python_event outside a block"
        assert 0 <= offset < self.block_samples, f"offset {offset} outside the block of {self.block_samples}"
        self.events.append(SentEvent(self.block_index, line, bool(state), offset, self.block_start + offset))


@dataclass
class Ttl:
    sample: int
    line: int
    state: bool
    channel: str = "TTL"
    source_node: int = 100


@dataclass
class Spike:
    sample: int
    electrode: str
    sorted_id: int = 0
    source_node: int = 105
    waveform: Any = field(default_factory=lambda: np.zeros((4, 40), dtype=np.float32))


def call_optional(instance: Any, method: str, *args: Any) -> None:
    """Call one of the contract's optional methods if the script defines it, as the plugin does."""
    bound = getattr(instance, method, None)
    if bound is not None:
        bound(*args)


@dataclass
class Run:
    instance: Any
    processor: FakeProcessor
    output: np.ndarray
    block_starts: list[int]


def run_template(
    path: Path,
    data: np.ndarray,
    sample_rate: float,
    block_sizes: Iterable[int],
    ttl_events: Sequence[Ttl] = (),
    spikes: Sequence[Spike] = (),
    recording_dir: Path | None = None,
    record_blocks: tuple[int, int] = (0, -1),
    constants: dict[str, Any] | None = None,
) -> Run:
    """Feed `data` (channels, samples) through the template at `path` block by block.

    Events and spikes are delivered before the block that contains their sample. With `recording_dir`,
    recording starts before block ``record_blocks[0]`` and stops after block ``record_blocks[1]``
    (-1: after the last block). `constants` overrides the template's parameters (module constants).
    """
    module = load_template(path)
    for name, value in (constants or {}).items():
        assert hasattr(module, name), f"{path.name} has no parameter {name}"
        setattr(module, name, value)
    processor = FakeProcessor()
    num_channels, total = data.shape
    instance = module.PyProcessor(processor, num_channels, float(sample_rate))
    call_optional(instance, "start_acquisition")
    output = np.empty_like(data, dtype=np.float32)
    ttl_sorted = sorted(ttl_events, key=lambda event: event.sample)
    spikes_sorted = sorted(spikes, key=lambda spike: spike.sample)
    block_starts: list[int] = []
    start = 0
    index = 0
    recording = False
    sizes = iter(block_sizes)
    while start < total:
        size = min(next(sizes), total - start)
        end = start + size
        processor.block_index, processor.block_start, processor.block_samples = index, start, size
        if recording_dir is not None and index == record_blocks[0]:
            call_optional(instance, "start_recording", str(recording_dir))
            recording = True
        for event in ttl_sorted:
            if start <= event.sample < end:
                call_optional(
                    instance,
                    "handle_ttl_event",
                    event.source_node,
                    event.channel,
                    event.sample,
                    event.line,
                    event.state,
                )
        for spike in spikes_sorted:
            if start <= spike.sample < end:
                waveform = np.array(spike.waveform, dtype=np.float32)
                waveform.setflags(write=False)
                call_optional(
                    instance,
                    "handle_spike",
                    spike.source_node,
                    spike.electrode,
                    waveform.shape[0],
                    waveform.shape[1],
                    spike.sample,
                    spike.sorted_id,
                    waveform,
                )
        block = np.ascontiguousarray(data[:, start:end], dtype=np.float32)
        result = instance.process(block)
        assert result is None, "process must modify data in place and return nothing"
        assert block.dtype == np.float32 and block.shape == (num_channels, size)
        output[:, start:end] = block
        if recording and index == record_blocks[1]:
            call_optional(instance, "stop_recording")
            recording = False
        block_starts.append(start)
        start = end
        index += 1
    if recording:
        call_optional(instance, "stop_recording")
    processor.block_index = -1
    call_optional(instance, "stop_acquisition")
    return Run(instance, processor, output, block_starts)


def random_block_sizes(seed: int, low: int = 1, high: int = 1024) -> Iterable[int]:
    rng = np.random.default_rng(seed)
    while True:
        yield int(rng.integers(low, high + 1))
