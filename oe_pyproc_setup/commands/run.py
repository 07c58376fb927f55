"""`oe-pyproc run SCRIPT`: try a script offline, exactly as the plugin would run it.

The script runs inside the native host (`oe-pyproc-host`, DESIGN §4–5), which loads the Home and the bridge
the way the GUI's adapter does. This command checks the script statically, decodes a recording (numpy,
imported only here) and streams it with its TTL events into the host's raw input, reads the processed
stream back for `--output`/`--plot`, shows progress, and turns the host's JSON report into a verdict.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.hostfind import FoundHost, find_host
from oe_pyproc_setup.options import api_option, gui_root_option, python_home_option
from oe_pyproc_setup.script_check import CheckResult, check_script

if TYPE_CHECKING:
    import numpy as np

    from oe_pyproc_setup.recording import RecordingWriter, Stream, TtlEvents

# The GUI's audio callback: 1024 samples at 44.1 kHz, so a stream at `rate` gets 1024 * rate / 44100 samples.
GUI_CALLBACK_SAMPLES = 1024
GUI_CALLBACK_RATE = 44100.0
DEFAULT_SAMPLE_RATE = 30000.0
DEFAULT_SYNTHETIC_CHANNELS = 16
DEFAULT_SYNTHETIC_SECONDS = 2.0
# Samples per chunk of the host's raw input/output (its framing, not the block size).
CHUNK_SAMPLES = 4096
MAX_LISTED_EVENTS = 10_000_000
# p99 above this share of the budget is reported as tight: the GUI needs headroom for everything else.
TIGHT_BUDGET_PERCENT = 50.0
EXIT_INTERRUPTED = 130
HOST_EXIT_MEANINGS = {
    2: "the host rejected its arguments",
    3: "no valid Python Home, or Python could not start",
    4: "the script could not be loaded",
    5: "an input or output file problem",
}


def gui_block_size(sample_rate: float) -> int:
    """Samples per block the GUI delivers for a stream at `sample_rate` (697 at 30 kHz)."""
    return max(1, round(GUI_CALLBACK_SAMPLES * sample_rate / GUI_CALLBACK_RATE))


def _import_numpy() -> None:
    try:
        import numpy  # noqa: F401
    except ImportError:
        raise UserFacingError(
            "`oe-pyproc run` needs numpy to decode recordings and read the processed data, and it is not "
            f"installed for this Python ({sys.executable})",
            hint="Install the extra: pip install 'oe-pyproc-setup[run]'",
        ) from None


# ---------------------------------------------------------------------------------------------- the plan


@dataclass
class Plan:
    """Everything decided before the host starts."""

    script: Path
    check: CheckResult
    host: FoundHost
    python_home: Path | None
    home_origin: str
    channels: int
    sample_rate: float
    block: int
    instances: int
    seconds: float
    num_samples: int
    stream: Stream | None = None  # None: the host's synthetic source
    channel_index: np.ndarray | None = None
    first_index: int = 0  # index of the first processed sample in the stream
    input_events: TtlEvents | None = None
    want_output: bool = False
    output_dir: Path | None = None
    plot_path: Path | None = None
    gui_root: Path | None = None
    api: int = 10

    @property
    def budget_ms(self) -> float:
        return 1000.0 * self.block / self.sample_rate

    @property
    def source(self) -> str:
        return "recording" if self.stream is not None else "synthetic"


def _configured_home(gui_root: Path | None, api: int) -> Path | None:
    from oe_pyproc_setup.defaulthome import read_default_home
    from oe_pyproc_setup.gui import resolve_layout

    record = read_default_home(resolve_layout(gui_root, api).default_home_file)
    return None if record is None else record.python_home


# ---------------------------------------------------------------------------------------------- the host run


@dataclass
class HostRun:
    """What came back from the host."""

    exit_code: int | None
    report: dict[str, Any] | None
    stderr: str
    interrupted: bool
    samples_done: int
    command: list[str]
    output_samples: int = 0


@dataclass
class _Shared:
    fed: int = 0
    received: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    errors: list[BaseException] = field(default_factory=list)


def _host_command(plan: Plan, workdir: Path, report_path: Path) -> list[str]:
    command = [str(plan.host.path)]
    command += ["--script", str(plan.script.absolute())]
    command += ["--instances", str(plan.instances)]
    if plan.python_home is not None:
        command += ["--python-home", str(plan.python_home)]
    if plan.gui_root is not None:
        command += ["--gui-root", str(plan.gui_root)]
    command += ["--api", str(plan.api)]
    command += ["--channels", str(plan.channels), "--sample-rate", repr(float(plan.sample_rate))]
    command += [
        "--block-size",
        str(plan.block),
        "--callback-size",
        str(max(GUI_CALLBACK_SAMPLES, plan.block + 1)),
    ]
    command += ["--chunk", str(CHUNK_SAMPLES), "--max-events", str(MAX_LISTED_EVENTS)]
    command += ["--json-file", str(report_path)]
    if plan.stream is not None:
        command += ["--input", "-", *_input_format_flags(plan)]
        if plan.input_events is not None and len(plan.input_events):
            events_file = workdir / "events.txt"
            _write_events_file(events_file, plan)
            command += ["--events", str(events_file)]
    else:
        command += ["--duration", repr(plan.seconds)]
    if plan.want_output:
        command += ["--output", "-"]
    return command


def _uniform_bit_volts(plan: Plan) -> float | None:
    assert plan.stream is not None and plan.channel_index is not None
    values = {plan.stream.channels[int(i)].bit_volts for i in plan.channel_index}
    return values.pop() if len(values) == 1 else None


def _input_format_flags(plan: Plan) -> list[str]:
    scale = _uniform_bit_volts(plan)
    if scale is not None:
        # The recorded int16 with one scale: half the bytes of float32, and the host scales as the GUI does.
        return ["--input-format", "int16", "--input-scale", repr(scale)]
    return ["--input-format", "float32"]


def _write_events_file(path: Path, plan: Plan) -> None:
    """The input TTL events, as `sample_number line state` with sample numbers counted from the first
    processed sample (the host numbers its stream from 0)."""
    assert plan.stream is not None and plan.input_events is not None
    import numpy as np

    events = plan.input_events
    indices = np.searchsorted(plan.stream.sample_numbers, events.sample_numbers) - plan.first_index
    lines = [
        f"{int(index)} {int(line)} {1 if state else 0}"
        for index, line, state in zip(indices.tolist(), events.lines.tolist(), events.states.tolist())
    ]
    path.write_text("# sample_number line state\n" + "\n".join(lines) + "\n", encoding="utf-8")


def _feed_input(plan: Plan, pipe: IO[bytes], shared: _Shared) -> None:
    """Writer thread: the recording's samples as channel-major chunks, until done or told to stop."""
    import numpy as np

    assert plan.stream is not None and plan.channel_index is not None
    stream = plan.stream
    as_int16 = _uniform_bit_volts(plan) is not None
    try:
        for start in range(plan.first_index, plan.first_index + plan.num_samples, CHUNK_SAMPLES):
            if shared.stop.is_set():
                break
            stop = min(start + CHUNK_SAMPLES, plan.first_index + plan.num_samples)
            if as_int16:
                chunk = np.ascontiguousarray(stream.samples[start:stop, plan.channel_index].T, dtype="<i2")
            else:
                chunk = stream.scaled_block(start, stop, plan.channel_index).astype("<f4", copy=False)
            pipe.write(chunk.tobytes())
            shared.fed += stop - start
    except (BrokenPipeError, OSError):
        pass  # the host ended early; its report says why
    except BaseException as error:  # reported by the main thread
        shared.errors.append(error)
    finally:
        with contextlib.suppress(OSError):
            pipe.close()


