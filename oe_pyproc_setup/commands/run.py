"""`oe-pyproc run SCRIPT`: try a script offline, exactly as the plugin would run it.

The script runs inside the native host (`oe-pyproc-host`, DESIGN §4–5), which loads the Home and the bridge
the way the GUI's adapter does. This command only reads its options into `RunOptions` and hands them to the
`oe_pyproc_setup.run` package (plan, host driver, report, verdict, renderings); numpy is imported only once
the options are known to need a run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.options import (
    FiniteFloatRange,
    PathArgument,
    api_option,
    gui_root_option,
    python_home_option,
)
from oe_pyproc_setup.run.plan import (
    DEFAULT_SAMPLE_RATE,
    DEFAULT_SYNTHETIC_CHANNELS,
    DEFAULT_SYNTHETIC_SECONDS,
    EXIT_INTERRUPTED,
    LOAD_WATCHDOG_SECONDS,
    MAX_SAMPLE_RATE,
    MAX_SECONDS,
    RunOptions,
    check_plot_target,
    import_numpy,
)

if TYPE_CHECKING:
    from oe_pyproc_setup.run.host import KnownSoFar


@click.command("run")
@click.argument("script", type=PathArgument(path_type=Path))
@python_home_option
@click.option(
    "--host",
    type=PathArgument(path_type=Path),
    default=None,
    help="The oe-pyproc-host to use (default: $OE_PYPROC_HOST, then the Home's bin/, then PATH).",
)
@gui_root_option
@api_option
@click.option(
    "--channels",
    type=click.IntRange(1, 4096),
    default=None,
    help=f"Channels of synthetic input (default {DEFAULT_SYNTHETIC_CHANNELS}), or the first N of a recording",
)
@click.option(
    "--sample-rate",
    type=FiniteFloatRange(min=1.0, max=MAX_SAMPLE_RATE),
    default=None,
    help=f"Sample rate in Hz of synthetic input (default {DEFAULT_SAMPLE_RATE:g}).",
)
@click.option(
    "--block",
    type=click.IntRange(1, 1 << 20),
    default=None,
    help="Samples per block (default: what the GUI delivers, 1024 × rate / 44100: 697 at 30 kHz).",
)
@click.option(
    "--seconds",
    type=FiniteFloatRange(min=0.0, min_open=True, max=MAX_SECONDS),
    default=None,
    help=f"Seconds to run (default: synthetic {DEFAULT_SYNTHETIC_SECONDS:g} s, a recording in full).",
)
@click.option(
    "--recording",
    type=PathArgument(path_type=Path),
    default=None,
    help="An Open Ephys recording in the Binary format (the folder with structure.oebin, or one above it).",
)
@click.option(
    "--stream", "stream_name", default=None, help="The recording's stream to process (default: its first)."
)
@click.option(
    "--output",
    type=PathArgument(path_type=Path),
    default=None,
    help="Write the processed data, with the TTL events, as a Binary-format recording into this new folder.",
)
@click.option(
    "--instances", type=click.IntRange(1, 64), default=1, show_default=True, help="Instances in series."
)
@click.option(
    "--watchdog",
    type=FiniteFloatRange(min=0.0, max=86400.0),
    default=None,
    help="Seconds a call of the script's process() or event handlers may take before the watchdog stops "
    "the instance (default as in the plugin: 10 block budgets, at least 1 s; 0: off).",
)
@click.option(
    "--load-watchdog",
    type=FiniteFloatRange(min=0.0, max=86400.0),
    default=None,
    help="Seconds loading the script (import and __init__) may take "
    f"(default {LOAD_WATCHDOG_SECONDS:g}; 0: off).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@click.option(
    "--plot",
    type=PathArgument(path_type=Path),
    default=None,
    help="Save a PNG: raw vs processed traces around an event and the per-block time against the budget.",
)
def run(
    script: Path,
    python_home: Path | None,
    host: Path | None,
    gui_root: Path | None,
    api: int,
    channels: int | None,
    sample_rate: float | None,
    block: int | None,
    seconds: float | None,
    recording: Path | None,
    stream_name: str | None,
    output: Path | None,
    instances: int,
    watchdog: float | None,
    load_watchdog: float | None,
    as_json: bool,
    plot: Path | None,
) -> None:
    """Run SCRIPT offline, exactly as the plugin would: in the native host, with the Home's Python.

    Checks the script first (findings with line numbers), then feeds it a seeded test signal or a
    recording (--recording) with its TTL events, and reports the time per block against the real-time
    budget with a verdict, the bridge's overhead, errors with their traceback and block, warnings, and the
    TTL events the script sent. Ctrl-C stops early with a partial report (exit code 130). Exit code 1 when
    the script raised, was stopped by the watchdog, tried to end the process, or crashed the host.
    """
    options = RunOptions(
        script=script,
        python_home=python_home,
        host=host,
        gui_root=gui_root,
        api=api,
        channels=channels,
        sample_rate=sample_rate,
        block=block,
        seconds=seconds,
        recording=recording,
        stream_name=stream_name,
        output=output,
        instances=instances,
        watchdog=watchdog,
        load_watchdog=load_watchdog,
        as_json=as_json,
        plot=plot,
    )
    from oe_pyproc_setup.run.host import KnownSoFar

    known = KnownSoFar()
    try:
        _run(options, known)
    except KeyboardInterrupt:
        failure = UserFacingError("interrupted before the host made a report", exit_code=EXIT_INTERRUPTED)
        if as_json:
            _echo_json_failure(failure, options, known)
        raise failure from None
    except UserFacingError as failure:
        # --json promises one document on stdout whatever went wrong (the message also goes to stderr).
        if as_json:
            _echo_json_failure(failure, options, known)
        raise


def _echo_json_failure(failure: UserFacingError, options: RunOptions, known: KnownSoFar) -> None:
    from oe_pyproc_setup.run.document import echo_json_failure

    echo_json_failure(failure, options.script, known.check, known.host_run)


def _run(options: RunOptions, known: KnownSoFar) -> None:
    import_numpy()
    if options.plot is not None:
        from oe_pyproc_setup.runplot import require_matplotlib

        require_matplotlib()
        check_plot_target(options.plot)
    if options.stream_name is not None and options.recording is None:
        raise UserFacingError("--stream needs --recording")
    from oe_pyproc_setup.run.document import json_document
    from oe_pyproc_setup.run.session import execute, prepare, show_progress
    from oe_pyproc_setup.run.text import render_text

    plan = prepare(options, known)
    outcome = execute(plan, known, show_progress=show_progress(options))
    if plan.plot_path is not None:
        from oe_pyproc_setup.runplot import save_plot

        save_plot(outcome, plan.plot_path)
        outcome.notes.append(f"Plot: {plan.plot_path}")
    if options.as_json:
        click.echo(json.dumps(json_document(outcome), indent=2))
    else:
        render_text(outcome)
    if outcome.exit_code:
        sys.exit(outcome.exit_code)
