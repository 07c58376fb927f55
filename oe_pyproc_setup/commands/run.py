"""`oe-pyproc run SCRIPT`: try a script offline, exactly as the plugin would run it.

The script runs inside the native host (`oe-pyproc-host`, DESIGN §4–5), which loads the Home and the bridge
the way the GUI's adapter does. This command checks the script statically, decodes a recording (numpy,
imported only here) or makes a seeded test signal, and streams it with its TTL events and spikes into the
host's raw input (stdin, channel-major chunks; events in a text file, numbered from the input's first sample
number, which the host numbers the stream from). The processed stream comes back through
a pipe of its own (`--output /dev/fd/N`) for `--output` and `--plot`; the host's JSON report arrives on
its stdout, the script's prints on its stderr. Ending the input is how Ctrl-C stops the host cleanly: it
finishes the blocks it has and reports, exactly as at the end of a recording.
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.hostfind import FoundHost, find_host
from oe_pyproc_setup.options import (
    FiniteFloatRange,
    PathArgument,
    api_option,
    gui_root_option,
    python_home_option,
)
from oe_pyproc_setup.script_check import CheckResult, check_script

if TYPE_CHECKING:
    import numpy as np

    from oe_pyproc_setup.recording import RecordingWriter, RunInput, SpikeRecords, TtlEvents

# The GUI's audio callback: 1024 samples at 44.1 kHz, so a stream at `rate` gets 1024 * rate / 44100 samples.
GUI_CALLBACK_SAMPLES = 1024
GUI_CALLBACK_RATE = 44100.0
DEFAULT_SAMPLE_RATE = 30000.0
DEFAULT_SYNTHETIC_CHANNELS = 16
DEFAULT_SYNTHETIC_SECONDS = 2.0
# Bounds of --sample-rate and --seconds: above any acquisition board's rate (recording.MAX_SAMPLE_RATE, not
# imported: it would import numpy), and 115 days.
MAX_SAMPLE_RATE = 1_000_000.0
MAX_SECONDS = 1e7
# Samples per chunk of the host's raw input/output (its framing, not the block size).
CHUNK_SAMPLES = 4096
MAX_LISTED_EVENTS = 10_000_000
# p99 above this share of the budget is reported as tight: the GUI needs headroom for everything else.
TIGHT_BUDGET_PERCENT = 50.0
# --plot keeps at most this much processed data (its first channels) to draw the traces from.
PLOT_KEEP_SECONDS = 60.0
PLOT_CHANNELS = 4
EXIT_INTERRUPTED = 130
HOST_LOG_PREFIX = "oe-pyproc-host: ["
# The last this many bytes of the script's printed output are kept for the report.
SCRIPT_OUTPUT_LIMIT = 1 << 20
HOST_EXIT_MEANINGS = {
    2: "the host rejected its arguments",
    3: "the Python Home cannot run scripts",
    4: "the script could not be loaded",
    5: "an input or output problem in the host",
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
    source: RunInput
    recording: Path | None
    block: int
    instances: int
    gui_root: Path | None
    api: int
    output_dir: Path | None
    plot_path: Path | None
    record_dir: Path | None = None  # where start_recording points: the --output recording being written
    spikes: list[SpikeRecords] = field(default_factory=list)  # the input's spikes in the processed range

    @property
    def channels(self) -> int:
        return self.source.channels

    @property
    def sample_rate(self) -> float:
        return self.source.sample_rate

    @property
    def num_samples(self) -> int:
        return self.source.num_samples

    @property
    def first_sample_number(self) -> int:
        """What the host numbers the stream from (--first-sample-number): the input's own first sample."""
        return max(0, self.source.first_sample_number)

    @property
    def spike_count(self) -> int:
        return sum(len(records) for records in self.spikes)

    @property
    def budget_ms(self) -> float:
        return 1000.0 * self.block / self.sample_rate

    @property
    def want_output(self) -> bool:
        return self.output_dir is not None or self.plot_path is not None


