"""Fixtures for the native tests; makes helpers.py importable as `native_helpers` (importlib mode)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

if "native_helpers" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("native_helpers", Path(__file__).with_name("helpers.py"))
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["native_helpers"] = _module
    _spec.loader.exec_module(_module)

from native_helpers import VERSIONS, home_for


@pytest.fixture(scope="session")
def homes() -> dict[str, Path]:
    """The test Homes; each must import numpy (made by the CI script, reused across the session)."""
    found = {}
    for version in VERSIONS:
        home = home_for(version)
        python = home / "bin" / "python3"
        check = subprocess.run([str(python), "-c", "import numpy"], capture_output=True, check=False)
        if check.returncode != 0:
            pytest.fail(f"test Home {home} has no working numpy: run bash .ci/parts/20-native.sh first")
        found[version] = home
    return found


@pytest.fixture(params=VERSIONS)
def version(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
def home(homes: dict[str, Path], version: str) -> Path:
    return homes[version]
