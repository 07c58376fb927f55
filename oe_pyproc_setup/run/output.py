"""The processed stream coming back from the host: kept for --plot, written to --output with the input's
TTL events and spikes and the events each script sent."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.recording import RecordingWriter, TtlEvents
from oe_pyproc_setup.run.plan import Plan
from oe_pyproc_setup.run.report import HostReport

# --plot keeps at most this much processed data (its first channels) to draw the traces from.
PLOT_KEEP_SECONDS = 60.0
PLOT_CHANNELS = 4


class OutputSink:
    """Receives the processed stream: appends it to --output, keeps the first seconds of a few channels for
    --plot."""

    def __init__(self, plan: Plan, writer: RecordingWriter | None) -> None:
        self.plan = plan
        self.writer = writer
        self.keep_channels = min(plan.channels, PLOT_CHANNELS) if plan.plot_path is not None else 0
        self.keep_samples = round(PLOT_KEEP_SECONDS * plan.sample_rate)
        self.kept: list[np.ndarray] = []
        self.kept_samples = 0

    def consume(self, block: np.ndarray, offset: int) -> None:
        stop = offset + block.shape[1]
        if self.writer is not None:
            source = self.plan.source
            self.writer.append_block(
                block, source.sample_numbers(offset, stop), source.timestamps(offset, stop)
            )
        if self.keep_channels and self.kept_samples < self.keep_samples:
            take = min(block.shape[1], self.keep_samples - self.kept_samples)
            self.kept.append(block[: self.keep_channels, :take].copy())
            self.kept_samples += take

    def processed(self) -> np.ndarray | None:
        if not self.keep_channels:
            return None
        if not self.kept:
            return np.zeros((self.keep_channels, 0), dtype=np.float32)
        return np.concatenate(self.kept, axis=1)


@dataclass(frozen=True)
class WrittenOutput:
    """What --output holds once written."""

    directory: str
    samples: int
    events: int
    spikes: int
    clipped_samples: int

    def as_dict(self) -> dict[str, object]:
        return {
            "directory": self.directory,
            "samples": self.samples,
            "events": self.events,
            "spikes": self.spikes,
            "clipped_samples": self.clipped_samples,
        }


def emitted_events(plan: Plan, report: HostReport, done: int) -> list[tuple[int, TtlEvents]]:
    """The TTL events each instance's script sent, as (instance index, events), their host sample numbers
    (from plan.first_sample_number, by position) mapped back to the input's numbering."""
    numbering = plan.source.sample_numbers(0, done)
    per_instance = []
    for instance in report.instances:
        listed = sorted(instance.events_emitted, key=lambda event: event.sample_number)
        relative = np.array([e.sample_number - plan.first_sample_number for e in listed], dtype=np.int64)
        keep = (relative >= 0) & (relative < done)
        if not keep.any():
            continue
        events = TtlEvents(
            sample_numbers=numbering[relative[keep]].astype(np.int64),
            lines=np.array([e.line for e in listed], dtype=np.int16)[keep],
            states=np.array([e.state for e in listed], dtype=bool)[keep],
        )
        per_instance.append((instance.index, events))
    return per_instance


def finish_output(
    plan: Plan, report: HostReport, samples_received: int, writer: RecordingWriter
) -> WrittenOutput:
    """Add the input's and the scripts' TTL events to the processed stream and move --output into place."""
    done = report.samples
    if samples_received != done:
        raise UserFacingError(
            f"the host processed {done} samples but {samples_received} came back through its output"
        )
    source_events = plan.source.events
    if done and len(source_events):
        numbers = plan.source.sample_numbers(0, done)
        writer.add_ttl(source_events.within(int(numbers[0]), int(numbers[-1]) + 1))
    for index, emitted in emitted_events(plan, report, done):
        writer.add_ttl(emitted, python_node=index)
    for spikes in plan.source.recorded_spikes(done):
        writer.add_spikes(spikes)
    written = writer.close()
    return WrittenOutput(
        directory=str(written.directory),
        samples=written.samples,
        events=written.events,
        spikes=written.spikes,
        clipped_samples=written.clipped_samples,
    )
