"""Open Ephys recordings in the Binary format: read one continuous stream and its TTL events, write one back.

Only `oe-pyproc run` imports this module (numpy is the `run` extra). Facts from the published format (GUI
≥ 0.6, "Binary Format" in the GUI documentation) and from what the GUI's Record Node writes:

- A recording folder (`<Record Node>/experimentE/recordingR/`) holds `structure.oebin` (JSON: "GUI version",
  "continuous", "events", "spikes"), `continuous/<folder>/` and `events/<folder>/TTL[_N]/`, where
  `<folder>` is `<source node name>-<source node id>.<stream name>`.
- `continuous.dat`: little-endian int16, interleaved (sample-major: ch1 s1, ch2 s1, … chN s1, ch1 s2, …);
  value × the channel's `bit_volts` is the physical value (µV for headstage channels).
  `sample_numbers.npy` (int64, one per sample), `timestamps.npy` (float64 seconds, one per sample).
  GUI 0.5 wrote the sample numbers to `timestamps.npy` (integer) and had no `sample_numbers.npy`.
- TTL events: `states.npy` (int16, +(line+1) for a rising edge, -(line+1) for a falling one; GUI 0.5:
  `channel_states.npy`), `sample_numbers.npy` (int64), `timestamps.npy` (float64 s), `full_words.npy`
  (uint64, the state of all lines after the event; optional).
- The GUI converts its float buffer to int16 by dividing by `bit_volts`, rounding and clipping.
- Spikes (GUI ≥ 0.6): each entry of the "spikes" list is one electrode ("name", "source_processor_id",
  "stream_name", "num_channels", "folder", "source_channels": [{"bit_volts", ...}]); `spikes/<folder>/` holds
  `waveforms.npy` (n, channels, samples), `sample_numbers.npy` (n, int64), `clusters.npy` (n, the sorted id,
  0 unsorted), `electrode_indices.npy` and `timestamps.npy`. Waveform value × bit_volts is µV (the official
  reader, open-ephys-python-tools, scales every channel by the last source channel's bit_volts; here each
  channel by its own, the same when they are equal).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import tempfile
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


# ---------------------------------------------------------------------------------------------- reading


def find_recording_folder(path: Path) -> Path:
    """The recording folder (the one holding structure.oebin) that `path` names or uniquely contains.

    Accepts the recording folder itself, its structure.oebin, a Record Node folder or a session folder,
    as long as exactly one recording lies below it.
    """
    path = Path(path)
    if not path.exists():
        raise RecordingError(f"--recording {path}: no such file or folder")
    if path.is_file():
        if path.name == OEBIN:
            return path.parent
        raise RecordingError(
            f"--recording {path} is a file; give the recording folder that holds {OEBIN}",
        )
    if (path / OEBIN).is_file():
        return path
    found = sorted(
        {
            oebin.parent
            for pattern in (f"experiment*/recording*/{OEBIN}", f"*/experiment*/recording*/{OEBIN}")
            for oebin in path.glob(pattern)
        }
    )
    if len(found) == 1:
        return found[0]
    if not found:
        raise RecordingError(
            f"no {OEBIN} in {path}, nor in an experiment*/recording*/ folder below it: "
            "this is not an Open Ephys recording in the Binary format",
            hint=f"Point --recording at the recording folder (…/experiment1/recording1) that holds {OEBIN}.",
        )
    listing = "\n".join(f"  {folder}" for folder in found[:20])
    more = f"\n  … and {len(found) - 20} more" if len(found) > 20 else ""
    raise RecordingError(
        f"{path} holds {len(found)} recordings; choose one:\n{listing}{more}",
        hint="Pass the recording folder itself to --recording.",
    )


def _load_oebin(folder: Path) -> dict[str, Any]:
    oebin = folder / OEBIN
    try:
        text = oebin.read_text(encoding="utf-8")
    except OSError as error:
        raise RecordingError(f"cannot read {oebin}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise RecordingError(f"{oebin} is not UTF-8 text: not a structure.oebin the GUI wrote") from None
    try:
        info = json.loads(text)
    except json.JSONDecodeError as error:
        raise RecordingError(
            f"{oebin} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None
    if not isinstance(info, dict):
        raise RecordingError(f"{oebin} is not a JSON object")
    return info


def _gui_version_number(version: str) -> tuple[int, int]:
    match = re.match(r"\s*(\d+)\.(\d+)", version)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def _load_npy(path: Path, what: str, *, mmap: bool = True) -> np.ndarray:
    try:
        try:
            array: np.ndarray = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
        except ValueError:
            if not mmap:
                raise
            array = np.load(path, allow_pickle=False)  # an empty array cannot be memory-mapped
    except FileNotFoundError:
        raise RecordingError(f"{what} is missing: {path}") from None
    except (OSError, ValueError) as error:
        raise RecordingError(f"{path} is not a readable .npy file ({error}): truncated or corrupt?") from None
    return array


def _field(entry: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = entry.get(key)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise RecordingError(f"{where}: field {key!r} is missing or not a {kind.__name__} (found {value!r})")
    if isinstance(value, float) and not math.isfinite(value):  # json reads NaN and Infinity
        raise RecordingError(f"{where}: field {key!r} is not a finite number (found {value!r})")
    return value


def _read_channels(entry: dict[str, Any], where: str) -> list[Channel]:
    raw_channels = entry.get("channels")
    if not isinstance(raw_channels, list) or not raw_channels:
        raise RecordingError(f"{where}: no 'channels' list")
    channels = []
    for index, raw in enumerate(raw_channels):
        if not isinstance(raw, dict):
            raise RecordingError(f"{where}: channel {index} is not a JSON object")
        channels.append(
            Channel(
                name=str(raw.get("channel_name", f"CH{index + 1}")),
                bit_volts=_field(raw, "bit_volts", float, f"{where}, channel {index}"),
                units=str(raw.get("units", "uV")),
                description=str(raw.get("description", "")),
                identifier=str(raw.get("identifier", "")),
                history=str(raw.get("history", "")),
            )
        )
    declared = entry.get("num_channels")
    if isinstance(declared, int) and declared != len(channels):
        raise RecordingError(f"{where}: num_channels is {declared} but {len(channels)} channels are listed")
    return channels


def _read_stream(folder: Path, entry: dict[str, Any], legacy: bool, index: int) -> Stream:
    where = f"{folder / OEBIN}, continuous[{index}]"
    if not isinstance(entry, dict):
        raise RecordingError(f"{where} is not a JSON object")
    folder_name = _field(entry, "folder_name", str, where).strip("/")
    channels = _read_channels(entry, where)
    sample_rate = _field(entry, "sample_rate", float, where)
    if sample_rate <= 0:
        raise RecordingError(f"{where}: sample_rate must be positive (found {sample_rate})")
    if sample_rate > MAX_SAMPLE_RATE:
        raise RecordingError(f"{where}: sample_rate {sample_rate:g} Hz is beyond any acquisition board's")
    stream_dir = folder / "continuous" / folder_name
    dat = stream_dir / "continuous.dat"
    if not dat.is_file():
        raise RecordingError(f"the continuous data of stream {folder_name!r} is missing: {dat}")
    size = dat.stat().st_size
    frame = 2 * len(channels)
    if size % frame:
        raise RecordingError(
            f"{dat} is truncated: {size} bytes is not a whole number of samples of {len(channels)} channels "
            f"× 2 bytes (the last sample has only {size % frame} of its {frame} bytes)"
        )
    num_samples = size // frame
    samples = (
        np.memmap(dat, dtype="<i2", mode="r", shape=(num_samples, len(channels)))
        if num_samples
        else np.zeros((0, len(channels)), dtype="<i2")
    )

    timestamps: np.ndarray | None = None
    if legacy or not (stream_dir / "sample_numbers.npy").exists():
        # GUI 0.5: the integer sample numbers live in timestamps.npy.
        numbers = _load_npy(stream_dir / "timestamps.npy", f"the sample numbers of stream {folder_name!r}")
        if not np.issubdtype(numbers.dtype, np.integer):
            raise RecordingError(
                f"the sample numbers of stream {folder_name!r} are missing: {stream_dir}/sample_numbers.npy"
            )
    else:
        numbers = _load_npy(
            stream_dir / "sample_numbers.npy", f"the sample numbers of stream {folder_name!r}"
        )
        if (stream_dir / "timestamps.npy").exists():
            timestamps = _load_npy(stream_dir / "timestamps.npy", "timestamps")
    for name, array in (("sample_numbers.npy", numbers), ("timestamps.npy", timestamps)):
        if array is not None and array.shape != (num_samples,):
            raise RecordingError(
                f"{dat} holds {num_samples} samples but {stream_dir / name} has shape {array.shape}: "
                "one of them is truncated or they come from different recordings"
            )
    return Stream(
        folder_name=folder_name,
        stream_name=str(entry.get("stream_name", folder_name)),
        source_processor_name=str(entry.get("source_processor_name", "")),
        source_processor_id=int(entry.get("source_processor_id", 0) or 0),
        sample_rate=sample_rate,
        channels=channels,
        samples=samples,
        sample_numbers=np.asarray(numbers, dtype=np.int64),
        timestamps=None if timestamps is None else np.asarray(timestamps, dtype=np.float64),
    )


def _read_spike_channel(folder: Path, entry: Any, index: int) -> tuple[str, SpikeChannel]:
    """One entry of structure.oebin's "spikes" list and its files, as (stream name, spikes)."""
    where = f"{folder / OEBIN}, spikes[{index}]"
    if not isinstance(entry, dict):
        raise RecordingError(f"{where} is not a JSON object")
    name = _field(entry, "name", str, where)
    spike_folder = _field(entry, "folder", str, where).strip("/")
    stream_name = _field(entry, "stream_name", str, where)
    sources = entry.get("source_channels")
    if not isinstance(sources, list) or not sources:
        raise RecordingError(f"{where}: no 'source_channels' list")
    volts = [
        _field(
            source if isinstance(source, dict) else {}, "bit_volts", float, f"{where}, source_channels[{i}]"
        )
        for i, source in enumerate(sources)
    ]
    spike_dir = folder / "spikes" / spike_folder
    what = f"a spike file of electrode {name!r}"
    numbers = _load_npy(spike_dir / "sample_numbers.npy", what)
    waveforms = _load_npy(spike_dir / "waveforms.npy", what)
    clusters = _load_npy(spike_dir / "clusters.npy", what)
    count = numbers.shape[0] if numbers.ndim == 1 else -1
    if waveforms.ndim == 2 and count >= 0:  # one channel stored as (n, samples)
        waveforms = waveforms[:, None, :]
    if (
        count < 0
        or waveforms.ndim != 3
        or waveforms.shape[0] != count
        or waveforms.shape[1] != len(volts)
        or waveforms.shape[2] < 1
        or clusters.shape != (count,)
        or not np.issubdtype(numbers.dtype, np.integer)
        or not np.issubdtype(clusters.dtype, np.integer)
    ):
        raise RecordingError(
            f"{spike_dir}: the spike files of electrode {name!r} do not fit together: sample_numbers.npy "
            f"{numbers.shape}, waveforms.npy {waveforms.shape} (expected (n, {len(volts)} source channels, "
            f"samples)), clusters.npy {clusters.shape}; truncated, or from different recordings"
        )
    if count > 1 and np.any(np.diff(numbers) < 0):
        order = np.argsort(numbers, kind="stable")
        numbers, waveforms, clusters = numbers[order], waveforms[order], clusters[order]
    channel = SpikeChannel(
        name=name,
        source_processor_id=int(entry.get("source_processor_id", 0) or 0),
        folder=spike_folder,
        sample_numbers=np.asarray(numbers, dtype=np.int64),
        waveforms=waveforms,
        sorted_ids=np.asarray(clusters, dtype=np.int64),
        bit_volts=np.asarray(volts, dtype=np.float64),
    )
    return stream_name, channel


