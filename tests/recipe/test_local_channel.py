"""The local channel script refuses clearly when the interpreter it repackages is missing (DESIGN §6)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "local-channel" / "build_channel.py"


def test_missing_interpreter_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--out",
            str(tmp_path / "channel"),
            "--python-prefix",
            str(tmp_path / "nope"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert (
        "the interpreter to repackage is missing" in result.stderr
        and "pyenv install 3.10.13" in result.stderr
    )
    assert "Traceback" not in result.stderr
