"""Fixtures for `oe-pyproc run`: recordings written byte by byte from the published Binary format, the native
host, and a real Python Home (a venv of pyenv's CPython 3.10 with numpy and scipy).

The recording writer here is deliberately independent of `oe_pyproc_setup.recording`: it follows the GUI
documentation ("Binary Format") and what the GUI's Record Node writes, so reading tests are not circular.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
HOST_NAME = "oe-pyproc-host"
PYENV_310 = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")) / "versions" / "3.10.13" / "bin" / "python3.10"


@dataclass
class MadeStream:
    folder_name: str
    stream_name: str
    raw: np.ndarray  # int16 (samples, channels)
    bit_volts: list[float]
    sample_numbers: np.ndarray
    timestamps: np.ndarray
    ttl_sample_numbers: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    ttl_lines: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # 0-based
    ttl_states: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    @property
    def scaled(self) -> np.ndarray:
        """float32 (channels, samples) in µV, as the GUI's buffer holds it."""
        return (self.raw.T.astype(np.float32)) * np.asarray(self.bit_volts, dtype=np.float32)[:, None]


@dataclass
class MadeRecording:
    session: Path  # the folder holding "Record Node 101"
    folder: Path  # …/experiment1/recording1
    streams: list[MadeStream]


def write_binary_recording(
    session: Path,
    *,
    channels: int = 8,
    samples: int = 30000,
    sample_rate: float = 30000.0,
    first_sample: int = 12345,
    bit_volts: Sequence[float] | None = None,
    ttl: Sequence[tuple[int, int, bool]] = (),  # (sample offset from the first sample, line 0-based, state)
    streams: Sequence[str] = ("ProbeA-AP",),
    seed: int = 7,
    signal: np.ndarray | None = None,  # optional (samples, channels) int16 to store instead of noise
) -> MadeRecording:
    """A GUI 1.0-style recording: Record Node 101/experiment1/recording1 with one folder per stream."""
    rng = np.random.default_rng(seed)
    folder = session / "Record Node 101" / "experiment1" / "recording1"
    made: list[MadeStream] = []
    oebin_continuous = []
    oebin_events = []
    for index, stream_name in enumerate(streams):
        folder_name = f"Neuropix-PXI-100.{stream_name}"
        cont = folder / "continuous" / folder_name
        cont.mkdir(parents=True)
        raw = (
            signal
            if signal is not None
            else rng.integers(-3000, 3000, size=(samples, channels)).astype("<i2")
        )
        raw = raw.astype("<i2")
        raw.tofile(cont / "continuous.dat")  # sample-major: ch1 s1, ch2 s1, …
        numbers = np.arange(first_sample, first_sample + raw.shape[0], dtype=np.int64)
        stamps = numbers / sample_rate
        np.save(cont / "sample_numbers.npy", numbers)
        np.save(cont / "timestamps.npy", stamps)
        volts = list(bit_volts) if bit_volts is not None else [0.195] * raw.shape[1]
        oebin_continuous.append(
            {
                "folder_name": folder_name + "/",
                "sample_rate": sample_rate,
                "source_processor_name": "Neuropix-PXI",
                "source_processor_id": 100,
                "stream_name": stream_name,
                "recorded_processor": "Record Node",
                "recorded_processor_id": 101,
                "num_channels": raw.shape[1],
                "channels": [
                    {
                        "channel_name": f"CH{c + 1}",
                        "description": "headstage data",
                        "identifier": "genericdata.continuous",
                        "history": "Neuropix-PXI",
                        "bit_volts": volts[c],
                        "units": "uV",
                    }
                    for c in range(raw.shape[1])
                ],
            }
        )
        stream = MadeStream(folder_name, stream_name, raw, volts, numbers, stamps)
        if ttl and index == 0:
            events_dir = folder / "events" / folder_name / "TTL"
            events_dir.mkdir(parents=True)
            offsets = np.array([t[0] for t in ttl], dtype=np.int64)
            lines = np.array([t[1] for t in ttl], dtype=np.int64)
            states = np.array([t[2] for t in ttl], dtype=bool)
            np.save(events_dir / "states.npy", ((lines + 1) * np.where(states, 1, -1)).astype("<i2"))
            np.save(events_dir / "sample_numbers.npy", (first_sample + offsets).astype("<i8"))
            np.save(events_dir / "timestamps.npy", (first_sample + offsets) / sample_rate)
            words, word = [], 0
            for line, state in zip(lines.tolist(), states.tolist()):
                word = word | (1 << line) if state else word & ~(1 << line)
                words.append(word)
            np.save(events_dir / "full_words.npy", np.array(words, dtype="<u8"))
            oebin_events.append(
                {
                    "folder_name": f"{folder_name}/TTL/",
                    "channel_name": "Neuropixels PXI Sync",
                    "description": "Status of SMA sync line on PXI card",
                    "identifier": "neuropixels.sync",
                    "sample_rate": sample_rate,
                    "type": "int16",
                    "source_processor": "Neuropix-PXI",
                    "stream_name": stream_name,
                    "initial_state": 0,
                }
            )
            stream.ttl_sample_numbers = first_sample + offsets
            stream.ttl_lines = lines
            stream.ttl_states = states
        made.append(stream)
    oebin = {"GUI version": "1.0.1", "continuous": oebin_continuous, "events": oebin_events, "spikes": []}
    (folder / "structure.oebin").write_text(json.dumps(oebin, indent=2), encoding="utf-8")
    return MadeRecording(session=session, folder=folder, streams=made)


