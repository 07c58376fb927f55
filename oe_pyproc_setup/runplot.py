"""`oe-pyproc run --plot FILE.png`: raw vs processed traces around an event, and block times vs the budget.

matplotlib is an optional extra (`oe-pyproc-setup[plot]`); it is imported only when a plot is asked for,
with the non-interactive Agg backend so no display is needed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.run.report import HostReport

if TYPE_CHECKING:
    import numpy as np

    from oe_pyproc_setup.run.plan import Plan
    from oe_pyproc_setup.run.session import Outcome

# Traces are drawn this long before and after the event.
WINDOW_SECONDS = 0.05
MAX_TRACES = 4


def require_matplotlib() -> None:
    """Fail early, before anything runs, when --plot cannot be honoured."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UserFacingError(
            "--plot needs matplotlib, which is not installed for this Python",
            hint="Install the extra: pip install 'oe-pyproc-setup[plot]'",
        ) from None


def _event_index(plan: Plan, report: HostReport, processed_samples: int) -> tuple[int, str]:
    """The sample (from 0) to centre on, and what it is: the first input TTL event, else the first event the
    script sent, else the middle of the processed data."""
    index, lines, states = plan.source.relative_events()
    for position in range(len(index)):
        if 0 <= int(index[position]) < processed_samples:
            state = "on" if states[position] else "off"
            return int(index[position]), f"input TTL line {int(lines[position])} {state}"
    for instance in report.instances:
        for event in instance.events_emitted:
            sample = event.sample_number - plan.first_sample_number
            if 0 <= sample < processed_samples:
                return sample, f"script's TTL line {event.line} {'on' if event.state else 'off'}"
    return processed_samples // 2, "middle of the run (no TTL event)"


def _block_percents(report: HostReport) -> list[float] | None:
    """Per-block budget use in percent, summed over instances, when the host reports them block by block."""
    per_instance = [instance.block_budget_percent for instance in report.instances]
    listed = [values for values in per_instance if values is not None]
    if not per_instance or len(listed) != len(per_instance):
        return None
    length = min(len(values) for values in listed)
    return [sum(values[b] for values in listed) for b in range(length)]


def percentile_bars(report: HostReport, *, several: bool) -> tuple[list[str], list[float]]:
    """Labels and milliseconds (script + bridge) of each instance's median, p99 and max block time. From the
    times, not the host's budget_percent: that is per block of its own length, and the short last block of a
    run would be drawn many times too long against a full block's budget."""
    labels, values = [], []
    for instance in report.instances:
        for name in ("median", "p99", "max"):
            labels.append(f"#{instance.index} {name}" if several else name)
            values.append((instance.block_time_us(name) or 0.0) / 1000.0)
    return labels, values


def save_plot(outcome: Outcome, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    plan, report = outcome.plan, outcome.report
    processed: np.ndarray | None = outcome.sink.processed()
    figure, (traces_axis, time_axis) = plt.subplots(
        2, 1, figsize=(11, 8), gridspec_kw={"height_ratios": [3, 2]}
    )
    figure.suptitle(
        f"oe-pyproc run {plan.script.name}" + (" (interrupted: partial)" if outcome.run.interrupted else "")
    )

    if processed is not None and processed.shape[1]:
        centre, what = _event_index(plan, report, processed.shape[1])
        half = max(1, round(WINDOW_SECONDS * plan.sample_rate))
        start, stop = max(0, centre - half), min(processed.shape[1], centre + half)
        seconds = (np.arange(start, stop) - centre) / plan.sample_rate * 1000.0
        shown = min(processed.shape[0], MAX_TRACES)
        raw = plan.source.scaled(start, stop, shown)
        spread = float(np.ptp(processed[:shown, start:stop])) if stop > start else 1.0
        if raw.size:
            spread = max(spread, float(np.ptp(raw)))
        offset = spread * 1.2 if spread > 0 else 1.0
        for row in range(shown):
            traces_axis.plot(
                seconds,
                raw[row] - row * offset,
                color="0.6",
                linewidth=0.8,
                label="raw" if row == 0 else None,
            )
            traces_axis.plot(
                seconds,
                processed[row, start:stop] - row * offset,
                color="C0",
                linewidth=0.8,
                label="processed" if row == 0 else None,
            )
        traces_axis.axvline(0.0, color="C3", linestyle="--", linewidth=1.0, label=what)
        traces_axis.set_xlabel("time from the event (ms)")
        traces_axis.set_ylabel(f"channels 1–{shown} (offset), µV")
        traces_axis.set_title(f"raw (grey) vs processed, around the {what}")
        traces_axis.legend(loc="upper right", fontsize="small")
    else:
        traces_axis.text(0.5, 0.5, "no processed data came back", ha="center", va="center")
        traces_axis.set_axis_off()

    budget = plan.budget_ms
    percents = _block_percents(report)
    if percents:
        times = np.asarray(percents) * budget / 100.0
        # Log-spaced bins on a log axis: blocks far below the budget stay visible next to the budget line.
        low = max(float(times[times > 0].min()) if np.any(times > 0) else budget, budget * 1e-5)
        high = max(float(times.max()), budget) * 1.1
        bins = np.geomspace(low * 0.9, high, min(60, max(10, len(times) // 5)) + 1)
        time_axis.hist(np.clip(times, bins[0], None), bins=bins, color="C0")
        time_axis.set_xscale("log")
        time_axis.set_xlabel("time per block, script + bridge (ms, log scale)")
        time_axis.set_ylabel("blocks")
        time_axis.axvline(budget, color="C3", linewidth=1.5, label=f"real-time budget {budget:.2f} ms")
        # The host lists at most 100000 blocks per instance (plugin/host/README.md).
        ran = min(instance.blocks_processed for instance in report.instances)
        cut = f" (the first {len(times)} of {ran})" if len(times) < ran else ""
        time_axis.set_title(f"per-block time of {len(times)} blocks{cut} vs the budget")
    else:
        # The report carries percentiles only: show them against the budget.
        labels, values = percentile_bars(report, several=plan.instances > 1)
        time_axis.barh(labels, values, color="C0")
        time_axis.axvline(budget, color="C3", linewidth=1.5, label=f"real-time budget {budget:.2f} ms")
        time_axis.set_xlabel("time per block, script + bridge (ms)")
        time_axis.set_title("per-block time percentiles vs the budget")
    time_axis.legend(loc="best", fontsize="small")
    figure.tight_layout()

    path = Path(path)
    if not path.parent.is_dir():
        raise UserFacingError(f"--plot {path}: the folder {path.parent} does not exist")
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".png")
    os.close(handle)
    try:
        # What the lower panel shows, also as PNG text (readable without looking at the picture).
        metadata = {"Title": f"oe-pyproc run {plan.script.name}", "Description": time_axis.get_title()}
        figure.savefig(temp_name, dpi=110, format="png", metadata=metadata)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp_name, 0o666 & ~umask)  # as any new file, not mkstemp's private 0600
        os.replace(temp_name, path)
    except OSError as error:
        Path(temp_name).unlink(missing_ok=True)
        raise UserFacingError(f"cannot write the plot {path}: {error.strerror or error}") from None
    finally:
        plt.close(figure)
