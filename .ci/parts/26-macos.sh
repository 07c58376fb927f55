#!/usr/bin/env bash
# macOS, checked on real Mach-O files from PyPI's macOS wheels (downloaded into build/, never committed):
# numpy's thin arm64 and x86_64 wheels (ad hoc signed or unsigned) and cmake's universal2 wheel, whose
# cmake is signed by a Developer ID with the hardened runtime and without disable-library-validation, as
# the GUI is. The CLI's architecture, numpy-architecture (an x86_64 numpy in an arm64 Home) and signature
# checks, install's stop, allow-plugins' plan and refusal off macOS (its codesign path against a fake
# codesign that records its arguments), and the loader's Mach-O reading (binary_architectures_of) on the
# same files: both sides must agree.
source "$(dirname "$0")/../lib.sh"
ci_apt cmake ninja-build g++ clang-format openssl
ci_venv
cd "$ROOT"

WHEELS="$ROOT/build/macos-wheels"
mkdir -p "$WHEELS"
download() {  # platform, requirement
  "$PY" -m pip download -q --no-deps --only-binary=:all: --platform "$1" --python-version 3.10 -d "$WHEELS" "$2"
}
ls "$WHEELS"/numpy-1.26.4-*-macosx_11_0_arm64.whl >/dev/null 2>&1 || download macosx_11_0_arm64 numpy==1.26.4
ls "$WHEELS"/numpy-1.26.4-*-macosx_10_9_x86_64.whl >/dev/null 2>&1 || download macosx_10_9_x86_64 numpy==1.26.4
ls "$WHEELS"/cmake-3.31.6-*-macosx_10_10_universal2.whl >/dev/null 2>&1 || download macosx_10_10_universal2 cmake==3.31.6

# The loader's reader: reuse part 20's build when it exists, else configure a small one (no benchmarks).
NATIVE="$ROOT/build/native"
if [ ! -f "$NATIVE/build.ninja" ]; then
  NATIVE="$ROOT/build/macos-native"
  [ -f "$NATIVE/build.ninja" ] || cmake -S plugin -B "$NATIVE" -G Ninja -DOE_PYPROC_PYTHONS="$PY" \
    -DOE_PYPROC_BUILD_BENCH=OFF >/dev/null
fi
nice -n 10 cmake --build "$NATIVE" -j2 --target binary_architectures_of
clang-format --style=file:plugin/.clang-format --dry-run --Werror plugin/tests/binary_architectures_of.cpp

OE_PYPROC_MACOS_WHEELS="$WHEELS" OE_PYPROC_ARCH_PROBE="$(find "$NATIVE" -name binary_architectures_of -type f | head -1)" \
  ci_pytest -q tests/macos
