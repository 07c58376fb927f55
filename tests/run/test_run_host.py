"""`oe-pyproc run` end to end: the CLI as a subprocess, the real native host, a real Python 3.10 Home,
recordings made from the published format, and the official reader on what comes out."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from open_ephys.analysis import Session
from scipy import signal as scipy_signal

from .conftest import PYENV_310, REPO_ROOT, cli_command, copy_template

TEMPLATES = ["processor", "bandpass", "ttl_threshold", "spike_rate", "recording_log"]
TTL = [(3000, 0, True), (3600, 0, False), (20000, 2, True), (40000, 2, False)]


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cli_command("run", *args), capture_output=True, text=True, env=env, timeout=timeout)


def host_args(host_path: Path, test_home: Path) -> list[str]:
    return ["--host", str(host_path), "--python-home", str(test_home)]


def official(path: Path):  # type: ignore[no-untyped-def]
    session = Session(str(path))
    if getattr(session, "recordnodes", None):
        return session.recordnodes[0].recordings[0]
    return session.recordings[0]


def write_script(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(body).lstrip("\n"), encoding="utf-8")
    return path


def assert_no_traceback_from_cli(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback (most recent call last)" not in result.stderr.split("Error:")[0], result.stderr


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_template_runs_cleanly_on_a_recording(  # type: ignore[no-untyped-def]
    template: str, host_path: Path, test_home: Path, make_recording, tmp_path: Path
) -> None:
    made = make_recording(channels=8, samples=60000, ttl=TTL)
    script = copy_template(template, tmp_path)
    out = tmp_path / "out"
    result = run_cli(
        str(script),
        *host_args(host_path, test_home),
        "--recording",
        str(made.session),
        "--output",
        str(out),
        "--json",
    )
    assert result.returncode == 0, result.stderr + result.stdout
    document = json.loads(result.stdout)
    report = document["report"]
    assert report["ok"] and report["errors"] == [] and report["fatal"] is None
    assert report["home"]["chosen"] == str(test_home)
    (instance,) = report["instances"]
    assert instance["blocks_processed"] == report["stream"]["blocks"] > 80 and not instance["faulted"]
    assert report["stream"]["samples"] == 60000 and document["samples_done"] == 60000
    # A verdict on every processed block; whether it fits is timing, which tests do not assert.
    assert document["verdict"]["p99_budget_percent"] > 0 and document["verdict"]["text"]
    assert document["input"]["ttl_events"] == 4

    recorded = official(out)
    assert recorded.continuous[0].samples.shape == (60000, 8)
    assert np.array_equal(recorded.continuous[0].sample_numbers, made.streams[0].sample_numbers)
    events = recorded.events
    source_events = events[events.processor_id == 100]
    assert source_events.sample_number.tolist() == made.streams[0].ttl_sample_numbers.tolist()
    if template == "processor":  # GAIN 1.0: the data passes through unchanged
        assert np.array_equal(recorded.continuous[0].samples, made.streams[0].raw)
    if template == "ttl_threshold":
        python_events = events[events.processor_id == 0]
        assert document["events_emitted"] > 0
        assert len(python_events) == document["events_emitted"]
        assert set(python_events.line.tolist()) == {1}  # TTL_LINE 0, 1-based in the file format
    if template == "spike_rate":  # this recording has no spikes
        assert any(limit.startswith("handle_spike() was not called") for limit in document["limits"])
    # The host numbers from the recording's first sample (12345): nothing to add for scripts that see numbers.
    assert document["input"]["first_sample_number"] == 12345
    assert not any("sample number" in limit for limit in document["limits"])
    if template == "recording_log":
        log = (out / "experiment1" / "recording1" / "python_processor_log.txt").read_text()
        assert "recording started" in log and "recording stopped" in log
        assert log.count("ttl sample=") == 4
        assert "ttl sample=15345 " in log  # the recording's own numbering


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_template_runs_cleanly_on_synthetic_data(
    template: str, host_path: Path, test_home: Path, tmp_path: Path
) -> None:
    script = copy_template(template, tmp_path)
    result = run_cli(str(script), *host_args(host_path, test_home), "--seconds", "1", "--channels", "4")
    assert result.returncode == 0, result.stderr + result.stdout
    assert "23.23 ms" in next(line for line in result.stdout.splitlines() if line.startswith("Verdict: "))
    assert "Errors:" not in result.stdout
    assert "Input:  synthetic (seeded), 4 ch at 30000 Hz, 1.00 s" in result.stdout


def test_bandpass_output_matches_offline_sosfilt(  # type: ignore[no-untyped-def]
    host_path: Path, test_home: Path, make_recording, tmp_path: Path
) -> None:
    rng = np.random.default_rng(3)
    t = np.arange(90000) / 30000.0
    # Slow drift + 1 kHz tone + noise: the filter must remove the first and keep the second, across blocks.
    signal_uv = 400 * np.sin(2 * np.pi * 2 * t)[:, None] + 150 * np.sin(2 * np.pi * 1000 * t)[:, None]
    signal_uv = signal_uv + rng.normal(0, 20, size=(90000, 6))
    raw = np.round(signal_uv / 0.195).astype(np.int16)
    made = make_recording(channels=6, samples=90000, signal=raw)
    out = tmp_path / "out"
    result = run_cli(
        str(copy_template("bandpass", tmp_path)),
        *host_args(host_path, test_home),
        "--recording",
        str(made.folder),
        "--output",
        str(out),
    )
    assert result.returncode == 0, result.stderr + result.stdout

    got = official(out).continuous[0].get_samples(0, 90000)  # float64 µV
    sos = scipy_signal.butter(3, [300.0, 6000.0], btype="bandpass", fs=30000.0, output="sos")
    expected = scipy_signal.sosfilt(sos, made.streams[0].scaled.astype(np.float64), axis=-1).T
    # Exact up to the int16 quantization of the recording format (half a bit) and float32 blocks.
    np.testing.assert_allclose(got, expected, rtol=0, atol=0.195 / 2 + 2e-3)
    assert np.abs(expected).max() > 100  # the tone passed: the comparison is not between two zeros


def test_a_script_that_raises_reports_traceback_and_block(
    host_path: Path, test_home: Path, tmp_path: Path
) -> None:
    script = write_script(
        tmp_path,
        "raises.py",
        """
        class PyProcessor:
            def __init__(self, processor, num_channels, sample_rate):
                self.blocks = 0

            def process(self, data):
                self.blocks += 1
                if self.blocks == 6:
                    data *= 1 / 0
        """,
    )
    result = run_cli(str(script), *host_args(host_path, test_home), "--seconds", "1")
    assert result.returncode == 1, result.stderr + result.stdout
    assert "Errors: 1" in result.stdout
    assert "process() of instance 0, block 5" in result.stdout
    assert "ZeroDivisionError: division by zero" in result.stdout
    assert 'raises.py", line 8, in process' in result.stdout
    assert "FAULTED" in result.stdout

    as_json = run_cli(str(script), *host_args(host_path, test_home), "--seconds", "1", "--json")
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)["report"]
    (error,) = report["errors"]
    assert (error["block"], error["method"], error["instance"]) == (5, "process", 0)
    assert report["instances"][0]["blocks_bypassed"] > 30


def test_syntax_error_is_found_before_anything_runs(tmp_path: Path) -> None:
    script = write_script(
        tmp_path, "broken.py", "class PyProcessor:\n    def process(self, data)\n        pass\n"
    )
    result = run_cli(str(script), "--host", str(tmp_path / "no-such-host"))
    assert result.returncode == 1
    assert f"{script}:2:" in result.stderr and "syntax error" in result.stderr
    assert "found before running" in result.stderr
    assert "no-such-host" not in result.stderr  # it stopped at the check, before looking for a host
    assert_no_traceback_from_cli(result)
    as_json = run_cli(str(script), "--json")
    document = json.loads(as_json.stdout)
    assert as_json.returncode == 1 and document["ok"] is False and document["exit_code"] == 1
    assert document["check"][0]["line"] == 2 and document["check"][0]["severity"] == "error"


def test_static_warnings_are_shown_and_the_run_goes_on(
    host_path: Path, test_home: Path, tmp_path: Path
) -> None:
    script = write_script(
        tmp_path,
        "rebinds.py",
        """
        class PyProcessor:
            def __init__(self, processor, num_channels, sample_rate):
                pass

            def process(self, data):
                data = data * 2

            def handle_ttl(self, source_node, channel, sample_number, line, state):
                pass
        """,
    )
    result = run_cli(str(script), *host_args(host_path, test_home), "--seconds", "0.5")
    assert result.returncode == 0, result.stderr
    assert f"{script}:6:9: warning: `data = ...` in process() rebinds" in result.stderr
    assert f"{script}:8:5: warning: PyProcessor.handle_ttl is never called" in result.stderr
    assert "23.23 ms" in next(line for line in result.stdout.splitlines() if line.startswith("Verdict: "))


def test_a_home_that_cannot_run(
    host_path: Path, test_home: Path, tmp_path: Path, isolated_env: dict[str, str]
) -> None:
    """--python-home names the one Home to use: a bad one fails with exit 3, even when the user's GUI set-up
    has a valid default Home the plugin itself would fall back to (a silent substitute is never what was
    asked for)."""
    gui_root = Path(isolated_env["HOME"]) / ".config" / "open-ephys"
    (gui_root / "configs-api10").mkdir(parents=True)
    (gui_root / "configs-api10" / "oe-pyproc.json").write_text(
        json.dumps({"schema": 1, "python_home": str(test_home), "written_by": "test", "written_at": "now"})
    )
    script = copy_template("processor", tmp_path)
    empty_home = tmp_path / "not-a-home"
    empty_home.mkdir()
    named = ["--host", str(host_path), "--python-home", str(empty_home)]
    result = run_cli(str(script), *named, env=isolated_env)
    assert result.returncode == 3, result.stderr
    document = json.loads(run_cli(str(script), *named, "--json", env=isolated_env).stdout)
    assert [candidate["path"] for candidate in document["report"]["home"]["candidates"]] == [str(empty_home)]
    assert document["ok"] is False and document["exit_code"] == 3
    assert document["report"]["fatal"]["stage"] == "home"
    assert "the Python Home cannot run scripts" in result.stderr and str(empty_home) in result.stderr
    assert "oe-pyproc doctor" in result.stderr
    assert_no_traceback_from_cli(result)

    no_numpy = tmp_path / "venv-without-numpy"
    subprocess.run([str(PYENV_310), "-m", "venv", "--without-pip", str(no_numpy)], check=True)
    result = run_cli(str(script), "--host", str(host_path), "--python-home", str(no_numpy), env=isolated_env)
    assert result.returncode == 3, result.stderr
    assert "numpy" in result.stderr and str(no_numpy) in result.stderr


def test_no_host_found_names_all_four_places(isolated_env: dict[str, str], tmp_path: Path) -> None:
    script = copy_template("processor", tmp_path)
    result = run_cli(str(script), env=isolated_env)
    assert result.returncode == 1
    for place in ("--host PATH", "OE_PYPROC_HOST", "<Home>/bin/oe-pyproc-host", "PATH"):
        assert place in result.stderr
    assert_no_traceback_from_cli(result)


def test_the_configured_home_and_the_host_in_it_are_used(
    host_path: Path, test_home: Path, isolated_env: dict[str, str], tmp_path: Path
) -> None:
    """No --python-home, no --host: the default Home file names the Home, and the Home's bin/ holds the host
    (as the conda plugin package installs it)."""
    gui_root = tmp_path / "gui-root"
    (gui_root / "configs-api10").mkdir(parents=True)
    (gui_root / "configs-api10" / "oe-pyproc.json").write_text(
        json.dumps({"schema": 1, "python_home": str(test_home), "written_by": "test", "written_at": "now"})
    )
    script = copy_template("processor", tmp_path)
    in_home = test_home / "bin" / "oe-pyproc-host"
    without = run_cli(str(script), "--gui-root", str(gui_root), "--seconds", "0.2", env=isolated_env)
    assert without.returncode == 1 and f"3. the Home's {in_home}: does not exist" in without.stderr
    in_home.symlink_to(host_path)
    try:
        result = run_cli(str(script), "--gui-root", str(gui_root), "--seconds", "0.2", env=isolated_env)
    finally:
        in_home.unlink()
    assert result.returncode == 0, result.stderr
    assert f"Host:   {in_home} (found via Home)" in result.stdout
    assert f"Home:   {test_home} (Python 3.10" in result.stdout


def test_broken_recordings_give_clear_errors(
    make_recording, tmp_path: Path, host_path: Path, test_home: Path
) -> None:  # type: ignore[no-untyped-def]
    script = copy_template("processor", tmp_path)
    made = make_recording(channels=4, samples=3000)

    two = make_recording(channels=2, samples=3000, streams=("ProbeA-AP", "ProbeA-LFP"))
    lfp = run_cli(
        str(script),
        *host_args(host_path, test_home),
        "--recording",
        str(two.folder),
        "--stream",
        "ProbeA-LFP",
    )
    assert lfp.returncode == 0 and "Input:  recording stream 'ProbeA-LFP'" in lfp.stdout
    first = run_cli(str(script), *host_args(host_path, test_home), "--recording", str(two.folder))
    assert "'ProbeA-AP'" in first.stdout and "(--stream for the others: ProbeA-LFP)" in first.stdout

    no_stream = run_cli(
        str(script), *host_args(host_path, test_home), "--recording", str(made.folder), "--stream", "ProbeZ"
    )
    assert (
        no_stream.returncode == 1
        and "has no stream 'ProbeZ'" in no_stream.stderr
        and "'ProbeA-AP'" in no_stream.stderr
    )

    dat = made.folder / "continuous" / made.streams[0].folder_name / "continuous.dat"
    os.truncate(dat, dat.stat().st_size - 1)
    truncated = run_cli(str(script), *host_args(host_path, test_home), "--recording", str(made.folder))
    assert truncated.returncode == 1 and "is truncated" in truncated.stderr

    (made.folder / "structure.oebin").unlink()
    missing = run_cli(str(script), *host_args(host_path, test_home), "--recording", str(made.session))
    assert missing.returncode == 1 and "no structure.oebin" in missing.stderr
    for result in (no_stream, truncated, missing):
        assert result.stderr.startswith("Error: ")
        assert_no_traceback_from_cli(result)

    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    fresh = make_recording(channels=4, samples=3000)
    refused = run_cli(
        str(script),
        *host_args(host_path, test_home),
        "--recording",
        str(fresh.folder),
        "--output",
        str(taken),
    )
    assert refused.returncode == 1 and "already exists" in refused.stderr
    assert [p.name for p in taken.iterdir()] == ["keep.txt"]


def test_instances_in_series_and_events_reach_the_script_before_their_block(  # type: ignore[no-untyped-def]
    host_path: Path, test_home: Path, make_recording, tmp_path: Path
) -> None:
    raw = np.full((30000, 3), 10, dtype=np.int16)
    # Different bit_volts per channel: the CLI feeds float32 (one int16 scale would not do).
    made = make_recording(channels=3, samples=30000, signal=raw, ttl=TTL[:2], bit_volts=[0.195, 0.5, 2.0])
    log = tmp_path / "events.log"
    script = write_script(
        tmp_path,
        "double.py",
        f"""
        class PyProcessor:
            def __init__(self, processor, num_channels, sample_rate):
                self.seen = {int(made.streams[0].sample_numbers[0])}
                self.pending = []

            def handle_ttl_event(self, source_node, channel, sample_number, line, state):
                self.pending.append((sample_number, line, state))

            def process(self, data):
                with open({str(log)!r}, "a") as log:
                    for sample_number, line, state in self.pending:
                        inside = self.seen <= sample_number < self.seen + data.shape[1]
                        log.write(f"{{sample_number}} {{line}} {{int(state)}} {{inside}}\\n")
                self.pending = []
                self.seen += data.shape[1]
                data *= 2
        """,
    )
    out = tmp_path / "out"
    result = run_cli(
        str(script),
        *host_args(host_path, test_home),
        "--recording",
        str(made.folder),
        "--instances",
        "3",
        "--output",
        str(out),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)["report"]
    assert [i["index"] for i in report["instances"]] == [0, 1, 2]
    assert np.array_equal(official(out).continuous[0].samples, raw * 8)
    # Each of the 3 instances saw both events, in the block that contains them, numbered as the recording.
    lines = log.read_text().splitlines()
    assert sorted(lines) == sorted(["15345 0 1 True", "15945 0 0 True"] * 3)


def test_too_slow_script_gets_a_clear_verdict(host_path: Path, test_home: Path, tmp_path: Path) -> None:
    script = write_script(
        tmp_path,
        "slow.py",
        """
        import time

        class PyProcessor:
            def __init__(self, processor, num_channels, sample_rate):
                pass

            def process(self, data):
                time.sleep(0.035)
        """,
    )
    result = run_cli(str(script), *host_args(host_path, test_home), "--seconds", "0.5", "--json")
    assert result.returncode == 0, result.stderr
    verdict = json.loads(result.stdout)["verdict"]
    assert verdict["fits"] is False and verdict["p99_budget_percent"] > 140
    assert verdict["text"].startswith("TOO SLOW for live use")


def test_a_short_last_block_does_not_make_a_fitting_script_too_slow(
    host_path: Path, test_home: Path, tmp_path: Path
) -> None:
    """One full block of 200 ms and a last one of 10 ms: a script taking 20 ms per block uses 10 % of the
    GUI's budget, although the short block alone took twice its own length."""
    script = write_script(
        tmp_path,
        "steady.py",
        """
        import time

        class PyProcessor:
            def __init__(self, processor, num_channels, sample_rate):
                pass

            def process(self, data):
                time.sleep(0.02)
        """,
    )
    args = ["--block", "6000", "--sample-rate", "30000", "--seconds", "0.21", "--json"]
    result = run_cli(str(script), *host_args(host_path, test_home), *args)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["report"]["instances"][0]["blocks_processed"] == 2
    verdict = document["verdict"]
    assert verdict["fits"] is True and verdict["p99_budget_percent"] < 50, verdict
    assert verdict["text"].startswith("fits"), verdict


def test_a_block_of_one_sample(host_path: Path, test_home: Path, tmp_path: Path) -> None:
    """--block 1 is allowed, so the GUI's ±1 sample jitter must not make the host refuse it."""
    script = copy_template("processor", tmp_path)
    args = ["--block", "1", "--seconds", "0.001", "--json"]
    result = run_cli(str(script), *host_args(host_path, test_home), *args)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["block"] == 1 and document["report"]["instances"][0]["blocks_processed"] == 30


def test_plot_is_written(host_path: Path, test_home: Path, make_recording, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    made = make_recording(channels=8, samples=30000, ttl=TTL[:2])
    plot = tmp_path / "run.png"
    result = run_cli(
        str(copy_template("bandpass", tmp_path)),
        *host_args(host_path, test_home),
        "--recording",
        str(made.folder),
        "--plot",
        str(plot),
    )
    assert result.returncode == 0, result.stderr
    data = plot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20000
    assert f"Plot: {plot}" in result.stdout


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_stops_cleanly_with_a_partial_report(  # type: ignore[no-untyped-def]
    stop_signal: int, host_path: Path, test_home: Path, make_recording, tmp_path: Path
) -> None:
    made = make_recording(channels=4, samples=300000)  # 10 s
    script = write_script(
        tmp_path,
        "slow.py",
        """
        import time

        class PyProcessor:
            def __init__(self, processor, num_channels, sample_rate):
                pass

            def process(self, data):
                time.sleep(0.02)
        """,
    )
    out = tmp_path / "out"
    process = subprocess.Popen(
        cli_command(
            "run",
            str(script),
            *host_args(host_path, test_home),
            "--recording",
            str(made.folder),
            "--output",
            str(out),
            "--json",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As from a terminal: a shell without job control (CI, `cmd &`) starts children with SIGINT ignored,
        # and Python then installs no KeyboardInterrupt handler.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    # Wait until processed data has come back (the output being written beside `out`), then interrupt.
    deadline = time.monotonic() + 120
    written = 0
    while written < 4 * 2 * 20 * 697 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
        written = sum(
            p.stat().st_size
            for p in tmp_path.glob(".out.*.partial/experiment1/recording1/continuous/*/*.dat")
        )
    assert process.poll() is None, process.communicate()
    assert written > 0
    process.send_signal(stop_signal)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    document = json.loads(stdout)
    done = document["samples_done"]
    assert document["interrupted"] is True and 0 < done < 300000
    assert document["report"]["errors"] == []
    # The partial output is a complete recording of exactly the processed samples.
    recorded = official(out)
    assert recorded.continuous[0].samples.shape == (done, 4)
    assert np.array_equal(recorded.continuous[0].samples, made.streams[0].raw[:done])


def test_missing_numpy_and_matplotlib_give_clear_messages(tmp_path: Path) -> None:
    """A real venv with the CLI's own dependencies only: `run` names the extra to install."""
    venv = tmp_path / "cli-venv"
    python39 = Path(str(PYENV_310).replace("3.10.13", "3.9.18").replace("python3.10", "python3.9"))
    subprocess.run([str(python39), "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "click>=8.0"], check=True)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    script = copy_template("processor", tmp_path)
    command = [str(venv / "bin" / "python"), "-m", "oe_pyproc_setup", "run", str(script)]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    assert result.returncode == 1
    assert "needs numpy" in result.stderr and "pip install 'oe-pyproc-setup[run]'" in result.stderr
    assert_no_traceback_from_cli(result)

    subprocess.run([*pip, "numpy"], check=True)
    result = subprocess.run(
        [*command, "--plot", str(tmp_path / "p.png")], capture_output=True, text=True, env=env
    )
    assert result.returncode == 1
    assert "--plot needs matplotlib" in result.stderr and "oe-pyproc-setup[plot]" in result.stderr
    assert sys.version_info >= (3, 9)


def test_synthetic_input_with_output_block_size_and_events(
    host_path: Path, test_home: Path, tmp_path: Path
) -> None:
    from oe_pyproc_setup.run.inputs import SyntheticInput

    out = tmp_path / "out"
    script = copy_template("processor", tmp_path)
    result = run_cli(
        str(script), *host_args(host_path, test_home),
        "--channels", "3", "--sample-rate", "20000", "--seconds", "1.5", "--block", "256",
        "--output", str(out), "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["block"] == 256 and abs(document["budget_ms"] - 12.8) < 1e-9
    assert document["report"]["stream"]["blocks"] in range(30000 // 257, 30000 // 255 + 2)
    recorded = official(out)
    expected = SyntheticInput(3, 20000.0, 30000)
    assert recorded.continuous[0].metadata.sample_rate == 20000.0
    np.testing.assert_allclose(
        recorded.continuous[0].get_samples(0, 30000).T, expected.chunk(0, 30000), atol=0.195 / 2 + 1e-4
    )
    assert recorded.events.sample_number.tolist() == expected.events.sample_numbers.tolist()


def test_bad_options_are_refused_before_looking_for_a_host(
    make_recording, tmp_path: Path, isolated_env: dict[str, str]
) -> None:  # type: ignore[no-untyped-def]
    made = make_recording(channels=4, samples=3000)
    script = copy_template("processor", tmp_path)
    cases = [
        (["--stream", "ProbeA-AP"], "--stream needs --recording"),
        (["--recording", str(made.folder), "--sample-rate", "20000"], "does not match the stream's 30000 Hz"),
        (["--recording", str(made.folder), "--channels", "5"], "has 4"),
        (["--recording", str(made.folder), "--seconds", "0.00001"], "shorter than one sample"),
        (["--plot", str(tmp_path / "nowhere" / "p.png")], "does not exist"),
    ]
    for args, expected in cases:
        result = run_cli(str(script), *args, env=isolated_env)
        assert result.returncode == 1, (args, result.stderr)
        assert expected in result.stderr and "oe-pyproc-host was not found" not in result.stderr, (
            args,
            result.stderr,
        )
        assert_no_traceback_from_cli(result)


def test_json_is_one_document_whatever_fails(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    """--json promises a document on stdout also when the run fails: before the check, before the host."""
    script = copy_template("processor", tmp_path)
    cases = [
        ([str(tmp_path / "missing.py")], "does not exist"),
        ([str(tmp_path)], "is a folder"),
        ([str(script), "--stream", "ProbeA-AP"], "--stream needs --recording"),
        ([str(script), "--recording", str(tmp_path / "no-recording")], "no such file or folder"),
        ([str(script)], "oe-pyproc-host was not found"),
    ]
    for args, expected in cases:
        result = run_cli(*args, "--json", env=isolated_env)
        assert result.returncode == 1, (args, result.stderr)
        document = json.loads(result.stdout)
        assert document["ok"] is False and document["exit_code"] == 1, args
        assert expected in document["error"] and expected in result.stderr, (args, document["error"])
        assert_no_traceback_from_cli(result)


def test_a_script_whose_init_raises_cannot_be_loaded(
    host_path: Path, test_home: Path, tmp_path: Path
) -> None:
    script = write_script(
        tmp_path,
        "bad_init.py",
        """
        class PyProcessor:
            def __init__(self, processor, num_channels, sample_rate):
                raise ValueError(f"this script needs 32 channels, got {num_channels}")

            def process(self, data):
                pass
        """,
    )
    result = run_cli(str(script), *host_args(host_path, test_home), "--seconds", "0.2")
    assert result.returncode == 4, result.stderr
    assert result.stderr.startswith("Error: the script could not be loaded")
    assert "ValueError: this script needs 32 channels, got 16" in result.stderr
    assert 'bad_init.py", line 3, in __init__' in result.stderr
    assert_no_traceback_from_cli(result)


def test_events_of_each_instance_are_recorded_apart(  # type: ignore[no-untyped-def]
    host_path: Path, test_home: Path, make_recording, tmp_path: Path
) -> None:
    made = make_recording(channels=2, samples=30000)
    out = tmp_path / "out"
    script = copy_template("ttl_threshold", tmp_path)
    result = run_cli(
        str(script), *host_args(host_path, test_home),
        "--recording", str(made.folder), "--instances", "2", "--output", str(out), "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)["report"]
    counts = [instance["events_emitted_count"] for instance in report["instances"]]
    assert counts[0] > 0 and counts[0] == counts[1]  # the data passes unchanged: both see the same crossings
    events = official(out).events
    assert [len(events[events.processor_id == node]) for node in (0, 1)] == counts
    first = [instance["events_emitted"][0]["sample_number"] for instance in report["instances"]]
    assert first[1] >= made.streams[0].sample_numbers[0]  # the host numbers as the recording does
    assert events[events.processor_id == 1].sample_number.min() == first[1]


def test_errors_name_the_recordings_sample_numbers(  # type: ignore[no-untyped-def]
    host_path: Path, test_home: Path, make_recording, tmp_path: Path
) -> None:
    made = make_recording(channels=2, samples=30000)  # its first sample number is 12345
    script = write_script(
        tmp_path,
        "raises_late.py",
        """
        class PyProcessor:
            def __init__(self, processor, num_channels, sample_rate):
                self.blocks = 0

            def process(self, data):
                self.blocks += 1
                if self.blocks == 6:
                    raise KeyError("gain")
        """,
    )
    result = run_cli(str(script), *host_args(host_path, test_home), "--recording", str(made.folder))
    assert result.returncode == 1
    line = next(line for line in result.stdout.splitlines() if line.startswith("- process() of instance 0"))
    first = int(line.split("first sample ")[1].split(":")[0])
    assert 12345 + 5 * 696 <= first <= 12345 + 5 * 698, line
    assert "KeyError: 'gain'" in line
    assert "Script output" not in result.stdout  # the traceback is shown once, under Errors
    assert "(judged on the 6 of 4" in result.stdout  # blocks 0-5 ran (the 6th raised), then bypassed
