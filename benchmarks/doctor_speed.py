"""P6 (DESIGN §8): `oe-pyproc doctor` within 1 s with 10 candidate Homes on the machine.

Makes 10 real venvs of pyenv's Python 3.10 under a throwaway HOME (as ~/.conda/envs/<name>), so the
doctor, with no Home configured, discovers, inspects and judges all 10. Prints median wall times of
whole processes and their ratio to a `python -c pass` floor measured in the same run. The package is
byte-compiled first, as pip does on install (PYTHONDONTWRITEBYTECODE would otherwise make every run compile
the sources again).

    .venv/bin/python benchmarks/doctor_speed.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 1.0
CANDIDATES = 10


def pyenv_python310() -> Path:
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    found = sorted((root / "versions").glob("3.10.*/bin/python3.10"))
    if not found:
        sys.exit(f"needs pyenv's Python 3.10 under {root / 'versions'}")
    return found[-1]


def timed(
    command: list[str], env: dict[str, str], runs: int
) -> tuple[float, subprocess.CompletedProcess[str]]:
    times = []
    result = None
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
    assert result is not None
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    base = pyenv_python310()
    package = Path(__file__).resolve().parents[1] / "oe_pyproc_setup"
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)
    with tempfile.TemporaryDirectory(prefix="oe-pyproc-doctor-bench-") as scratch:
        home = Path(scratch) / "home"
        envs = home / ".conda" / "envs"
        envs.mkdir(parents=True)
        for index in range(CANDIDATES):
            subprocess.run(
                [str(base), "-m", "venv", "--without-pip", str(envs / f"env{index:02d}")], check=True
            )
        env = {
            k: v for k, v in os.environ.items() if k not in ("CONDA_PREFIX", "CONDA_EXE", "MAMBA_ROOT_PREFIX")
        }
        env.update(HOME=str(home), PYENV_ROOT=str(home / ".pyenv"))

        floor, _ = timed([sys.executable, "-c", "pass"], env, args.runs)
        doctor_cmd = [sys.executable, "-m", "oe_pyproc_setup", "doctor", "--json"]
        doctor, result = timed(doctor_cmd, env, args.runs)
        document = json.loads(result.stdout)
        resolve = next(f for f in document["findings"] if f["id"] == "home.resolve")
        found = resolve["details"][0] if resolve["details"] else "?"
        if not found.startswith(f"{CANDIDATES} candidate Homes"):
            sys.exit(f"expected {CANDIDATES} candidates to be inspected, the doctor says: {found}")
        given, _ = timed([*doctor_cmd, "--python-home", str(envs / "env00")], env, args.runs)

    rows = [
        ("python -c pass (floor)", floor),
        (f"doctor, {CANDIDATES} candidate Homes", doctor),
        ("doctor --python-home (no discovery)", given),
    ]
    print(f"median of {args.runs} runs; P6 target: doctor <= {TARGET_SECONDS:.1f} s")
    print(f"{'case':<40} {'seconds':>8} {'x floor':>8}")
    for name, seconds in rows:
        print(f"{name:<40} {seconds:>8.3f} {seconds / floor:>8.1f}")
    verdict = "meets" if doctor <= TARGET_SECONDS else "MISSES"
    print(f"doctor with {CANDIDATES} candidates {verdict} the target ({doctor:.3f} s; {found})")


if __name__ == "__main__":
    main()