def _read_exact(pipe: IO[bytes], size: int) -> bytes:
    parts: list[bytes] = []
    remaining = size
    while remaining:
        data = pipe.read(remaining)
        if not data:
            break
        parts.append(data)
        remaining -= len(data)
    return b"".join(parts)


class _OutputSink:
    """Receives the processed stream: writes it to --output and keeps what --plot needs."""

    def __init__(self, plan: Plan, writer: RecordingWriter | None, keep_channels: int) -> None:
        self.plan = plan
        self.writer = writer
        self.keep_channels = keep_channels
        self.kept: list[np.ndarray] = []

    def consume(self, block: np.ndarray, offset: int) -> None:
        import numpy as np

        plan = self.plan
        if self.writer is not None:
            if plan.stream is not None:
                first = plan.first_index + offset
                numbers = plan.stream.sample_numbers[first : first + block.shape[1]]
                stamps = (
                    plan.stream.timestamps[first : first + block.shape[1]]
                    if plan.stream.timestamps is not None
                    else numbers / plan.sample_rate
                )
            else:
                numbers = np.arange(offset, offset + block.shape[1], dtype=np.int64)
                stamps = numbers / plan.sample_rate
            self.writer.append_block(block, numbers, stamps)
        if self.keep_channels:
            self.kept.append(block[: self.keep_channels].copy())

    def processed(self) -> np.ndarray | None:
        import numpy as np

        if not self.keep_channels:
            return None
        if not self.kept:
            return np.zeros((self.keep_channels, 0), dtype=np.float32)
        return np.concatenate(self.kept, axis=1)


