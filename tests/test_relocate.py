"""Relocation (bootstrap.relocate): its pure parts, the file-system type lookup, and moved
environments end to end, with the stand-in and the real micromamba."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bootstrap import fsutil, relocate
from bootstrap.platform import POSIX, WINDOWS
from tests.conftest import Mambaboot
from tests.project import Project


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


def test_text_replacement_takes_whole_paths_only() -> None:
    data = b"a=/e/py\nb=/e/py/bin\nc=/e/py2/bin\nd=/e/py.bak\ne='/e/py'\n"
    out = relocate.replace_text(data, "/e/py", "/f/q", POSIX)
    assert out == b"a=/f/q\nb=/f/q/bin\nc=/e/py2/bin\nd=/e/py.bak\ne='/f/q'\n"


def test_windows_backslashes_in_the_new_prefix_are_taken_literally() -> None:
    out = relocate.replace_text(b"E:\\py\\x", r"E:\py", r"F:\1\g<0>", WINDOWS)
    assert out == b"F:\\1\\g<0>\\x"


LONG = "/m/" + "x" * 130


@pytest.mark.parametrize(("new", "script", "expected"), [
    (LONG, f"#!{LONG}/bin/python3.12\nimport sys\n",
     f"#!/bin/sh\n'''exec' \"{LONG}/bin/python3.12\" \"$0\" \"$@\" #'''\nimport sys\n"),
    (LONG, f"#!{LONG}/bin/python3.12 -E\r\nx\n",
     f"#!/bin/sh\n'''exec' \"{LONG}/bin/python3.12\" -E \"$0\" \"$@\" #'''\r\nx\n"),
    (LONG, f"#!{LONG}/bin/bash -e\necho\n", "#!/usr/bin/env bash -e\necho\n"),
    ("/m/with space", "#!/m/with space/bin/python\npass\n",
     "#!/bin/sh\n'''exec' \"/m/with space/bin/python\" \"$0\" \"$@\" #'''\npass\n"),
    ("/m/short", "#!/m/short/bin/python3.12\npass\n", "#!/m/short/bin/python3.12\npass\n"),
    (LONG, f"#!/usr/bin/env python3.12\n{LONG}\n", f"#!/usr/bin/env python3.12\n{LONG}\n"),
], ids=["python", "python-args-crlf", "other", "space", "short", "not-ours"])
def test_long_shebangs_take_micromambas_forms(new: str, script: str, expected: str) -> None:
    assert relocate.fix_shebang(script.encode(), new).decode() == expected


@pytest.mark.posix  # a shebang line, run by the kernel
def test_the_long_form_runs_python_from_a_long_prefix(tmp_path: Path) -> None:
    import subprocess
    import sys

    prefix = tmp_path / ("p" * 70) / ("q" * 70)
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin" / "python3").symlink_to(sys.executable)
    script = prefix / "bin" / "tool"
    script.write_bytes(relocate.fix_shebang(
        f"#!{prefix}/bin/python3\nimport sys\nprint(sys.argv[1:])\n".encode(), str(prefix)))
    script.chmod(0o755)
    done = subprocess.run([str(script), "a b", "c"], capture_output=True, text=True,
                          check=False)
    assert done.stdout.strip() == "['a b', 'c']", done.stderr


def _meta(prefix: Path, paths: list[dict[str, str]]) -> None:
    (prefix / "conda-meta").mkdir(parents=True)
    record = {"name": "pkg", "paths_data": {"paths": paths}}
    (prefix / "conda-meta" / "pkg-1-0.json").write_text(json.dumps(record))


def test_relocate_rewrites_text_patches_linked_binaries_and_lists_the_rest(
        tmp_path: Path) -> None:
    old, prefix = "/old/place/env", tmp_path / "env"
    (prefix / "share").mkdir(parents=True)
    _meta(prefix, [{"_path": "share/linked.bin", "sha256": "a", "sha256_in_prefix": "b"},
                   {"_path": "share/same.bin", "sha256": "c", "sha256_in_prefix": "c"}])
    (prefix / "share" / "note.txt").write_text(f"home={old}/share\n")
    (prefix / "share" / "linked.bin").write_bytes(b"\0" + old.encode() + b"/lib\0")
    (prefix / "share" / "same.bin").write_bytes(b"\0" + old.encode() + b"\0")
    (prefix / "share" / "x.pyc").write_bytes(old.encode())
    (prefix / "conda-meta" / "history").write_text(f"# cmd: create -p {old}\n")
    report = relocate.relocate(prefix, old, POSIX)
    assert (prefix / "share" / "note.txt").read_text() == f"home={prefix}/share\n"
    assert report.rewritten == [prefix / "share" / "note.txt"]
    if len(str(prefix)) <= len(old):
        assert report.binary_patched == [prefix / "share" / "linked.bin"]
    else:
        assert report.binary_skipped == [prefix / "share" / "linked.bin"]
    assert report.left_alone == [prefix / "share" / "same.bin"]
    assert (prefix / "share" / "x.pyc").read_bytes() == old.encode(), "byte code untouched"
    assert old in (prefix / "conda-meta" / "history").read_text(), "conda-meta untouched"


# -- end to end: a moved environment, against the stand-in and the real micromamba ----------

def text_files_holding(prefix: Path, old: str) -> list[str]:
    """Text files (no NUL byte) of ``prefix`` that still name ``old``; conda-meta and byte
    code aside, which keep the old place on purpose."""
    found = []
    for path in prefix.rglob("*"):
        rel = path.relative_to(prefix)
        if path.is_symlink() or not path.is_file() or rel.parts[0] == "conda-meta" or \
                path.suffix == ".pyc":
            continue
        data = path.read_bytes()
        if b"\0" not in data and old.encode() in data:
            found.append(rel.as_posix())
    return sorted(found)


def entry_points(prefix: Path) -> list[str]:
    """The commands written for ``noarch: python`` entry points, from the records."""
    names = []
    for meta in sorted((prefix / "conda-meta").glob("*.json")):
        for entry in json.loads(meta.read_text())["paths_data"]["paths"]:
            if entry.get("path_type") == "unix_python_entry_point":
                names.append(Path(entry["_path"]).name)
    return sorted(names)


@pytest.mark.posix
@pytest.mark.conformance
def test_moved_to_and_from_long_paths_pip_conda_and_every_entry_point_run(
        mambaboot: Mambaboot, project: Project, tmp_path: Path) -> None:
    project.write_config(env_extra='specs = ["conda", "mamba", "uv", "prefixdata"]')
    first = tmp_path / ("l" * 80) / ("m" * 40) / "env"
    assert len(f"#!{first}/bin/python3.X") > 127  # what Linux reads of a #! line
    result = mambaboot(*project.args("--prefix", str(first)))
    assert result.code == 0, result.text
    commands = entry_points(first)
    assert {"pip", "conda"} <= set(commands), commands
    check = " && ".join(f"{c} --version" for c in commands) + " && prefixdata-tool"
    old = first
    for target in (tmp_path / "s" / "env", tmp_path / ("n" * 90) / ("o" * 40) / "env"):
        target.parent.mkdir(parents=True)
        shutil.move(old, target)
        moved = mambaboot("relocate", str(target))
        assert moved.code == 0, moved.text
        assert text_files_holding(target, str(old)) == []
        ran = mambaboot("run", str(target), "--", "bash", "-c", check)
        assert ran.code == 0, (target, ran.text)
        assert ran.out.rstrip().endswith(f"prefixdata-tool {target}"), ran.out
        old = target
