"""Writing one processed stream, with its TTL events, as a Binary-format recording the official reader
opens; written into a hidden folder and renamed into place, so nothing half-written is ever left."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from oe_pyproc_setup.recording.model import (
    INT16_MAX,
    INT16_MIN,
    OEBIN,
    WRITTEN_FORMAT_VERSION,
    RecordingError,
    SpikeChannel,
    Stream,
    TtlEvents,
)


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
    spikes: int
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
        self.spikes: list[SpikeChannel] = []

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

    def add_spikes(self, spikes: SpikeChannel) -> None:
        """One electrode's spikes to record as the input had them (stored waveforms, numbers, clusters)."""
        self.spikes.append(spikes)

    def _write_spikes(self) -> list[dict[str, Any]]:
        """The spike folders and their structure.oebin entries, as the GUI's Record Node writes them."""
        entries: list[dict[str, Any]] = []
        for index, spikes in enumerate(self.spikes):
            target = self.recording_dir / "spikes" / spikes.folder
            target.mkdir(parents=True, exist_ok=True)
            count = len(spikes)
            np.save(target / "waveforms.npy", np.ascontiguousarray(spikes.waveforms))
            np.save(target / "sample_numbers.npy", spikes.sample_numbers.astype("<i8"))
            np.save(target / "timestamps.npy", self._timestamps_for(spikes.sample_numbers).astype("<f8"))
            ids = spikes.sorted_ids
            fits_u16 = not count or (int(ids.min()) >= 0 and int(ids.max()) <= 0xFFFF)
            np.save(target / "clusters.npy", ids.astype("<u2" if fits_u16 else "<i8"))
            np.save(target / "electrode_indices.npy", np.full(count, index, dtype="<u2"))
            entries.append({**spikes.entry, "folder": spikes.folder + "/"})
        return entries

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

    def _oebin(
        self, event_entries: list[dict[str, Any]], spike_entries: list[dict[str, Any]]
    ) -> dict[str, Any]:
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
            "spikes": spike_entries,
        }

    def close(self) -> WrittenSummary:
        """Finish every file and move the recording into place."""
        self.dat.close()
        self.sample_numbers.close()
        self.timestamps.close()
        event_entries = self._write_events()
        spike_entries = self._write_spikes()
        (self.recording_dir / OEBIN).write_text(
            json.dumps(self._oebin(event_entries, spike_entries), indent=2), encoding="utf-8"
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
            spikes=sum(len(spikes) for spikes in self.spikes),
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
