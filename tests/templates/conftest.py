"""Makes the template harness importable as `template_harness` (pytest runs with --import-mode=importlib)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = REPO_ROOT / "templates"

if "template_harness" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("template_harness", Path(__file__).with_name("harness.py"))
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["template_harness"] = _module
    _spec.loader.exec_module(_module)


@pytest.fixture
def templates_root() -> Path:
    return TEMPLATES
