"""The run's report as text, for a person at a terminal."""

from __future__ import annotations

import click

from oe_pyproc_setup.run.plan import Plan
from oe_pyproc_setup.run.report import HostReport
from oe_pyproc_setup.run.session import Outcome
from oe_pyproc_setup.run.verdict import budget_percent

HOST_LOG_PREFIX = "oe-pyproc-host: ["


def _fmt_us(number: float | None) -> str:
    if number is None:
        return "-"
    if number >= 1000:
        return f"{number / 1000.0:.2f} ms"
    return f"{number:.1f} µs" if number >= 10 else f"{number:.2f} µs"


def _fmt_percent(number: float | None) -> str:
    return "-" if number is None else f"{number:.2f}%"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _describe_input(plan: Plan) -> str:
    source = plan.source
    seconds = plan.num_samples / plan.sample_rate
    if plan.recording is not None:
        stream = source.template
        others = source.other_streams
        choice = f" (--stream for the others: {', '.join(others)})" if others else ""
        return (
            f"recording stream {stream.stream_name!r} ({stream.folder_name}), {plan.channels} ch at "
            f"{plan.sample_rate:g} Hz, {seconds:.2f} s, {_count(len(source.events), 'TTL event')}, "
            f"{_count(plan.spike_count, 'spike')}{choice}"
        )
    return (
        f"synthetic (seeded), {plan.channels} ch at {plan.sample_rate:g} Hz, {seconds:.2f} s, "
        f"{_count(len(source.events), 'TTL event')}, {_count(plan.spike_count, 'spike')}"
    )


def _script_output_lines(stderr: str, report: HostReport) -> list[str]:
    """What the script printed: the host's own log messages are left out, they are in the report already
    (warnings, and errors with their traceback); --json keeps everything."""
    text = stderr
    for error in report.errors:
        if error.traceback.strip():
            text = text.replace(error.traceback, "")
    return [
        line for line in text.strip().splitlines() if line.strip() and not line.startswith(HOST_LOG_PREFIX)
    ]


def _render_instances(outcome: Outcome) -> None:
    plan, report = outcome.plan, outcome.report
    for instance in report.instances:
        script, overhead = instance.script_us, instance.overhead_us
        percent = {stat: budget_percent(instance, stat, plan.budget_ms) for stat in ("median", "p99", "max")}
        label = f"Instance {instance.index}" if plan.instances > 1 else "Per-block time"
        click.echo(
            f"{label}: script median {_fmt_us(script.median)}, p99 {_fmt_us(script.p99)}, "
            f"max {_fmt_us(script.max)}; budget used median {_fmt_percent(percent['median'])}, "
            f"p99 {_fmt_percent(percent['p99'])}, max {_fmt_percent(percent['max'])}"
        )
        state = " (FAULTED: the script is bypassed after its error)" if instance.faulted else ""
        click.echo(
            f"  bridge overhead median {_fmt_us(overhead.median)}, p99 {_fmt_us(overhead.p99)}, "
            f"max {_fmt_us(overhead.max)}; blocks processed {instance.blocks_processed}, "
            f"bypassed {instance.blocks_bypassed}{state}"
        )


def _render_events_and_errors(outcome: Outcome) -> None:
    echo, plan, report = click.echo, outcome.plan, outcome.report
    emitted = report.events_emitted_count
    echo(f"TTL events emitted by the script: {emitted}")
    listed = [event for instance in report.instances for event in instance.events_emitted]
    for event in listed[:5]:
        echo(
            f"  line {event.line} {'on ' if event.state else 'off'} at sample "
            f"{plan.input_sample(event.sample_number)} (block {event.block})"
        )
    if emitted > 5:
        echo(f"  … and {emitted - 5} more")
    if report.errors:
        echo(f"\nErrors: {len(report.errors)}")
        for error in report.errors[:5]:
            where = f"block {error.block}" if error.block is not None else "outside any block"
            first = (
                f", first sample {plan.input_sample(error.sample_number)}"
                if error.sample_number is not None
                else ""
            )
            echo(f"- {error.method or '?'}() of instance {error.instance}, {where}{first}: {error.message}")
            traceback_text = error.traceback.rstrip()
            if traceback_text:
                echo("  " + traceback_text.replace("\n", "\n  "))
        if len(report.errors) > 5:
            echo(f"… and {len(report.errors) - 5} more (--json lists them all)")


def render_text(outcome: Outcome) -> None:
    echo, plan, report, run = click.echo, outcome.plan, outcome.report, outcome.run
    echo(f"Script: {plan.script}")
    if report.home_chosen:
        version = (report.python_version or "?").split()[0]
        echo(f"Home:   {report.home_chosen} (Python {version}, numpy {report.numpy_version or '?'})")
    echo(f"Host:   {plan.host.path} (found via {plan.host.origin})")
    echo(f"Input:  {_describe_input(plan)}")
    speed = report.realtime_factor
    echo(
        f"Blocks: {'?' if report.blocks is None else report.blocks} of ~{plan.block} samples "
        f"(real-time budget {plan.budget_ms:.2f} ms "
        f"per block), {plan.instances} instance{'s' if plan.instances > 1 else ''} in series"
        + (f"; ran at {speed:.1f}× real time" if speed else "")
    )
    if run.interrupted:
        echo(
            f"INTERRUPTED after {report.samples} of {plan.num_samples} samples: everything below is partial."
        )
    echo("")
    _render_instances(outcome)
    if outcome.verdict is None:
        echo("Verdict: no block reached the script, nothing to judge")
    else:
        ran = [instance.blocks_processed for instance in report.instances]
        total = report.blocks or 0
        partial = (
            f" (judged on the {min(ran)} of {total} blocks the script ran)"
            if ran and min(ran) < total
            else ""
        )
        echo(f"Verdict: {outcome.verdict.text}{partial}")
    _render_events_and_errors(outcome)
    warnings = report.warnings + outcome.warnings
    if warnings:
        echo(f"\nWarnings: {len(warnings)}")
        for warning in warnings[:10]:
            where = f"block {warning.block}: " if warning.block is not None else ""
            echo(f"- {where}{warning.message}")
    lines = _script_output_lines(run.stderr, report)
    if lines:
        echo(f"\nScript output ({_count(len(lines), 'line')}{', the last 20' if len(lines) > 20 else ''}):")
        echo("  " + "\n  ".join(lines[-20:]))
    for note in outcome.notes:
        echo(note)
    for limit in outcome.limits:
        echo(f"Note: {limit}")
