"""Reading a Binary-format recording: find its folder, check its metadata, memory-map its streams."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from oe_pyproc_setup.fsutil import ensure_regular, read_regular_bytes
from oe_pyproc_setup.recording.model import (
    MAX_BIT_VOLTS,
    MAX_SAMPLE_RATE,
    MIN_BIT_VOLTS,
    OEBIN,
    Channel,
    Recording,
    RecordingError,
    SpikeChannel,
    Stream,
    TtlEvents,
)


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
        text = read_regular_bytes(oebin).decode("utf-8")
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
        ensure_regular(path)  # np.load on a FIFO would block for ever
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


def _bit_volts(entry: dict[str, Any], where: str) -> float:
    """A channel's bit_volts: finite, positive and of a size some recording system uses."""
    value: float = _field(entry, "bit_volts", float, where)
    if not MIN_BIT_VOLTS <= value <= MAX_BIT_VOLTS:
        problem = "must be positive" if value <= 0 else "is beyond any recording system's"
        raise RecordingError(
            f"{where}: field 'bit_volts' is {value!r}: it {problem} ({MIN_BIT_VOLTS:g} to {MAX_BIT_VOLTS:g} "
            "units per step); the channel's data cannot be scaled, nothing was run",
            hint="The recording's structure.oebin is damaged or was edited; restore it from the original.",
        )
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
                bit_volts=_bit_volts(raw, f"{where}, channel {index} ({raw.get('channel_name', '?')})"),
                units=str(raw.get("units", "uV")),
                description=str(raw.get("description", "")),
                identifier=str(raw.get("identifier", "")),
                history=str(raw.get("history", "")),
            )
        )
    declared = entry.get("num_channels")
    if declared is not None and (not isinstance(declared, int) or isinstance(declared, bool)):
        raise RecordingError(f"{where}: field 'num_channels' is not a whole number (found {declared!r})")
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
        _bit_volts(source if isinstance(source, dict) else {}, f"{where}, source_channels[{i}]")
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
        entry=entry,
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
