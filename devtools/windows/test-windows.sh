#!/usr/bin/env bash
# test-windows.sh [PYTEST ARGS...]: `make test-windows`. Provisions Wine and a Windows
# Python (cached), builds dist/mambaboot.exe twice (bit-identical), then runs the test suite
# under Wine's Windows Python against that executable: JUnit XML in build/test-windows.xml.
#
# Every Windows process costs a lot under Wine, so the suite runs in MAMBABOOT_WIN_WORKERS
# pytest-xdist workers (default 3) and runs mambaboot as the frozen exe only
# (MAMBABOOT_TEST_KINDS, default "frozen"; "source,frozen" runs both, as on Linux and in the
# GitHub workflow's Windows job).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_host
cd "$REPO"
start=${EPOCHREALTIME/./}

devtools/windows/provision.sh
devtools/windows/build.sh
# Wine cannot run the openssl command for the TLS tests: their CAs are made here, on the host.
certs=build/test-certs
rm -rf "$certs"
if command -v openssl >/dev/null; then
    "${HOST_PYTHON:-python3}" -m tests.standin.tls "$certs"
else
    say "no openssl command on this host: the TLS tests will skip under Wine"
fi
# The reliability table of a Windows run goes to build/, never over docs/reliability.md.
rc=0
timed "pytest under Wine" devtools/windows/python.sh \
    MAMBABOOT_TEST_EXE="Z:${REPO//\//\\}\\dist\\mambaboot.exe" \
    MAMBABOOT_RELIABILITY_REPORT="build\\reliability-windows.md" \
    MAMBABOOT_TEST_KINDS="${MAMBABOOT_TEST_KINDS:-frozen}" \
    MAMBABOOT_TEST_CERTS="Z:${REPO//\//\\}\\$certs" \
    -m pytest -n "${MAMBABOOT_WIN_WORKERS:-3}" --basetemp "C:\\t" \
    --junitxml build/test-windows.xml "$@" || rc=$?
say "make test-windows: $(since "$start") in all"
exit "$rc"
