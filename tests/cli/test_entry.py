"""The entry point: version, help, and that --help imports no command module (it must stay fast)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from oe_pyproc_setup import __version__
from oe_pyproc_setup.cli import COMMANDS, main


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.output


def test_help_imports_no_command_module() -> None:
    code = (
        "import sys\n"
        "from oe_pyproc_setup.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('oe_pyproc_setup.commands.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize(
    "args",
    [
        ["install", "--gui-root", ""],
        ["uninstall", "--gui-root", ""],
        ["configure", "--python-home", ""],
        ["doctor", "--gui-root", " "],
        ["homes", ""],
        ["new-script", "x", "--dir", ""],
        ["run", ""],
    ],
)
def test_an_empty_path_is_a_usage_error(args: list[str]) -> None:
    # Path("") is the current folder: acting on it would touch whatever folder the user stands in.
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert "empty path" in result.output


def test_characters_the_console_lacks_are_escaped_never_a_crash(tmp_path: Path) -> None:
    # A Windows pipe or file gets the ANSI code page (cp1252): a path with Greek or CJK letters in it must
    # still be printed (escaped), never end the command in a UnicodeEncodeError. (An ASCII stream click
    # itself replaces by UTF-8.)
    encoding = "cp1252"
    odd = tmp_path / "Ωμέγα 中文"
    odd.mkdir()
    env = dict(os.environ, PYTHONIOENCODING=encoding)
    result = subprocess.run(
        [sys.executable, "-m", "oe_pyproc_setup", "homes", str(odd)],
        capture_output=True,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    stdout = result.stdout.decode(encoding)
    assert result.returncode == 1, result.stderr
    assert b"Traceback" not in result.stderr
    assert "\\u03a9\\u03bc\\u03ad\\u03b3\\u03b1 \\u4e2d\\u6587" in stdout
    assert "not-python" in stdout
