"""What `oe-pyproc run` feeds the host: a recorded stream or a seeded synthetic signal, as channel-major
chunks, with its TTL events and spikes by position (sample index from 0)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from oe_pyproc_setup.recording import Channel, SpikeChannel, Stream, TtlEvents

# Samples per tile of channel_major's transpose: a tile of both layouts stays in the CPU cache.
TRANSPOSE_TILE = 256


def channel_major(samples: np.ndarray) -> np.ndarray:
    """(n, channels) sample-major, as continuous.dat stores it, to a C-contiguous (channels, n) copy, tile by
    tile (about 1.7× faster than one strided transpose of a 384-channel chunk)."""
    count, channels = samples.shape
    out = np.empty((channels, count), dtype=samples.dtype)
    for first in range(0, count, TRANSPOSE_TILE):
        out[:, first : first + TRANSPOSE_TILE] = samples[first : first + TRANSPOSE_TILE].T
    return out


@dataclass
class SpikeRecords:
    """Spikes of one electrode as the host's events file carries them: positions from the first sample."""

    electrode: str
    source_node: int
    positions: np.ndarray  # int64 (k,), sample index from 0
    waveforms: np.ndarray  # float32 (k, channels, samples), µV
    sorted_ids: np.ndarray  # int64 (k,)

    def __len__(self) -> int:
        return int(self.positions.shape[0])


