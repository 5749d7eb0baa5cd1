#!/usr/bin/env bash
# python.sh [VAR=VALUE...] ARGS...: run the Windows venv's python.exe under Wine, in the
# repository, e.g. `devtools/windows/python.sh -m pytest tests/test_paths.py`.
# Run provision.sh first.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO"
vars=()
while [[ ${1:-} == [A-Za-z_]*=* ]]; do vars+=("$1"); shift; done
exec devtools/windows/chroot.sh "${vars[@]}" wine "$WINVENV/Scripts/python.exe" "$@"
