"""Relocation (DESIGN section 5): an environment that now sits somewhere else than where
it was created (a stick under another drive letter, a moved folder) gets the old prefix
rewritten in its files, the way conda-pack's unpack step does it.

micromamba 2.x records no ``prefix_placeholder`` or ``file_mode`` in ``conda-meta``
(libmamba ``core/link.cpp`` writes only ``_path``, ``path_type``, ``sha256``,
``sha256_in_prefix``, ``size_in_bytes``), and post-link scripts, pip and entry points write
files no record describes. So every file of the prefix is looked at (``conda-meta``, the
``pkgs`` link and byte code excepted):

- a text file (no NUL byte) holding the old prefix is rewritten; a shebang that becomes
  longer than the kernel reads (127 bytes), or gets a space, takes micromamba's long form
  (``#!/bin/sh`` then ``'''exec' "PREFIX/bin/python3.X" "$0" "$@" #'''``, or
  ``#!/usr/bin/env NAME`` for other interpreters);
- a binary file is patched only when its record shows that micromamba replaced a prefix in
  it at link time (``sha256_in_prefix != sha256``, or a ``file_mode`` of ``binary``), and only
  when the new prefix is not longer (padded with NULs, as conda does). Other binaries that
  hold the old prefix are left alone. Both kinds are listed in the report.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bootstrap import fsutil
from bootstrap.platform import Platform
from bootstrap.receipt import Receipt

MAX_SHEBANG = 127  # bytes of a "#!" line Linux reads (libmamba's MAX_SHEBANG_LENGTH)
SKIP_DIRS = frozenset({"conda-meta", "__pycache__"})
SKIP_SUFFIXES = (".pyc", ".pyo", ".mambaboot-relocate")
_PATH_CHAR = rb"[A-Za-z0-9_.\-]"  # a prefix followed by one of these is another folder


@dataclass
class Report:
    old: str
    new: str
    rewritten: list[Path] = field(default_factory=list)
    binary_patched: list[Path] = field(default_factory=list)
    binary_skipped: list[Path] = field(default_factory=list)  # the new prefix is longer
    left_alone: list[Path] = field(default_factory=list)  # binary, not patched at link time

    def as_json(self) -> dict[str, object]:
        return {"old": self.old, "new": self.new,
                "rewritten": [str(p) for p in self.rewritten],
                "binary_patched": [str(p) for p in self.binary_patched],
                "binary_skipped": [str(p) for p in self.binary_skipped],
                "left_alone": [str(p) for p in self.left_alone]}


def variants(prefix: str, platform: Platform) -> list[str]:
    """The spellings of a prefix found in text files: conda writes forward slashes on
    Windows text replacement (conda/core/portability.py)."""
    return [prefix, prefix.replace("\\", "/")] if platform.is_windows else [prefix]


def replace_text(data: bytes, old: str, new: str, platform: Platform) -> bytes:
    """``old`` replaced by ``new`` where it is a whole path (``/a/py`` is not ``/a/py2``)."""
    for old_v, new_v in zip(variants(old, platform), variants(new, platform), strict=True):
        pattern = re.compile(re.escape(old_v.encode("utf-8")) + rb"(?!" + _PATH_CHAR + rb")")
        data = pattern.sub(_literal(new_v.encode("utf-8")), data)
    return data


def _literal(value: bytes) -> Callable[[re.Match[bytes]], bytes]:
    """A ``re.sub`` replacement taken as it is (Windows paths hold backslashes)."""
    return lambda _match: value


def replace_binary(data: bytes, old: str, new: str) -> bytes | None:
    """Replace ``old`` inside NUL-terminated strings, keeping every string's length; None
    when ``new`` is longer (the file cannot be fixed in place)."""
    old_b, new_b = old.encode("utf-8"), new.encode("utf-8")
    if len(new_b) > len(old_b):
        return None
    pattern = re.compile(re.escape(old_b) + rb"([^\0]*?)\0")

    def repl(match: re.Match[bytes]) -> bytes:
        rest = match.group(1).replace(old_b, new_b)
        padding = len(match.group(0)) - len(new_b) - len(rest) - 1
        return new_b + rest + b"\0" * (padding + 1)

    return pattern.sub(repl, data)


def fix_shebang(data: bytes, new: str) -> bytes:
    """A ``#!`` line naming the new prefix that the kernel cannot take (too long, or a
    space in the path) in the form micromamba writes at such a prefix (libmamba
    ``link.cpp``: ``python_shebang``, ``replace_long_shebang``)."""
    first, newline, rest = data.partition(b"\n")
    line = first.rstrip(b"\r")
    prefix = new.encode("utf-8")
    if not line.startswith(b"#!" + prefix):
        return data
    end = line.find(b" ", len(prefix) + 2)
    exe, args = (line[2:], b"") if end < 0 else (line[2:end], line[end:])
    if len(line) <= MAX_SHEBANG and b" " not in exe:
        return data
    name = exe.rsplit(b"/", 1)[-1]
    if name.startswith(b"python"):
        head = b"#!/bin/sh\n'''exec' \"" + exe + b'"' + args + b' "$0" "$@" #' + b"'''"
    else:
        head = b"#!/usr/bin/env " + name + args
    return head + first[len(line):] + newline + rest


def _linked_binaries(prefix: Path) -> set[str]:
    """Files (relative, with "/") in which micromamba replaced a prefix when it linked them:
    the conda-meta records say so by ``sha256_in_prefix`` (or conda's ``file_mode``)."""
    changed: set[str] = set()
    for path in sorted((prefix / "conda-meta").glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        paths = (record.get("paths_data") or {}).get("paths", []) \
            if isinstance(record, dict) else []
        for entry in paths:
            if not isinstance(entry, dict) or not isinstance(entry.get("_path"), str):
                continue
            in_prefix = entry.get("sha256_in_prefix")
            if entry.get("file_mode") == "binary" or \
                    (in_prefix and entry.get("sha256") and in_prefix != entry["sha256"]):
                changed.add(entry["_path"].replace("\\", "/"))
    return changed


def _files(prefix: Path) -> Iterator[Path]:
    """Every regular file of the prefix that may hold it: no links (the ``pkgs`` link to the
    shared cache), no ``conda-meta``, no byte code."""
    for dirpath, dirnames, filenames in os.walk(prefix):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames
                             if d not in SKIP_DIRS and not fsutil.is_link_or_junction(here / d))
        for name in sorted(filenames):
            path = here / name
            if not name.endswith(SKIP_SUFFIXES) and not path.is_symlink() and path.is_file():
                yield path


def relocate(prefix: Path, old: str, platform: Platform) -> Report:
    """Rewrite ``old`` to ``prefix`` in the files that hold it."""
    report = Report(old, str(prefix))
    linked = _linked_binaries(prefix)
    needles = [v.encode("utf-8") for v in variants(old, platform)]
    for path in _files(prefix):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if any(n in data for n in needles):
            linked_here = path.relative_to(prefix).as_posix() in linked
            _fix_file(path, data, linked_here, platform, report)
    return report


def _fix_file(path: Path, data: bytes, linked: bool, platform: Platform,
              report: Report) -> None:
    if b"\0" not in data:
        changed = replace_text(data, report.old, report.new, platform)
        if not platform.is_windows:
            changed = fix_shebang(changed, report.new)
        if changed != data:
            _write_atomic(path, changed)
            report.rewritten.append(path)
        return
    if not linked:
        report.left_alone.append(path)
        return
    patched = replace_binary(data, report.old, report.new)
    if patched is None:
        report.binary_skipped.append(path)
    elif patched != data:
        _write_atomic(path, patched)
        report.binary_patched.append(path)


def _write_atomic(path: Path, data: bytes) -> None:
    """Replace a file's bytes keeping its mode; readers see the old or the new file."""
    mode = path.stat().st_mode
    tmp = path.with_name(path.name + ".mambaboot-relocate")
    tmp.write_bytes(data)
    os.chmod(tmp, mode)
    tmp.replace(path)


def moved_root(old: str, new: str, platform: Platform) -> tuple[str, str]:
    """What changed at the front of the path when the environment moved: for
    ``E:\\envs\\py`` -> ``F:\\envs\\py`` it is ``E:\\`` -> ``F:\\``; the same change
    applies to a cache that moved along (the stick's CACHE folder)."""
    old_parts, new_parts = list(platform.path(old).parts), list(platform.path(new).parts)
    while len(old_parts) > 1 and len(new_parts) > 1 and old_parts[-1] == new_parts[-1]:
        old_parts.pop()
        new_parts.pop()
    return str(platform.path_type(*old_parts)), str(platform.path_type(*new_parts))


def map_path(path: str, old_root: str, new_root: str, platform: Platform) -> str | None:
    """``path`` with ``old_root`` replaced by ``new_root``; None when it is not below it."""
    pure, root = platform.path(path), platform.path(old_root)
    if pure != root and root not in pure.parents:
        return None
    return str(platform.path(new_root) / pure.relative_to(root))


def fix_cache_links(prefix: Path, old: str, platform: Platform, report: Report) -> None:
    """``.condarc``'s package cache and the ``pkgs`` link, when the cache moved along."""
    old_root, new_root = moved_root(old, str(prefix), platform)
    condarc = prefix / ".condarc"
    if condarc.is_file():
        text = condarc.read_text(encoding="utf-8")
        lines = text.splitlines(keepends=True)
        for i, line in enumerate(lines):
            value = line.strip()[2:].strip().strip("'") if line.startswith("  - ") else ""
            mapped = map_path(value, old_root, new_root, platform) if value else None
            if mapped and Path(mapped).is_dir():
                lines[i] = line.replace(value, mapped)
        if "".join(lines) != text:
            condarc.write_text("".join(lines), encoding="utf-8")
            report.rewritten.append(condarc)
    link = prefix / "pkgs"
    if fsutil.is_link_or_junction(link) and not link.exists():
        pointed = os.readlink(link).removeprefix("\\\\?\\")  # a junction reads \\?\E:\...
        target = map_path(pointed, old_root, new_root, platform)
        if target and Path(target).is_dir():
            fsutil.unlink_link(link)
            from bootstrap import finish

            finish.dir_linker(platform)(Path(target), link)
            report.rewritten.append(link)


def moved_from(prefix: Path) -> str | None:
    """The recorded prefix when the environment has moved since, else None."""
    receipt = Receipt.load(prefix)
    if receipt is None or not receipt.recorded_prefix:
        return None
    return None if same_place(receipt.recorded_prefix, prefix) else receipt.recorded_prefix


def same_place(recorded: str, prefix: Path) -> bool:
    """The same folder, also when spelt through a symlink or in another case."""
    if os.path.normcase(os.path.normpath(recorded)) == \
            os.path.normcase(os.path.normpath(str(prefix))):
        return True
    try:
        return os.path.samefile(recorded, prefix)
    except OSError:
        return False


def ensure(prefix: Path, platform: Platform) -> Report | None:
    """Relocate when the receipt says the environment was created elsewhere; the receipt
    then records the new place. None when nothing had to be done."""
    old = moved_from(prefix)
    receipt = Receipt.load(prefix)
    if old is None or receipt is None:
        return None
    report = relocate(prefix, old, platform)
    fix_cache_links(prefix, old, platform, report)
    receipt.binary_pending = _retry_pending(prefix, receipt.binary_pending, report)
    for path in report.binary_skipped:
        receipt.binary_pending[path.relative_to(prefix).as_posix()] = old
    receipt.save()  # records the new prefix
    return report


def _retry_pending(prefix: Path, pending: dict[str, str], report: Report) -> dict[str, str]:
    """Binary files skipped by an earlier move still hold that move's prefix; a later move
    to a shorter place can fix them."""
    still: dict[str, str] = {}
    for rel, older in pending.items():
        path = prefix / rel
        try:
            data = path.read_bytes()
        except OSError:
            continue
        changed = replace_binary(data, older, report.new)
        if changed is None:
            still[rel] = older
            report.binary_skipped.append(path)
        elif changed != data:
            _write_atomic(path, changed)
            report.binary_patched.append(path)
    return still