def _read_ttl_folder(ttl_dir: Path) -> TtlEvents:
    states_file = ttl_dir / "states.npy"
    legacy = not states_file.exists()
    states = _load_npy(ttl_dir / ("channel_states.npy" if legacy else "states.npy"), "TTL states", mmap=False)
    numbers_file = ttl_dir / ("timestamps.npy" if legacy else "sample_numbers.npy")
    numbers = _load_npy(numbers_file, "TTL sample numbers", mmap=False)
    count = states.shape[0] if states.ndim == 1 else -1
    if count < 0 or numbers.shape != (count,):
        raise RecordingError(
            f"the TTL event files in {ttl_dir} disagree: "
            f"{states.shape} states, {numbers.shape} sample numbers"
        )
    if count and np.any(states == 0):
        raise RecordingError(f"{ttl_dir}: a TTL state of 0 is not +/-(line+1): not a TTL events folder")
    words: np.ndarray | None = None
    if (ttl_dir / "full_words.npy").exists():
        words = _load_npy(ttl_dir / "full_words.npy", "TTL full words", mmap=False)
        if words.shape != (count,):
            raise RecordingError(f"{ttl_dir / 'full_words.npy'} has shape {words.shape}, expected ({count},)")
    stamps: np.ndarray | None = None
    if not legacy and (ttl_dir / "timestamps.npy").exists():
        stamps = _load_npy(ttl_dir / "timestamps.npy", "TTL timestamps", mmap=False)
        if stamps.shape != (count,):
            raise RecordingError(
                f"{ttl_dir / 'timestamps.npy'} has shape {stamps.shape}, expected ({count},)"
            )
    signed = states.astype(np.int32)
    return TtlEvents(
        sample_numbers=numbers.astype(np.int64),
        lines=(np.abs(signed) - 1).astype(np.int16),
        states=signed > 0,
        full_words=None if words is None else words.astype(np.uint64),
        timestamps=None if stamps is None else stamps.astype(np.float64),
        folders=(str(ttl_dir),),
    )


