#!/usr/bin/env bash
# chroot.sh [VAR=VALUE...] COMMAND [ARGS...]: run one command inside the Wine chroot.
#
# The command runs in a mount namespace of its own with /proc, /sys, /dev, a private /tmp
# and /dev/shm (tmpfs), and the repository and the cache bind-mounted at their own paths.
# Nothing needs unmounting (the mounts vanish with the namespace) and concurrent runs never
# see each other's /tmp, Wine prefix or wineserver. Inside, the command starts in the
# current folder with a clean environment: Wine quiet and 64-bit, WINEPREFIX a private
# copy-on-write view of the cached template prefix (once there is one), plus the
# VAR=VALUE pairs given.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [[ ${1:-} != --inside ]]; then
    [[ -x $ROOTFS/bin/sh ]] || die "no chroot in $ROOTFS yet: run devtools/windows/provision.sh"
    exec unshare --mount --propagation private -- "$0" --inside "$@"
fi
shift

mount -t proc proc "$ROOTFS/proc"
mount --bind /sys "$ROOTFS/sys"
mount --bind /dev "$ROOTFS/dev"
mount --bind /dev/pts "$ROOTFS/dev/pts"
mount -t tmpfs -o mode=1777 tmpfs "$ROOTFS/dev/shm"
mount -t tmpfs -o mode=1777 tmpfs "$ROOTFS/tmp"
mkdir -p "$ROOTFS$REPO" && mount --bind "$REPO" "$ROOTFS$REPO"
if [[ $CACHE != "$REPO"/* ]]; then
    mkdir -p "$ROOTFS$CACHE" && mount --bind "$CACHE" "$ROOTFS$CACHE"
fi
cmp -s /etc/resolv.conf "$ROOTFS/etc/resolv.conf" || cp -L /etc/resolv.conf "$ROOTFS/etc/"

mkdir -m 700 "$ROOTFS/tmp/xdg" "$ROOTFS/tmp/home"
prefix=$ROOTFS/tmp/wineprefix layers=$ROOTFS/tmp/.prefix
if [[ -d $TEMPLATE ]]; then   # copy-on-write over the template: instant, and it stays clean
    mkdir -p "$prefix" "$layers/upper" "$layers/work"
    mount -t overlay overlay \
        -o "lowerdir=$TEMPLATE,upperdir=$layers/upper,workdir=$layers/work" "$prefix" \
        || cp -a "$TEMPLATE/." "$prefix"
fi

# After the command, stop this run's wineserver and anything still running under it.
inner='cd "$1"; shift; env "$@"; rc=$?
if command -v wineserver >/dev/null && [ -d "$WINEPREFIX" ]; then wineserver -k 2>/dev/null; fi
exit $rc'
exec chroot "$ROOTFS" /usr/bin/env -i \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/tmp/home USER=root LANG=C.UTF-8 XDG_RUNTIME_DIR=/tmp/xdg \
    DEBIAN_FRONTEND=noninteractive \
    WINEDEBUG=-all WINEARCH=win64 WINEPREFIX=/tmp/wineprefix WINEDLLOVERRIDES="mscoree,mshtml=" \
    /bin/sh -c "$inner" sh "$PWD" "$@"
