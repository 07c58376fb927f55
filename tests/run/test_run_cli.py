"""`oe-pyproc run` without the host: numpy stays out of everything but the run itself, the verdict's wording,
the GUI's block size."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from oe_pyproc_setup.run.plan import gui_block_size
from oe_pyproc_setup.run.report import HostReport
from oe_pyproc_setup.run.verdict import Verdict
from oe_pyproc_setup.run.verdict import judge as judge_report

from .conftest import cli_command, copy_template


def test_help_does_not_import_numpy() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from oe_pyproc_setup.cli import main\n"
        "result = CliRunner().invoke(main, ['run', '--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "assert '--recording PATH' in result.output and '--plot PATH' in result.output\n"
        "print('numpy' in sys.modules, 'matplotlib' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


@pytest.mark.parametrize(("rate", "block"), [(30000.0, 697), (44100.0, 1024), (2500.0, 58), (1.0, 1)])
def test_gui_block_size(rate: float, block: int) -> None:
    assert gui_block_size(rate) == block


def judge(report: dict, budget_ms: float) -> Verdict | None:  # type: ignore[type-arg]
    """The verdict on a host report given as its JSON object."""
    return judge_report(HostReport.parse({"schema": 1, **report}), budget_ms)


def _report(budget_ms: float, *percents: tuple[float, float, float]) -> dict:  # type: ignore[type-arg]
    """A host report whose instances take these shares of a `budget_ms` block (script 90 %, bridge 10 %)."""

    def us(percent: float, share: float) -> float:
        return percent / 100.0 * budget_ms * 1000.0 * share

    return {
        "instances": [
            {
                "blocks_processed": 10,
                "timing_us": {
                    part: {"median": us(m, share), "p99": us(p, share), "max": us(x, share)}
                    for part, share in (("script", 0.9), ("overhead", 0.1))
                },
            }
            for m, p, x in percents
        ]
    }


def test_verdicts() -> None:
    fits = judge(_report(23.22, (1.0, 4.0, 5.0)), 23.22)
    assert fits is not None and fits.fits and not fits.tight
    assert fits.text.startswith("fits: p99 0.929 ms is 4.0% of the 23.22 ms real-time budget (25× headroom)")

    tight = judge(_report(23.22, (30.0, 40.0, 45.0), (10.0, 30.0, 80.0)), 23.22)  # instances in series add up
    assert tight is not None and tight.fits and tight.tight and tight.p99_percent == pytest.approx(70.0)
    assert tight.text.startswith("fits, but tight: p99 16.25 ms is 70%")

    overrun = judge(_report(10.0, (10.0, 20.0, 250.0)), 10.0)
    assert overrun is not None and overrun.fits
    assert overrun.text.endswith("the slowest block took 2.5× the budget (an occasional overrun)")

    slow = judge(_report(20.0, (120.0, 150.0, 300.0)), 20.0)
    assert slow is not None and not slow.fits
    assert slow.text.startswith(
        "TOO SLOW for live use: 99% of blocks need up to 30.00 ms, 1.50× the 20.00 ms"
    )
    assert "over by 10.00 ms" in slow.text

    assert judge({"instances": [{"blocks_processed": 0}]}, 20.0) is None


def test_verdict_ignores_the_hosts_per_block_percent_of_a_short_last_block() -> None:
    """The host's budget_percent is relative to each block's own length: a run's short last block (here
    1/10 of a full one) takes 10× its share of time. The verdict is about full blocks, as the GUI sends."""
    report = _report(20.0, (10.0, 10.0, 10.0))
    report["instances"][0]["timing_us"]["budget_percent"] = {"median": 10.0, "p99": 100.0, "max": 100.0}
    verdict = judge(report, 20.0)
    assert verdict is not None and verdict.fits and not verdict.tight
    assert verdict.p99_percent == pytest.approx(10.0)


@pytest.mark.parametrize("per_block", [True, False])
def test_plot_from_a_report_with_and_without_block_times(per_block: bool, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from oe_pyproc_setup.hostfind import FoundHost
    from oe_pyproc_setup.run.host import HostRun
    from oe_pyproc_setup.run.inputs import SyntheticInput
    from oe_pyproc_setup.run.output import OutputSink
    from oe_pyproc_setup.run.plan import Plan
    from oe_pyproc_setup.run.session import Outcome
    from oe_pyproc_setup.runplot import save_plot
    from oe_pyproc_setup.script_check import check_source

    source = SyntheticInput(3, 30000.0, 30000)
    plan = Plan(
        script=tmp_path / "s.py",
        check=check_source("class PyProcessor:\n    pass\n", tmp_path / "s.py"),
        host=FoundHost(tmp_path / "host", "--host"),
        python_home=None,
        source=source,
        recording=None,
        block=697,
        instances=1,
        gui_root=None,
        api=10,
        output_dir=None,
        plot_path=tmp_path / "plot.png",
    )
    sink = OutputSink(plan, None)
    sink.consume(source.chunk(0, 30000) * 0.5, 0)
    umask = os.umask(0o022)
    os.umask(umask)
    instance = {"index": 0, "timing_us": {"budget_percent": {"median": 1.0, "p99": 3.0, "max": 9.0}}}
    if per_block:
        instance["block_budget_percent"] = [1.0 + (b % 7) for b in range(43)]
    report = HostReport.parse({"schema": 1, "instances": [instance]})
    run = HostRun(
        exit_code=0, report=report, stderr="", interrupted=False, samples_received=30000, command=[]
    )
    save_plot(Outcome(plan, run, report, sink, verdict=None, output=None), plan.plot_path)
    data = plan.plot_path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20000
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left
    assert stat.S_IMODE(plan.plot_path.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600


def test_plot_bars_are_block_times_not_the_hosts_per_block_percent() -> None:
    from oe_pyproc_setup.runplot import percentile_bars

    timing = {
        "script": {"median": 9000.0, "p99": 11000.0, "max": 12000.0},
        "overhead": {"median": 100.0, "p99": 200.0, "max": 300.0},
        "budget_percent": {"median": 40.0, "p99": 400.0, "max": 450.0},  # a short last block
    }
    report = {"instances": [{"index": 0, "timing_us": timing}, {"index": 1, "timing_us": timing}]}
    labels, values = percentile_bars(HostReport.parse({"schema": 1, **report}), several=True)
    assert labels == ["#0 median", "#0 p99", "#0 max", "#1 median", "#1 p99", "#1 max"]
    assert values == pytest.approx([9.1, 11.2, 12.3, 9.1, 11.2, 12.3])


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--sample-rate", "nan", "'nan' is not a finite number"),
        ("--sample-rate", "inf", "is not in the range 1.0<=x<=1000000.0"),
        ("--sample-rate", "1e12", "is not in the range 1.0<=x<=1000000.0"),
        ("--seconds", "nan", "'nan' is not a finite number"),
        ("--seconds", "1e300", "is not in the range 0.0<x<=10000000.0"),
    ],
)
def test_odd_numbers_are_usage_errors_not_tracebacks(
    tmp_path: Path, isolated_env: dict[str, str], option: str, value: str, expected: str
) -> None:
    """click's FloatRange lets nan and inf through; they ended in a traceback (or a huge allocation)."""
    script = copy_template("processor", tmp_path)
    result = subprocess.run(
        cli_command("run", str(script), option, value), capture_output=True, text=True, env=isolated_env
    )
    assert result.returncode == 2 and expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"sample_rate": float("nan")}, "field 'sample_rate' is not a finite number (found nan)"),
        ({"sample_rate": 1e308}, "sample_rate 1e+308 Hz is beyond any acquisition board's"),
        (
            {"bit_volts": float("inf")},
            "channel 0 (CH1): field 'bit_volts' is not a finite number (found inf)",
        ),
    ],
)
def test_recording_metadata_with_non_finite_numbers(  # type: ignore[no-untyped-def]
    make_recording, tmp_path: Path, isolated_env: dict[str, str], change: dict[str, float], expected: str
) -> None:
    """json reads NaN and Infinity; a structure.oebin holding them is refused with the field named."""
    made = make_recording(channels=2, samples=3000)
    oebin_path = made.folder / "structure.oebin"
    oebin = json.loads(oebin_path.read_text())
    stream = oebin["continuous"][0]
    for key, value in change.items():
        (stream["channels"][0] if key == "bit_volts" else stream)[key] = value
    oebin_path.write_text(json.dumps(oebin))
    script = copy_template("processor", tmp_path)
    result = subprocess.run(
        cli_command("run", str(script), "--recording", str(made.folder)),
        capture_output=True,
        text=True,
        env=isolated_env,
    )
    assert result.returncode == 1 and expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_a_malformed_default_home_file_says_what_to_do(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    root = tmp_path / "gui"
    (root / "configs-api10").mkdir(parents=True)
    (root / "configs-api10" / "oe-pyproc.json").write_text("{not json")
    script = copy_template("processor", tmp_path)
    result = subprocess.run(
        cli_command("run", str(script), "--gui-root", str(root)),
        capture_output=True,
        text=True,
        env=isolated_env,
    )
    assert result.returncode == 1 and "oe-pyproc.json is not valid JSON" in result.stderr
    assert "Give --python-home, or record a Home again: oe-pyproc configure" in result.stderr
    assert "Traceback" not in result.stderr


def test_plot_never_replaces_a_file_that_is_not_a_png(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    """`--plot my_filter.py` (a slip) must not destroy the script; a folder is refused before the run."""
    script = copy_template("processor", tmp_path)
    before = script.read_bytes()
    cases = [(script, "exists and is not a PNG image; not overwritten"), (tmp_path, "is a folder")]
    for plot, expected in cases:
        result = subprocess.run(
            cli_command("run", str(script), "--plot", str(plot)),
            capture_output=True,
            text=True,
            env=isolated_env,
        )
        assert result.returncode == 1 and expected in result.stderr, result.stderr
        assert "oe-pyproc-host was not found" not in result.stderr  # refused before looking for a host
    assert script.read_bytes() == before


def test_a_report_of_another_schema_is_refused_not_half_read() -> None:
    from oe_pyproc_setup.errors import UserFacingError

    for schema in (2, None, "1"):
        with pytest.raises(UserFacingError) as refused:
            HostReport.parse({"schema": schema, "instances": []})
        assert f"schema {schema!r}" in refused.value.message and "reads schema 1" in refused.value.message
    assert (
        HostReport.from_output('oe-pyproc-host: noise\n{"schema": 1, "stream": {"samples": 5}}').samples == 5
    )  # type: ignore[union-attr]
    assert HostReport.from_output("") is None and HostReport.from_output("{not json") is None


@pytest.mark.parametrize(
    "init",
    ["raise RuntimeError('compiled for another Python')\n", "def broken(:\n", "import numpy.core._x\n"],
)
def test_a_broken_numpy_on_pythonpath_is_a_message_not_a_traceback(
    init: str, tmp_path: Path, isolated_env: dict[str, str]
) -> None:
    shadow = tmp_path / "shadow" / "numpy"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(init)
    script = copy_template("processor", tmp_path)
    result = subprocess.run(
        cli_command("run", str(script)),
        capture_output=True,
        text=True,
        env={**isolated_env, "PYTHONPATH": str(tmp_path / "shadow")},
    )
    assert result.returncode == 1, result.stderr
    assert "could not import numpy from " + str(shadow / "__init__.py") in result.stderr
    assert "PYTHONPATH is set" in result.stderr and "Traceback" not in result.stderr
