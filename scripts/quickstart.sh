#!/usr/bin/env bash
# The README's first command: set up oe-pyproc from this checkout on a fresh machine and run it for real.
# It makes a Python Home (a Python 3.10 venv with numpy and scipy) in .oe-home/ unless OE_PYPROC_HOME names
# one, installs the CLI into .venv/, checks the Home (homes, doctor), builds the native bridge and host for
# the Home's Python into build/quickstart/, scaffolds a band-pass script from its template and runs it in
# the host on a seeded synthetic 16-channel 30 kHz signal, exactly as the plugin would run it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PIP_DISABLE_PIP_VERSION_CHECK=1

find_python310() {
  # pyenv's own build first (its shim may exist without 3.10 being active), then python3.10 on PATH;
  # a candidate counts only if it really runs as 3.10.
  local pyenv_root candidate
  pyenv_root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
  for candidate in "$pyenv_root"/versions/3.10*/bin/python3.10 "$(command -v python3.10 || true)"; do
    if [ -x "$candidate" ] && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q -e ".[run]"

home=${OE_PYPROC_HOME:-$ROOT/.oe-home}
if [ ! -x "$home/bin/python" ]; then
  python310=$(find_python310) || {
    echo "quickstart: no Python 3.10 found (python3.10 on PATH or pyenv); set OE_PYPROC_HOME to a Home." >&2
    exit 1
  }
  echo "Creating the Python Home $home from $python310"
  "$python310" -m venv "$home"
  "$home/bin/python" -m pip install -q numpy scipy
fi

echo "== oe-pyproc homes"
.venv/bin/oe-pyproc homes "$home"
echo "== oe-pyproc doctor --python-home $home"
# Without an Open Ephys GUI on this machine the doctor exits 0 with warnings; errors stop the quick start.
.venv/bin/oe-pyproc doctor --python-home "$home"

echo "== building the bridge and host for $home/bin/python into build/quickstart"
mkdir -p build/quickstart/scripts
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
cmake -S plugin -B build/quickstart "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DOE_PYPROC_PYTHONS="$home/bin/python" -DOE_PYPROC_BUILD_TESTS=OFF >build/quickstart.configure.log 2>&1 ||
  { cat build/quickstart.configure.log >&2; exit 1; }
cmake --build build/quickstart -j2 >build/quickstart.build.log 2>&1 || { tail -40 build/quickstart.build.log >&2; exit 1; }

echo "== oe-pyproc new-script quickstart_bandpass --template bandpass"
.venv/bin/oe-pyproc new-script quickstart_bandpass --template bandpass --dir build/quickstart/scripts \
  --python-home "$home" --force
echo "== oe-pyproc run (synthetic signal, 10 s)"
.venv/bin/oe-pyproc run build/quickstart/scripts/quickstart_bandpass.py --python-home "$home" \
  --host build/quickstart/oe-pyproc-host --seconds 10
