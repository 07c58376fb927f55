#!/usr/bin/env bash
# The Open Ephys adapter's JUCE-free logic and its script session on a real bridge (no GUI here: the
# adapter itself needs a plugin-GUI checkout, see plugin/openephys/README.md), clang-format on the
# adapter's files, and a mingw-w64 compile of the Windows branches of the adapter logic and the loader (the
# loader's Windows branch runs under wine in 24-windows; the adapter's needs the GUI's MSVC import library).
source "$(dirname "$0")/../lib.sh"
ci_apt cmake ninja-build g++ clang-format g++-mingw-w64-x86-64-posix
ci_venv
cd "$ROOT"

BUILD="$ROOT/build/ci-adapter"
mkdir -p "$BUILD"
# The bridge is built for the project's venv Python (it has numpy); that venv is also the test Home.
cmake -S plugin -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DOE_PYPROC_PYTHONS="$PY" >"$BUILD/configure.log" 2>&1 ||
  { cat "$BUILD/configure.log"; exit 1; }
nice -n 10 cmake --build "$BUILD" -j 2 --target test_adapter_logic test_adapter_session test_adapter_slow_home \
  test_adapter_slow_script test_adapter_home_discovery
(cd "$BUILD" && ctest --output-on-failure -R '^(test_adapter_logic|adapter_session_)')

echo "--- the real-GUI proof's comparison tool (lint, types, it accepts matches and rejects differences)"
"$PY" -m ruff check plugin/openephys/proof
"$PY" -m ruff format --check plugin/openephys/proof
"$PY" -m mypy --strict plugin/openephys/proof
ci_pytest -q -p no:cacheprovider plugin/openephys/proof

echo "--- clang-format (adapter files)"
mapfile -t adapter_files < <(ls plugin/adapter_logic/include/*.h plugin/adapter_logic/src/*.cpp \
  plugin/openephys/*.cpp plugin/openephys/*.h plugin/tests/test_adapter_*.cpp plugin/tests/adapter_check.h)
clang-format --style=file:plugin/.clang-format --dry-run --Werror "${adapter_files[@]}"

echo "--- mingw-w64: Windows branches of the adapter logic and the loader compile warning-free"
MINGW_OUT=$(mktemp -d)
mingw_compile() {  # extra flags, then sources
  local flags=$1
  shift
  for source in "$@"; do
    # shellcheck disable=SC2086
    x86_64-w64-mingw32-g++-posix -std=c++17 -Wall -Wextra -Wno-missing-field-initializers $flags \
      -Iplugin/adapter_logic/include -Iplugin/loader/include -Iplugin/loader/src -Iplugin/bridge/include \
      -c "$source" -o "$MINGW_OUT/$(basename "$source").obj"
  done
}
mingw_compile -Werror plugin/adapter_logic/src/*.cpp
mingw_compile -Werror plugin/loader/src/*.cpp
echo "compiled for x86_64-w64-mingw32: $(ls "$MINGW_OUT" | tr '\n' ' ')"
rm -rf "$MINGW_OUT"
