"""DESIGN §8 P6: how fast the `oe-pyproc` command answers, as ratios to floors measured in the same run.

    python benchmarks/cli_speed.py [--runs N] [--homes N]

Rows: the floor (`python -c pass` with the CLI's interpreter) and `python -c "import click"`; then
`oe-pyproc --help` (target ≤ 0.2 s), `oe-pyproc homes --json` and, when registered, `oe-pyproc doctor`,
both with N candidate Homes discovered (real venvs of pyenv's 3.10 listed in a throwaway HOME's
conda environments.txt; target for doctor ≤ 1 s with 10). Other benchmarks can import
`time_command`, `make_candidate_homes` and `candidate_environment`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Timing:
    label: str
    median: float
    best: float
    runs: int


def time_command(
    label: str, argv: Sequence[str], runs: int = 15, env: Mapping[str, str] | None = None
) -> Timing:
    """Wall time of a complete process run of `argv` (one warm-up run first, not counted)."""
    samples = []
    for index in range(runs + 1):
        started = time.perf_counter()
        completed = subprocess.run(list(argv), capture_output=True, env=dict(env or os.environ), check=False)
        elapsed = time.perf_counter() - started
        if completed.returncode not in (0, 1):  # 1 is a verdict (e.g. unusable Homes), not a failure
            raise RuntimeError(
                f"{' '.join(argv)} failed ({completed.returncode}): {completed.stderr.decode()[-500:]}"
            )
        if index:
            samples.append(elapsed)
    return Timing(label, statistics.median(samples), min(samples), runs)


def cli_argv() -> list[str]:
    """The installed `oe-pyproc` script beside this interpreter, else `python -m oe_pyproc_setup`."""
    script = Path(sys.executable).parent / "oe-pyproc"
    return [str(script)] if script.exists() else [sys.executable, "-m", "oe_pyproc_setup"]


def pyenv_python(minor: str = "3.10") -> Path:
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    found = sorted(
        p / "bin" / f"python{minor}"
        for p in root.glob(f"{minor}.*")
        if (p / "bin" / f"python{minor}").exists()
    )
    if not found:
        raise SystemExit(f"benchmark needs pyenv's Python {minor} under {root}")
    return found[-1]


def make_candidate_homes(folder: Path, count: int = 10, minor: str = "3.10") -> list[Path]:
    """`count` real venvs (no pip, no numpy) of pyenv's Python `minor` under `folder`."""
    python = pyenv_python(minor)
    homes = []
    for index in range(count):
        home = folder / f"candidate-{index:02d}"
        if not (home / "pyvenv.cfg").exists():
            subprocess.run([str(python), "-m", "venv", "--without-pip", str(home)], check=True)
        homes.append(home)
    return homes


def candidate_environment(folder: Path, homes: Sequence[Path]) -> dict[str, str]:
    """An environment whose HOME lists `homes` in conda's environments.txt, so that discovery finds them
    (plus this interpreter and pyenv's versions, as on a real machine)."""
    user_home = folder / "home"
    (user_home / ".conda").mkdir(parents=True, exist_ok=True)
    (user_home / ".conda" / "environments.txt").write_text("".join(f"{h}\n" for h in homes))
    env = {k: v for k, v in os.environ.items() if k not in ("CONDA_PREFIX", "CONDA_EXE")}
    env["HOME"] = str(user_home)
    env.setdefault("PYENV_ROOT", str(Path.home() / ".pyenv"))
    return env


def render(rows: Sequence[Timing], floor: Timing, targets: Mapping[str, float]) -> str:
    header = f"{'command':44} {'median s':>9} {'best s':>8} {'× floor':>8} {'target':>8}  verdict"
    lines = [header, "-" * len(header)]
    for row in rows:
        target = targets.get(row.label)
        verdict = "" if target is None else ("ok" if row.median <= target else "SLOW")
        target_text = "" if target is None else f"≤{target:g} s"
        lines.append(
            f"{row.label:44} {row.median:9.3f} {row.best:8.3f} "
            f"{row.median / floor.median:8.2f} {target_text:>8}  {verdict}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--homes", type=int, default=10, help="candidate Homes for homes/doctor")
    args = parser.parse_args(argv)

    from oe_pyproc_setup.cli import COMMANDS

    cli = cli_argv()
    rows = [
        time_command("floor: python -c pass", [sys.executable, "-c", "pass"], args.runs),
        time_command("python -c 'import click'", [sys.executable, "-c", "import click"], args.runs),
        time_command("oe-pyproc --help", [*cli, "--help"], args.runs),
    ]
    targets = {"oe-pyproc --help": 0.2}
    with tempfile.TemporaryDirectory(prefix="oe-pyproc-bench-") as scratch:
        homes = make_candidate_homes(Path(scratch), args.homes)
        env = candidate_environment(Path(scratch), homes)
        gui_root = Path(scratch) / "gui-root"
        label = f"oe-pyproc homes --json ({args.homes} candidates)"
        rows.append(
            time_command(label, [*cli, "homes", "--json", "--gui-root", str(gui_root)], args.runs, env)
        )
        if "doctor" in COMMANDS:
            label = f"oe-pyproc doctor ({args.homes} candidates)"
            doctor = [*cli, "doctor", "--python-home", str(homes[0]), "--gui-root", str(gui_root)]
            rows.append(time_command(label, doctor, args.runs, env))
            targets[label] = 1.0
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    print(f"Python {sys.version.split()[0]} at {sys.executable}; {args.runs} runs per row, medians")
    print(f"{os.cpu_count()} CPUs, load average {load} (absolute times scale with load; ratios much less)")
    print(render(rows, rows[0], targets))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
