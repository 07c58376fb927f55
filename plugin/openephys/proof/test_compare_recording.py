"""compare_recording.py accepts a recording that matches the offline result and rejects one that does not.

The "recording" is written the way the Record Node writes one (structure.oebin, int16 continuous.dat,
sample_numbers.npy), from a File Reader-like source played from sample 0 and looped.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
COMPARE = HERE / "compare_recording.py"
BANDPASS = HERE.parents[2] / "templates" / "bandpass.py"
CHANNELS = 4
RATE = 30000.0
BIT_VOLTS = 0.195
SOURCE_SAMPLES = 7000


def _write_recording(root: Path, data_uv: np.ndarray, first: int) -> Path:
    recording = root / "Record Node 102" / "experiment1" / "recording1"
    folder = recording / "continuous" / "File_Reader-100.example_data"
    folder.mkdir(parents=True)
    ints = np.clip(np.round(data_uv / BIT_VOLTS), -32767, 32767).astype("<i2")
    ints.T.tofile(folder / "continuous.dat")
    # Numbered like the File Reader: by file position, stepping back by the source length at the end of
    # the block (here 928 samples) in which it looped.
    numbers = np.arange(first, first + data_uv.shape[1], dtype=np.int64)
    wrap = (SOURCE_SAMPLES // 928 + 1) * 928
    numbers[numbers >= wrap] -= SOURCE_SAMPLES
    np.save(folder / "sample_numbers.npy", numbers)
    structure = {
        "continuous": [
            {
                "folder_name": "File_Reader-100.example_data/",
                "num_channels": CHANNELS,
                "sample_rate": RATE,
                "channels": [{"channel_name": f"CH{c + 1}", "bit_volts": BIT_VOLTS} for c in range(CHANNELS)],
            }
        ]
    }
    (recording / "structure.oebin").write_text(json.dumps(structure))
    return recording


def _offline_bandpass(source: np.ndarray, last: int, times: int) -> np.ndarray:
    spec = importlib.util.spec_from_file_location("bandpass_under_test", BANDPASS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    span = np.arange(0, last + 1) % source.shape[1]
    data = np.ascontiguousarray(source[:, span].astype(np.float32) * np.float32(BIT_VOLTS))
    for _ in range(times):
        module.PyProcessor(None, CHANNELS, RATE).process(data)
    return data


def _run(
    tmp_path: Path, recording_root: Path, source_dat: Path, scripts: int
) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        str(COMPARE),
        "--recording",
        str(recording_root),
        "--source-dat",
        str(source_dat),
        "--source-channels",
        str(CHANNELS),
        "--source-bit-volts",
        str(BIT_VOLTS),
        "--sample-rate",
        str(RATE),
    ]
    for _ in range(scripts):
        command += ["--script", str(BANDPASS)]
    return subprocess.run(command, capture_output=True, text=True, check=False, cwd=tmp_path)


@pytest.fixture
def source(tmp_path: Path) -> tuple[np.ndarray, Path]:
    rng = np.random.default_rng(3)
    samples = np.round(rng.normal(0, 400, (CHANNELS, SOURCE_SAMPLES))).astype("<i2")
    path = tmp_path / "continuous.dat"
    samples.T.tofile(path)
    return samples, path


@pytest.mark.parametrize("scripts", [1, 2])
def test_a_matching_recording_passes_across_the_loop(
    tmp_path: Path, source: tuple[np.ndarray, Path], scripts: int
) -> None:
    samples, path = source
    first, last = 5000, 16000  # the recording starts late and spans the source's loop point
    expected = _offline_bandpass(samples, last, scripts)
    _write_recording(tmp_path / "rec", expected[:, first : last + 1], first)
    result = _run(tmp_path, tmp_path / "rec", path, scripts)
    assert result.returncode == 0, result.stderr + result.stdout
    report = json.loads(result.stdout)
    assert report["samples_compared"] == last - first + 1
    assert report["max_abs_diff_lsb"] <= 0.5 + 1e-3
    assert report["within_tolerance"] is True


def test_a_recording_that_differs_fails(tmp_path: Path, source: tuple[np.ndarray, Path]) -> None:
    samples, path = source
    first, last = 0, 9000
    expected = _offline_bandpass(samples, last, 1)
    recorded = expected[:, first : last + 1].copy()
    recorded[2, 4321] += 3 * BIT_VOLTS
    _write_recording(tmp_path / "rec", recorded, first)
    result = _run(tmp_path, tmp_path / "rec", path, 1)
    assert result.returncode == 1
    assert json.loads(result.stdout)["max_abs_diff_lsb"] >= 2.5


def test_filtering_once_is_not_filtering_twice(tmp_path: Path, source: tuple[np.ndarray, Path]) -> None:
    samples, path = source
    once = _offline_bandpass(samples, 8000, 1)
    _write_recording(tmp_path / "rec", once, 0)
    assert _run(tmp_path, tmp_path / "rec", path, 2).returncode == 1


def _write_ttl(recording: Path, events: list[tuple[int, int, bool]]) -> None:
    folder = recording / "events" / "Python_Processor-101.example_data" / "TTL"
    folder.mkdir(parents=True)
    np.save(folder / "sample_numbers.npy", np.array([e[0] for e in events], dtype=np.int64))
    states = [(line + 1) * (1 if state else -1) for _, line, state in events]
    np.save(folder / "states.npy", np.array(states, dtype=np.int16))
    oebin = recording / "structure.oebin"
    structure = json.loads(oebin.read_text())
    structure["events"] = [
        {"folder_name": "Python_Processor-101.example_data/TTL/", "identifier": "pythonprocessor.ttl"}
    ]
    oebin.write_text(json.dumps(structure))


@pytest.mark.parametrize("shift", [0, 1])
def test_ttl_events_must_match_sample_for_sample(
    tmp_path: Path, source: tuple[np.ndarray, Path], shift: int
) -> None:
    samples, path = source
    ttl_script = HERE.parents[2] / "templates" / "ttl_threshold.py"
    spec = importlib.util.spec_from_file_location("ttl_under_test", ttl_script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    class Handle:
        def __init__(self) -> None:
            self.events: list[tuple[int, int, bool]] = []

        def add_python_event(self, line: int, state: bool, offset: int = 0) -> None:
            self.events.append((offset + shift, line, bool(state)))

    data = samples.astype(np.float32) * np.float32(BIT_VOLTS)
    handle = Handle()
    module.PyProcessor(handle, CHANNELS, RATE).process(data.copy())
    assert len(handle.events) > 10
    recording = _write_recording(tmp_path / "rec", data, 0)
    _write_ttl(recording, handle.events)
    command = [sys.executable, str(COMPARE), "--recording", str(tmp_path / "rec"), "--source-dat", str(path)]
    command += ["--source-channels", str(CHANNELS), "--source-bit-volts", str(BIT_VOLTS)]
    command += ["--sample-rate", str(RATE), "--script", str(ttl_script)]
    command += ["--events-identifier", "pythonprocessor.ttl"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    report = json.loads(result.stdout)
    assert report["ttl_recorded"] == len(handle.events)
    assert report["ttl_identical"] is (shift == 0)
    assert result.returncode == (0 if shift == 0 else 1)


def test_lost_samples_are_reported(tmp_path: Path, source: tuple[np.ndarray, Path]) -> None:
    samples, path = source
    recording = _write_recording(tmp_path / "rec", _offline_bandpass(samples, 3000, 1), 0)
    numbers_file = next(recording.rglob("sample_numbers.npy"))
    numbers = np.load(numbers_file)
    numbers[1500:] += 5
    np.save(numbers_file, numbers)
    result = _run(tmp_path, tmp_path / "rec", path, 1)
    assert result.returncode == 2
    assert "lost samples" in result.stderr


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    result = _run(tmp_path, tmp_path, tmp_path / "missing.dat", 1)
    assert result.returncode == 2
    assert "is not a file" in result.stderr
