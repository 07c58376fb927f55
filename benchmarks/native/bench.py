"""Benchmarks of the native plugin (DESIGN §8 P1-P5, P7, P8) on each Python Home given.

Every number is printed with a floor measured in the same run and their ratio; the upstream-style path
(thread state made per call, a new array per block, rows copied in and out) is measured alongside as the
baseline to beat. The heavy lifting is done by build/native/oe_pyproc_bench (C++, through the real loader
and bridge) and by the host; numpy/scipy work runs in the Home's own interpreter.

    python benchmarks/native/bench.py --home build/native-venvs/3.10.13 --home build/native-venvs/3.12.1

P4 needs scipy in the Home (the bandpass template uses it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SWEEP = [32, 64, 128, 384, 768, 1536, 3072]


def us(value_ns: float) -> str:
    return f"{value_ns / 1000:.2f} µs"


def ratio(value: float, floor: float) -> str:
    return f"{value / floor:.2f}×" if floor > 0 else "n/a"


def run_bench(build: Path, home: Path, work: Path, iterations: int, channels: list[int]) -> dict[str, Any]:
    command = [
        str(build / "oe_pyproc_bench"),
        str(home),
        str(build),
        str(work),
        str(iterations),
        ",".join(str(c) for c in channels),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        sys.exit(f"bench: {' '.join(command)} failed:\n{completed.stderr}")
    result: dict[str, Any] = json.loads(completed.stdout)
    return result


def home_python(home: Path) -> str:
    return str(home / "bin" / "python3")


def run_in_home(home: Path, code: str, *args: str) -> str:
    completed = subprocess.run(
        [home_python(home), "-c", code, *args], capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr.strip().splitlines()[-1] if completed.stderr else "failed")
    return completed.stdout


def run_host(build: Path, home: Path, *args: str) -> dict[str, Any]:
    command = [
        str(build / "oe-pyproc-host"),
        "--python-home",
        str(home),
        "--no-default-home",
        "--json",
        *args,
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"host exit {completed.returncode}: {completed.stderr.strip()[-500:]}")
    report: dict[str, Any] = json.loads(completed.stdout)
    return report


MAKE_INPUT = """
import sys
import numpy as np
path, channels, samples, chunk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(7)
t = np.arange(samples) / 30000.0
data = (rng.normal(0, 20, (channels, samples)) + 100 * np.sin(2 * np.pi * 8 * t)).astype(np.float32)
with open(path, "wb") as out:
    for start in range(0, samples, chunk):
        out.write(np.ascontiguousarray(data[:, start:start + chunk]).tobytes())
"""

BARE_SOSFILT = """
import sys, time, json
import numpy as np
from scipy import signal
path, channels, samples, chunk, block, output = sys.argv[1:7]
channels, samples, chunk, block = int(channels), int(samples), int(chunk), int(block)
raw = np.fromfile(path, dtype=np.float32)
data = np.concatenate([raw[s * channels:(s + min(chunk, samples - s)) * channels]
                       .reshape(channels, -1) for s in range(0, samples, chunk)], axis=1)
sos = signal.butter(3, [300.0, 6000.0], btype="bandpass", fs=30000.0, output="sos")
zi = np.zeros((sos.shape[0], channels, 2))
times = []
for start in range(0, samples, block):
    piece = data[:, start:start + block]
    begin = time.perf_counter_ns()
    filtered, zi = signal.sosfilt(sos, piece, axis=-1, zi=zi)
    times.append(time.perf_counter_ns() - begin)
whole = signal.sosfilt(sos, data, axis=-1).astype(np.float32)
out = np.fromfile(output, dtype=np.float32)
hosted = np.concatenate([out[s * channels:(s + min(chunk, samples - s)) * channels]
                         .reshape(channels, -1) for s in range(0, samples, chunk)], axis=1)
print(json.dumps({"median_ns": float(np.median(times)),
                  "max_abs_diff": float(np.max(np.abs(hosted - whole))),
                  "scale": float(np.max(np.abs(whole)))}))
"""

READ_FLOOR = """
import sys, time
path = sys.argv[1]
begin = time.perf_counter()
with open(path, "rb", buffering=0) as stream:
    while stream.read(1 << 22):
        pass