def _merge_ttl(parts: list[TtlEvents]) -> TtlEvents:
    if not parts:
        return TtlEvents.empty()
    if len(parts) == 1:
        merged = parts[0]
    else:
        merged = TtlEvents(
            sample_numbers=np.concatenate([p.sample_numbers for p in parts]),
            lines=np.concatenate([p.lines for p in parts]),
            states=np.concatenate([p.states for p in parts]),
            full_words=(
                np.concatenate([p.full_words for p in parts if p.full_words is not None])
                if all(p.full_words is not None for p in parts)
                else None
            ),
            timestamps=(
                np.concatenate([p.timestamps for p in parts if p.timestamps is not None])
                if all(p.timestamps is not None for p in parts)
                else None
            ),
            folders=tuple(f for p in parts for f in p.folders),
        )
    order = np.argsort(merged.sample_numbers, kind="stable")
    return TtlEvents(
        sample_numbers=merged.sample_numbers[order],
        lines=merged.lines[order],
        states=merged.states[order],
        full_words=None if merged.full_words is None else merged.full_words[order],
        timestamps=None if merged.timestamps is None else merged.timestamps[order],
        folders=merged.folders,
    )


def open_recording(path: Path) -> Recording:
    """Read a recording's metadata and memory-map its streams; every problem is a RecordingError."""
    folder = find_recording_folder(path)
    info = _load_oebin(folder)
    gui_version = str(info.get("GUI version", "0.6.0"))
    legacy = _gui_version_number(gui_version) < (0, 6)
    entries = info.get("continuous")
    if not isinstance(entries, list) or not entries:
        raise RecordingError(f"{folder / OEBIN} lists no continuous streams: nothing to process")
    streams = [_read_stream(folder, entry, legacy, index) for index, entry in enumerate(entries)]
    for stream in streams:
        ttl_root = folder / "events" / stream.folder_name
        ttl_dirs = sorted(d for d in ttl_root.glob("TTL*") if d.is_dir()) if ttl_root.is_dir() else []
        stream.ttl = _merge_ttl([_read_ttl_folder(d) for d in ttl_dirs])
    spike_entries = info.get("spikes")
    if not legacy and isinstance(spike_entries, list):  # GUI 0.5's spike files are not read
        by_name = {stream.stream_name: stream for stream in streams}
        for index, entry in enumerate(spike_entries):
            stream_name, channel = _read_spike_channel(folder, entry, index)
            if stream_name in by_name:
                by_name[stream_name].spikes.append(channel)
    return Recording(directory=folder, gui_version=gui_version, streams=streams)


