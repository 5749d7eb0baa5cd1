#!/usr/bin/env bash
# test-windows.sh [PYTEST ARGS...]: `make test-windows`. Provisions Wine and a Windows
# Python (cached), builds dist/mambaboot.exe twice (bit-identical), then runs the test suite
# under Wine's Windows Python against that executable: JUnit XML in build/test-windows.xml.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_host
cd "$REPO"
start=${EPOCHREALTIME/./}

devtools/windows/provision.sh
devtools/windows/build.sh
# The reliability table of a Windows run goes to build/, never over docs/reliability.md.
rc=0
timed "pytest under Wine" devtools/windows/python.sh \
    MAMBABOOT_TEST_EXE="Z:${REPO//\//\\}\\dist\\mambaboot.exe" \
    MAMBABOOT_RELIABILITY_REPORT="build\\reliability-windows.md" \
    -m pytest --junitxml build/test-windows.xml "$@" || rc=$?
say "make test-windows: $(since "$start") in all"
exit "$rc"
