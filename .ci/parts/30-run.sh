#!/usr/bin/env bash
# `oe-pyproc run`: recording I/O against the official reader, the static check, host discovery, and end to
# end runs through the real native host with a real Python 3.10 Home; then benchmark P7.
source "$(dirname "$0")/../lib.sh"
ci_venv
cd "$ROOT"
# The official Open Ephys reader (the tests compare against it) and matplotlib for --plot.
"$PY" -m pip install -q open-ephys-python-tools matplotlib

# The test Home: pyenv's CPython 3.10 in a venv with numpy and scipy (the templates need both).
PY310="${PYENV_ROOT:-/root/.pyenv}/versions/3.10.13/bin/python3.10"
HOME_VENV="$ROOT/build/run/home-py310"
if [ ! -x "$PY310" ]; then
  echo "30-run: pyenv's CPython 3.10 ($PY310) is missing; it is the Home the tests run scripts with" >&2
  exit 1
fi
if [ ! -x "$HOME_VENV/bin/python" ]; then
  "$PY310" -m venv "$HOME_VENV"
fi
"$HOME_VENV/bin/python" -m pip install -q --disable-pip-version-check numpy scipy

# The host: 20-native.sh builds it into build/native; when that part did not run (`bash .ci/test run`),
# build it here the same way, against the test Home's Python, into build/run-host.
HOST="$ROOT/build/native/oe-pyproc-host"
if [ ! -x "$HOST" ] || [ ! -e "$ROOT/build/native/oe_pyproc_bridge_cp310.bridge" ]; then
  ci_apt cmake ninja-build g++
  cmake -S plugin -B build/run-host -G Ninja -DOE_PYPROC_PYTHONS="$HOME_VENV/bin/python" \
    -DOE_PYPROC_BUILD_TESTS=OFF >/dev/null
  nice -n 10 cmake --build build/run-host -j2
  HOST="$ROOT/build/run-host/oe-pyproc-host"
fi
export OE_PYPROC_TEST_HOST="$HOST" OE_PYPROC_TEST_HOME="$HOME_VENV"
echo "30-run: host $HOST, Home $HOME_VENV"

"$PY" -m ruff check oe_pyproc_setup tests/run benchmarks/run_speed.py benchmarks/spike_stream.py
"$PY" -m ruff format --check oe_pyproc_setup tests/run benchmarks/run_speed.py benchmarks/spike_stream.py
"$PY" -m mypy
ci_pytest -q tests/run
"$PY" benchmarks/run_speed.py --host "$HOST" --python-home "$HOME_VENV" --seconds 10
"$PY" benchmarks/spike_stream.py --host "$HOST" --python-home "$HOME_VENV"
