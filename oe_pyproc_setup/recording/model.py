"""What a recording holds, as `oe-pyproc run` reads and writes it: streams, channels, TTL events, spikes.

The format's facts are in the package's docstring (`oe_pyproc_setup/recording/__init__.py`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from oe_pyproc_setup.errors import UserFacingError

OEBIN = "structure.oebin"
INT16_MIN, INT16_MAX = -32768, 32767
# What we put in "GUI version" of recordings we write: the format version whose layout we follow.
WRITTEN_FORMAT_VERSION = "1.0.0"
# Above any acquisition board's rate; `run --sample-rate` has the same bound.
MAX_SAMPLE_RATE = 1_000_000.0
# bit_volts (physical units per int16 step) a recording can sensibly carry: from an ADC channel in volts
# (about 1.5e-4) to µV headstage channels (0.195) with room on both sides. Outside, the data would be all
# zeros, clipped or meaningless once scaled: refused, never run silently.
MIN_BIT_VOLTS = 1e-9
MAX_BIT_VOLTS = 1e4


class RecordingError(UserFacingError):
    """A recording that cannot be read or written; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Channel:
    """One continuous channel as `structure.oebin` describes it."""

    name: str
    bit_volts: float
    units: str = "uV"
    description: str = ""
    identifier: str = ""
    history: str = ""


@dataclass
class TtlEvents:
    """TTL events of one stream, ordered by sample number; `lines` are 0-based like the script contract's."""

    sample_numbers: np.ndarray  # int64
    lines: np.ndarray  # int16, 0-based
    states: np.ndarray  # bool
    full_words: np.ndarray | None = None  # uint64
    timestamps: np.ndarray | None = None  # float64 seconds
    folders: tuple[str, ...] = ()  # the events/ sub-folders they came from

    def __len__(self) -> int:
        return int(self.sample_numbers.shape[0])

    @classmethod
    def empty(cls) -> TtlEvents:
        return cls(
            sample_numbers=np.zeros(0, dtype=np.int64),
            lines=np.zeros(0, dtype=np.int16),
            states=np.zeros(0, dtype=bool),
        )

    def within(self, first_sample: int, end_sample: int) -> TtlEvents:
        """The events with first_sample <= sample number < end_sample."""
        keep = (self.sample_numbers >= first_sample) & (self.sample_numbers < end_sample)
        return TtlEvents(
            sample_numbers=self.sample_numbers[keep],
            lines=self.lines[keep],
            states=self.states[keep],
            full_words=None if self.full_words is None else self.full_words[keep],
            timestamps=None if self.timestamps is None else self.timestamps[keep],
            folders=self.folders,
        )


@dataclass
class SpikeChannel:
    """The spikes of one electrode, as a spike detector on a stream recorded them."""

    name: str  # the electrode name handle_spike gets
    source_processor_id: int
    folder: str  # under spikes/, without the trailing slash
    sample_numbers: np.ndarray  # int64 (n,), in the stream's numbering
    waveforms: np.ndarray  # (n, channels, samples) as stored; × bit_volts is µV
    sorted_ids: np.ndarray  # (n,) integer
    bit_volts: np.ndarray  # float64 (channels,)
    entry: dict[str, Any] = field(default_factory=dict)  # its structure.oebin entry, written back as it was

    def __len__(self) -> int:
        return int(self.sample_numbers.shape[0])

    def waveforms_uv(self, keep: np.ndarray) -> np.ndarray:
        """The waveforms of the spikes `keep` selects, in µV, float32 (k, channels, samples)."""
        chosen = np.asarray(self.waveforms[keep], dtype=np.float32)
        return chosen * self.bit_volts.astype(np.float32)[None, :, None]


@dataclass
class Stream:
    """One continuous stream: metadata plus memory-mapped samples (num_samples, num_channels) int16."""

    folder_name: str  # under continuous/, without the trailing slash
    stream_name: str
    source_processor_name: str
    source_processor_id: int
    sample_rate: float
    channels: list[Channel]
    samples: np.ndarray
    sample_numbers: np.ndarray  # int64, one per sample
    timestamps: np.ndarray | None  # float64 seconds, one per sample
    ttl: TtlEvents = field(default_factory=TtlEvents.empty)
    spikes: list[SpikeChannel] = field(default_factory=list)

    @property
    def num_channels(self) -> int:
        return len(self.channels)

    @property
    def num_samples(self) -> int:
        return int(self.samples.shape[0])

    @property
    def bit_volts(self) -> np.ndarray:
        return np.array([channel.bit_volts for channel in self.channels], dtype=np.float64)

    def scaled_block(self, start: int, stop: int, channels: np.ndarray | None = None) -> np.ndarray:
        """Samples [start, stop) in physical units as float32, channel-major (num_channels, stop - start).

        The GUI's buffers hold exactly this: int16 × bit_volts, one row per channel.
        """
        chosen = np.arange(self.num_channels) if channels is None else channels
        raw = self.samples[start:stop, chosen]
        scale = self.bit_volts[chosen].astype(np.float32)
        return np.ascontiguousarray((raw.T.astype(np.float32)) * scale[:, None])


@dataclass
class Recording:
    directory: Path
    gui_version: str
    streams: list[Stream]

    def stream_names(self) -> list[str]:
        return [stream.stream_name for stream in self.streams]

    def select_stream(self, wanted: str | None) -> Stream:
        """The stream named `wanted` (stream or folder name; exact, else case-insensitive), or the first."""
        if wanted is None:
            return self.streams[0]
        for stream in self.streams:
            if wanted in (stream.stream_name, stream.folder_name):
                return stream
        folded = [
            s
            for s in self.streams
            if wanted.casefold() in (s.stream_name.casefold(), s.folder_name.casefold())
        ]
        if len(folded) == 1:
            return folded[0]
        listing = "\n".join(
            f"  {s.stream_name!r} (folder {s.folder_name}, {s.num_channels} ch at {s.sample_rate:g} Hz)"
            for s in self.streams
        )
        raise RecordingError(
            f"the recording {self.directory} has no stream {wanted!r}; its streams are:\n{listing}",
            hint="Pass one of these names to --stream.",
        )


def iter_blocks(num_samples: int, block: int) -> Iterator[tuple[int, int]]:
    """[start, stop) sample ranges of consecutive blocks of at most `block` samples."""
    for start in range(0, num_samples, block):
        yield start, min(start + block, num_samples)
