"""Helpers for the native tests (imported as `native_helpers`): the built host, real Homes, data files.

The build (`.ci/parts/20-native.sh`) puts the host, bridges and C++ test programs in build/native and
the Homes in build/native-venvs/<version> (pyenv's CPython + a venv with numpy from PyPI); both can be
pointed elsewhere with OE_PYPROC_NATIVE_BUILD and OE_PYPROC_TEST_HOME_3_10 (_3_12, _3_13).
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("OE_PYPROC_NATIVE_BUILD", str(ROOT / "build" / "native")))
HOST = BUILD / "oe-pyproc-host"
PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT", "/root/.pyenv")) / "versions"
FULL_VERSIONS = {"3.10": "3.10.13", "3.12": "3.12.1", "3.13": "3.13.0"}
VERSIONS = list(FULL_VERSIONS)


def home_for(version: str) -> Path:
    variable = "OE_PYPROC_TEST_HOME_" + version.replace(".", "_")
    default = ROOT / "build" / "native-venvs" / FULL_VERSIONS[version]
    return Path(os.environ.get(variable, str(default)))


def base_python(version: str) -> Path:
    return PYENV_VERSIONS / FULL_VERSIONS[version] / "bin" / "python3"


@dataclass
class HostResult:
    returncode: int
    report: dict[str, Any] | None
    stdout: str
    stderr: str

    def instance(self, index: int = 0) -> dict[str, Any]:
        assert self.report is not None
        instances: list[dict[str, Any]] = self.report["instances"]
        return instances[index]


def run_host(
    *args: str | Path,
    home: Path | None = None,
    json_report: bool = True,
    stdin: bytes | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    default_home: bool = False,
    timeout: float = 120,
) -> HostResult:
    """Runs the host; parses the JSON report from stdout when --json is used."""
    if not HOST.exists():
        pytest.fail(f"{HOST} is missing: build the plugin first (bash .ci/parts/20-native.sh)")
    command: list[str] = [str(HOST)]
    if home is not None:
        command += ["--python-home", str(home)]
    if not default_home:
        command.append("--no-default-home")
    if json_report:
        command.append("--json")
    command += [str(arg) for arg in args]
    completed = subprocess.run(
        command, input=stdin, capture_output=True, timeout=timeout, env=env, cwd=cwd, check=False
    )
    stdout = completed.stdout.decode("utf-8", "replace")
    stderr = completed.stderr.decode("utf-8", "replace")
    assert completed.returncode >= 0, f"host died from signal {-completed.returncode}:\n{stderr}"
    report = None
    if json_report and stdout.strip():
        report = json.loads(stdout)
        assert report["schema"] == 1
        assert report["exit_code"] == completed.returncode
    return HostResult(completed.returncode, report, stdout, stderr)


NOOP = """
class PyProcessor:
    def __init__(self, processor, num_channels, sample_rate):
        pass

    def process(self, data):
        pass
"""


def run_host_with_reload(*args: str | Path, home: Path, edit: Callable[[], None]) -> HostResult:
    """Runs the host with --reload-wait-stdin; calls edit() while it waits, then lets it reload."""
    command = [str(HOST), "--python-home", str(home), "--no-default-home", "--json", "--reload-wait-stdin"]
    command += [str(arg) for arg in args]
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        assert process.stderr is not None
        while "waiting for stdin to reload" not in process.stderr.readline().decode():
            assert process.poll() is None, "the host ended before asking to reload"
        edit()
        stdout, stderr = process.communicate(b"\n", timeout=60)
    report = json.loads(stdout)
    return HostResult(process.returncode, report, stdout.decode(), stderr.decode())


def write_script(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(body).lstrip())
    return path


def write_channel_major(path: Path, channels: int, samples: int, chunk: int, value_of: Any) -> None:
    """float32 channel-major chunks, value_of(channel, sample) -> float."""
    with path.open("wb") as stream:
        for start in range(0, samples, chunk):
            count = min(chunk, samples - start)
            for channel in range(channels):
                row = [value_of(channel, start + i) for i in range(count)]
                stream.write(struct.pack(f"<{count}f", *row))


def read_channel_major(path: Path, channels: int, chunk: int) -> list[list[float]]:
    """The inverse of write_channel_major: one list of samples per channel."""
    data = path.read_bytes()
    rows: list[list[float]] = [[] for _ in range(channels)]
    offset = 0
    while offset < len(data):
        remaining = (len(data) - offset) // 4 // channels
        count = min(chunk, remaining)
        for channel in range(channels):
            rows[channel].extend(struct.unpack_from(f"<{count}f", data, offset))
            offset += 4 * count
    return rows
