#!/usr/bin/env bash
# The README's first command: set up oe-pyproc from this checkout on a fresh machine and run it for real.
# It makes a Python Home (a Python 3.10 venv with numpy and scipy) in .oe-home/ unless OE_PYPROC_HOME names
# one, installs the CLI into .venv/, lists the Homes it finds and runs the doctor on that Home.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PIP_DISABLE_PIP_VERSION_CHECK=1

find_python310() {
  for candidate in python3.10 "$(pyenv root 2>/dev/null)/versions/"3.10*/bin/python3.10; do
    if command -v "$candidate" >/dev/null 2>&1; then command -v "$candidate"; return 0; fi
  done
  return 1
}

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q -e .

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
.venv/bin/oe-pyproc doctor --python-home "$home"