print(time.perf_counter() - begin)
"""


def bench_home(build: Path, home: Path, iterations: int, quick: bool) -> list[str]:
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="oe-pyproc-bench-") as scratch:
        work = Path(scratch)
        sweep = [384] if quick else SWEEP
        measured = run_bench(build, home, work / "bench", iterations, sweep)
        version = measured["python"]
        rows = {row["channels"]: row for row in measured["channels"]}
        at384 = rows[384]

        def median(row: dict[str, Any], key: str) -> float:
            value: float = row[key]["median_ns"]
            return value

        lines.append(f"### Python {version} (Home {home})")
        lines.append("")
        lines.append("| id | measured | value | floor (same run) | ratio | upstream-style | target |")
        lines.append("|---|---|---|---|---|---|---|")
        overhead = median(at384, "noop_view_overhead")
        total = median(at384, "noop_view_total")
        lines.append(
            f"| P1 | bridge overhead per process(), no-op, 384 ch × 697, view (median) | {us(overhead)} "
            f"(whole call {us(total)}) | no-op Python method call {us(median(at384, 'noop_view_script'))} | "
            f"{ratio(overhead, median(at384, 'noop_view_script'))} | "
            f"{us(median(at384, 'upstream_noop_total'))} "
            f"| ≤ 1 µs: {'met' if overhead <= 1000 else 'NOT met'} |"
        )
        staging = median(at384, "noop_staging_total")
        memcpy = median(at384, "memcpy_in_out")
        lines.append(
            f"| P1g | whole call, no-op, 384 ch × 697, rows 1024 apart (GUI layout, staging; median) | "
            f"{us(staging)} | C++ memcpy in+out {us(memcpy)} | {ratio(staging, memcpy)} | "
            f"{us(median(at384, 'upstream_noop_total'))} | the cost the GUI pays; upstream-style alongside |"
        )
        staging_extra = staging - median(at384, "noop_view_total")
        lines.append(
            f"| P2 | staging copy in+out, 384 ch × 697 in 1024-sample rows (median) | {us(staging_extra)} | "
            f"C++ memcpy in+out {us(memcpy)} (warm, same buffer, interleaved with the blocks) | "
            f"{ratio(staging_extra, memcpy)} | {us(median(at384, 'upstream_noop_total'))} | "
            f"≤ 1.2×; {at384['noop_staging_mallocs_per_block']:g} malloc calls/block (ctest: 0) |"
        )
        keep_row = median(at384, "keep_row_staging_total")
        keep_copy = median(at384, "keep_copy_staging_total")
        lines.append(
            f"| P8 | copy-on-keep: a row of every block kept (deque of 8), 384 ch, GUI layout (median) | "
            f"{us(keep_row)}, {at384['keep_row_mallocs_per_block']:g} malloc calls/block | "
            f"the script keeping `data.copy()` instead: {us(keep_copy)}, "
            f"{at384['keep_copy_mallocs_per_block']:g} malloc calls/block | {ratio(keep_row, keep_copy)} | "
            f"keeping nothing: {us(staging)}, "
            f"{at384['noop_staging_mallocs_per_block']:g} malloc calls/block | "
            "≤ 1 allocation + 1 copy of the block per block |"
        )
        multiply = median(at384, "halve_view_total")
        floor = median(at384, "multiply_cpp")
        lines.append(
            f"| P3 | `data *= 0.5`, 384 ch, view, whole call (median) | {us(multiply)} | "
            f"C++ loop {us(floor)} | "
            f"{ratio(multiply, floor)} | {us(median(at384, 'upstream_halve_total'))} | ≤ 1.25× |"
        )
        p4 = bench_bandpass(build, home, work)
        lines.append(p4)
        gil = at384["noop_view_gil_wait"]["p99_ns"]
        mutex = at384["mutex_floor"]["p99_ns"]
        lines.append(
            f"| P5 | GIL wait on the audio thread, no other Python threads (p99) | {us(gil)} | "
            f"uncontended mutex {us(mutex)} | {ratio(gil, mutex)} | n/a | ≤ 50 µs: "
            f"{'met' if gil <= 50000 else 'NOT met'} |"
        )
        lines.append(bench_gil_with_busy_thread(build, home, work))
        lines.append(bench_realtime(build, home, work))
        lines.append("")
        lines.append(
            "Channel sweep (median per block of 697 samples; staging rows spaced by 1024 as in the GUI):"
        )
        lines.append("")
        lines.append(
            "| channels | view no-op | staging no-op | memcpy in+out floor | upstream no-op | "
            "upstream ÷ view | `*= 0.5` view | C++ `*= 0.5` floor |"
        )
        lines.append("|---|---|---|---|---|---|---|---|")
        for channels in sweep:
            row = rows[channels]
            lines.append(
                f"| {channels} | {us(median(row, 'noop_view_total'))} | "
                f"{us(median(row, 'noop_staging_total'))} | {us(median(row, 'memcpy_in_out'))} | "
                f"{us(median(row, 'upstream_noop_total'))} | "
                f"{ratio(median(row, 'upstream_noop_total'), median(row, 'noop_view_total'))} | "
                f"{us(median(row, 'halve_view_total'))} | {us(median(row, 'multiply_cpp'))} |"
            )
        lines.append("")
    return lines


def bench_bandpass(build: Path, home: Path, work: Path) -> str:
    template = ROOT / "templates" / "bandpass.py"
    channels, samples, chunk = 384, 697 * 60, 4096
    source, output = work / "bandpass-in.f32", work / "bandpass-out.f32"
    try:
        run_in_home(home, "import scipy")
    except RuntimeError:
        return "| P4 | bandpass template vs bare sosfilt | not measured: no scipy in the Home | | | | |"
    run_in_home(home, MAKE_INPUT, str(source), str(channels), str(samples), str(chunk))
    report = run_host(
        build,
        home,
        "--script",
        str(template),
        "--channels",
        str(channels),
        "--input",
        str(source),
        "--chunk",
        str(chunk),
        "--output",
        str(output),
        "--block-size",
        "697",
        "--block-jitter",
        "0",
    )
    timing = report["instances"][0]["timing_us"]
    hosted_ns = (timing["script"]["median"] + timing["overhead"]["median"]) * 1000
    bare = json.loads(
        run_in_home(
            home, BARE_SOSFILT, str(source), str(channels), str(samples), str(chunk), "697", str(output)
        )
    )
    equal = bare["max_abs_diff"] <= 1e-4 * bare["scale"]
    return (
        f"| P4 | bandpass template through the host, 384 ch × 697 (median per block) | {us(hosted_ns)} | "
        f"bare `sosfilt` with `zi` {us(bare['median_ns'])} | {ratio(hosted_ns, bare['median_ns'])} | n/a | "
        f"≤ 1.1×; block-wise = whole-signal: {'yes' if equal else 'NO'} "
        f"(max diff {bare['max_abs_diff']:.2g} of {bare['scale']:.3g}) |"
    )


BUSY_THREAD = """
import threading


