"""The input's TTL events and spikes as the host reads them (plugin/host/README.md, "Events" and "Binary
events"). `run` writes the binary stream: a few array copies per electrode instead of formatting every
waveform value as text. The text form stays for reading by eye and for the benchmark's comparison."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.run.plan import Plan

BINARY_MAGIC = b"OEPYEVNT"
BINARY_VERSION = 1
SECTION_TTL = 1
SECTION_SPIKES = 2
MAX_TTL_LINE = 255


def write_events_binary(path: Path, plan: Plan) -> None:
    """The input's TTL events (one section) and each electrode's spikes (one section each), numbered from
    plan.first_sample_number by position in the input; the host orders them by sample number."""
    first = plan.first_sample_number
    index, lines, states = plan.source.relative_events()
    if len(lines) and (int(lines.min()) < 0 or int(lines.max()) > MAX_TTL_LINE):
        raise UserFacingError(f"the input has a TTL line outside 0..{MAX_TTL_LINE}; the GUI has no such line")
    with open(path, "wb") as stream:
        stream.write(BINARY_MAGIC + struct.pack("<II", BINARY_VERSION, 0))
        if len(index):
            stream.write(struct.pack("<IQ", SECTION_TTL, len(index)))
            stream.write((index + first).astype("<i8").tobytes())
            stream.write(lines.astype("u1").tobytes())
            stream.write(states.astype("u1").tobytes())
        for records in plan.spikes:
            name = records.electrode.encode("utf-8")
            channels, samples = records.waveforms.shape[1:]
            head = (SECTION_SPIKES, len(records), records.source_node, channels, samples, len(name))
            stream.write(struct.pack("<IQiIII", *head) + name)
            stream.write((records.positions + first).astype("<i8").tobytes())
            stream.write(np.clip(records.sorted_ids, -(1 << 31), (1 << 31) - 1).astype("<i4").tobytes())
            stream.write(np.ascontiguousarray(records.waveforms, dtype="<f4").tobytes())


def _quoted(text: str) -> str:
    """An electrode name as one token of the host's events file (double quotes, `\\` and `"` escaped)."""
    flat = " ".join(text.splitlines())
    return '"' + flat.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_events_text(path: Path, plan: Plan) -> None:
    """The same events as text lines, sorted by sample number."""
    first = plan.first_sample_number
    index, lines, states = plan.source.relative_events()
    rows: list[tuple[int, str]] = [
        (i, f"{first + i} {line} {1 if state else 0}")
        for i, line, state in zip(index.tolist(), lines.tolist(), states.tolist())
    ]
    for records in plan.spikes:
        channels, samples = records.waveforms.shape[1:]
        head = f"{records.source_node} {_quoted(records.electrode)} {channels} {samples}"
        values = records.waveforms.reshape(len(records), -1)
        # 9 significant digits give back the exact float32; one % per spike is 3x faster than str per value.
        row_format = " ".join(["%.9g"] * values.shape[1])
        for k, (position, sorted_id) in enumerate(
            zip(records.positions.tolist(), records.sorted_ids.tolist())
        ):
            text = row_format % tuple(values[k].tolist())
            rows.append((position, f"spike {first + position} {head} {sorted_id} {text}"))
    rows.sort(key=lambda row: row[0])
    with open(path, "w", encoding="utf-8") as stream:
        stream.write("# sample_number line state | spike sample_number source electrode channels samples …\n")
        for _, row in rows:
            stream.write(row + "\n")


EVENT_WRITERS = {"binary": write_events_binary, "text": write_events_text}
