#!/usr/bin/env bash
# build.sh: build dist/mambaboot.exe under Wine twice, from two separate work folders, and
# fail unless the two are bit-identical. Run provision.sh first.
# SOURCE_DATE_EPOCH (default: the last commit's time) fixes the PE timestamp and checksum.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO"
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 315532800)}

build() {   # build N: one PyInstaller run into build/windows-N
    rm -rf "build/windows-$1"
    devtools/windows/chroot.sh PYTHONHASHSEED=0 SOURCE_DATE_EPOCH="$epoch" \
        wine "$WINVENV/Scripts/python.exe" -m PyInstaller --noconfirm --log-level WARN \
        --distpath "build/windows-$1/dist" --workpath "build/windows-$1" build.spec
}

timed "PyInstaller build 1 of mambaboot.exe" build 1
timed "PyInstaller build 2 of mambaboot.exe" build 2
a=build/windows-1/dist/mambaboot.exe b=build/windows-2/dist/mambaboot.exe
cmp "$a" "$b" || die "two builds of mambaboot.exe differ ($a, $b): the build is not reproducible"
mkdir -p dist && cp "$a" dist/mambaboot.exe
say "dist/mambaboot.exe: $(stat -c %s dist/mambaboot.exe) bytes, identical in both builds" \
    "(SOURCE_DATE_EPOCH=$epoch)"