def _read_output(plan: Plan, pipe: IO[bytes], sink: _OutputSink, shared: _Shared) -> None:
    """Reader thread: float32 channel-major chunks of CHUNK_SAMPLES (the last may be shorter)."""
    import numpy as np

    frame = plan.channels * 4
    try:
        while True:
            data = _read_exact(pipe, frame * CHUNK_SAMPLES)
            if not data:
                break
            samples = len(data) // frame
            if samples == 0:
                break
            block = np.frombuffer(data[: samples * frame], dtype="<f4").reshape(plan.channels, samples)
            sink.consume(block, shared.received)
            shared.received += samples
            if samples < CHUNK_SAMPLES:
                break
    except BaseException as error:
        shared.errors.append(error)
    finally:
        # Keep draining so the host never blocks on a full pipe while it finishes.
        with contextlib.suppress(OSError):
            while pipe.read(1 << 16):
                pass


def _collect_stderr(pipe: IO[bytes], lines: list[str]) -> None:
    for raw in iter(pipe.readline, b""):
        lines.append(raw.decode("utf-8", "replace"))


def _signal_host(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        if os.name == "posix":
            process.send_signal(signal.SIGINT)
        else:  # Windows, unverified: CTRL_BREAK to the host's own process group
            process.send_signal(signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined]


def _stop_host(process: subprocess.Popen[bytes], plan: Plan, shared: _Shared) -> None:
    """Ask the host to stop early and still write its report.

    With a recording we just end its input: it finishes the blocks it has and reports, as at the end of
    any recording. Synthetic input has no end to cut, so the host gets SIGINT (as from a terminal);
    so does a host that has not stopped 10 s after its input ended. One that ignores that is killed.
    """
    shared.stop.set()
    if plan.stream is None:
        _signal_host(process)
    else:
        try:
            process.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            _signal_host(process)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_with_progress(
    process: subprocess.Popen[bytes], total: int, progress_of: Callable[[], int], show: bool
) -> None:
    with click.progressbar(
        length=max(total, 1),
        label="Running",
        file=sys.stderr if show else io.StringIO(),
        show_percent=True,
        show_eta=True,
    ) as bar:
        shown = 0
        while True:
            finished = process.poll() is not None
            done = progress_of()
            if done > shown:
                bar.update(done - shown)
                shown = done
            if finished:
                break
            time.sleep(0.1)


def run_host(plan: Plan, sink: _OutputSink, show_progress: bool) -> HostRun:
    with tempfile.TemporaryDirectory(prefix="oe-pyproc-run-") as temp:
        workdir = Path(temp)
        report_path = workdir / "report.json"
        command = _host_command(plan, workdir, report_path)
        popen_extra: dict[str, Any] = {}
        if os.name == "posix":
            popen_extra["start_new_session"] = True  # Ctrl-C reaches only us; we stop the host cleanly
        else:
            popen_extra["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE if plan.stream is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE if plan.want_output else subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                **popen_extra,
            )
        except OSError as error:
            raise UserFacingError(
                f"cannot start the host {plan.host.path}: {error.strerror or error}"
            ) from None
        shared = _Shared()
        stderr_lines: list[str] = []
        threads = [threading.Thread(target=_collect_stderr, args=(process.stderr, stderr_lines), daemon=True)]
        if plan.stream is not None:
            threads.append(
                threading.Thread(target=_feed_input, args=(plan, process.stdin, shared), daemon=True)
            )
        if plan.want_output:
            threads.append(
                threading.Thread(target=_read_output, args=(plan, process.stdout, sink, shared), daemon=True)
            )
        for thread in threads:
            thread.start()

        def progress() -> int:
            return shared.received if plan.want_output else shared.fed

        interrupted = False
        try:
            _wait_with_progress(process, plan.num_samples, progress, show_progress)
        except KeyboardInterrupt:
            interrupted = True
            if show_progress:
                click.echo("\nInterrupted: stopping the host and collecting its partial report …", err=True)
            try:
                _stop_host(process, plan, shared)
            except KeyboardInterrupt:  # a second Ctrl-C: stop now, no report
                process.kill()
                process.wait()
        for thread in threads:
            thread.join(timeout=30)
        if shared.errors:
            failure = shared.errors[0]
            if isinstance(failure, UserFacingError):
                raise failure
            raise UserFacingError(f"reading or writing the host's data failed: {failure}") from failure
        report: dict[str, Any] | None = None
        if report_path.exists():
            try:
                report = json.loads(report_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                report = None
        return HostRun(
            exit_code=process.returncode,
            report=report,
            stderr="".join(stderr_lines),
            interrupted=interrupted,
            samples_done=shared.received if plan.want_output else shared.fed,
            command=command,
            output_samples=shared.received,
        )


# ---------------------------------------------------------------------------------------------- the verdict


@dataclass(frozen=True)
class Verdict:
    fits: bool
    tight: bool
    p99_percent: float
    max_percent: float
    median_percent: float
    text: str


def _sum_stat(instances: list[dict[str, Any]], stat: str) -> float:
    """Budget percent summed over the instances in series (an upper bound for percentiles)."""
    total = 0.0
    for instance in instances:
        value = instance.get("timing_us", {}).get("budget_percent", {}).get(stat)
        if isinstance(value, (int, float)):
            total += float(value)
    return total


def judge(report: dict[str, Any], budget_ms: float) -> Verdict | None:
    instances = [i for i in report.get("instances", []) if i.get("blocks_processed", 0)]
    if not instances:
        return None
    median, p99, worst = (_sum_stat(instances, stat) for stat in ("median", "p99", "max"))
    p99_ms = p99 * budget_ms / 100.0
    if p99 > 100.0:
        text = (
            f"TOO SLOW for live use: 99% of blocks need up to {p99_ms:.2f} ms, {p99 / 100.0:.2f}× the "
            f"{budget_ms:.2f} ms a block lasts; the GUI would fall behind and drop data"
        )
        return Verdict(False, False, p99, worst, median, text)
    headroom = 100.0 / p99 if p99 > 0 else math.inf
    headroom_text = f"{headroom:.0f}× headroom" if math.isfinite(headroom) else "no measurable load"
    if p99 > TIGHT_BUDGET_PERCENT:
        text = (
            f"fits, but tight: p99 {p99_ms:.2f} ms is {p99:.0f}% of the {budget_ms:.2f} ms budget; "
            "the GUI's other processors share that time"
        )
    else:
        text = (
            f"fits: p99 {p99_ms:.3f} ms is {p99:.1f}% of the {budget_ms:.2f} ms real-time budget "
            f"({headroom_text})"
        )
    if worst > 100.0:
        text += f"; the slowest block took {worst / 100.0:.1f}× the budget (an occasional overrun)"
    return Verdict(True, p99 > TIGHT_BUDGET_PERCENT, p99, worst, median, text)


# ---------------------------------------------------------------------------------------------- rendering


def _fmt_us(value: Any) -> str:
    if not isinstance(value, (int, float)):
        return "?"
    if value >= 1000:
        return f"{value / 1000.0:.2f} ms"
    return f"{value:.1f} µs" if value >= 10 else f"{value:.2f} µs"


def _echo(text: str = "") -> None:
    click.echo(text)


def render_text(plan: Plan, run: HostRun, verdict: Verdict | None, extra: dict[str, Any]) -> None:
    report = run.report or {}
    home = report.get("home") or {}
    _echo(f"Script: {plan.script}")
    if home.get("chosen"):
        numpy_version = home.get("numpy_version") or "?"
        _echo(
            f"Home:   {home['chosen']} (Python {str(home.get('python_version', '?')).split()[0]}, "
            f"numpy {numpy_version})"
        )
    _echo(f"Host:   {plan.host.path} (found via {plan.host.origin})")
    if plan.stream is not None:
        _echo(
            f"Input:  recording {plan.stream.folder_name!r} ({plan.stream.stream_name}), "
            f"{plan.channels} ch at "
            f"{plan.sample_rate:g} Hz, {plan.num_samples / plan.sample_rate:.2f} s, "
            f"{len(plan.input_events) if plan.input_events is not None else 0} TTL events"
        )
    else:
        _echo(f"Input:  synthetic, {plan.channels} ch at {plan.sample_rate:g} Hz, {plan.seconds:g} s")
    stream = report.get("stream") or {}
    _echo(
        f"Blocks: {stream.get('blocks', '?')} of ~{plan.block} samples "
        f"(real-time budget {plan.budget_ms:.2f} ms per block), {plan.instances} instance(s) in series"
    )
    if run.interrupted:
        _echo(
            f"INTERRUPTED after {run.samples_done} of {plan.num_samples} samples: "
            "the figures below are partial."
        )
    _echo()
    for instance in report.get("instances", []):
        timing = instance.get("timing_us", {})
        script = timing.get("script", {})
        overhead = timing.get("overhead", {})
        percent = timing.get("budget_percent", {})
        label = f"instance {instance.get('index')}" if plan.instances > 1 else "per-block time"
        _echo(
            f"{label}: script median {_fmt_us(script.get('median'))}, p99 {_fmt_us(script.get('p99'))}, "
            f"max {_fmt_us(script.get('max'))}  |  budget used median {percent.get('median', 0):.2f}%, "
            f"p99 {percent.get('p99', 0):.2f}%, max {percent.get('max', 0):.2f}%"
        )
        _echo(
            f"  bridge overhead: median {_fmt_us(overhead.get('median'))}, "
            f"p99 {_fmt_us(overhead.get('p99'))}, "
            f"max {_fmt_us(overhead.get('max'))}; blocks processed {instance.get('blocks_processed', 0)}, "
            f"bypassed {instance.get('blocks_bypassed', 0)}"
            + (" (FAULTED: script bypassed after its error)" if instance.get("faulted") else "")
        )
    if verdict is not None:
        _echo(f"Verdict: {verdict.text}")
    else:
        _echo("Verdict: no block was processed, nothing to judge")
    emitted = sum(int(i.get("events_emitted_count", 0)) for i in report.get("instances", []))
    _echo(f"TTL events emitted by the script: {emitted}")
    listed = [e for i in report.get("instances", []) for e in i.get("events_emitted", [])]
    for event in listed[:5]:
        _echo(
            f"  line {event.get('line')} {'on ' if event.get('state') else 'off'} at sample "
            f"{event.get('sample_number')} (block {event.get('block')})"
        )
    if emitted > 5:
        _echo(f"  … and {emitted - 5} more")
    errors = report.get("errors", [])
    if errors:
        _echo(f"\nErrors: {len(errors)}")
        for error in errors[:5]:
            _echo(
                f"- in {error.get('method')}() of instance {error.get('instance')}, "
                f"block {error.get('block')} "
                f"(first sample {error.get('sample_number')}): {error.get('message')}"
            )
            traceback_text = str(error.get("traceback", "")).rstrip()
            if traceback_text:
                _echo("  " + traceback_text.replace("\n", "\n  "))
        if len(errors) > 5:
            _echo(f"  … and {len(errors) - 5} more (see --json)")
    warnings = list(report.get("warnings", [])) + extra.get("warnings", [])
    if warnings:
        _echo(f"\nWarnings: {len(warnings)}")
        for warning in warnings[:10]:
            where = f"block {warning['block']}: " if warning.get("block") is not None else ""
            _echo(f"- {where}{warning.get('message')}")
    for line in extra.get("notes", []):
        _echo(line)


# ---------------------------------------------------------------------------------------------- the command


def _echo_check(check: CheckResult, quiet: bool) -> None:
    if check.findings and not quiet:
        click.echo(check.render(), err=True)


def _prepare_recording(plan_args: dict[str, Any], recording: Path, stream_name: str | None) -> dict[str, Any]:
    import numpy as np

    from oe_pyproc_setup.recording import RecordingError, open_recording

    opened = open_recording(recording)
    stream = opened.select_stream(stream_name)
    if plan_args["sample_rate"] is not None and not math.isclose(
        plan_args["sample_rate"], stream.sample_rate
    ):
        raise RecordingError(
            f"--sample-rate {plan_args['sample_rate']:g} does not match the stream's "
            f"{stream.sample_rate:g} Hz",
            hint="--sample-rate applies to synthetic input; a recording runs at its own rate.",
        )
    channels = plan_args["channels"] or stream.num_channels
    if channels > stream.num_channels:
        raise RecordingError(
            f"--channels {channels}: the stream {stream.stream_name!r} has only "
            f"{stream.num_channels} channels"
        )
    if stream.num_samples == 0:
        raise RecordingError(f"the stream {stream.stream_name!r} of {opened.directory} holds no samples")
    seconds = plan_args["seconds"]
    num_samples = (
        stream.num_samples
        if seconds is None
        else min(stream.num_samples, round(seconds * stream.sample_rate))
    )
    if num_samples <= 0:
        raise RecordingError(f"--seconds {seconds:g} is shorter than one sample at {stream.sample_rate:g} Hz")
    first, end = int(stream.sample_numbers[0]), int(stream.sample_numbers[num_samples - 1]) + 1
    return {
        "stream": stream,
        "channels": channels,
        "sample_rate": stream.sample_rate,
        "num_samples": num_samples,
        "seconds": num_samples / stream.sample_rate,
        "channel_index": np.arange(channels),
        "input_events": stream.ttl.within(first, end),
    }


@click.command("run")
@click.argument("script", type=click.Path(path_type=Path))
@python_home_option
@click.option(
    "--host", type=click.Path(path_type=Path), default=None, help="The oe-pyproc-host executable to use."
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
    type=click.FloatRange(min=1.0),
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
    type=click.FloatRange(min=0.0, min_open=True),
    default=None,
    help=f"Seconds to run (default: synthetic {DEFAULT_SYNTHETIC_SECONDS:g} s, a recording in full).",
)
@click.option(
    "--recording",
    type=click.Path(path_type=Path),
    default=None,
    help="An Open Ephys recording in the Binary format (the folder with structure.oebin, or one above it).",
)
@click.option(
    "--stream", "stream_name", default=None, help="The recording's stream to process (default: its first)."
)
@click.option(
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the processed data as a Binary-format recording into this new folder.",
)
@click.option(
    "--instances", type=click.IntRange(1, 64), default=1, show_default=True, help="Instances in series."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@click.option(
    "--plot",
    type=click.Path(path_type=Path),
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
    as_json: bool,
    plot: Path | None,
) -> None:
    """Run SCRIPT offline, exactly as the plugin would: in the native host, with the Home's Python.

    Checks the script first (line-numbered findings), then feeds it synthetic data or a recording with its
    TTL events, and reports per-block time against the real-time budget, errors with their traceback,
    and the TTL events the script sent. Ctrl-C stops early with a partial report.
    """
    _import_numpy()
    if plot is not None:
        from oe_pyproc_setup.runplot import require_matplotlib

        require_matplotlib()
    if stream_name is not None and recording is None:
        raise UserFacingError("--stream needs --recording")
    check = check_script(script)
    _echo_check(check, quiet=as_json)
    if not check.ok:
        raise UserFacingError(
            f"{script}: {len(check.errors)} error(s) in the script; the plugin could not run it (see above)"
            if not as_json
            else check.render()
        )

    home = python_home
    home_origin = "--python-home"
    if home is None:
        home = _configured_home(gui_root, api)
        home_origin = "the configured Home"
    found = find_host(host, home)

    rate = sample_rate or DEFAULT_SAMPLE_RATE
    plan_fields: dict[str, Any] = {
        "channels": channels or DEFAULT_SYNTHETIC_CHANNELS,
        "sample_rate": rate,
        "seconds": seconds or DEFAULT_SYNTHETIC_SECONDS,
        "num_samples": round((seconds or DEFAULT_SYNTHETIC_SECONDS) * rate),
    }
    if recording is not None:
        plan_fields = _prepare_recording(
            {"channels": channels, "sample_rate": sample_rate, "seconds": seconds}, recording, stream_name
        )
    plan = Plan(
        script=script,
        check=check,
        host=found,
        python_home=home,
        home_origin=home_origin if home is not None else "host default",
        block=block or gui_block_size(plan_fields["sample_rate"]),
        instances=instances,
        want_output=output is not None or plot is not None or recording is None,
        output_dir=output,
        plot_path=plot,
        gui_root=gui_root,
        api=api,
        **plan_fields,
    )
    from oe_pyproc_setup.recording import RecordingWriter

    writer = RecordingWriter(output, plan.stream or _synthetic_template(plan)) if output is not None else None
    sink = _OutputSink(plan, writer, keep_channels=min(plan.channels, 4) if plot is not None else 0)
    try:
        result = run_host(plan, sink, show_progress=not as_json and sys.stderr.isatty())
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    _finish(plan, result, writer, sink, as_json)


def _synthetic_template(plan: Plan) -> Stream:
    import numpy as np

    from oe_pyproc_setup.recording import Channel, Stream

    return Stream(
        folder_name="oe-pyproc_synthetic-100.synthetic",
        stream_name="synthetic",
        source_processor_name="oe-pyproc synthetic",
        source_processor_id=100,
        sample_rate=plan.sample_rate,
        channels=[Channel(name=f"CH{i + 1}", bit_volts=0.195) for i in range(plan.channels)],
        samples=np.zeros((0, plan.channels), dtype=np.int16),
        sample_numbers=np.zeros(0, dtype=np.int64),
        timestamps=None,
    )


def _emitted_events(plan: Plan, report: dict[str, Any]) -> TtlEvents:
    """The script's TTL events, their stream-relative sample numbers mapped back to the recording's."""
    import numpy as np

    from oe_pyproc_setup.recording import TtlEvents

    listed = sorted(
        (e for i in report.get("instances", []) for e in i.get("events_emitted", [])),
        key=lambda e: int(e.get("sample_number", 0)),
    )
    relative = np.array([int(e.get("sample_number", 0)) for e in listed], dtype=np.int64)
    if plan.stream is not None and len(relative):
        index = np.clip(plan.first_index + relative, 0, plan.stream.num_samples - 1)
        numbers = plan.stream.sample_numbers[index].astype(np.int64)
    else:
        numbers = relative
    return TtlEvents(
        sample_numbers=numbers,
        lines=np.array([int(e.get("line", 0)) for e in listed], dtype=np.int16),
        states=np.array([bool(e.get("state")) for e in listed], dtype=bool),
    )


def _host_failure(plan: Plan, run: HostRun) -> UserFacingError:
    report = run.report or {}
    fatal = report.get("fatal") or {}
    meaning = HOST_EXIT_MEANINGS.get(run.exit_code or 0, f"the host stopped with exit code {run.exit_code}")
    message = str(fatal.get("message") or "").strip()
    lines = [f"{meaning}: {message}" if message else meaning]
    if fatal.get("stage") == "home" or run.exit_code == 3:
        for candidate in (report.get("home") or {}).get("candidates", []):
            status = "accepted" if candidate.get("accepted") else f"rejected: {candidate.get('reason')}"
            lines.append(f"  {candidate.get('path')} ({candidate.get('origin')}): {status}")
    for error in report.get("errors", [])[:3]:
        lines.append(f"{error.get('method')}(): {error.get('message')}")
        if error.get("traceback"):
            lines.append(str(error["traceback"]).rstrip())
    if run.report is None:
        tail = run.stderr.strip().splitlines()[-15:]
        if tail:
            lines.append("host output:\n  " + "\n  ".join(tail))
    hint = None
    if run.exit_code == 3:
        hint = "Check the Home with `oe-pyproc doctor`, or choose another with --python-home."
    code = run.exit_code if run.exit_code in HOST_EXIT_MEANINGS else 1
    return UserFacingError("\n".join(lines), exit_code=code, hint=hint)


def _finish(
    plan: Plan, run: HostRun, writer: RecordingWriter | None, sink: _OutputSink, as_json: bool
) -> None:
    report = run.report
    usable = report is not None and (run.exit_code in (0, 1) or run.interrupted)
    if not usable:
        if writer is not None:
            writer.abort()
        if run.interrupted:
            raise UserFacingError("interrupted before the host produced a report", exit_code=EXIT_INTERRUPTED)
        raise _host_failure(plan, run)
    assert report is not None
    extra: dict[str, Any] = {"warnings": [], "notes": []}
    output_info: dict[str, Any] | None = None
    if writer is not None:
        if plan.input_events is not None and len(plan.input_events):
            done_end = (
                int(plan.stream.sample_numbers[plan.first_index + max(run.output_samples, 1) - 1]) + 1
                if plan.stream is not None
                else 0
            )
            writer.add_ttl(plan.input_events.within(int(plan.input_events.sample_numbers.min()), done_end))
        emitted = _emitted_events(plan, report)
        if len(emitted):
            writer.add_ttl(emitted, source="python")
        written = writer.close()
        output_info = {
            "directory": str(written.directory),
            "samples": written.samples,
            "events": written.events,
            "clipped_samples": written.clipped_samples,
        }
        extra["notes"].append(
            f"\nOutput: {written.directory} ({written.samples} samples, {written.events} TTL events)"
        )
        if written.clipped_samples:
            extra["warnings"].append(
                {
                    "block": None,
                    "message": f"{written.clipped_samples} processed samples exceeded the int16 range of the "
                    "recording format (value / bit_volts) and were clipped in --output",
                }
            )
    verdict = judge(report, plan.budget_ms)
    if plan.plot_path is not None:
        from oe_pyproc_setup.runplot import save_plot

        save_plot(plan, run, sink, report, plan.plot_path)
        extra["notes"].append(f"Plot: {plan.plot_path}")
    if as_json:
        document = {
            "schema": 1,
            "script": str(plan.script.absolute()),
            "check": [finding.as_dict() for finding in plan.check.findings],
            "host": {"path": str(plan.host.path), "origin": plan.host.origin, "exit_code": run.exit_code},
            "input": {
                "source": plan.source,
                "stream": None if plan.stream is None else plan.stream.stream_name,
                "channels": plan.channels,
                "sample_rate": plan.sample_rate,
                "samples": plan.num_samples,
                "block": plan.block,
                "instances": plan.instances,
                "input_events": 0 if plan.input_events is None else len(plan.input_events),
            },
            "budget_ms": plan.budget_ms,
            "verdict": None
            if verdict is None
            else {
                "fits": verdict.fits,
                "tight": verdict.tight,
                "p99_budget_percent": verdict.p99_percent,
                "max_budget_percent": verdict.max_percent,
                "median_budget_percent": verdict.median_percent,
                "text": verdict.text,
            },
            "interrupted": run.interrupted,
            "samples_done": run.samples_done,
            "output": output_info,
            "plot": None if plan.plot_path is None else str(plan.plot_path),
            "warnings": extra["warnings"],
            "report": report,
        }
        click.echo(json.dumps(document, indent=2))
    else:
        render_text(plan, run, verdict, extra)
    if run.interrupted:
        sys.exit(EXIT_INTERRUPTED)
    if report.get("errors"):
        sys.exit(1)
