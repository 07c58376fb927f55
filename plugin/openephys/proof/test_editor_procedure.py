"""The parts of editor_procedure.py that run without a GUI: its input checks, the phrase search it reads the
screen with, and the test script it loads, edits and breaks in the GUI (run here by the real Python)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
PROCEDURE = HERE / "editor_procedure.py"


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


procedure = _load(PROCEDURE, "editor_procedure")


def test_bad_input_is_a_message_and_exit_2(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "OE_GUI_BIN"}
    result = subprocess.run(
        [sys.executable, str(PROCEDURE), "--home", str(tmp_path), "--plugin-build", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("editor_procedure: ")
    assert "Traceback" not in result.stderr


def _words(*texts: str) -> list[object]:
    return [procedure.Word(text, procedure.Box(20 * i, 10 + i, 18, 9)) for i, text in enumerate(texts)]


def test_phrases_are_found_across_words_and_punctuation() -> None:
    words = _words("Home:", "none", "Script...", "Reload", "Python", "Processor")
    box = procedure.find_phrase(words, "Python Processor")
    assert box == procedure.Box(80, 14, 38, 10)
    assert procedure.find_phrase(words, "Script...") == procedure.Box(40, 12, 18, 9)
    assert procedure.find_phrase(words, "Processor List") is None
    assert procedure.find_phrase(words, "Reload", below=20) is None


def test_the_test_script_loads_counts_inits_and_raises_when_asked(tmp_path: Path) -> None:
    script, marker = tmp_path / "script.py", tmp_path / "marker.jsonl"
    procedure.write_test_script(script, marker, version=1, raises=False)
    working = _load(script, "procedure_script_v1").PyProcessor(None, 4, 30000.0)
    data = np.ones((4, 8), dtype=np.float32)
    working.process(data)
    assert np.array_equal(data, np.ones((4, 8), dtype=np.float32))

    procedure.write_test_script(script, marker, version=3, raises=True)
    raising = _load(script, "procedure_script_v3").PyProcessor(None, 4, 30000.0)
    with pytest.raises(ValueError, match=procedure.FAULT_TEXT):
        raising.process(data)
    assert procedure.marker_lines(marker) == [
        {"version": 1, "channels": 4, "rate": 30000.0},
        {"version": 3, "channels": 4, "rate": 30000.0},
    ]
