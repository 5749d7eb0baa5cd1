"""Relocation (DESIGN section 5): an environment that now sits somewhere else than where
it was created (a stick under another drive letter, a moved folder) gets the old prefix
rewritten in its text files, the way conda-pack's unpack step does it, from the package
records' ``paths_data`` (``prefix_placeholder``, ``file_mode``). Binary files are changed
only when the new prefix is not longer than the old one (padded with NULs, as conda does),
otherwise listed."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bootstrap import fsutil
from bootstrap.platform import Platform
from bootstrap.receipt import Receipt

SCRIPT_DIRS = ("bin", "Scripts")  # entry points pip/uv wrote with the old prefix in #!


@dataclass
class Report:
    old: str
    new: str
    rewritten: list[Path] = field(default_factory=list)
    binary_patched: list[Path] = field(default_factory=list)
    binary_skipped: list[Path] = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        return {"old": self.old, "new": self.new,
                "rewritten": [str(p) for p in self.rewritten],
                "binary_patched": [str(p) for p in self.binary_patched],
                "binary_skipped": [str(p) for p in self.binary_skipped]}


def variants(prefix: str, platform: Platform) -> list[str]:
    """The spellings of a prefix found in text files: conda writes forward slashes on
    Windows text replacement (conda/core/portability.py)."""
    return [prefix, prefix.replace("\\", "/")] if platform.is_windows else [prefix]


def replace_text(data: bytes, old: str, new: str, platform: Platform) -> bytes:
    for old_v, new_v in zip(variants(old, platform), variants(new, platform), strict=True):
        data = data.replace(old_v.encode("utf-8"), new_v.encode("utf-8"))
    return data


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


def _records(prefix: Path) -> list[dict[str, Any]]:
    out = []
    for path in sorted((prefix / "conda-meta").glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("name"):
            out.append(data)
    return out


def relocate(prefix: Path, old: str, platform: Platform) -> Report:
    """Rewrite ``old`` to ``prefix`` in the files that hold it."""
    new = str(prefix)
    report = Report(old, new)
    seen: set[Path] = set()
    for record in _records(prefix):
        paths = (record.get("paths_data") or {}).get("paths", [])
        for entry in paths:
            if not isinstance(entry, dict) or not entry.get("prefix_placeholder"):
                continue
            path = prefix / str(entry["_path"])
            if not _inside(path, prefix):  # the records are data: never leave the prefix
                continue
            seen.add(path)
            _fix_file(path, entry.get("file_mode", "text") == "binary", old, platform, report)
    for folder in SCRIPT_DIRS:
        for path in sorted((prefix / folder).glob("*")) if (prefix / folder).is_dir() else []:
            if path not in seen and path.is_file() and not path.is_symlink() \
                    and _shebang_mentions(path, old):
                _fix_file(path, False, old, platform, report)
    return report


def _inside(path: Path, prefix: Path) -> bool:
    if path.is_symlink():
        return False
    try:
        return path.resolve().is_relative_to(prefix.resolve())
    except OSError:
        return False


def _shebang_mentions(path: Path, old: str) -> bool:
    try:
        with path.open("rb") as handle:
            first = handle.readline(4096)
    except OSError:
        return False
    return first.startswith(b"#!") and old.encode("utf-8") in first


def _fix_file(path: Path, binary: bool, old: str, platform: Platform, report: Report) -> None:
    try:
        data = path.read_bytes()
    except OSError:
        return
    if old.encode("utf-8") not in data and not (
            platform.is_windows and old.replace("\\", "/").encode("utf-8") in data):
        return
    new = str(report.new)
    changed = replace_binary(data, old, new) if binary else replace_text(data, old, new,
                                                                         platform)
    if changed is None:
        report.binary_skipped.append(path)
        return
    if changed != data:
        _write_atomic(path, changed)
        (report.binary_patched if binary else report.rewritten).append(path)


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
