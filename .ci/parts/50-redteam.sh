#!/usr/bin/env bash
# The red-team suite (issue 14): tampered manifests, planted symbolic links, special files, bad encodings
# and control characters, kill -9 during writes, bad recordings and bad scripts through the real host.
# Every case runs the real CLI (or host) as a subprocess with a timeout; lint is part 10's (it covers tests/).
source "$(dirname "$0")/../lib.sh"
ci_venv
cd "$ROOT"
ci_apt gcc
ci_pytest -q tests/redteam
