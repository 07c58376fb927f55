#!/usr/bin/env bash
# One truth for Homes (issue 10): the shared corpus of Home layouts (tests/homes_corpus) through the CLI's
# file rules, the plugin's loader (the real host --check-home; the check_home_files driver for Windows and
# macOS trees) and `oe-pyproc doctor`, with zero disagreements. Reuses 20-native's build/native and its
# venvs with numpy; builds them the same way when that part did not run (`bash .ci/test homes`).
source "$(dirname "$0")/../lib.sh"
ci_venv
cd "$ROOT"

PYENV_VERSIONS="${PYENV_ROOT:-/root/.pyenv}/versions"
VENVS="$ROOT/build/native-venvs"
for version in 3.9.18 3.10.13 3.11.7 3.12.1 3.13.0; do
  if [ ! -x "$PYENV_VERSIONS/$version/bin/python3" ]; then
    echo "21-homes: pyenv's CPython $version is missing; the corpus makes its venvs and bases from it" >&2
    exit 1
  fi
done
if [ ! -x build/native/oe-pyproc-host ] || [ ! -x build/native/check_home_files ]; then
  ci_apt cmake ninja-build g++
  pythons=()
  for version in 3.10.13 3.12.1 3.13.0; do
    [ -x "$VENVS/$version/bin/python" ] || "$PYENV_VERSIONS/$version/bin/python3" -m venv "$VENVS/$version"
    "$VENVS/$version/bin/python" -c "import numpy" 2>/dev/null || "$VENVS/$version/bin/python" -m pip install -q numpy
    pythons+=("$VENVS/$version/bin/python")
  done
  cmake -S plugin -B build/native -G Ninja -DOE_PYPROC_PYTHONS="$(IFS=';'; echo "${pythons[*]}")" >/dev/null
  nice -n 10 cmake --build build/native -j2 --target oe-pyproc-host check_home_files
fi
clang-format --style=file:plugin/.clang-format --dry-run --Werror plugin/tests/check_home_files.cpp \
  plugin/loader/src/home_layout.cpp plugin/loader/src/home_layout.h plugin/loader/src/json_reader.cpp \
  plugin/loader/src/json_reader.h plugin/loader/src/gui_layout.cpp plugin/loader/src/gui_layout.h
OE_PYPROC_NATIVE_BUILD="$ROOT/build/native" ci_pytest -q tests/homes_corpus
