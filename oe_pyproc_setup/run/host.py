"""Driving the native host: its command line, the threads that stream the input into its stdin and read the
processed stream back from a pipe of its own (`--output /dev/fd/N`), the progress bar, and stopping it.

The host's JSON report arrives on its stdout, the script's prints on its stderr. Ending the input is how
Ctrl-C stops the host cleanly: it finishes the blocks it has and reports, exactly as at the end of a
recording.
"""

from __future__ import annotations

import contextlib
import io
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
from oe_pyproc_setup.run.plan import GUI_CALLBACK_SAMPLES, Plan
from oe_pyproc_setup.run.report import HostReport
from oe_pyproc_setup.script_check import CheckResult

if TYPE_CHECKING:
    from oe_pyproc_setup.run.inputs import RunInput
    from oe_pyproc_setup.run.output import OutputSink

# Samples per chunk of the host's raw input/output (its framing, not the block size).
CHUNK_SAMPLES = 4096
MAX_LISTED_EVENTS = 10_000_000
# The last this many bytes of the script's printed output are kept for the report.
SCRIPT_OUTPUT_LIMIT = 1 << 20
HOST_EXIT_MEANINGS = {
    2: "the host rejected its arguments",
    3: "the Python Home cannot run scripts",
    4: "the script could not be loaded",
    5: "an input or output problem in the host",
    6: "the host ran out of memory (or hit an internal error)",
}


@dataclass
class HostRun:
    """What came back from the host."""

    exit_code: int | None
    report: HostReport | None
    stderr: str
    interrupted: bool
    samples_received: int
    command: list[str]
    planned_samples: int = 0
    output_requested: bool = False

    def failure(self) -> UserFacingError:
        """Why this run gave no usable report, as the user should read it."""
        # Codes 3-5 are the host's only with its report (it writes one for them): without a report, such
        # a code came from a script ending the process (os._exit(3)), not from a Home or script problem.
        # Code 6 without a report: the host's last resort (out of memory outside the run), said on stderr.
        said_by_host = self.exit_code == 6 and "oe-pyproc-host: error:" in self.stderr
        known = (
            self.exit_code == 2
            or said_by_host
            or (self.report is not None and self.exit_code in HOST_EXIT_MEANINGS)
        )
        if known:
            meaning = HOST_EXIT_MEANINGS[self.exit_code or 0]
        elif self.report is None:
            meaning = (
                f"the host stopped with exit code {self.exit_code} without writing its report (a script "
                "ending the process, e.g. with os._exit, does this)"
            )
        elif self.report.fatal_stage == "watchdog":
            meaning = "the script was stopped by the watchdog"
        else:
            meaning = f"the host stopped with exit code {self.exit_code}"
        if self.exit_code is not None and self.exit_code < 0:
            meaning = f"the host crashed: {_signal_text(-self.exit_code)}"
            if -self.exit_code in (signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE):
                meaning += " (a crash in C code: a C extension or ctypes called by the script)"
        message = self.report.fatal_message if self.report is not None else ""
        lines = [f"{meaning}: {message}" if message else meaning]
        processed = self.report.samples if self.report is not None else self.samples_received
        if self.planned_samples:
            lines.append(
                f"the run is incomplete: {processed} of {self.planned_samples} samples were processed"
                + ("; --output was not written" if self.output_requested else "")
            )
        for error in (self.report.errors if self.report is not None else [])[:3]:
            traceback_text = error.traceback.rstrip()
            if traceback_text and traceback_text not in message:
                lines.append(traceback_text)
        if self.report is None:
            tail = self.stderr.strip().splitlines()[-15:]
            if tail:
                lines.append("host output:\n  " + "\n  ".join(tail))
        hint = None
        if self.exit_code == 3:
            hint = "Check the Home with `oe-pyproc doctor`, or choose another with --python-home."
        code = self.exit_code if known else 1
        return UserFacingError("\n".join(lines), exit_code=code or 1, hint=hint)