class RunInput:
    """What `oe-pyproc run` feeds the host: channel-major chunks, TTL events and spikes by position (sample
    index from 0; the host numbers them from first_sample_number), plus what is needed to record the processed
    output with the input's own numbering."""

    template: Stream  # the metadata the output recording is written with
    num_samples: int
    events: TtlEvents  # input TTL events in the processed range, in the input's sample numbers
    int16_scale: float | None  # feed int16 with this one scale, else float32
    other_streams: tuple[str, ...] = ()  # a recording's streams not chosen, for the report

    @property
    def channels(self) -> int:
        return self.template.num_channels

    @property
    def sample_rate(self) -> float:
        return self.template.sample_rate

    def chunk(self, start: int, stop: int) -> np.ndarray:
        """Samples [start, stop) as the host reads them: (channels, n), '<i2' or '<f4'."""
        raise NotImplementedError

    def scaled(self, start: int, stop: int, rows: int) -> np.ndarray:
        """The first `rows` channels of [start, stop) in physical units, float32 (for plots)."""
        raise NotImplementedError

    def sample_numbers(self, start: int, stop: int) -> np.ndarray:
        raise NotImplementedError

    def timestamps(self, start: int, stop: int) -> np.ndarray:
        raise NotImplementedError

    def relative_events(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The input events as (sample index from 0, line, state), sorted."""
        raise NotImplementedError

    def relative_spikes(self) -> list[SpikeRecords]:
        """The input's spikes in the processed range, one entry per electrode, each sorted."""
        raise NotImplementedError

    def recorded_spikes(self, done: int) -> list[SpikeChannel]:
        """The spikes recorded with the input among its first `done` samples, as stored, for --output."""
        return []

    @property
    def first_sample_number(self) -> int:
        """The input's own number of its first sample: the host numbers the stream from it."""
        return int(self.sample_numbers(0, 1)[0]) if self.num_samples else 0

    @property
    def numbering_has_gaps(self) -> bool:
        """True when the input's sample numbers are not consecutive (the host's then differ after a gap)."""
        numbers = self.sample_numbers(0, self.num_samples)
        return bool(numbers.shape[0] > 1 and int(numbers[-1]) - int(numbers[0]) != numbers.shape[0] - 1)


class StreamInput(RunInput):
    """The first `channels` channels and `num_samples` samples of a recorded stream."""

    def __init__(self, stream: Stream, channels: int, num_samples: int) -> None:
        self.stream = stream
        self.rows = np.arange(channels)
        self.num_samples = num_samples
        self.template = Stream(
            folder_name=stream.folder_name,
            stream_name=stream.stream_name,
            source_processor_name=stream.source_processor_name,
            source_processor_id=stream.source_processor_id,
            sample_rate=stream.sample_rate,
            channels=stream.channels[:channels],
            samples=stream.samples[:num_samples, :channels],
            sample_numbers=stream.sample_numbers[:num_samples],
            timestamps=None if stream.timestamps is None else stream.timestamps[:num_samples],
        )
        first, last = int(stream.sample_numbers[0]), int(stream.sample_numbers[num_samples - 1])
        self.events = stream.ttl.within(first, last + 1)
        volts = {channel.bit_volts for channel in self.template.channels}
        # One scale for all channels: the recorded int16 go as they are (half the bytes of float32) and the
        # host scales them exactly as scaled_block does (float32 multiply).
        self.int16_scale = volts.pop() if len(volts) == 1 else None

    def chunk(self, start: int, stop: int) -> np.ndarray:
        if self.int16_scale is not None:
            return channel_major(self.stream.samples[start:stop, : len(self.rows)])
        return self.stream.scaled_block(start, stop, self.rows).astype("<f4", copy=False)

    def scaled(self, start: int, stop: int, rows: int) -> np.ndarray:
        return self.stream.scaled_block(start, stop, self.rows[:rows])

    def sample_numbers(self, start: int, stop: int) -> np.ndarray:
        return np.asarray(self.stream.sample_numbers[start:stop], dtype=np.int64)

    def timestamps(self, start: int, stop: int) -> np.ndarray:
        if self.stream.timestamps is not None:
            return np.asarray(self.stream.timestamps[start:stop], dtype=np.float64)
        return self.sample_numbers(start, stop) / self.sample_rate

    def relative_events(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # By position in sample_numbers, so gaps in the recording's numbering map correctly.
        index = np.searchsorted(self.stream.sample_numbers[: self.num_samples], self.events.sample_numbers)
        return index.astype(np.int64), self.events.lines.astype(np.int64), self.events.states.copy()

    def relative_spikes(self) -> list[SpikeRecords]:
        numbers = self.stream.sample_numbers[: self.num_samples]
        first, last = int(numbers[0]), int(numbers[-1])
        found = []
        for channel in self.stream.spikes:
            keep = (channel.sample_numbers >= first) & (channel.sample_numbers <= last)
            found.append(
                SpikeRecords(
                    electrode=channel.name,
                    source_node=channel.source_processor_id,
                    positions=np.searchsorted(numbers, channel.sample_numbers[keep]).astype(np.int64),
                    waveforms=channel.waveforms_uv(keep),
                    sorted_ids=channel.sorted_ids[keep],
                )
            )
        return found

    def recorded_spikes(self, done: int) -> list[SpikeChannel]:
        if done <= 0:
            return []
        numbers = self.stream.sample_numbers[:done]
        first, last = int(numbers[0]), int(numbers[-1])
        kept = []
        for channel in self.stream.spikes:
            keep = (channel.sample_numbers >= first) & (channel.sample_numbers <= last)
            kept.append(
                replace(
                    channel,
                    sample_numbers=channel.sample_numbers[keep],
                    waveforms=channel.waveforms[keep],
                    sorted_ids=channel.sorted_ids[keep],
                )
            )
        return kept


class SyntheticInput(RunInput):
    """Seeded test signal: per channel c, noise (10 µV rms) plus a 50 µV sine at 10 × (1 + c / channels) Hz
    and, every 0.2 s, a 1 ms spike-like dip on one channel; TTL line 0 toggles every 0.5 s, line 1 every 1 s.
    Each dip is also a spike event (electrode "Electrode <c + 1>", source node 101, sorted id 0) whose
    waveform is the dip without the background: 1 channel × 40 samples, the dip starting at sample 8 (the
    spike detector's 8 samples before the peak, 32 after).

    Generated tile by tile from (seed, tile index), so any window can be regenerated identically."""

    TILE = 8192
    NOISE_UV = 10.0
    SINE_UV = 50.0
    SPIKE_UV = -120.0
    BIT_VOLTS = 0.195

    def __init__(self, channels: int, sample_rate: float, num_samples: int, seed: int = 1) -> None:
        self.num_samples = num_samples
        self.seed = seed
        self.int16_scale = None
        self.template = Stream(
            folder_name="oe-pyproc_synthetic-100.synthetic",
            stream_name="synthetic",
            source_processor_name="oe-pyproc synthetic",
            source_processor_id=100,
            sample_rate=sample_rate,
            channels=[Channel(name=f"CH{c + 1}", bit_volts=self.BIT_VOLTS) for c in range(channels)],
            samples=np.zeros((0, channels), dtype=np.int16),
            sample_numbers=np.arange(num_samples, dtype=np.int64),
            timestamps=None,
        )
        numbers, lines, states = [], [], []
        for line, period in ((0, 0.5), (1, 1.0)):
            step = max(1, round(period * sample_rate))
            for k, sample in enumerate(range(step // 2, num_samples, step)):
                numbers.append(sample)
                lines.append(line)
                states.append(k % 2 == 0)
        order = np.argsort(np.array(numbers, dtype=np.int64), kind="stable")
        self.events = TtlEvents(
            sample_numbers=np.array(numbers, dtype=np.int64)[order],
            lines=np.array(lines, dtype=np.int16)[order],
            states=np.array(states, dtype=bool)[order],
        )
        self.frequencies = 10.0 * (1.0 + np.arange(channels) / channels)

    def _tile(self, index: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, index])
        channels = self.channels
        start = index * self.TILE
        t = (start + np.arange(self.TILE)) / self.sample_rate
        tile = rng.normal(0.0, self.NOISE_UV, size=(channels, self.TILE))
        tile += self.SINE_UV * np.sin(2.0 * np.pi * self.frequencies[:, None] * t[None, :])
        spike_every = max(1, round(0.2 * self.sample_rate))
        width = max(1, round(0.001 * self.sample_rate))
        for spike in range(-(-start // spike_every) * spike_every, start + self.TILE, spike_every):
            channel = (spike // spike_every) % channels
            lo, hi = spike - start, min(spike - start + width, self.TILE)
            tile[channel, lo:hi] += self.SPIKE_UV * np.hanning(width + 2)[1 : 1 + hi - lo]
        return tile.astype(np.float32)

    def chunk(self, start: int, stop: int) -> np.ndarray:
        return self.scaled(start, stop, self.channels)

    def scaled(self, start: int, stop: int, rows: int) -> np.ndarray:
        parts = []
        for index in range(start // self.TILE, (stop - 1) // self.TILE + 1):
            tile = self._tile(index)[:rows]
            base = index * self.TILE
            parts.append(tile[:, max(start, base) - base : min(stop, base + self.TILE) - base])
        return np.ascontiguousarray(np.concatenate(parts, axis=1), dtype="<f4")

    def sample_numbers(self, start: int, stop: int) -> np.ndarray:
        return np.arange(start, stop, dtype=np.int64)

    def timestamps(self, start: int, stop: int) -> np.ndarray:
        return np.arange(start, stop, dtype=np.float64) / self.sample_rate

    def relative_events(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (
            self.events.sample_numbers.copy(),
            self.events.lines.astype(np.int64),
            self.events.states.copy(),
        )

    SPIKE_NODE = 101
    SPIKE_PRE, SPIKE_SAMPLES = 8, 40

    def _dip(self) -> np.ndarray:
        width = max(1, round(0.001 * self.sample_rate))
        return (self.SPIKE_UV * np.hanning(width + 2)[1 : 1 + width]).astype(np.float32)

    def relative_spikes(self) -> list[SpikeRecords]:
        spike_every = max(1, round(0.2 * self.sample_rate))
        positions = np.arange(0, self.num_samples, spike_every, dtype=np.int64)
        waveform = np.zeros(self.SPIKE_SAMPLES, dtype=np.float32)
        dip = self._dip()[: self.SPIKE_SAMPLES - self.SPIKE_PRE]
        waveform[self.SPIKE_PRE : self.SPIKE_PRE + dip.shape[0]] = dip
        channels = (positions // spike_every) % self.channels
        found = []
        for channel in range(self.channels):
            mine = positions[channels == channel]
            if mine.shape[0]:
                found.append(
                    SpikeRecords(
                        electrode=f"Electrode {channel + 1}",
                        source_node=self.SPIKE_NODE,
                        positions=mine,
                        waveforms=np.broadcast_to(waveform, (mine.shape[0], 1, self.SPIKE_SAMPLES)),
                        sorted_ids=np.zeros(mine.shape[0], dtype=np.int64),
                    )
                )
        return found
