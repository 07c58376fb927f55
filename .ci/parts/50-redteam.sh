#!/usr/bin/env bash
# The red-team suite (issue 14): tampered manifests, planted symbolic links, special files, bad encodings
# and control characters, kill -9 during writes, bad scripts through the real host. Every case runs the
# real CLI (or host) as a subprocess with a timeout; lint is part 10's (it covers tests/).
source "$(dirname "$0")/../lib.sh"
ci_venv
cd "$ROOT"
ci_apt gcc

# The host: part 20 builds it into build/native; when that part did not run (`bash .ci/test redteam`),
# build it here against pyenv's 3.10 in a venv with numpy (the bridge needs numpy's headers).
HOST="$ROOT/build/native/oe-pyproc-host"
if [ ! -x "$HOST" ] || [ ! -e "$ROOT/build/native/oe_pyproc_bridge_cp310.bridge" ]; then
  ci_apt cmake ninja-build g++
  PY310="${PYENV_ROOT:-/root/.pyenv}/versions/3.10.13/bin/python3.10"
  BUILD_PY="$ROOT/build/redteam/build-py310"
  [ -x "$BUILD_PY/bin/python" ] || "$PY310" -m venv "$BUILD_PY"
  "$BUILD_PY/bin/python" -m pip install -q --disable-pip-version-check numpy
  cmake -S plugin -B build/redteam-host -G Ninja -DOE_PYPROC_PYTHONS="$BUILD_PY/bin/python" \
    -DOE_PYPROC_BUILD_TESTS=OFF >/dev/null
  nice -n 10 cmake --build build/redteam-host -j2
  HOST="$ROOT/build/redteam-host/oe-pyproc-host"
fi
OE_PYPROC_TEST_HOST="$HOST" ci_pytest -q tests/redteam
