"""The input's TTL events and spikes as the host reads them (plugin/host/README.md, "Events")."""

from __future__ import annotations

from pathlib import Path

from oe_pyproc_setup.run.plan import Plan


def _quoted(text: str) -> str:
    """An electrode name as one token of the host's events file (double quotes, `\\` and `"` escaped)."""
    flat = " ".join(text.splitlines())
    return '"' + flat.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_events_file(path: Path, plan: Plan) -> None:
    """The input's TTL events and spikes, numbered from plan.first_sample_number by position in the input,
    sorted by sample number."""
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