def _is_png(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(8) == b"\x89PNG\r\n\x1a\n"
    except OSError:
        return False


def _configured_home(gui_root: Path | None, api: int) -> Path | None:
    from oe_pyproc_setup.gui import resolve_layout
    from oe_pyproc_setup.home import configured_home

    configured = configured_home(resolve_layout(gui_root, api))
    return None if configured is None else configured.path


# ---------------------------------------------------------------------------------------------- the host run


@dataclass
class HostRun:
    """What came back from the host."""

    exit_code: int | None
    report: dict[str, Any] | None
    stderr: str
    interrupted: bool
    samples_received: int
    command: list[str]


@dataclass
class _Shared:
    fed: int = 0
    received: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    errors: list[BaseException] = field(default_factory=list)


def _quoted(text: str) -> str:
    """An electrode name as one token of the host's events file (double quotes, `\\` and `"` escaped)."""
    flat = " ".join(text.splitlines())
    return '"' + flat.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _write_events_file(path: Path, plan: Plan) -> None:
    """The input's TTL events and spikes as the host reads them (plugin/host/README.md, "Events"), numbered
    from plan.first_sample_number by position in the input, sorted by sample number."""
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


def _host_command(plan: Plan, events_file: Path | None, output_target: str | None) -> list[str]:
    command = [
        str(plan.host.path),
        "--script",
        str(plan.script.absolute()),
        "--instances",
        str(plan.instances),
    ]
    if plan.python_home is not None:
        command += ["--python-home", str(plan.python_home)]
    if plan.gui_root is not None:
        command += ["--gui-root", str(plan.gui_root)]
    command += ["--api", str(plan.api)]
    command += ["--channels", str(plan.channels), "--sample-rate", repr(float(plan.sample_rate))]
    command += ["--first-sample-number", str(plan.first_sample_number)]
    # Jitter 1 as the GUI's 696/697/698-sample blocks; rows spaced by the callback size as in JUCE's buffer.
    callback = max(GUI_CALLBACK_SAMPLES, plan.block + 1)
    jitter = "1" if plan.block > 1 else "0"  # the GUI's ±1 sample; the host needs it below the block size
    command += ["--block-size", str(plan.block), "--block-jitter", jitter, "--callback-size", str(callback)]
    command += ["--input", "-", "--chunk", str(CHUNK_SAMPLES)]
    if plan.source.int16_scale is not None:
        command += ["--input-format", "int16", "--input-scale", repr(plan.source.int16_scale)]
    else:
        command += ["--input-format", "float32"]
    if events_file is not None:
        command += ["--events", str(events_file)]
    if output_target is not None:
        command += ["--output", output_target]
    if plan.record_dir is not None:
        command += ["--record-dir", str(plan.record_dir)]
    command += ["--max-events", str(MAX_LISTED_EVENTS), "--json"]
    return command


def _feed_input(source: RunInput, pipe: IO[bytes], shared: _Shared) -> None:
    """Writer thread: the input as channel-major chunks, until it ends or we are told to stop."""
    try:
        for start in range(0, source.num_samples, CHUNK_SAMPLES):
            if shared.stop.is_set():
                break
            stop = min(start + CHUNK_SAMPLES, source.num_samples)
            pipe.write(source.chunk(start, stop).data.cast("B"))  # the array's own memory, no copy to bytes
            shared.fed = stop
    except OSError:
        pass  # the host ended early (broken pipe); its report says why
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
        import numpy as np

        if not self.keep_channels:
            return None
        if not self.kept:
            return np.zeros((self.keep_channels, 0), dtype=np.float32)
        return np.concatenate(self.kept, axis=1)


def _read_output(plan: Plan, pipe: IO[bytes], sink: OutputSink, shared: _Shared) -> None:
    """Reader thread: float32 channel-major chunks of CHUNK_SAMPLES (the last may be shorter)."""
    import numpy as np

    frame = plan.channels * 4
    try:
        while True:
            data = _read_exact(pipe, frame * CHUNK_SAMPLES)
            samples = len(data) // frame
            if samples == 0:
                break
            block = np.frombuffer(data, dtype="<f4", count=samples * plan.channels).reshape(
                plan.channels, samples
            )
            sink.consume(block, shared.received)
            shared.received += samples
            if samples < CHUNK_SAMPLES:
                break
    except BaseException as error:
        shared.errors.append(error)
    finally:
        # Keep draining so the host never blocks on a full pipe while it finishes.
        with contextlib.suppress(OSError, ValueError):
            while pipe.read(1 << 16):
                pass
            pipe.close()


def _collect(pipe: IO[bytes], into: list[bytes], limit: int | None = None) -> None:
    """Reader thread for the host's stdout/stderr; with `limit`, only the last `limit` bytes are kept (a
    script printing every block of an hour-long recording must not fill the memory)."""
    kept = 0
    for chunk in iter(lambda: pipe.read(1 << 16), b""):
        into.append(chunk)
        kept += len(chunk)
        while limit is not None and kept - len(into[0]) >= limit:
            kept -= len(into.pop(0))


def _stop_host(process: subprocess.Popen[bytes], shared: _Shared) -> None:
    """Ask the host to stop early and still report: end its input. It then finishes the blocks it already
    has (at most a chunk and a pipe's worth) and writes its report. One that has not stopped after 60 s (a
    script stuck in a loop) is killed."""
    shared.stop.set()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_with_progress(
    process: subprocess.Popen[bytes], total: int, progress_of: Callable[[], int], show: bool, label: str
) -> None:
    with click.progressbar(
        length=max(total, 1),
        label=label,
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


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (and SIGHUP: the terminal closed) stop a run like Ctrl-C: partial report, output kept
    consistent, nothing half-written left behind. Signal handlers can only be set from the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    names = ("SIGTERM", "SIGHUP")
    previous = {
        name: signal.signal(getattr(signal, name), interrupt) for name in names if hasattr(signal, name)
    }
    try:
        yield
    finally:
        for name, handler in previous.items():
            signal.signal(getattr(signal, name), handler)


def run_host(plan: Plan, sink: OutputSink, show_progress: bool) -> HostRun:
    with tempfile.TemporaryDirectory(prefix="oe-pyproc-run-") as temp:
        events_file: Path | None = None
        if len(plan.source.events) or plan.spikes:
            events_file = Path(temp) / "events.txt"
            _write_events_file(events_file, plan)
        read_end = write_end = -1
        output_target: str | None = None
        output_file: Path | None = None
        if plan.want_output and os.name == "posix":
            # A pipe of its own for the processed data, so script prints can never mix into it.
            # /dev/fd/N: Linux (checked) and macOS (unverified).
            read_end, write_end = os.pipe()
            output_target = f"/dev/fd/{write_end}"
        elif plan.want_output:
            # Windows (unverified): no /dev/fd; the host writes a file that is read once it has finished.
            output_file = Path(temp) / "output.f32"
            output_target = str(output_file)
        command = _host_command(plan, events_file, output_target)
        posix_only: dict[str, Any] = {}
        if os.name == "posix":
            posix_only["pass_fds"] = (write_end,) if write_end >= 0 else ()
            posix_only["start_new_session"] = True  # Ctrl-C in the terminal reaches only us: we stop the host
        try:
            process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **posix_only
            )
        except OSError as error:
            for fd in (read_end, write_end):
                if fd >= 0:
                    os.close(fd)
            raise UserFacingError(
                f"cannot start the host {plan.host.path}: {error.strerror or error}"
            ) from None
        if write_end >= 0:
            os.close(write_end)  # the host holds the only write end: its exit ends our reads
        shared = _Shared()
        stdout_chunks: list[bytes] = []
        stderr_chunks: list[bytes] = []
        threads = [
            threading.Thread(target=_collect, args=(process.stdout, stdout_chunks), daemon=True),
            threading.Thread(
                target=_collect, args=(process.stderr, stderr_chunks, SCRIPT_OUTPUT_LIMIT), daemon=True
            ),
            threading.Thread(target=_feed_input, args=(plan.source, process.stdin, shared), daemon=True),
        ]
        if read_end >= 0:
            output_pipe = os.fdopen(read_end, "rb", buffering=0)
            threads.append(
                threading.Thread(target=_read_output, args=(plan, output_pipe, sink, shared), daemon=True)
            )
        for thread in threads:
            thread.start()

        def progress() -> int:
            return shared.received if read_end >= 0 else shared.fed

        interrupted = False
        try:
            with _terminate_as_interrupt():
                _wait_with_progress(
                    process, plan.num_samples, progress, show_progress, f"Running {plan.script.name}"
                )
        except KeyboardInterrupt:
            interrupted = True
            if show_progress:
                click.echo(
                    "\nInterrupted: ending the input; the host finishes its blocks and reports …", err=True
                )
            try:
                _stop_host(process, shared)
            except KeyboardInterrupt:  # a second Ctrl-C: stop now, without a report
                process.kill()
                process.wait()
        for thread in threads:
            thread.join(timeout=30)
        if output_file is not None and output_file.exists():
            with open(output_file, "rb") as finished_output:
                _read_output(plan, finished_output, sink, shared)
        if shared.errors:
            failure = shared.errors[0]
            if isinstance(failure, UserFacingError):
                raise failure
            raise UserFacingError(f"streaming data to or from the host failed: {failure!r}") from failure
        report: dict[str, Any] | None = None
        stdout_text = b"".join(stdout_chunks).decode("utf-8", "replace").strip()
        if stdout_text:  # with --json the host's stdout carries only the report (prints go to stderr)
            with contextlib.suppress(ValueError):
                parsed = json.loads(stdout_text[stdout_text.find("{") :])
                report = parsed if isinstance(parsed, dict) else None
        return HostRun(
            exit_code=process.returncode,
            report=report,
            stderr=b"".join(stderr_chunks).decode("utf-8", "replace"),
            interrupted=interrupted,
            samples_received=shared.received,
            command=command,
        )


# ---------------------------------------------------------------------------------------------- the verdict


@dataclass(frozen=True)
class Verdict:
    fits: bool
    tight: bool
    median_percent: float
    p99_percent: float
    max_percent: float
    text: str


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _budget_percent(instance: dict[str, Any], stat: str, budget_ms: float) -> float | None:
    """Script + bridge time as a share of a full block's budget. Not the host's own `budget_percent`: that
    is per block of its actual length, so the short last block of a run (or of an interrupted one) would
    look many times over budget and decide the verdict of a script that fits."""
    timing = instance.get("timing_us", {})
    values = [_number(timing.get(part, {}).get(stat)) for part in ("script", "overhead")]
    known = [value for value in values if value is not None]
    return sum(known) / 1000.0 / budget_ms * 100.0 if known else None


def _sum_stat(instances: list[dict[str, Any]], stat: str, budget_ms: float) -> float:
    """Budget percent summed over the instances in series (for percentiles an upper bound of the chain's)."""
    values = [_budget_percent(instance, stat, budget_ms) for instance in instances]
    return sum(v for v in values if v is not None)


def judge(report: dict[str, Any], budget_ms: float) -> Verdict | None:
    instances = [i for i in report.get("instances", []) if i.get("blocks_processed", 0)]
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


# ---------------------------------------------------------------------------------------------- rendering


def _fmt_us(value: Any) -> str:
    number = _number(value)
    if number is None:
        return "-"
    if number >= 1000:
        return f"{number / 1000.0:.2f} ms"
    return f"{number:.1f} µs" if number >= 10 else f"{number:.2f} µs"


def _fmt_percent(value: Any) -> str:
    number = _number(value)
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


def _input_sample(plan: Plan, host_sample: Any) -> Any:
    """The input's own sample number for the host's (counted from plan.first_sample_number by position), as
    a recording numbers its samples (they differ only after a gap in the recording's numbering)."""
    if isinstance(host_sample, int) and 0 <= host_sample - plan.first_sample_number < plan.num_samples:
        position = host_sample - plan.first_sample_number
        return int(plan.source.sample_numbers(position, position + 1)[0])
    return host_sample


def _script_output_lines(stderr: str, report: dict[str, Any]) -> list[str]:
    """What the script printed: the host's own log messages are left out, they are in the report already
    (warnings, and errors with their traceback); --json keeps everything."""
    text = stderr
    for error in report.get("errors", []):
        traceback_text = str(error.get("traceback") or "")
        if traceback_text.strip():
            text = text.replace(traceback_text, "")
    return [
        line for line in text.strip().splitlines() if line.strip() and not line.startswith(HOST_LOG_PREFIX)
    ]


def render_text(plan: Plan, run: HostRun, verdict: Verdict | None, extra: dict[str, Any]) -> None:
    echo = click.echo
    report = run.report or {}
    home = report.get("home") or {}
    echo(f"Script: {plan.script}")
    if home.get("chosen"):
        version = str(home.get("python_version") or "?").split()[0]
        echo(f"Home:   {home['chosen']} (Python {version}, numpy {home.get('numpy_version') or '?'})")
    echo(f"Host:   {plan.host.path} (found via {plan.host.origin})")
    echo(f"Input:  {_describe_input(plan)}")
    stream = report.get("stream") or {}
    run_info = report.get("run") or {}
    speed = _number(run_info.get("realtime_factor"))
    echo(
        f"Blocks: {stream.get('blocks', '?')} of ~{plan.block} samples "
        f"(real-time budget {plan.budget_ms:.2f} ms "
        f"per block), {plan.instances} instance{'s' if plan.instances > 1 else ''} in series"
        + (f"; ran at {speed:.1f}× real time" if speed else "")
    )
    if run.interrupted:
        done = int(stream.get("samples") or 0)
        echo(f"INTERRUPTED after {done} of {plan.num_samples} samples: everything below is partial.")
    echo("")
    for instance in report.get("instances", []):
        timing = instance.get("timing_us", {})
        script, overhead = (timing.get(k, {}) for k in ("script", "overhead"))
        percent = {stat: _budget_percent(instance, stat, plan.budget_ms) for stat in ("median", "p99", "max")}
        label = f"Instance {instance.get('index')}" if plan.instances > 1 else "Per-block time"
        echo(
            f"{label}: script median {_fmt_us(script.get('median'))}, p99 {_fmt_us(script.get('p99'))}, "
            f"max {_fmt_us(script.get('max'))}; budget used median {_fmt_percent(percent['median'])}, "
            f"p99 {_fmt_percent(percent['p99'])}, max {_fmt_percent(percent['max'])}"
        )
        state = " (FAULTED: the script is bypassed after its error)" if instance.get("faulted") else ""
        echo(
            f"  bridge overhead median {_fmt_us(overhead.get('median'))}, "
            f"p99 {_fmt_us(overhead.get('p99'))}, "
            f"max {_fmt_us(overhead.get('max'))}; blocks processed {instance.get('blocks_processed', 0)}, "
            f"bypassed {instance.get('blocks_bypassed', 0)}{state}"
        )
    if verdict is None:
        echo("Verdict: no block reached the script, nothing to judge")
    else:
        ran = [int(i.get("blocks_processed", 0)) for i in report.get("instances", [])]
        total = int(stream.get("blocks") or 0)
        partial = (
            f" (judged on the {min(ran)} of {total} blocks the script ran)"
            if ran and min(ran) < total
            else ""
        )
        echo(f"Verdict: {verdict.text}{partial}")
    emitted = sum(int(i.get("events_emitted_count", 0)) for i in report.get("instances", []))
    echo(f"TTL events emitted by the script: {emitted}")
    listed = [e for i in report.get("instances", []) for e in i.get("events_emitted", [])]
    for event in listed[:5]:
        echo(
            f"  line {event.get('line')} {'on ' if event.get('state') else 'off'} at sample "
            f"{_input_sample(plan, event.get('sample_number'))} (block {event.get('block')})"
        )
    if emitted > 5:
        echo(f"  … and {emitted - 5} more")
    errors = report.get("errors", [])
    if errors:
        echo(f"\nErrors: {len(errors)}")
        for error in errors[:5]:
            where = f"block {error['block']}" if error.get("block") is not None else "outside any block"
            first = (
                f", first sample {_input_sample(plan, error['sample_number'])}"
                if error.get("sample_number") is not None
                else ""
            )
            echo(
                f"- {error.get('method') or '?'}() of instance {error.get('instance')}, {where}{first}: "
                f"{error.get('message')}"
            )
            traceback_text = str(error.get("traceback") or "").rstrip()
            if traceback_text:
                echo("  " + traceback_text.replace("\n", "\n  "))
        if len(errors) > 5:
            echo(f"… and {len(errors) - 5} more (--json lists them all)")
    warnings = list(report.get("warnings", [])) + extra["warnings"]
    if warnings:
        echo(f"\nWarnings: {len(warnings)}")
        for warning in warnings[:10]:
            where = f"block {warning['block']}: " if warning.get("block") is not None else ""
            echo(f"- {where}{warning.get('message')}")
    lines = _script_output_lines(run.stderr, report)
    if lines:
        echo(f"\nScript output ({_count(len(lines), 'line')}{', the last 20' if len(lines) > 20 else ''}):")
        echo("  " + "\n  ".join(lines[-20:]))
    for note in extra["notes"]:
        echo(note)
    for limit in extra["limits"]:
        echo(f"Note: {limit}")


# ---------------------------------------------------------------------------------------------- the command


def _make_source(
    recording: Path | None,
    stream_name: str | None,
    channels: int | None,
    sample_rate: float | None,
    seconds: float | None,
) -> RunInput:
    from oe_pyproc_setup.recording import RecordingError, StreamInput, SyntheticInput, open_recording

    if recording is None:
        rate = sample_rate or DEFAULT_SAMPLE_RATE
        total = max(1, round((seconds or DEFAULT_SYNTHETIC_SECONDS) * rate))
        return SyntheticInput(channels or DEFAULT_SYNTHETIC_CHANNELS, rate, total)
    opened = open_recording(recording)
    stream = opened.select_stream(stream_name)
    if sample_rate is not None and not math.isclose(sample_rate, stream.sample_rate):
        raise RecordingError(
            f"--sample-rate {sample_rate:g} does not match the stream's {stream.sample_rate:g} Hz",
            hint="--sample-rate is for synthetic input; a recording runs at its own rate.",
        )
    wanted = channels or stream.num_channels
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
    as_json: bool,
    plot: Path | None,
) -> None:
    """Run SCRIPT offline, exactly as the plugin would: in the native host, with the Home's Python.

    Checks the script first (findings with line numbers), then feeds it a seeded test signal or a
    recording (--recording) with its TTL events, and reports the time per block against the real-time
    budget with a verdict, the bridge's overhead, errors with their traceback and block, warnings, and the
    TTL events the script sent. Ctrl-C stops early with a partial report (exit code 130). Exit code 1 when
    the script raised.
    """
    known = _KnownSoFar()
    try:
        _run(
            known,
            script,
            python_home,
            host,
            gui_root,
            api,
            channels,
            sample_rate,
            block,
            seconds,
            recording,
            stream_name,
            output,
            instances,
            as_json,
            plot,
        )
    except KeyboardInterrupt:
        failure = UserFacingError("interrupted before the host made a report", exit_code=EXIT_INTERRUPTED)
        if as_json:
            _echo_json_failure(failure, script, known.check, known.host_run)
        raise failure from None
    except UserFacingError as failure:
        # --json promises one document on stdout whatever went wrong (the message also goes to stderr).
        if as_json:
            _echo_json_failure(failure, script, known.check, known.host_run)
        raise


