"""What a run is asked to do (`RunOptions`, the command's options as one value) and what it will do (`Plan`:
the checked script, the host, the Home, the input and the block size), decided before the host starts."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.fsutil import ensure_regular
from oe_pyproc_setup.hostfind import FoundHost
from oe_pyproc_setup.script_check import CheckResult

if TYPE_CHECKING:
    from oe_pyproc_setup.run.inputs import RunInput, SpikeRecords

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
EXIT_INTERRUPTED = 130
# The plugin's watchdog defaults (plugin/adapter_logic/include/oe_pyproc_script_session.h).
WATCHDOG_BUDGET_MULTIPLE = 10.0
WATCHDOG_FLOOR_SECONDS = 1.0
LOAD_WATCHDOG_SECONDS = 60.0


def gui_block_size(sample_rate: float) -> int:
    """Samples per block the GUI delivers for a stream at `sample_rate` (697 at 30 kHz)."""
    return max(1, round(GUI_CALLBACK_SAMPLES * sample_rate / GUI_CALLBACK_RATE))


@dataclass(frozen=True)
class RunOptions:
    """`oe-pyproc run`'s options, as given (None: not given, the default applies)."""

    script: Path
    python_home: Path | None = None
    host: Path | None = None
    gui_root: Path | None = None
    api: int = 10
    channels: int | None = None
    sample_rate: float | None = None
    block: int | None = None
    seconds: float | None = None
    recording: Path | None = None
    stream_name: str | None = None
    output: Path | None = None
    instances: int = 1
    as_json: bool = False
    plot: Path | None = None
    watchdog: float | None = None  # seconds a script call may run (None: the plugin's default)
    load_watchdog: float | None = None  # seconds loading (import + __init__) may take (None: the default)


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
    home_given: bool = False  # --python-home named the Home: only it is tried, never the GUI's fallbacks
    record_dir: Path | None = None  # where start_recording points: the --output recording being written
    watchdog: float | None = None
    load_watchdog: float | None = None
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
    def call_limit_s(self) -> float:
        """The watchdog's limit for a script call: --watchdog, else the plugin's default (10 block budgets,
        at least 1 s; plugin/adapter_logic's default_call_limit_seconds)."""
        if self.watchdog is not None:
            return self.watchdog
        return max(WATCHDOG_BUDGET_MULTIPLE * self.block / self.sample_rate, WATCHDOG_FLOOR_SECONDS)

    @property
    def want_output(self) -> bool:
        return self.output_dir is not None or self.plot_path is not None

    def input_sample(self, host_sample: object) -> object:
        """The input's own sample number for the host's (counted from first_sample_number by position), as
        a recording numbers its samples (they differ only after a gap in the recording's numbering)."""
        if isinstance(host_sample, int) and 0 <= host_sample - self.first_sample_number < self.num_samples:
            position = host_sample - self.first_sample_number
            return int(self.source.sample_numbers(position, position + 1)[0])
        return host_sample

    def limits(self) -> list[str]:
        """What this run could not exercise, so nobody mistakes silence for success."""
        limits = []
        if "handle_spike" in self.check.methods and not self.spikes:
            limits.append(
                "handle_spike() was not called: the input has no spikes on this stream (a recording's spikes "
                "are those its structure.oebin lists for the stream)"
            )
        sees_numbers = "handle_ttl_event" in self.check.methods or "handle_spike" in self.check.methods
        if sees_numbers and self.source.first_sample_number < 0:
            limits.append(
                f"the recording's first sample number is {self.source.first_sample_number}; the host numbers "
                "from 0 instead, so the script saw sample numbers counted from the start of the run"
            )
        elif sees_numbers and self.source.numbering_has_gaps:
            limits.append(
                "the recording's sample numbers have gaps; the script saw them counted on without gaps from "
                f"{self.first_sample_number}, so after the first gap its numbers are smaller than the "
                "recording's"
            )
        return limits


def import_numpy() -> None:
    try:
        import numpy  # noqa: F401
    except ModuleNotFoundError as missing:
        if missing.name != "numpy":
            raise _broken_numpy(missing) from None
        raise UserFacingError(
            "`oe-pyproc run` needs numpy to decode recordings and read the processed data, and it is not "
            f"installed for this Python ({sys.executable})",
            hint="Install the extra: pip install 'oe-pyproc-setup[run]'",
        ) from None
    except Exception as error:  # a numpy that fails to import: any exception its __init__ raises
        raise _broken_numpy(error) from None


def _broken_numpy(error: Exception) -> UserFacingError:
    """numpy is there but cannot be imported (often another Python's numpy on PYTHONPATH)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("numpy")
    except (ImportError, ValueError):
        spec = None
    where = f" from {spec.origin}" if spec is not None and spec.origin else ""
    on_path = (
        " PYTHONPATH is set: it may name another Python's numpy." if os.environ.get("PYTHONPATH") else ""
    )
    summary = f"{type(error).__name__}: {error}".strip().splitlines()[0][:300]
    return UserFacingError(
        f"`oe-pyproc run` could not import numpy{where} ({summary}).{on_path}",
        hint="Run with PYTHONPATH unset, or repair numpy for this Python "
        f"({sys.executable} -m pip install --force-reinstall numpy).",
    )


def _is_png(path: Path) -> bool:
    try:
        ensure_regular(path)  # a FIFO is no PNG, and opening it would block for ever
        with open(path, "rb") as handle:
            return handle.read(8) == b"\x89PNG\r\n\x1a\n"
    except OSError:
        return False


def check_plot_target(plot: Path) -> None:
    """Refuse a --plot target before anything runs: a missing folder, a folder, a file that is not a PNG."""
    if not Path(plot).absolute().parent.is_dir():
        raise UserFacingError(f"--plot {plot}: the folder {Path(plot).absolute().parent} does not exist")
    if plot.is_dir():
        raise UserFacingError(f"--plot {plot} is a folder; give a file name, e.g. {plot / 'run.png'}")
    if plot.exists() and not _is_png(plot):  # `--plot my_filter.py` must not replace the script
        raise UserFacingError(
            f"--plot {plot} exists and is not a PNG image; not overwritten",
            hint="Give a new file name (an earlier plot is replaced).",
        )


def configured_home(gui_root: Path | None, api: int) -> Path | None:
    """The Home recorded as the default for this GUI root (None: none recorded)."""
    from oe_pyproc_setup.gui import resolve_layout
    from oe_pyproc_setup.home import configured_home as recorded_home

    configured = recorded_home(resolve_layout(gui_root, api))
    return None if configured is None else configured.path