@dataclass
class KnownSoFar:
    """What a failed run's JSON document can tell: the script check and the host's run, once they exist."""

    check: CheckResult | None = None
    host_run: HostRun | None = None


@dataclass
class _Shared:
    fed: int = 0
    received: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    errors: list[BaseException] = field(default_factory=list)


def _signal_text(number: int) -> str:
    try:
        return f"signal {number} ({signal.Signals(number).name})"
    except ValueError:
        return f"signal {number}"


def host_command(plan: Plan, events_file: Path | None, output_target: str | None) -> list[str]:
    command = [
        str(plan.host.path),
        "--script",
        str(plan.script.absolute()),
        "--instances",
        str(plan.instances),
    ]
    if plan.python_home is not None:
        command += ["--python-home", str(plan.python_home)]
    if plan.home_given:
        # The Home the user named, or a clear failure: never a fallback Home they did not ask for.
        command += ["--no-default-home"]
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
    if plan.watchdog is not None:
        command += ["--watchdog", repr(plan.watchdog)]
    if plan.load_watchdog is not None:
        command += ["--load-watchdog", repr(plan.load_watchdog)]
    if sys.platform.startswith("linux"):
        # The host dies with us (PR_SET_PDEATHSIG), even when we are killed: it never spins on alone.
        # Windows and macOS: not done (README "Reliability").
        command += ["--parent-pid", str(os.getpid())]
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


def _stop_host(process: subprocess.Popen[bytes], shared: _Shared, patience: float) -> None:
    """Ask the host to stop early and still report: end its input. It then finishes the blocks it already
    has (at most a chunk and a pipe's worth) and writes its report. A script stuck in a call is stopped by
    the watchdog (or the host ends, when the call cannot be interrupted) within twice its limit; a host that
    has not ended after `patience` seconds is killed."""
    shared.stop.set()
    try:
        process.wait(timeout=patience)
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
def terminate_as_interrupt() -> Iterator[None]:
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


def run_host(plan: Plan, sink: OutputSink, show_progress: bool, events_format: str = "binary") -> HostRun:
    """Run the host over the plan; `events_format` is how the input's events reach it ("binary", or "text"
    for the benchmark's comparison)."""
    from oe_pyproc_setup.run.events import EVENT_WRITERS  # numpy: imported once the run is known to need it

    with tempfile.TemporaryDirectory(prefix="oe-pyproc-run-") as temp:
        events_file: Path | None = None
        if len(plan.source.events) or plan.spikes:
            events_file = Path(temp) / f"events.{events_format}"
            EVENT_WRITERS[events_format](events_file, plan)
        read_end = write_end = -1
        output_target: str | None = None
        output_file: Path | None = None
        if plan.want_output and os.name == "posix":
            # A pipe of its own for the processed data, so script prints can never mix into it.
            # /dev/fd/N: Linux (checked) and macOS (unverified).
            read_end, write_end = os.pipe()
            output_target = f"/dev/fd/{write_end}"
        elif plan.want_output:
            # Windows (run under wine in CI): no /dev/fd; the host writes a file, read once it has finished.
            output_file = Path(temp) / "output.f32"
            output_target = str(output_file)
        command = host_command(plan, events_file, output_target)
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
            with terminate_as_interrupt():
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
                # Long enough for the watchdog to stop a stuck call, and for the blocks already in the pipe.
                _stop_host(process, shared, patience=2 * plan.call_limit_s + 3)
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
        stdout_text = b"".join(stdout_chunks).decode("utf-8", "replace")
        # With --json the host's stdout carries only the report (the script's prints go to stderr).
        return HostRun(
            exit_code=process.returncode,
            report=HostReport.from_output(stdout_text),
            stderr=b"".join(stderr_chunks).decode("utf-8", "replace"),
            interrupted=interrupted,
            samples_received=shared.received,
            command=command,
            planned_samples=plan.num_samples,
            output_requested=plan.output_dir is not None,
        )