@dataclass
class _KnownSoFar:
    """What a failed run's JSON document can tell: the script check and the host's run, once they exist."""

    check: CheckResult | None = None
    host_run: HostRun | None = None


def _run(
    known: _KnownSoFar,
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
    _import_numpy()
    if plot is not None:
        from oe_pyproc_setup.runplot import require_matplotlib

        require_matplotlib()
        if not Path(plot).absolute().parent.is_dir():
            raise UserFacingError(f"--plot {plot}: the folder {Path(plot).absolute().parent} does not exist")
        if plot.is_dir():
            raise UserFacingError(f"--plot {plot} is a folder; give a file name, e.g. {plot / 'run.png'}")
        if plot.exists() and not _is_png(plot):  # `--plot my_filter.py` must not replace the script
            raise UserFacingError(
                f"--plot {plot} exists and is not a PNG image; not overwritten",
                hint="Give a new file name (an earlier plot is replaced).",
            )
    if stream_name is not None and recording is None:
        raise UserFacingError("--stream needs --recording")
    check = known.check = check_script(script)
    if check.findings and not as_json:
        click.echo(check.render(), err=True)
    if not check.ok:
        raise UserFacingError(
            f"{script}: {len(check.errors)} error(s) found before running; the plugin could not run it"
            + ("\n" + check.render() if as_json else "")
        )

    source = _make_source(recording, stream_name, channels, sample_rate, seconds)
    home = python_home if python_home is not None else _configured_home(gui_root, api)
    found = find_host(host, home)
    plan = Plan(
        script=script,
        check=check,
        host=found,
        python_home=home,
        source=source,
        recording=recording,
        block=block or gui_block_size(source.sample_rate),
        instances=instances,
        gui_root=gui_root,
        api=api,
        output_dir=output,
        plot_path=plot,
        spikes=[records for records in source.relative_spikes() if len(records)],
    )
    from oe_pyproc_setup.recording import RecordingWriter

    writer = RecordingWriter(output, source.template) if output is not None else None
    if writer is not None:
        # As in the GUI, start_recording gets the recording folder being written (here under a temporary
        # name until the run ends); whatever the script writes there ends up in --output.
        plan.record_dir = writer.recording_dir
    sink = OutputSink(plan, writer)
    try:
        result = known.host_run = run_host(plan, sink, show_progress=not as_json and sys.stderr.isatty())
        _finish(plan, result, writer, sink, as_json)
    except BaseException:
        if writer is not None:
            writer.abort()  # nothing half-written is left behind
        raise


def _emitted_events(plan: Plan, report: dict[str, Any], done: int) -> list[tuple[int, TtlEvents]]:
    """The TTL events each instance's script sent, as (instance index, events), their host sample numbers
    (from plan.first_sample_number, by position) mapped back to the input's numbering."""
    import numpy as np

    from oe_pyproc_setup.recording import TtlEvents

    numbering = plan.source.sample_numbers(0, done)
    per_instance = []
    for instance in report.get("instances", []):
        listed = sorted(instance.get("events_emitted", []), key=lambda e: int(e.get("sample_number", 0)))
        relative = np.array(
            [int(e.get("sample_number", 0)) - plan.first_sample_number for e in listed], dtype=np.int64
        )
        keep = (relative >= 0) & (relative < done)
        if not keep.any():
            continue
        events = TtlEvents(
            sample_numbers=numbering[relative[keep]].astype(np.int64),
            lines=np.array([int(e.get("line", 0)) for e in listed], dtype=np.int16)[keep],
            states=np.array([bool(e.get("state")) for e in listed], dtype=bool)[keep],
        )
        per_instance.append((int(instance.get("index", 0)), events))
    return per_instance


def _limits(plan: Plan) -> list[str]:
    """What this run could not exercise, so nobody mistakes silence for success."""
    limits = []
    if "handle_spike" in plan.check.methods and not plan.spikes:
        limits.append(
            "handle_spike() was not called: the input has no spikes on this stream (a recording's spikes "
            "are those its structure.oebin lists for the stream)"
        )
    sees_numbers = "handle_ttl_event" in plan.check.methods or "handle_spike" in plan.check.methods
    if sees_numbers and plan.source.first_sample_number < 0:
        limits.append(
            f"the recording's first sample number is {plan.source.first_sample_number}; the host numbers "
            "from 0 instead, so the script saw sample numbers counted from the start of the run"
        )
    elif sees_numbers and plan.source.numbering_has_gaps:
        limits.append(
            "the recording's sample numbers have gaps; the script saw them counted on without gaps from "
            f"{plan.first_sample_number}, so after the first gap its numbers are smaller than the recording's"
        )
    return limits


def _host_failure(run: HostRun) -> UserFacingError:
    report = run.report or {}
    fatal = report.get("fatal") or {}
    meaning = HOST_EXIT_MEANINGS.get(run.exit_code or 0, f"the host stopped with exit code {run.exit_code}")
    if run.exit_code is not None and run.exit_code < 0:
        meaning = f"the host crashed (signal {-run.exit_code})"
    message = str(fatal.get("message") or "").strip()
    lines = [f"{meaning}: {message}" if message else meaning]
    for error in report.get("errors", [])[:3]:
        traceback_text = str(error.get("traceback") or "").rstrip()
        if traceback_text and traceback_text not in message:
            lines.append(traceback_text)
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
    plan: Plan, run: HostRun, writer: RecordingWriter | None, sink: OutputSink, as_json: bool
) -> None:
    report = run.report
    if report is None or run.exit_code not in (0, 1):
        if run.interrupted and report is None:
            failure = UserFacingError(
                "interrupted before the host wrote a report", exit_code=EXIT_INTERRUPTED
            )
        else:
            failure = _host_failure(run)
        raise failure
    extra: dict[str, Any] = {"warnings": [], "notes": [], "limits": _limits(plan)}
    done = int((report.get("stream") or {}).get("samples") or 0)
    output_info: dict[str, Any] | None = None
    if writer is not None:
        if run.samples_received != done:
            raise UserFacingError(
                f"the host processed {done} samples but {run.samples_received} came back through its output"
            )
        source_events = plan.source.events
        if done and len(source_events):
            numbers = plan.source.sample_numbers(0, done)
            writer.add_ttl(source_events.within(int(numbers[0]), int(numbers[-1]) + 1))
        for index, emitted in _emitted_events(plan, report, done):
            writer.add_ttl(emitted, python_node=index)
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
                    "message": f"{written.clipped_samples} processed values did not fit the recording "
                    "format's int16 "
                    "(value / bit_volts) and were clipped in --output",
                }
            )
    verdict = judge(report, plan.budget_ms)
    if plan.plot_path is not None:
        from oe_pyproc_setup.runplot import save_plot

        save_plot(plan, run, sink, report, plan.plot_path)
        extra["notes"].append(f"Plot: {plan.plot_path}")
    if as_json:
        click.echo(json.dumps(_json_document(plan, run, verdict, report, output_info, extra), indent=2))
    else:
        render_text(plan, run, verdict, extra)
    if run.interrupted:
        sys.exit(EXIT_INTERRUPTED)
    if report.get("errors"):
        sys.exit(1)


