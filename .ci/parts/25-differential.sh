#!/usr/bin/env bash
# Differential suite (issue 9 item 8): the host against a reference runner that calls scripts the way the
# upstream plugin does, sample for sample and event for event, on pyenv's CPython 3.10 and 3.12 (venvs with
# numpy and scipy: the bandpass example needs scipy). Uses the host and bridges of 20-native when that part
# ran; otherwise builds them here (no C++ tests) into build/differential-host.
source "$(dirname "$0")/../lib.sh"
start=$SECONDS
ci_venv
cd "$ROOT"

PYENV_VERSIONS="${PYENV_ROOT:-/root/.pyenv}/versions"
VENVS="$ROOT/build/differential-venvs"
pythons=()
for version in 3.10.13 3.12.1; do
  base="$PYENV_VERSIONS/$version/bin/python3"
  if [ ! -x "$base" ]; then
    echo "25-differential: pyenv's CPython $version ($base) is missing; the suite runs scripts with it" >&2
    exit 1
  fi
  [ -x "$VENVS/$version/bin/python" ] || "$base" -m venv "$VENVS/$version"
  "$VENVS/$version/bin/python" -c "import numpy, scipy" 2>/dev/null ||
    "$VENVS/$version/bin/python" -m pip install -q numpy scipy
  pythons+=("$VENVS/$version/bin/python")
done

HOST="$ROOT/build/native/oe-pyproc-host"
if [ ! -x "$HOST" ] || [ ! -e "$ROOT/build/native/oe_pyproc_bridge_cp310.bridge" ] ||
  [ ! -e "$ROOT/build/native/oe_pyproc_bridge_cp312.bridge" ]; then
  ci_apt cmake ninja-build g++
  joined=$(IFS=';'; echo "${pythons[*]}")
  cmake -S plugin -B build/differential-host -G Ninja -DOE_PYPROC_PYTHONS="$joined" \
    -DOE_PYPROC_BUILD_TESTS=OFF -DOE_PYPROC_BUILD_BENCH=OFF >/dev/null
  nice -n 10 cmake --build build/differential-host -j2
  HOST="$ROOT/build/differential-host/oe-pyproc-host"
fi
echo "25-differential: host $HOST"

"$PY" -m ruff check tests/differential
"$PY" -m ruff format --check tests/differential
OE_PYPROC_DIFF_HOST="$HOST" OE_PYPROC_DIFF_VERSIONS="3.10,3.12" ci_pytest -q tests/differential
echo "25-differential: $((SECONDS - start)) s"
