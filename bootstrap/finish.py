"""Finish a created environment (DESIGN 3.5): ``.condarc``, the ``pkgs`` link to the shared
cache, portable condabin files on Windows, ``activate.*`` launchers, template folders, and
an ``@EXPLICIT`` lock of what was installed."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from bootstrap import activation, environ, fsutil, portable
from bootstrap.platform import Platform
from bootstrap.receipt import receipt_path
from bootstrap.report import Reporter
from bootstrap.settings import Settings

LOCK_NAME = "lock.txt"  # PREFIX/conda-meta/mambaboot/lock.txt, beside the receipt
CONDABIN_FILES = ("mamba.bat", "mamba_hook.bat", "micromamba.bat")


def condarc_text(channels: tuple[str, ...], pkgs_dir: Path) -> str:
    """The environment's own ``.condarc``: same channels, strict priority, shared cache."""
    lines = ["# Written by mambaboot: the channels and package cache this environment was",
             "# created with, so conda and mamba inside it use the same.",
             "channels:", *(f"  - {c}" for c in channels),
             "channel_priority: strict", "pkgs_dirs:",
             f"  - {environ.yaml_quoted(str(pkgs_dir))}", ""]
    return "\n".join(lines)


def write_condarc(settings: Settings) -> None:
    path = settings.prefix / ".condarc"
    path.write_text(condarc_text(settings.channels, settings.pkgs_dir), encoding="utf-8")


LinkFn = Callable[[Path, Path], None]


def link_pkgs(prefix: Path, pkgs_dir: Path, make_link: LinkFn, reporter: Reporter) -> None:
    """``PREFIX/pkgs`` points at the shared package cache (a junction on Windows).

    Where the file system cannot link (FAT32 and exFAT sticks, some network shares, Wine)
    nothing is left behind and one warning says so; conda inside the environment still
    finds the cache through ``.condarc``, and a later run tries again.
    """
    link = prefix / "pkgs"
    if fsutil.is_link_or_junction(link):
        return
    if _is_empty_dir(link):
        link.rmdir()  # left by a failed link of an earlier version: try again
    elif link.exists():
        return  # a real package folder: not ours to replace
    pkgs_dir.mkdir(parents=True, exist_ok=True)
    try:
        make_link(pkgs_dir, link)
    except OSError as err:
        reporter.warn(f"Could not link {link} to the package cache {pkgs_dir} ({err}); "
                      "conda inside the environment still finds it through .condarc.")


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not fsutil.is_link_or_junction(path) and not any(path.iterdir())


def symlink_dir(target: Path, link: Path) -> None:
    os.symlink(target, link, target_is_directory=True)


def junction(target: Path, link: Path) -> None:
    """A directory junction; when that fails, the empty folder CPython's CreateJunction
    made before failing is removed again, so nothing looks linked that is not."""
    from bootstrap import windows

    existed = os.path.lexists(link)
    try:
        windows.create_junction(target, link)
    except OSError:
        if not existed and _is_empty_dir(link):
            link.rmdir()
        raise


def dir_linker(platform: Platform) -> LinkFn:
    """A junction on Windows (no admin rights needed), a symlink elsewhere."""
    return junction if platform.is_windows else symlink_dir


def patch_condabin(prefix: Path, platform: Platform) -> list[Path]:
    """Make ``condabin\\*.bat`` locate the environment from ``%~dp0..`` (Windows only)."""
    if not platform.is_windows:
        return []
    changed = []
    for name in CONDABIN_FILES:
        path = prefix / "condabin" / name
        if not path.is_file():
            continue
        raw = path.read_bytes()
        text = raw.decode("utf-8", errors="surrogateescape")
        new = portable.portable_condabin_bat(text, str(prefix))
        if new is not None:
            path.write_bytes(new.encode("utf-8", errors="surrogateescape"))
            changed.append(path)
    return changed


def write_launchers(prefix: Path, platform: Platform) -> list[Path]:
    """``activate.sh`` everywhere; ``activate.bat`` and ``activate.ps1`` on Windows."""
    variables, _warnings = activation.read_prefix_vars(prefix)
    variables = {k: v for k, v in variables.items() if v != activation.UNSET}
    files = {"activate.sh": portable.activate_sh(variables).encode("utf-8")}
    if platform.is_windows:
        files["activate.bat"] = _bat_bytes(portable.activate_bat(variables))
        files["activate.ps1"] = b"\xef\xbb\xbf" + portable.activate_ps1(variables).encode()
    written = []
    for filename, data in files.items():
        path = prefix / filename
        path.write_bytes(data)
        written.append(path)
    return written


def _bat_bytes(text: str) -> bytes:
    """ASCII when possible; otherwise UTF-8 behind a ``chcp 65001`` on the first line."""
    try:
        return text.encode("ascii")
    except UnicodeEncodeError:
        return ("@CHCP 65001 >NUL" + portable.CRLF + text).encode("utf-8")


def copy_templates(prefix: Path, pairs: tuple[tuple[Path, str], ...],
                   reporter: Reporter) -> list[Path]:
    """Copy each configured template folder into the prefix unless it is already there."""
    copied = []
    for source, dest in pairs:
        target = prefix / dest
        if not source.is_dir() or target.exists():
            continue
        # into a temporary sibling first: an interrupted copy is never mistaken for done
        partial = target.with_name(target.name + ".mambaboot-partial")
        fsutil.remove_tree(partial)
        shutil.copytree(source, partial, symlinks=True)
        partial.replace(target)
        reporter.detail(f"copied {source} -> {target}")
        copied.append(target)
    return copied


def write_lock(prefix: Path, text: str) -> Path:
    path = receipt_path(prefix).with_name(LOCK_NAME)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