def _echo_json_failure(
    failure: UserFacingError, script: Path, check: CheckResult | None, run: HostRun | None
) -> None:
    """With --json, a failure is a JSON document on stdout too (the message also goes to stderr)."""
    document = {
        "schema": 1,
        "script": str(script.absolute()),
        "ok": False,
        "exit_code": failure.exit_code,
        "error": failure.format_message(),
        "check": [] if check is None else [finding.as_dict() for finding in check.findings],
        "host_output": None if run is None else run.stderr,
        "report": None if run is None else run.report,
    }
    click.echo(json.dumps(document, indent=2))


def _json_document(
    plan: Plan,
    run: HostRun,
    verdict: Verdict | None,
    report: dict[str, Any],
    output_info: dict[str, Any] | None,
    extra: dict[str, Any],
) -> dict[str, Any]:
    return {
        "schema": 1,
        "script": str(plan.script.absolute()),
        "ok": not report.get("errors") and not run.interrupted,
        "exit_code": EXIT_INTERRUPTED if run.interrupted else (1 if report.get("errors") else 0),
        "check": [finding.as_dict() for finding in plan.check.findings],
        "host": {
            "path": str(plan.host.path),
            "origin": plan.host.origin,
            "exit_code": run.exit_code,
            "command": run.command,
        },
        "input": {
            "source": "recording" if plan.recording is not None else "synthetic",
            "recording": None if plan.recording is None else str(plan.recording),
            "stream": plan.source.template.stream_name,
            "channels": plan.channels,
            "sample_rate": plan.sample_rate,
            "samples": plan.num_samples,
            "ttl_events": len(plan.source.events),
            "spikes": plan.spike_count,
            "first_sample_number": plan.first_sample_number,
        },
        "block": plan.block,
        "instances": plan.instances,
        "budget_ms": plan.budget_ms,
        "verdict": None
        if verdict is None
        else {
            "fits": verdict.fits,
            "tight": verdict.tight,
            "median_budget_percent": verdict.median_percent,
            "p99_budget_percent": verdict.p99_percent,
            "max_budget_percent": verdict.max_percent,
            "text": verdict.text,
        },
        "events_emitted": sum(int(i.get("events_emitted_count", 0)) for i in report.get("instances", [])),
        "interrupted": run.interrupted,
        "samples_done": int((report.get("stream") or {}).get("samples") or 0),
        "output": output_info,
        "plot": None if plan.plot_path is None else str(plan.plot_path),
        "warnings": extra["warnings"],
        "limits": extra["limits"],
        "host_output": run.stderr,
        "report": report,
    }
