"""File-system operations with safety rules: removal never follows links or junctions
into the shared package cache."""

from __future__ import annotations

import os
import shutil
import stat
import sys
from pathlib import Path
from typing import Any


def is_link_or_junction(path: Path) -> bool:
    if path.is_symlink():
        return True
    is_junction = getattr(os.path, "isjunction", None)
    if is_junction is not None:
        return bool(is_junction(path))
    try:  # Python 3.11 on Windows
        tag = getattr(os.lstat(path), "st_reparse_tag", 0)
    except OSError:
        return False
    return bool(tag == getattr(stat, "IO_REPARSE_TAG_MOUNT_POINT", -1))


def unlink_link(path: Path) -> None:
    """Remove a symlink or junction itself, never what it points to."""
    try:
        path.unlink()
    except (IsADirectoryError, PermissionError):
        os.rmdir(path)  # a junction is removed like an empty directory


def remove_tree(path: Path) -> None:
    """Delete a folder mambaboot made. Links and junctions inside it are removed as links
    (the ``pkgs`` junction must not take the shared cache with it); read-only files are
    made writable first (Windows)."""
    if not path.exists() and not path.is_symlink():
        return
    if is_link_or_junction(path):
        unlink_link(path)
        return
    for entry in list(path.iterdir()):
        if is_link_or_junction(entry):
            unlink_link(entry)
    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=_make_writable)
    else:  # pragma: no cover - Python 3.11
        shutil.rmtree(path, onerror=_make_writable)


def _make_writable(func: Any, target: str, _exc: object) -> None:
    os.chmod(target, stat.S_IWRITE | stat.S_IREAD | stat.S_IEXEC)
    func(target)


def dir_size(path: Path) -> int:
    """Bytes in regular files under ``path``, not following links."""
    total = 0
    for root, dirs, files in os.walk(path, followlinks=False):
        dirs[:] = [d for d in dirs if not is_link_or_junction(Path(root) / d)]
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


def existing_parent(path: Path) -> Path:
    """``path`` or its nearest existing parent."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(path.anchor or ".")


def filesystem_type(path: Path) -> str:
    """The file system type under ``path`` (``ext4``, ``vfat``, ``exFAT``, ``NTFS``), or ""
    when it cannot be told."""
    target = existing_parent(path)
    if sys.platform == "win32":
        from bootstrap import windows

        return windows.volume_filesystem(target)
    if sys.platform == "darwin":
        return _stat_type(target)
    return _mount_type(target, Path("/proc/self/mounts"))


def _stat_type(path: Path) -> str:
    """macOS: ``stat -f %T`` names the file system (``apfs``, ``msdos``, ``exfat``)."""
    import subprocess

    try:
        done = subprocess.run(["/usr/bin/stat", "-f", "%T", str(path)], capture_output=True,
                              text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _mount_type(path: Path, mounts: Path) -> str:
    """Linux: the longest mount point of /proc/self/mounts that contains ``path``."""
    try:
        lines = mounts.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    resolved = str(path.resolve())
    best, kind = "", ""
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = resolved == point or resolved.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind
