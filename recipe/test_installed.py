"""Tests of the installed packages, run by the recipe's `tests:` in the test environment (any platform).

    python test_installed.py setup    # the oe-pyproc-setup output: the CLI
    python test_installed.py plugin   # the oe-pyproc output: metadata, doctor on this prefix, host + bandpass

Every check raises on failure, so the test environment reports it; nothing is skipped.
"""

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PREFIX = Path(sys.prefix)
PLUGIN_DIR = PREFIX / "lib" / "oe-pyproc" / "plugins-api10" / "oe-pyproc"


def run(*args: str, expect: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    executable = shutil.which(args[0])
    if executable is None:
        raise SystemExit(f"FAIL: {args[0]} is not on PATH in the test environment")
    result = subprocess.run([executable, *args[1:]], capture_output=True, text=True, timeout=300)
    print(f"$ {' '.join(args)}  -> exit {result.returncode}")
    if result.returncode not in expect or "Traceback (most recent call last)" in result.stderr:
        output = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        raise SystemExit(f"FAIL: exit {result.returncode}\n{output}")
    return result


def doctor(gui_root: Path, *extra: str, expect: tuple[int, ...]) -> list[dict[str, object]]:
    result = run("oe-pyproc", "doctor", "--json", "--gui-root", str(gui_root), *extra, expect=expect)
    report = json.loads(result.stdout)
    findings = report["findings"] if isinstance(report, dict) else report
    assert isinstance(findings, list) and findings, report
    for finding in findings:
        assert {"id", "status", "title"} <= set(finding), finding
        assert finding["status"] in {"ok", "warn", "error", "skip", "crash"}, finding
    return findings


def test_setup(scratch: Path) -> None:
    version = run("oe-pyproc", "--version").stdout
    assert "oe-pyproc" in version, version
    help_text = run("oe-pyproc", "--help").stdout
    for command in ("doctor", "install", "uninstall"):
        assert command in help_text, help_text
    # No Home given and no GUI: doctor reports (exit 0 or 1), it never crashes.
    findings = doctor(scratch / "no-gui", expect=(0, 1))
    assert not [f for f in findings if f["status"] == "crash"], findings


def test_plugin(scratch: Path) -> None:
    metadata = json.loads((PLUGIN_DIR / "oe-pyproc-plugin.json").read_text(encoding="utf-8"))
    assert metadata["schema"] == 1 and metadata["plugin_api"] == 10, metadata
    python_minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert python_minor in metadata["bridges"], metadata
    for bridge in metadata["bridges"].values():
        assert (PLUGIN_DIR / bridge).is_file(), bridge
    build_info = json.loads((PREFIX / "share" / "oe-pyproc" / "build-info.json").read_text(encoding="utf-8"))
    print(f"build info: {build_info}")

    # This environment is a valid Home: doctor finds no error (no GUI is a warning only).
    findings = doctor(scratch / "no-gui", "--python-home", str(PREFIX), expect=(0,))
    assert not [f for f in findings if f["status"] in ("error", "crash")], findings

    # The host runs the bandpass template on synthetic data, block by block, with this prefix as the Home,
    # and its output equals filtering the whole signal at once.
    import numpy as np
    from scipy import signal

    channels, rate, samples, chunk = 4, 30000.0, 30000, 1024
    rng = np.random.default_rng(7)
    t = np.arange(samples) / rate
    data = (rng.normal(0, 10, (channels, samples)) + 50 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    raw_in, raw_out, report_path = scratch / "in.f32", scratch / "out.f32", scratch / "report.json"
    with raw_in.open("wb") as handle:
        for start in range(0, samples, chunk):
            handle.write(np.ascontiguousarray(data[:, start : start + chunk]).tobytes())
    template = PREFIX / "share" / "oe-pyproc" / "templates" / "bandpass.py"
    run(
        "oe-pyproc-host",
        "--script", str(template),
        "--python-home", str(PREFIX),
        "--no-default-home",
        "--channels", str(channels),
        "--sample-rate", str(int(rate)),
        "--input", str(raw_in),
        "--chunk", str(chunk),
        "--output", str(raw_out),
        "--json-file", str(report_path),
    )  # fmt: skip
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["ok"] is True and report["exit_code"] == 0, report
    assert Path(report["home"]["chosen"]).resolve() == PREFIX.resolve(), report["home"]
    out = np.fromfile(raw_out, dtype=np.float32)
    assert out.size == channels * samples, out.size
    blocks = [
        out[channels * start : channels * min(start + chunk, samples)].reshape(channels, -1)
        for start in range(0, samples, chunk)
    ]
    processed = np.concatenate(blocks, axis=1)
    sos = signal.butter(3, [300.0, 6000.0], btype="bandpass", fs=rate, output="sos")
    expected = signal.sosfilt(sos, data.astype(np.float64), axis=-1)
    error = float(np.max(np.abs(processed - expected)))
    scale = float(np.max(np.abs(expected)))
    assert error < 1e-3 * scale, f"bandpass output differs from filtering the whole signal: {error}"
    assert float(np.max(np.abs(processed - data))) > 1.0, "the host did not change the data"
    print(f"host: {report['stream']['blocks']} blocks, max deviation from whole-signal filtering {error:.2e}")

    # The host's own seeded synthetic source (jittered blocks in a 1024-sample callback buffer).
    synthetic = run(
        "oe-pyproc-host", "--script", str(template), "--python-home", str(PREFIX), "--no-default-home",
        "--channels", "8", "--duration", "1", "--spike-rate", "20", "--json",
    )  # fmt: skip
    report = json.loads(synthetic.stdout)
    assert report["ok"] is True and report["stream"]["source"] == "synthetic", report
    [instance] = report["instances"]
    assert instance["blocks_processed"] == report["stream"]["blocks"] > 0 and not instance["faulted"], (
        instance
    )
    print(f"host (synthetic source): {instance['blocks_processed']} blocks, no error")


def main() -> int:
    which = sys.argv[1] if len(sys.argv) > 1 else ""
    tests = {"setup": test_setup, "plugin": test_plugin}
    if which not in tests:
        print(f"usage: python test_installed.py {{{'|'.join(tests)}}}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="oe-pyproc-test-") as scratch:
        tests[which](Path(scratch))
    print(f"test_installed {which}: passed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
