"""Fixtures of the macOS suite: real Mach-O files from PyPI's macOS wheels (downloaded by
.ci/parts/26-macos.sh into OE_PYPROC_MACOS_WHEELS, never committed), the loader's own reader of binary
headers (OE_PYPROC_ARCH_PROBE, built by the same part), the CLI as a real subprocess, and a conda-style
prefix holding the plugin package's files (shared libraries compiled here by gcc)."""

from __future__ import annotations

import json
import os
import platform
import shutil
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from oe_pyproc_setup.binfmt import normalize_machine
from oe_pyproc_setup.plugin_meta import this_platform

CMAKE_WHEEL = "cmake-*-macosx_10_10_universal2.whl"
NUMPY_ARM64_WHEEL = "numpy-*-macosx_11_0_arm64.whl"
NUMPY_X86_64_WHEEL = "numpy-*-macosx_10_9_x86_64.whl"
PLUGIN_REL = Path("lib/oe-pyproc/plugins-api10/oe-pyproc")


def _required_path(variable: str, what: str) -> Path:
    value = os.environ.get(variable)
    if not value or not Path(value).exists():
        pytest.fail(f"{variable} must name {what} (.ci/parts/26-macos.sh sets it up)")
    return Path(value)


def _wheel(folder: Path, pattern: str) -> Path:
    matches = sorted(folder.glob(pattern))
    if not matches:
        pytest.fail(f"no {pattern} in {folder} (.ci/parts/26-macos.sh downloads it)")
    return matches[-1]


@pytest.fixture(scope="session")
def mac_binaries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real macOS binaries, extracted once from the wheels: `cmake` (universal x86_64 + arm64, Developer ID,
    hardened runtime), the numpy packages of both wheels (`numpy_arm64`, `numpy_x86_64`: thin, ad hoc
    signed) and three of their files."""
    wheels = _required_path("OE_PYPROC_MACOS_WHEELS", "the folder of the downloaded macOS wheels")
    root = tmp_path_factory.mktemp("mac-wheels")
    with zipfile.ZipFile(_wheel(wheels, CMAKE_WHEEL)) as archive:
        archive.extract("cmake/data/bin/cmake", root / "cmake")
    for name, pattern in (("arm64", NUMPY_ARM64_WHEEL), ("x86_64", NUMPY_X86_64_WHEEL)):
        with zipfile.ZipFile(_wheel(wheels, pattern)) as archive:
            archive.extractall(root / name, [n for n in archive.namelist() if n.startswith("numpy/")])
    umath = Path("core") / "_multiarray_umath.cpython-310-darwin.so"
    return {
        "cmake": root / "cmake" / "cmake" / "data" / "bin" / "cmake",
        "numpy_arm64": root / "arm64" / "numpy",
        "numpy_x86_64": root / "x86_64" / "numpy",
        "umath_arm64": root / "arm64" / "numpy" / umath,
        "umath_x86_64": root / "x86_64" / "numpy" / umath,
        "openblas_arm64": root / "arm64" / "numpy" / ".dylibs" / "libopenblas64_.0.dylib",
    }


def extract_slice(fat_binary: Path, arch_cputype: int, target: Path) -> Path:
    """The slice of `arch_cputype` of a universal binary as a thin file, as `lipo -thin` does: the bytes of
    the slice unchanged (its own load commands and code signature included)."""
    data = fat_binary.read_bytes()
    magic, count = struct.unpack_from(">II", data, 0)
    assert magic == 0xCAFEBABE
    for index in range(count):
        cputype, _, offset, size, _ = struct.unpack_from(">IIIII", data, 8 + 20 * index)
        if cputype == arch_cputype:
            target.write_bytes(data[offset : offset + size])
            target.chmod(0o755)
            return target
    raise AssertionError(f"no slice 0x{arch_cputype:x} in {fat_binary}")


@pytest.fixture(scope="session")
def cmake_arm64(mac_binaries: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The arm64 slice of the real cmake binary, thin: a real hardened arm64 executable."""
    return extract_slice(mac_binaries["cmake"], 0x0100000C, tmp_path_factory.mktemp("thin") / "cmake-arm64")


@pytest.fixture(scope="session")
def arch_probe() -> Path:
    return _required_path("OE_PYPROC_ARCH_PROBE", "the loader's binary_architectures_of program")


Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def cli() -> Cli:
    def run(
        *args: str, input: str | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "oe_pyproc_setup", *args],
            capture_output=True,
            text=True,
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            env=env,
            timeout=120,
            check=False,
        )

    return run


@pytest.fixture(scope="session")
def plugin_prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A conda-style prefix with the plugin package's files for this machine (adapter and bridge compiled
    by gcc), enough for `install` to plan; its Python is not needed before the copy."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.fail("gcc is required to build the test plugin")
    prefix = tmp_path_factory.mktemp("env") / "oe-python-plugin"
    plugin_dir = prefix / PLUGIN_REL
    plugin_dir.mkdir(parents=True)
    for name, body in (
        ("python-processor.so", "int oe_adapter_marker(void) { return 10; }"),
        ("oe_pyproc_bridge_cp310.bridge", "int oe_bridge_marker(void) { return 310; }"),
    ):
        source = prefix / "marker.c"
        source.write_text(body + "\n")
        subprocess.run([gcc, "-shared", "-fPIC", "-o", str(plugin_dir / name), str(source)], check=True)
        source.unlink()
    metadata = {
        "schema": 1,
        "version": "0.1.0",
        "plugin_api": 10,
        "platform": this_platform(),
        "arch": normalize_machine(platform.machine()),
        "bridges": {"3.10": "oe_pyproc_bridge_cp310.bridge"},
    }
    (plugin_dir / "oe-pyproc-plugin.json").write_text(json.dumps(metadata, indent=2))
    return prefix


@pytest.fixture
def gui_root(tmp_path: Path) -> Path:
    root = tmp_path / "open-ephys"
    (root / "configs-api10").mkdir(parents=True)
    (root / "plugins-api10").mkdir()
    return root
