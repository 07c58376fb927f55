"""Recordings `oe-pyproc run` must refuse with the field or file named (issue 14 item 5 and around it):
impossible metadata, damaged or special files. Never a success with data missing, never a hang, and the
recording itself is never modified."""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from redteam_helpers import run_or_fail_on_hang, snapshot

RUN = [sys.executable, "-m", "oe_pyproc_setup", "run"]


def oebin_of(folder: Path) -> tuple[Path, dict[str, Any]]:
    path = folder / "structure.oebin"
    return path, json.loads(path.read_text())


def set_channel_field(folder: Path, field: str, value: object) -> None:
    path, data = oebin_of(folder)
    data["continuous"][0]["channels"][3][field] = value
    path.write_text(json.dumps(data))


def set_stream_field(folder: Path, field: str, value: object) -> None:
    path, data = oebin_of(folder)
    data["continuous"][0][field] = value
    path.write_text(json.dumps(data))


def stream_folder(folder: Path) -> Path:
    return next((folder / "continuous").iterdir())


DAMAGE: dict[str, Callable[[Path], None]] = {
    "bit_volts-zero": lambda f: set_channel_field(f, "bit_volts", 0.0),
    "bit_volts-negative": lambda f: set_channel_field(f, "bit_volts", -0.195),
    "bit_volts-absurd": lambda f: set_channel_field(f, "bit_volts", 1e12),
    "bit_volts-nan": lambda f: set_channel_field(f, "bit_volts", math.nan),
    "bit_volts-inf": lambda f: set_channel_field(f, "bit_volts", math.inf),
    "bit_volts-text": lambda f: set_channel_field(f, "bit_volts", "0.195"),
    "sample_rate-zero": lambda f: set_stream_field(f, "sample_rate", 0),
    "sample_rate-nan": lambda f: set_stream_field(f, "sample_rate", math.nan),
    "num_channels-more": lambda f: set_stream_field(f, "num_channels", 9),
    "oebin-not-json": lambda f: (f / "structure.oebin").write_bytes(b"{not json"),
    "oebin-not-utf8": lambda f: (f / "structure.oebin").write_bytes(b'{"continuous": "\xff"}'),
    "oebin-fifo": lambda f: ((f / "structure.oebin").unlink(), os.mkfifo(f / "structure.oebin")),
    "dat-truncated": lambda f: _truncate(stream_folder(f) / "continuous.dat", 3),
    "dat-fifo": lambda f: (
        (stream_folder(f) / "continuous.dat").unlink(),
        os.mkfifo(stream_folder(f) / "continuous.dat"),
    ),
    "sample_numbers-fifo": lambda f: (
        (stream_folder(f) / "sample_numbers.npy").unlink(),
        os.mkfifo(stream_folder(f) / "sample_numbers.npy"),
    ),
    "sample_numbers-garbage": lambda f: (stream_folder(f) / "sample_numbers.npy").write_bytes(
        b"\x93NUMPY garbage"
    ),
}


def _truncate(path: Path, drop: int) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:-drop])


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_recording_is_refused_and_left_as_it_is(
    host: Path, run_home: Path, tmp_path: Path, write_recording: Callable[..., Any], damage: str
) -> None:
    made = write_recording(tmp_path / "session", channels=8, samples=30000)
    DAMAGE[damage](made.folder)
    before = snapshot(tmp_path / "session")
    script = tmp_path / "plain.py"
    script.write_text(
        "class PyProcessor:\n    def __init__(self, *a):\n        pass\n\n"
        "    def process(self, d):\n        pass\n"
    )
    recording = ["--recording", str(made.folder), "--json"]
    result = run_or_fail_on_hang(
        [*RUN, str(script), "--host", str(host), "--python-home", str(run_home), *recording],
        f"run on a recording with {damage}",
    )
    assert "Traceback (most recent call last)" not in result.stderr.split("Error:")[0], result.stderr
    assert result.returncode in (1, 2), (result.returncode, result.stdout[-2000:], result.stderr)
    named = damage.split("-")[0].replace("dat", "continuous.dat").replace("oebin", "structure.oebin")
    assert named in result.stderr, result.stderr
    assert snapshot(tmp_path / "session") == before
