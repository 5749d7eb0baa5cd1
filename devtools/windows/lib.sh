# Shared by the scripts in devtools/windows (sourced, not run): where things live, a timed
# and cached step, retries with backoff, and the checks for what the host must provide.
# shellcheck shell=bash

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${MAMBABOOT_WIN_CACHE:-$REPO/.cache/windows}
case $CACHE in /*) ;; *) CACHE=$PWD/$CACHE ;; esac
ROOTFS=$CACHE/chroot          # Debian 13 (trixie) with Wine 10
DOWNLOADS=$CACHE/downloads    # the Windows CPython sdist, debootstrap's .debs
WHEELS=$CACHE/wheels          # win_amd64 wheels of requirements-dev.txt
WINPYTHON=$CACHE/python       # CPython 3.12 for Windows (python.exe, Lib\, DLLs\)
TEMPLATE=$CACHE/wineprefix    # a booted Wine prefix, copied for every run
SUITE=trixie
DEBIAN_MIRROR=${MAMBABOOT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# The Windows venv is keyed by the requirements it was made from, so worktrees with
# different pins can share one cache without undoing each other's work.
REQS_KEY=$(cat "$REPO/requirements.txt" "$REPO/requirements-dev.txt" | sha256sum | cut -c1-12)
WINVENV=$CACHE/venv-$REQS_KEY

say() { printf '[windows] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 2; }

# step KEY "what it does" COMMAND...: runs COMMAND unless the stamp for KEY already holds
# the same value (so the step is cached), then prints one line with its time.
# KEY is NAME or NAME=VALUE; the value changes when the inputs do.
step() {
    local key=$1 what=$2; shift 2
    local name=${key%%=*} value=${key#*=}
    local stamp=$CACHE/stamps/$name start=${EPOCHREALTIME/./}
    if [[ -f $stamp && $(<"$stamp") == "$value" ]]; then
        say "$what: cached"
        return
    fi
    "$@"
    mkdir -p "$CACHE/stamps" && printf '%s' "$value" >"$stamp"
    say "$what: $(since "$start")"
}

# timed "what it does" COMMAND...: runs COMMAND every time and prints its time.
timed() {
    local what=$1 start=${EPOCHREALTIME/./} rc=0; shift
    "$@" || rc=$?
    say "$what: $(since "$start")"
    return "$rc"
}

# since START_US: the time since START_US (microseconds), as "12.3 s".
since() {
    local tenths=$(( (${EPOCHREALTIME/./} - $1) / 100000 ))
    echo "$((tenths / 10)).$((tenths % 10)) s"
}

# retry COMMAND...: a registry that answers slowly or drops a connection must not fail the
# run. Up to 5 attempts, waiting 5, 10, 20, 40 s in between.
retry() {
    local attempt delay=5
    for attempt in 1 2 3 4 5; do
        "$@" && return 0
        [[ $attempt == 5 ]] && break
        say "attempt $attempt of '$1' failed; retrying in $delay s"
        sleep "$delay"
        delay=$((delay * 2))
    done
    die "'$*' failed 5 times; check the network or the mirror ($DEBIAN_MIRROR, PyPI)"
}

# The host must let us build and enter a chroot; say exactly what is missing otherwise.
require_host() {
    local why="make test-windows builds a Debian $SUITE chroot with Wine in $CACHE"
    local other="or run the suite on real Windows (README: Building mambaboot.exe on Windows)"
    [[ $(id -u) == 0 ]] || die "$why and needs root (you are uid $(id -u)).
  Run it as root (sudo make test-windows), $other."
    command -v chroot >/dev/null || die "$why and needs chroot (coreutils)."
    unshare --mount --propagation private true 2>/dev/null || die "$why and needs
  'unshare --mount' (util-linux, and a kernel or container that allows mount namespaces)."
    command -v debootstrap >/dev/null || command -v apt-get >/dev/null \
        || die "$why and needs debootstrap (or apt-get to install it), $other."
}