# ---------------------------------------------------------------------------------------------- writing


def _npy_header(dtype: np.dtype[Any], count: int) -> bytes:
    """A .npy version 1.0 header for a 1-D array of `count` items (so the data can be streamed after it)."""
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": (count,)}
    text = repr(header)
    # Magic + version + 2-byte length + dict + padding + newline, total a multiple of 64 (format spec).
    preamble = 10
    padding = 64 - (preamble + len(text) + 1) % 64
    body = (text + " " * padding + "\n").encode("latin1")
    return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body


class _GrowingNpy:
    """A 1-D .npy file written block by block; its header's shape is patched when it is closed."""

    def __init__(self, path: Path, dtype: str) -> None:
        self.path = path
        self.dtype = np.dtype(dtype)
        self.count = 0
        self.handle = open(path, "wb")  # noqa: SIM115 - closed in close()
        self.handle.write(_npy_header(self.dtype, 0))

    def append(self, values: np.ndarray) -> None:
        self.handle.write(np.ascontiguousarray(values, dtype=self.dtype).tobytes())
        self.count += int(values.shape[0])

    def close(self) -> None:
        header = _npy_header(self.dtype, self.count)
        if len(header) != len(_npy_header(self.dtype, 0)):  # the padded header never grows for 1-D shapes
            raise AssertionError("npy header size changed")
        self.handle.seek(0)
        self.handle.write(header)
        self.handle.close()


