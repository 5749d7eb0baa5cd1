#!/usr/bin/env bash
# bench.sh: `make bench-windows`. Provisions Wine and a Windows Python (cached), builds
# dist/mambaboot.exe when it is missing or older than its sources (build.sh: twice,
# bit-identical), then runs bench/windows.py under Wine: the Windows section of
# bench/results.md (size, --version start-up against a hello-world onefile, a create).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_host
cd "$REPO"
devtools/windows/provision.sh
exe=dist/mambaboot.exe
if [[ ! -f $exe ]] || [[ -n $(find bootstrap build.spec -newer "$exe" -name '*.py' -o \
        -newer "$exe" -name build.spec | head -n 1) ]]; then
    devtools/windows/build.sh
fi
timed "bench/windows.py under Wine" devtools/windows/python.sh bench/windows.py
