# Sourced by the scripts in .ci/parts/: shared set-up, so each part stays short.
# shellcheck shell=bash
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
export PIP_DISABLE_PIP_VERSION_CHECK=1

# The project's own venv with the CLI (editable) and the test and lint tools; idempotent.
ci_venv() {
  if [ ! -x "$PY" ]; then
    python3 -m venv "$VENV"
  fi
  "$PY" -m pip install -q -e "$ROOT[test,dev]"
}

# apt-get install only what is missing; `apt-get update` once per run.
ci_apt() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ ! -e /tmp/.oe-pyproc-apt-updated ]; then
    apt-get update -qq && touch /tmp/.oe-pyproc-apt-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Run pytest; exit code 5 ("no tests collected") is a failure here, not a silent pass.
ci_pytest() {
  "$PY" -m pytest "$@"
}
