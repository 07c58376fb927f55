#!/usr/bin/env bash
# Native plugin: loader, bridges for CPython 3.10, 3.12 and 3.13 (pyenv's builds, venvs with numpy from PyPI as
# the Homes and as the build Pythons), host; ctest (C++ units, allocation count, dlopen loading proof), pytest
# tests/native driving the host; clang-format and ruff on the part's files.
source "$(dirname "$0")/../lib.sh"
ci_apt cmake ninja-build g++ clang-format binutils
ci_venv
cd "$ROOT"

PYENV_VERSIONS="${PYENV_ROOT:-/root/.pyenv}/versions"
VENVS="$ROOT/build/native-venvs"
pythons=()
for version in 3.10.13 3.12.1 3.13.0; do
  base="$PYENV_VERSIONS/$version/bin/python3"
  if [ ! -x "$base" ]; then
    echo "20-native: pyenv's CPython $version ($base) is missing; the bridges are built and tested against it" >&2
    exit 1
  fi
  if [ ! -x "$VENVS/$version/bin/python" ]; then
    "$base" -m venv "$VENVS/$version"
  fi
  "$VENVS/$version/bin/python" -c "import numpy" 2>/dev/null || "$VENVS/$version/bin/python" -m pip install -q numpy
  pythons+=("$VENVS/$version/bin/python")
done

joined=$(IFS=';'; echo "${pythons[*]}")
cmake -S plugin -B build/native -G Ninja -DOE_PYPROC_PYTHONS="$joined" >/dev/null
nice -n 10 cmake --build build/native -j2
(cd build/native && ctest --output-on-failure)

# The part's own C++ (others' folders under plugin/ are checked by their parts).
mapfile -t sources < <(git ls-files 'plugin/loader/*.cpp' 'plugin/loader/*.h' 'plugin/bridge/*.cpp' \
  'plugin/bridge/*.h' 'plugin/host/*.cpp' 'plugin/host/*.h' 'plugin/tests/test_json_reader.cpp' \
  'plugin/tests/test_bridge_allocations.cpp' 'plugin/tests/test_dlopen_local.cpp' 'plugin/tests/gui_sim_plugin.cpp' \
  'plugin/tests/test_support.h' 'plugin/tests/test_thread_states.cpp' 'plugin/tests/test_binary_architectures.cpp' 'plugin/bench/*.cpp')
clang-format --style=file:plugin/.clang-format --dry-run --Werror "${sources[@]}"

"$PY" -m ruff check tests/native benchmarks/native
"$PY" -m ruff format --check tests/native benchmarks/native
OE_PYPROC_NATIVE_BUILD="$ROOT/build/native" ci_pytest -q tests/native
