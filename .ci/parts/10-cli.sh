#!/usr/bin/env bash
# The oe-pyproc CLI and the templates: lint, type-check, tests.
source "$(dirname "$0")/../lib.sh"
ci_venv
cd "$ROOT"
"$PY" -m ruff check oe_pyproc_setup tests templates
"$PY" -m ruff format --check oe_pyproc_setup tests templates
"$PY" -m mypy
ci_pytest -q tests/cli tests/templates
