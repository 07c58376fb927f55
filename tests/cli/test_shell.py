"""Commands printed for the user to paste: every path survives a real shell unchanged."""

from __future__ import annotations

import subprocess

import pytest

from oe_pyproc_setup.shell import quote


@pytest.mark.parametrize(
    "path",
    ["/plain/path", "/my data/Home", "/a'b/c", '/a"b/c', "/$HOME/x", "/`id`/x", "/é ü/ñ", "/x;rm -rf y"],
)
def test_a_quoted_path_reaches_the_command_unchanged(path: str) -> None:
    echoed = subprocess.run(
        ["sh", "-c", f"printf %s {quote(path)}"], capture_output=True, text=True, check=True
    ).stdout
    assert echoed == path
