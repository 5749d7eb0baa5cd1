"""Relocation's pure parts (bootstrap.relocate) and the file-system type lookup."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap import fsutil, relocate
from bootstrap.platform import POSIX, WINDOWS


def test_binary_replacement_keeps_every_string_length() -> None:
    data = b"A\0/old/prefix/lib\0B/old/prefix\0tail"
    out = relocate.replace_binary(data, "/old/prefix", "/new")
    assert out is not None
    assert len(out) == len(data)
    assert out.split(b"\0")[1] == b"/new/lib"
    assert out.startswith(b"A\0/new/lib\0") and out.endswith(b"tail")
    assert b"/old" not in out


def test_binary_replacement_refuses_a_longer_prefix() -> None:
    assert relocate.replace_binary(b"/old\0", "/old", "/much/longer") is None


def test_text_replacement_covers_forward_slashes_on_windows() -> None:
    data = b'set "X=E:\\envs\\py"\nshebang=E:/envs/py/python.exe\n'
    out = relocate.replace_text(data, r"E:\envs\py", r"F:\envs\py", WINDOWS)
    assert out == b'set "X=F:\\envs\\py"\nshebang=F:/envs/py/python.exe\n'
    assert relocate.replace_text(b"/a/b", "/a", "/c", POSIX) == b"/c/b"


@pytest.mark.parametrize(("platform", "old", "new", "roots"), [
    (WINDOWS, r"E:\dev\Anaconda\envs\py", r"F:\dev\Anaconda\envs\py", ("E:\\", "F:\\")),
    (POSIX, "/media/a/envs/py", "/media/b/envs/py", ("/media/a", "/media/b")),
    (POSIX, "/x/envs/py", "/y/other/py", ("/x/envs", "/y/other")),
])
def test_moved_root(platform: object, old: str, new: str, roots: tuple[str, str]) -> None:
    assert relocate.moved_root(old, new, platform) == roots  # type: ignore[arg-type]


def test_map_path_only_maps_paths_below_the_old_root() -> None:
    assert relocate.map_path(r"E:\CACHE\pkgs", "E:\\", "F:\\", WINDOWS) == r"F:\CACHE\pkgs"
    assert relocate.map_path("/home/u/.cache/x", "/media/a", "/media/b", POSIX) is None


@pytest.mark.posix  # the Linux mount table (/proc/mounts); Windows asks the volume
def test_mount_type_takes_the_longest_mount_point(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    stick = tmp_path / "media" / "my stick"
    stick.mkdir(parents=True)
    mounts.write_text(f"/dev/vda / ext4 rw 0 0\n"
                      f"/dev/sdb1 {str(stick).replace(' ', chr(92) + '040')} exfat rw 0 0\n")
    assert fsutil._mount_type(stick / "envs", mounts) == "exfat"
    assert fsutil._mount_type(tmp_path, mounts) == "ext4"
    assert fsutil._mount_type(tmp_path, tmp_path / "missing") == ""