@pytest.fixture
def make_recording(tmp_path: Path):  # type: ignore[no-untyped-def]
    counter = iter(range(1000))

    def make(**kwargs: object) -> MadeRecording:
        return write_binary_recording(tmp_path / f"session{next(counter)}", **kwargs)  # type: ignore[arg-type]

    return make


# ---------------------------------------------------------------------------------------------- the host


def _host_candidates() -> list[Path]:
    found: list[Path] = []
    explicit = os.environ.get("OE_PYPROC_TEST_HOST")
    if explicit:
        found.append(Path(explicit))
    for build in ("build/native", "build/run-host"):
        base = REPO_ROOT / build
        if base.is_dir():
            found += sorted(p for p in base.rglob(HOST_NAME) if p.is_file() and os.access(p, os.X_OK))
    return found


@pytest.fixture(scope="session")
def host_path() -> Path:
    """The built host: $OE_PYPROC_TEST_HOST, else build/native, else build/run-host (.ci/parts/30-run.sh)."""
    candidates = _host_candidates()
    if not candidates:
        pytest.fail(
            "no built oe-pyproc-host: set OE_PYPROC_TEST_HOST or build it (bash .ci/parts/30-run.sh does)",
            pytrace=False,
        )
    return candidates[0].absolute()


@pytest.fixture(scope="session")
def test_home() -> Path:
    """A real Home: a venv of pyenv's CPython 3.10 with numpy and scipy (made once, under build/run/)."""
    home = Path(os.environ.get("OE_PYPROC_TEST_HOME", REPO_ROOT / "build" / "run" / "home-py310"))
    python = home / "bin" / "python"
    if not python.exists():
        if not PYENV_310.exists():
            pytest.fail(f"pyenv's CPython 3.10 is missing ({PYENV_310}); it is needed for the test Home")
        subprocess.run([str(PYENV_310), "-m", "venv", str(home)], check=True)
    probe = subprocess.run([str(python), "-c", "import numpy, scipy"], capture_output=True)
    if probe.returncode != 0:
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "numpy", "scipy"],
            check=True,
        )
    return home


def cli_command(*args: str) -> list[str]:
    """`oe-pyproc …` as a subprocess of this test's Python (the project venv)."""
    return [sys.executable, "-m", "oe_pyproc_setup", *args]


@pytest.fixture
def isolated_env(tmp_path: Path) -> dict[str, str]:
    """An environment with no configured Home and no host on PATH or in OE_PYPROC_HOST."""
    env = {k: v for k, v in os.environ.items() if k not in ("OE_PYPROC_HOST", "PYTHONHOME", "PYTHONPATH")}
    env["HOME"] = str(tmp_path / "home")
    (tmp_path / "home").mkdir(exist_ok=True)
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if p and not (Path(p) / HOST_NAME).exists()
    )
    env["PYTHONUNBUFFERED"] = "1"
    return env


def copy_template(name: str, destination: Path) -> Path:
    target = destination / f"{name}.py"
    shutil.copyfile(REPO_ROOT / "templates" / f"{name}.py", target)
    return target
