"""One run from options to outcome: check the script, open the input, find the Home and host, run the host,
write --output. The command renders the outcome (and draws --plot) from what this returns."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field

import click

from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.hostfind import find_host
from oe_pyproc_setup.recording import RecordingError, RecordingWriter, open_recording
from oe_pyproc_setup.run.host import HostRun, KnownSoFar, run_host
from oe_pyproc_setup.run.inputs import RunInput, StreamInput, SyntheticInput
from oe_pyproc_setup.run.output import OutputSink, WrittenOutput, finish_output
from oe_pyproc_setup.run.plan import (
    DEFAULT_SAMPLE_RATE,
    DEFAULT_SYNTHETIC_CHANNELS,
    DEFAULT_SYNTHETIC_SECONDS,
    EXIT_INTERRUPTED,
    Plan,
    RunOptions,
    configured_home,
    gui_block_size,
)
from oe_pyproc_setup.run.report import HostReport, HostWarning
from oe_pyproc_setup.run.verdict import Verdict, judge
from oe_pyproc_setup.script_check import check_script


@dataclass
class Outcome:
    """A run that produced a report: everything the text and JSON renderings show."""

    plan: Plan
    run: HostRun
    report: HostReport
    sink: OutputSink
    verdict: Verdict | None
    output: WrittenOutput | None
    warnings: list[HostWarning] = field(default_factory=list)  # run's own, after the host's
    notes: list[str] = field(default_factory=list)
    limits: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.run.interrupted:
            return EXIT_INTERRUPTED
        return 1 if self.report.errors else 0


def make_source(options: RunOptions) -> RunInput:
    """The input the options ask for: a recording's stream (checked against the options), or synthetic."""
    recording, sample_rate, seconds = options.recording, options.sample_rate, options.seconds
    if recording is None:
        rate = sample_rate or DEFAULT_SAMPLE_RATE
        total = max(1, round((seconds or DEFAULT_SYNTHETIC_SECONDS) * rate))
        return SyntheticInput(options.channels or DEFAULT_SYNTHETIC_CHANNELS, rate, total)
    opened = open_recording(recording)
    stream = opened.select_stream(options.stream_name)
    if sample_rate is not None and not math.isclose(sample_rate, stream.sample_rate):
        raise RecordingError(
            f"--sample-rate {sample_rate:g} does not match the stream's {stream.sample_rate:g} Hz",
            hint="--sample-rate is for synthetic input; a recording runs at its own rate.",
        )
    wanted = options.channels or stream.num_channels
    if wanted > stream.num_channels:
        raise RecordingError(
            f"--channels {wanted}: the stream {stream.stream_name!r} has {stream.num_channels}"
        )
    if stream.num_samples == 0:
        raise RecordingError(f"the stream {stream.stream_name!r} in {opened.directory} holds no samples")
    total = (
        stream.num_samples
        if seconds is None
        else min(stream.num_samples, round(seconds * stream.sample_rate))
    )
    if total <= 0:
        raise RecordingError(f"--seconds {seconds:g} is shorter than one sample at {stream.sample_rate:g} Hz")
    source = StreamInput(stream, wanted, total)
    source.other_streams = tuple(name for name in opened.stream_names() if name != stream.stream_name)
    return source


def prepare(options: RunOptions, known: KnownSoFar) -> Plan:
    """Check the script and decide the run; nothing runs yet."""
    check = known.check = check_script(options.script)
    if check.findings and not options.as_json:
        click.echo(check.render(), err=True)
    if not check.ok:
        raise UserFacingError(
            f"{options.script}: {len(check.errors)} error(s) found before running; "
            "the plugin could not run it" + ("\n" + check.render() if options.as_json else "")
        )
    source = make_source(options)
    home = options.python_home
    if home is None:
        home = configured_home(options.gui_root, options.api)
    return Plan(
        script=options.script,
        check=check,
        host=find_host(options.host, home),
        python_home=home,
        source=source,
        recording=options.recording,
        block=options.block or gui_block_size(source.sample_rate),
        instances=options.instances,
        gui_root=options.gui_root,
        api=options.api,
        output_dir=options.output,
        plot_path=options.plot,
        home_given=options.python_home is not None,
        spikes=[records for records in source.relative_spikes() if len(records)],
        watchdog=options.watchdog,
        load_watchdog=options.load_watchdog,
    )


def execute(plan: Plan, known: KnownSoFar, *, show_progress: bool) -> Outcome:
    """Run the host over the plan's input; --output is written whole or not at all."""
    writer = RecordingWriter(plan.output_dir, plan.source.template) if plan.output_dir is not None else None
    if writer is not None:
        # As in the GUI, start_recording gets the recording folder being written (here under a temporary
        # name until the run ends); whatever the script writes there ends up in --output.
        plan.record_dir = writer.recording_dir
    sink = OutputSink(plan, writer)
    try:
        run = known.host_run = run_host(plan, sink, show_progress=show_progress)
        return _outcome(plan, run, sink, writer)
    except BaseException:
        if writer is not None:
            writer.abort()  # nothing half-written is left behind
        raise


def _outcome(plan: Plan, run: HostRun, sink: OutputSink, writer: RecordingWriter | None) -> Outcome:
    report = run.report
    if report is None or run.exit_code not in (0, 1) or report.fatal_stage == "watchdog":
        if run.interrupted and report is None:
            raise UserFacingError("interrupted before the host wrote a report", exit_code=EXIT_INTERRUPTED)
        raise run.failure()
    if not run.interrupted and report.samples < plan.source.num_samples:
        # Never a success with data missing: a script that read the host's standard input (its data)
        # or forked ended the run early without an error of its own.
        raise UserFacingError(
            f"the host processed {report.samples} of the {plan.source.num_samples} input samples and then "
            "stopped without an error: the rest of the data is missing (a script that reads standard input "
            "or forks can do this)",
        )
    outcome = Outcome(
        plan=plan,
        run=run,
        report=report,
        sink=sink,
        verdict=judge(report, plan.budget_ms),
        output=None,
        limits=plan.limits(),
    )
    if writer is not None:
        written = outcome.output = finish_output(plan, report, run.samples_received, writer)
        outcome.notes.append(
            f"\nOutput: {written.directory} ({written.samples} samples, {written.events} TTL events, "
            f"{written.spikes} spikes)"
        )
        if written.clipped_samples:
            outcome.warnings.append(
                HostWarning(
                    block=None,
                    message=f"{written.clipped_samples} processed values did not fit the recording format's "
                    "int16 (value / bit_volts) and were clipped in --output",
                )
            )
    return outcome


def show_progress(options: RunOptions) -> bool:
    return not options.as_json and sys.stderr.isatty()
