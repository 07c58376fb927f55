#!/usr/bin/env bash
# The README's first command: set up oe-pyproc from this checkout on a fresh machine and run it for real.
# It makes a Python Home (a Python 3.10 venv with numpy and scipy) in .oe-home/ unless OE_PYPROC_HOME names
# one, installs the CLI into .venv/, checks the Home (homes, doctor), builds the native bridge and host for
# the Home's Python in build/quickstart/ and installs them into the Home (DESIGN §5: bin/oe-pyproc-host,
# lib/oe-pyproc/plugins-api10/oe-pyproc/), records the Home as the default one when no Open Ephys GUI has
# saved state here (so `oe-pyproc run` finds Home and host by itself), scaffolds a band-pass script from its
# template and runs it in the host on a seeded synthetic 16-channel 30 kHz signal, exactly as the plugin
# would. It ends with next steps that work as printed (tests/run/test_printed_commands.py runs them).
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

echo "== building the bridge and host for $home/bin/python in build/quickstart, installing them into $home"
mkdir -p build/quickstart/scripts
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
cmake -S plugin -B build/quickstart "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DOE_PYPROC_PYTHONS="$home/bin/python" -DOE_PYPROC_BUILD_TESTS=OFF >build/quickstart.configure.log 2>&1 ||
  { cat build/quickstart.configure.log >&2; exit 1; }
cmake --build build/quickstart -j2 >build/quickstart.build.log 2>&1 || { tail -40 build/quickstart.build.log >&2; exit 1; }
cmake --install build/quickstart --prefix "$home" >build/quickstart.install.log 2>&1 ||
  { cat build/quickstart.install.log >&2; exit 1; }

# The Home becomes the default one (the GUI root's configs-api10/oe-pyproc.json) only on a machine where no
# GUI has saved state yet: an existing GUI set-up is the user's, and is left alone.
default_state=$(.venv/bin/python - "$home" <<'PY'
import sys
from pathlib import Path

from oe_pyproc_setup.gui import resolve_layout
from oe_pyproc_setup.home import configured_home

layout = resolve_layout()
try:
    recorded = configured_home(layout)
except Exception:  # an unreadable default Home file: the user's to fix, not ours to replace
    recorded = None
if recorded is not None and recorded.path.resolve() == Path(sys.argv[1]).resolve():
    print("recorded")
elif not layout.root.exists():
    print("no-gui")
else:
    print(f"other {layout.root}")
PY
)
home_options=()
case "$default_state" in
  recorded) echo "== $home is already the default Home" ;;
  no-gui)
    echo "== oe-pyproc configure --python-home $home (no GUI set-up here yet: this Home becomes the default)"
    .venv/bin/oe-pyproc configure --python-home "$home"
    ;;
  *)
    echo "== the GUI's folder ${default_state#other } is set up: its default Home is left as it is;" \
      "the commands below name this Home"
    home_options=(--python-home "$home")
    ;;
esac

echo "== oe-pyproc new-script quickstart_bandpass --template bandpass"
.venv/bin/oe-pyproc new-script quickstart_bandpass --template bandpass --dir build/quickstart/scripts \
  ${home_options[@]+"${home_options[@]}"} --force >/dev/null
script="$ROOT/build/quickstart/scripts/quickstart_bandpass.py"
echo "== oe-pyproc run (synthetic signal, 10 s; the host installed in the Home)"
.venv/bin/oe-pyproc run "$script" ${home_options[@]+"${home_options[@]}"} --seconds 10

# Quoted for the shell (printf %q), so a checkout path with spaces or quotes pastes as it is.
quoted() { printf '%q' "$1"; }
home_option=""
[ ${#home_options[@]} -eq 0 ] || home_option=" --python-home $(quoted "$home")"
cat <<NEXT

Next steps (paste into a terminal, from any folder):
  . $(quoted "$ROOT/.venv/bin/activate")
  oe-pyproc run $(quoted "$script")$home_option
  oe-pyproc new-script my_filter --template bandpass$home_option
  oe-pyproc doctor$home_option
NEXT