@dataclass
class WrittenSummary:
    directory: Path  # the recording folder (…/experiment1/recording1)
    samples: int
    events: int
    clipped_samples: int


class RecordingWriter:
    """Writes one stream (and its TTL events) as a Binary-format recording the official reader opens.

    Everything goes to a hidden temporary folder beside `output`, renamed into place on `close()`;
    `abort()` removes it. `output` must not exist or be an empty folder. The layout is a Record Node
    folder: `output/experiment1/recording1/{structure.oebin, continuous/, events/, sync_messages.txt}`.
    """

    def __init__(self, output: Path, template: Stream) -> None:
        output = Path(output).absolute()
        if output.exists() and (not output.is_dir() or any(output.iterdir())):
            raise RecordingError(
                f"--output {output} already exists and is not an empty folder; nothing was written",
                hint="Choose a new folder: oe-pyproc never writes over a recording.",
            )
        if not output.parent.is_dir():
            raise RecordingError(f"--output {output}: the folder {output.parent} does not exist")
        self.output = output
        self.template = template
        try:
            self.staging = Path(
                tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".partial", dir=output.parent)
            )
        except OSError as error:
            raise RecordingError(f"cannot write into {output.parent}: {error.strerror or error}") from None
        self.recording_dir = self.staging / "experiment1" / "recording1"
        self.stream_dir = self.recording_dir / "continuous" / template.folder_name
        self.stream_dir.mkdir(parents=True)
        self.dat = open(self.stream_dir / "continuous.dat", "wb")  # noqa: SIM115 - closed in close()/abort()
        self.sample_numbers = _GrowingNpy(self.stream_dir / "sample_numbers.npy", "<i8")
        self.timestamps = _GrowingNpy(self.stream_dir / "timestamps.npy", "<f8")
        self.inverse_bit_volts = (1.0 / template.bit_volts)[:, None]
        self.samples_written = 0
        self.clipped = 0
        self.events: list[tuple[int | None, TtlEvents]] = []  # (Python Processor node id or None, events)

    def append_block(self, data: np.ndarray, sample_numbers: np.ndarray, timestamps: np.ndarray) -> None:
        """Append processed data (num_channels, n) float32 in physical units, as the GUI would record it."""
        scaled = np.rint(data.astype(np.float64) * self.inverse_bit_volts)
        self.clipped += int(np.count_nonzero((scaled < INT16_MIN) | (scaled > INT16_MAX)))
        np.clip(scaled, INT16_MIN, INT16_MAX, out=scaled)
        self.dat.write(np.ascontiguousarray(scaled.T, dtype="<i2").tobytes())
        self.sample_numbers.append(sample_numbers)
        self.timestamps.append(timestamps)
        self.samples_written += int(data.shape[1])

    def add_ttl(self, events: TtlEvents, *, python_node: int | None = None) -> None:
        """TTL events to record: the input's go to the stream's own TTL folder; those a script sent
        (`python_node`: its processor's node id) to that Python Processor's, as the GUI records them."""
        self.events.append((python_node, events))

    def _event_base(self, python_node: int | None) -> tuple[str, str]:
        """(folder under events/, source processor name). The GUI names a processor's event channels
        "<node name>-<node id>.<stream name>"."""
        stream = self.template
        if python_node is None:
            return stream.folder_name, stream.source_processor_name
        return f"Python_Processor-{python_node}.{stream.stream_name}", "Python Processor"

    def _write_events(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        used: dict[str, int] = {}
        for python_node, events in self.events:
            source = "input" if python_node is None else "python"
            base, node = self._event_base(python_node)
            index = used.get(base, -1) + 1
            used[base] = index
            folder_name = f"{base}/TTL{'_' + str(index) if index else ''}"
            target = self.recording_dir / "events" / folder_name
            target.mkdir(parents=True, exist_ok=True)
            signed = (events.lines.astype(np.int16) + 1) * np.where(events.states, 1, -1).astype(np.int16)
            np.save(target / "states.npy", signed.astype("<i2"))
            np.save(target / "sample_numbers.npy", events.sample_numbers.astype("<i8"))
            stamps = events.timestamps
            if stamps is None:
                stamps = self._timestamps_for(events.sample_numbers)
            np.save(target / "timestamps.npy", stamps.astype("<f8"))
            words = events.full_words if events.full_words is not None else _full_words(events)
            np.save(target / "full_words.npy", words.astype("<u8"))
            entries.append(
                {
                    "folder_name": folder_name + "/",
                    "channel_name": "Python Processor TTL events" if source == "python" else "TTL events",
                    "description": (
                        "TTL events sent by the processor script (add_python_event)"
                        if source == "python"
                        else "TTL events of the input recording"
                    ),
                    "identifier": "pythonprocessor.events" if source == "python" else "recorded.ttl",
                    "sample_rate": self.template.sample_rate,
                    "type": "int16",
                    "source_processor": node,
                    "stream_name": self.template.stream_name,
                    "initial_state": 0,
                }
            )
        return entries

    def _timestamps_for(self, sample_numbers: np.ndarray) -> np.ndarray:
        stream = self.template
        first = int(stream.sample_numbers[0]) if stream.num_samples else 0
        start = float(stream.timestamps[0]) if stream.timestamps is not None and stream.num_samples else 0.0
        return np.asarray(start + (sample_numbers - first) / stream.sample_rate, dtype=np.float64)

    def _oebin(self, event_entries: list[dict[str, Any]]) -> dict[str, Any]:
        stream = self.template
        return {
            "GUI version": WRITTEN_FORMAT_VERSION,
            "continuous": [
                {
                    "folder_name": stream.folder_name + "/",
                    "sample_rate": stream.sample_rate,
                    "source_processor_name": stream.source_processor_name,
                    "source_processor_id": stream.source_processor_id,
                    "stream_name": stream.stream_name,
                    "recorded_processor": "Record Node",
                    "recorded_processor_id": 0,
                    "num_channels": stream.num_channels,
                    "channels": [
                        {
                            "channel_name": channel.name,
                            "description": channel.description,
                            "identifier": channel.identifier,
                            "history": (channel.history + " -> " if channel.history else "")
                            + "oe-pyproc run",
                            "bit_volts": channel.bit_volts,
                            "units": channel.units,
                        }
                        for channel in stream.channels
                    ],
                }
            ],
            "events": event_entries,
            "spikes": [],
        }

    def close(self) -> WrittenSummary:
        """Finish every file and move the recording into place."""
        self.dat.close()
        self.sample_numbers.close()
        self.timestamps.close()
        event_entries = self._write_events()
        (self.recording_dir / OEBIN).write_text(
            json.dumps(self._oebin(event_entries), indent=2), encoding="utf-8"
        )
        first = int(self.template.sample_numbers[0]) if self.template.num_samples else 0
        (self.recording_dir / "sync_messages.txt").write_text(
            f"Start Time for {self.template.source_processor_name} ({self.template.source_processor_id}) - "
            f"{self.template.stream_name} @ {self.template.sample_rate:g} Hz: {first}\n",
            encoding="utf-8",
        )
        try:
            if self.output.is_dir():
                self.output.rmdir()  # empty, checked in __init__; Windows cannot rename onto a folder
            os.replace(self.staging, self.output)
        except OSError as error:
            self.abort()
            raise RecordingError(f"cannot move the output into place at {self.output}: {error}") from None
        return WrittenSummary(
            directory=self.output / "experiment1" / "recording1",
            samples=self.samples_written,
            events=sum(len(events) for _, events in self.events),
            clipped_samples=self.clipped,
        )

    def abort(self) -> None:
        """Drop everything written so far; `output` is left as it was."""
        for handle in (self.dat, self.sample_numbers.handle, self.timestamps.handle):
            with contextlib.suppress(OSError):
                handle.close()
        shutil.rmtree(self.staging, ignore_errors=True)


def _full_words(events: TtlEvents) -> np.ndarray:
    """The word of all lines after each event, from the edges alone (lines ≥ 64 do not fit in it)."""
    words = np.zeros(len(events), dtype=np.uint64)
    word = 0
    for index, (line, state) in enumerate(zip(events.lines.tolist(), events.states.tolist())):
        if 0 <= line < 64:
            bit = 1 << line
            word = word | bit if state else word & ~bit
        words[index] = word
    return words


def iter_blocks(num_samples: int, block: int) -> Iterator[tuple[int, int]]:
    """[start, stop) sample ranges of consecutive blocks of at most `block` samples."""
    for start in range(0, num_samples, block):
        yield start, min(start + block, num_samples)


# ---------------------------------------------------------------------------------------------- run inputs


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
