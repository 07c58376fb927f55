#!/usr/bin/env bash
# The oe-pyproc CLI and the templates: lint, type-check, tests.
source "$(dirname "$0")/../lib.sh"
ci_venv
cd "$ROOT"
"$PY" -m ruff check oe_pyproc_setup tests templates benchmarks/cli_speed.py benchmarks/doctor_speed.py benchmarks/bandpass_speed.py
"$PY" -m ruff format --check oe_pyproc_setup tests templates benchmarks/cli_speed.py benchmarks/doctor_speed.py benchmarks/bandpass_speed.py
"$PY" -m mypy
"$PY" -m mypy --strict benchmarks/cli_speed.py benchmarks/doctor_speed.py benchmarks/bandpass_speed.py
ci_pytest -q tests/cli tests/templates
