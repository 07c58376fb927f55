"""The entry point: version, help, and that --help imports no command module (it must stay fast)."""

from __future__ import annotations

import subprocess
import sys

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
