"""Host discovery (DESIGN §5): --host → OE_PYPROC_HOST → <Home>/bin → PATH, on real files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from oe_pyproc_setup.errors import UserFacingError
from oe_pyproc_setup.hostfind import find_host


def _executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def places(tmp_path: Path) -> dict[str, Path]:
    return {
        "explicit": _executable(tmp_path / "explicit" / "oe-pyproc-host"),
        "env": _executable(tmp_path / "env" / "oe-pyproc-host"),
        "home": tmp_path / "home",
        "home_host": _executable(tmp_path / "home" / "bin" / "oe-pyproc-host"),
        "path_dir": _executable(tmp_path / "on-path" / "oe-pyproc-host").parent,
    }


def test_order_of_discovery(places: dict[str, Path], tmp_path: Path) -> None:
    env = {"OE_PYPROC_HOST": str(places["env"]), "PATH": str(places["path_dir"])}
    assert find_host(places["explicit"], places["home"], env).origin == "--host"
    assert find_host(None, places["home"], env).path == places["env"]
    del env["OE_PYPROC_HOST"]
    found = find_host(None, places["home"], env)
    assert (found.origin, found.path) == ("Home", places["home_host"])
    found = find_host(None, tmp_path / "home-without-host", env)
    assert (found.origin, found.path) == ("PATH", places["path_dir"] / "oe-pyproc-host")
    assert find_host(None, None, env).origin == "PATH"


def test_none_found_names_all_four_places(tmp_path: Path) -> None:
    home = tmp_path / "some-home"
    home.mkdir()
    with pytest.raises(UserFacingError) as raised:
        find_host(None, home, {"PATH": str(tmp_path)})
    message = raised.value.format_message()
    assert "oe-pyproc-host was not found" in message
    for place in (
        "1. --host PATH",
        "2. OE_PYPROC_HOST",
        f"3. the Home's {home}/bin/oe-pyproc-host",
        "4. PATH",
    ):
        assert place in message
    with pytest.raises(UserFacingError, match="no Home configured or given"):
        find_host(None, None, {"PATH": ""})


def test_explicit_choices_that_do_not_work_are_errors(tmp_path: Path, places: dict[str, Path]) -> None:
    with pytest.raises(UserFacingError, match=r"--host .* does not exist"):
        find_host(tmp_path / "nope", places["home"], {})
    not_executable = tmp_path / "plain" / "oe-pyproc-host"
    not_executable.parent.mkdir()
    not_executable.write_text("")
    not_executable.chmod(0o644)
    if os.geteuid() != 0 or not os.access(not_executable, os.X_OK):
        with pytest.raises(UserFacingError, match="not executable"):
            find_host(not_executable, None, {})
    with pytest.raises(UserFacingError, match=r"OE_PYPROC_HOST=.* is a folder"):
        find_host(None, places["home"], {"OE_PYPROC_HOST": str(tmp_path)})
    broken = tmp_path / "broken-link"
    broken.symlink_to(tmp_path / "gone")
    with pytest.raises(UserFacingError, match="broken symbolic link"):
        find_host(broken, None, {})
