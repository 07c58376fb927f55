"""A Home for an arm64 GUI holding an x86_64 numpy (what a pip run under Rosetta installs): the Home's tree
is crafted (this machine has no macOS Python), its binaries are real: the arm64 libpython stand-in is a
real arm64 dylib from numpy's arm64 wheel, numpy is the whole package of the x86_64 or the arm64 wheel, the
GUI is the real cmake binary's arm64 slice."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

Cli = Callable[..., subprocess.CompletedProcess[str]]


def mac_home(root: Path, libpython: Path, numpy_package: Path) -> Path:
    home = root / "oe-python-plugin"
    stdlib = home / "lib" / "python3.10"
    (stdlib / "encodings").mkdir(parents=True)
    (stdlib / "os.py").write_text("\n")
    (stdlib / "encodings" / "__init__.py").write_text("\n")
    shutil.copy2(libpython, home / "lib" / "libpython3.10.dylib")
    shutil.copytree(numpy_package, stdlib / "site-packages" / "numpy")
    return home


def gui_arch_finding(cli: Cli, home: Path, gui: Path, tmp_path: Path) -> tuple[int, dict[str, object]]:
    result = cli(
        "doctor", "--json", "--check", "gui.arch", "--python-home", str(home), "--gui-exe", str(gui),
        "--gui-root", str(tmp_path / "no-gui-root"),
    )  # fmt: skip
    assert result.returncode in (0, 1) and "Traceback" not in result.stderr, result.stderr
    (finding,) = json.loads(result.stdout)["findings"]
    return result.returncode, finding


@pytest.mark.parametrize("numpy_arch", ["x86_64", "arm64"])
def test_numpy_of_another_architecture_in_the_home(
    cli: Cli, mac_binaries: dict[str, Path], cmake_arm64: Path, tmp_path: Path, numpy_arch: str
) -> None:
    home = mac_home(tmp_path, mac_binaries["openblas_arm64"], mac_binaries[f"numpy_{numpy_arch}"])
    code, finding = gui_arch_finding(cli, home, cmake_arm64, tmp_path)
    details = finding["details"]
    assert isinstance(details, list)
    core = home / "lib/python3.10/site-packages/numpy/core/_multiarray_umath.cpython-310-darwin.so"
    assert f"numpy: {core}: {numpy_arch}" in details
    assert f"Home: {home}: arm64" in details
    if numpy_arch == "x86_64":
        assert code == 1 and finding["status"] == "error"
        assert finding["message"] == (
            "numpy in the Home is x86_64 but the Home and the GUI are arm64: `import numpy` fails in the GUI"
        )
        remediation = finding["remediation"]
        assert isinstance(remediation, dict) and "-m pip install numpy" in remediation["commands"][0]
    else:
        assert code == 0 and finding["status"] == "ok" and finding["message"] == "GUI and Home are both arm64"


def test_the_universal_gui_against_an_x86_64_numpy(
    cli: Cli, mac_binaries: dict[str, Path], tmp_path: Path
) -> None:
    """The universal GUI with an arm64 Home: on this x86_64 machine the GUI would run as x86_64, which the
    Home is not, so the Home's arm64 is what matters, and numpy's x86_64 fails it."""
    home = mac_home(tmp_path, mac_binaries["openblas_arm64"], mac_binaries["numpy_x86_64"])
    code, finding = gui_arch_finding(cli, home, mac_binaries["cmake"], tmp_path)
    assert code == 1 and "numpy in the Home is x86_64" in str(finding["message"])
