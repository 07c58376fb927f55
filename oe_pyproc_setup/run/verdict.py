"""The verdict: does the script keep up with the GUI's real-time budget, with headroom for the rest?"""

from __future__ import annotations

from dataclasses import dataclass

from oe_pyproc_setup.run.report import HostReport, InstanceReport

# p99 above this share of the budget is reported as tight: the GUI needs headroom for everything else.
TIGHT_BUDGET_PERCENT = 50.0


@dataclass(frozen=True)
class Verdict:
    fits: bool
    tight: bool
    median_percent: float
    p99_percent: float
    max_percent: float
    text: str


def budget_percent(instance: InstanceReport, stat: str, budget_ms: float) -> float | None:
    """Script + bridge time as a share of a full block's budget. Not the host's own `budget_percent`: that
    is per block of its actual length, so the short last block of a run (or of an interrupted one) would
    look many times over budget and decide the verdict of a script that fits."""
    micros = instance.block_time_us(stat)
    return None if micros is None else micros / 1000.0 / budget_ms * 100.0


def _sum_stat(instances: list[InstanceReport], stat: str, budget_ms: float) -> float:
    """Budget percent summed over the instances in series (for percentiles an upper bound of the chain's)."""
    values = [budget_percent(instance, stat, budget_ms) for instance in instances]
    return sum(v for v in values if v is not None)


def judge(report: HostReport, budget_ms: float) -> Verdict | None:
    instances = [instance for instance in report.instances if instance.blocks_processed]
    if not instances:
        return None
    median, p99, worst = (_sum_stat(instances, stat, budget_ms) for stat in ("median", "p99", "max"))
    p99_ms = p99 * budget_ms / 100.0
    if p99 > 100.0:
        text = (
            f"TOO SLOW for live use: 99% of blocks need up to {p99_ms:.2f} ms, {p99 / 100.0:.2f}× the "
            f"{budget_ms:.2f} ms a block lasts (over by {p99_ms - budget_ms:.2f} ms); the GUI would fall "
            "behind and drop data"
        )
        return Verdict(False, False, median, p99, worst, text)
    headroom = f"{100.0 / p99:.0f}× headroom" if p99 > 0 else "no measurable load"
    if p99 > TIGHT_BUDGET_PERCENT:
        text = (
            f"fits, but tight: p99 {p99_ms:.2f} ms is {p99:.0f}% of the {budget_ms:.2f} ms budget; the GUI's "
            "other processors share that time"
        )
    else:
        text = (
            f"fits: p99 {p99_ms:.3f} ms is {p99:.1f}% of the {budget_ms:.2f} ms real-time budget ({headroom})"
        )
    if worst > 100.0:
        text += f"; the slowest block took {worst / 100.0:.1f}× the budget (an occasional overrun)"
    return Verdict(True, p99 > TIGHT_BUDGET_PERCENT, median, p99, worst, text)