class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        threading.Thread(target=self.spin, daemon=True).start()

    def spin(self):
        count = 0
        while True:
            count += 1

    def process(self, data):
        pass
"""


def bench_gil_with_busy_thread(build: Path, home: Path, work: Path) -> str:
    script = work / "busy.py"
    script.write_text(BUSY_THREAD)
    report = run_host(build, home, "--script", str(script), "--channels", "384", "--duration", "2")
    wait = report["instances"][0]["timing_us"]["gil_wait"]
    return (
        f"| P5b | GIL wait with a script thread spinning in pure Python (median / p99) | "
        f"{wait['median']:.0f} / {wait['p99']:.0f} µs | switch interval set by the bridge 500 µs "
        f"(Python's default 5000 µs) | n/a | n/a | informative: p99 depends on the machine's load |"
    )


def bench_realtime(build: Path, home: Path, work: Path) -> str:
    channels, seconds, chunk = 384, 4, 30000
    source = work / "p7-in.f32"
    run_in_home(home, MAKE_INPUT, str(source), str(channels), str(seconds * 30000), str(chunk))
    noop = work / "noop.py"
    noop.write_text(
        "class PyProcessor:\n"
        "    def __init__(self, processor, num_channels, sample_rate):\n        pass\n"
        "    def process(self, data):\n        pass\n"
    )
    run_in_home(home, READ_FLOOR, str(source))  # warm the page cache
    read_factor = seconds / float(run_in_home(home, READ_FLOOR, str(source)))
    flags = ["--script", str(noop), "--channels", str(channels)]
    flags += ["--input", str(source), "--chunk", str(chunk)]
    gui_like = run_host(build, home, *flags)["run"]
    contiguous = run_host(build, home, *flags, "--contiguous")["run"]
    factor = gui_like["audio_cpu_realtime_factor"]
    return (
        f"| P7 | host, no-op script, precomputed 384-ch input, no output: audio-thread CPU "
        f"(wall clock) | {factor:.0f}× ({gui_like['realtime_factor']:.0f}×) real time in 1024-sample rows; "
        f"{contiguous['audio_cpu_realtime_factor']:.0f}× ({contiguous['realtime_factor']:.0f}×) contiguous | "
        f"reading the input file {read_factor:.0f}× | {factor / read_factor:.2f} of the read speed | n/a | "
        f"≥ 50×: {'met' if factor >= 50 else 'NOT met'} (CPU) |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--home", action="append", required=True, help="a Python Home (repeatable)")
    parser.add_argument("--build", default=str(ROOT / "build" / "native"), help="the CMake build folder")
    parser.add_argument("--iterations", type=int, default=2000, help="blocks per measurement")
    parser.add_argument("--quick", action="store_true", help="384 channels only")
    options = parser.parse_args()
    build = Path(options.build)
    if not (build / "oe_pyproc_bench").exists():
        sys.exit(f"bench: {build}/oe_pyproc_bench is missing: build plugin/ with OE_PYPROC_BUILD_BENCH=ON")
    print(f"# oe-pyproc native benchmarks ({os.cpu_count()} cores; shared machine: medians, not minima)")
    print()
    for home in options.home:
        for line in bench_home(build, Path(home).resolve(), options.iterations, options.quick):
            print(line)
        sys.stdout.flush()


if __name__ == "__main__":
    main()
