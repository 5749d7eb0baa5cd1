"""Linking packages into a prefix, conda-meta records and post-link scripts
(contract 4.5, Appendix E).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import windows
from .common import MambaError, cfg, say
from .config import Ctx, host_platform
from .noarch import compile_pyc, entry_points, is_noarch_python, python_minor, target_path
from .pkgcache import file_digest
from .specs import dist_name

PLACEHOLDER_DEFAULT = "/opt/anaconda1anaconda2anaconda3"


def read_paths(extracted: Path) -> list[dict[str, Any]]:
    paths_json = extracted / "info" / "paths.json"
    if paths_json.is_file():
        return list(json.loads(paths_json.read_text(encoding="utf-8"))["paths"])
    prefixed: dict[str, tuple[str, str]] = {}
    has_prefix = extracted / "info" / "has_prefix"
    if has_prefix.is_file():
        for line in has_prefix.read_text(encoding="utf-8").splitlines():
            parts = shlex.split(line)
            if len(parts) == 3:
                prefixed[parts[2]] = (parts[0], parts[1])
            elif parts:
                prefixed[parts[0]] = (PLACEHOLDER_DEFAULT, "text")
    entries = []
    files = (extracted / "info" / "files").read_text(encoding="utf-8").splitlines()
    for rel in filter(None, files):
        entry: dict[str, Any] = {"_path": rel, "path_type": "hardlink"}
        if rel in prefixed:
            entry["prefix_placeholder"], entry["file_mode"] = prefixed[rel]
        entries.append(entry)
    return entries


def replace_binary(data: bytes, placeholder: bytes, prefix: bytes, path: str) -> bytes:
    def repl(match: re.Match[bytes]) -> bytes:
        original = match.group(0)
        new = prefix + match.group(1)
        if len(new) + 1 > len(original):
            raise MambaError(f"Padding error: the prefix is longer than the placeholder in "
                             f"binary file '{path}'")
        return new + b"\0" * (len(original) - len(new))

    return re.sub(re.escape(placeholder) + rb"([^\0]*?)\0", repl, data)


def fix_long_shebang(data: bytes) -> bytes:
    if not data.startswith(b"#!"):
        return data
    first, sep, rest = data.partition(b"\n")
    if len(first) <= 127:
        return data
    exe, _, args = first[2:].strip().partition(b" ")
    new = b"#!/usr/bin/env " + os.path.basename(exe) + (b" " + args if args else b"")
    return new + sep + rest


EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def link_file(src: Path, dst: Path, entry: Mapping[str, Any], prefix: str, copy: bool) -> str:
    """Link or copy one file; returns the sha256 of the file in the prefix."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.is_symlink() or dst.exists():
        dst.unlink()
    placeholder = entry.get("prefix_placeholder")
    if entry.get("path_type") == "softlink" or src.is_symlink():
        os.symlink(os.readlink(src), dst)
        return file_digest(dst, "sha256") if dst.exists() else EMPTY_SHA256
    if placeholder:
        data = src.read_bytes()
        if entry.get("file_mode") == "binary":
            data = replace_binary(data, str(placeholder).encode(), prefix.encode(), str(dst))
        else:
            data = fix_long_shebang(data.replace(str(placeholder).encode(), prefix.encode()))
        dst.write_bytes(data)
        shutil.copymode(src, dst)
        return hashlib.sha256(data).hexdigest()
    if copy:
        shutil.copy2(src, dst)
    else:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
    return str(entry.get("sha256") or file_digest(dst, "sha256"))


def path_record(target: str, entry: Mapping[str, Any], in_prefix: str,
                dst: Path) -> dict[str, Any]:
    """A ``paths_data`` entry as micromamba 2.x writes it: no ``prefix_placeholder`` nor
    ``file_mode``; a soft link has only its ``sha256_in_prefix``."""
    if entry.get("path_type") == "softlink":
        return {"_path": target, "path_type": "softlink", "sha256_in_prefix": in_prefix}
    return {"_path": target, "path_type": entry.get("path_type", "hardlink"),
            "sha256": entry.get("sha256") or in_prefix, "sha256_in_prefix": in_prefix,
            "size_in_bytes": entry.get("size_in_bytes", dst.lstat().st_size)}


def link_files(record: dict[str, Any], prefix: str, copy: bool,
               platform: str) -> list[dict[str, Any]]:
    extracted = Path(str(record["_extracted"]))
    python = is_noarch_python(extracted)
    minor = python_minor(prefix) if python else None
    paths_data = []
    for entry in read_paths(extracted):
        rel = str(entry["_path"])
        target = target_path(rel, minor, platform) if python else rel
        dst = Path(prefix, target)
        if entry.get("path_type") == "directory":
            dst.mkdir(parents=True, exist_ok=True)
            continue
        in_prefix = link_file(extracted / rel, dst, entry, prefix, copy)
        paths_data.append(path_record(target, entry, in_prefix, dst))
    if python and minor:
        paths_data += compile_pyc(prefix, minor, paths_data)
        paths_data += entry_points(extracted, prefix, minor, platform)
    return paths_data


def tree_files(prefix: str) -> set[str]:
    out = set()
    for dirpath, _dirs, files in os.walk(prefix):
        for name in files:
            out.add(os.path.relpath(os.path.join(dirpath, name), prefix))
        for name in _dirs:
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                out.add(os.path.relpath(full, prefix))
    return out


def make_python_real(record: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
    """Turn the ``python`` package into a working interpreter with ``python -m venv``
    (on Windows, the interpreter tree: windows.py)."""
    if os.name == "nt":
        return windows.make_python_real(record, prefix)
    major_minor = ".".join(str(record["version"]).split(".")[:2])
    interpreter = dict(cfg("pythons")).get(major_minor)
    if not interpreter:
        raise MambaError(f"stand-in: no Python {major_minor} interpreter configured "
                         "(CONFIG['pythons']) to make package 'python' real")
    before = tree_files(prefix)
    result = subprocess.run([interpreter, "-I", "-m", "venv", "--without-pip", prefix],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise MambaError(f"stand-in: python -m venv failed: {result.stderr.strip()}")
    for name in ("activate", "activate.csh", "activate.fish", "Activate.ps1"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(prefix, "bin", name))
    added = []
    for rel in sorted(tree_files(prefix) - before):
        full = os.path.join(prefix, rel)
        kind = "softlink" if os.path.islink(full) else "hardlink"
        added.append({"_path": rel, "path_type": kind, "size_in_bytes": os.lstat(full).st_size,
                      "sha256": "" if kind == "softlink" else file_digest(Path(full), "sha256")})
    return added


def bash_path() -> str:
    return str(cfg("bash") or shutil.which("bash") or "/bin/bash")


def run_post_link(record: Mapping[str, Any], prefix: str, root: str) -> None:
    """``bin/.NAME-post-link.sh`` in bash -x, or on Windows ``Scripts\\.NAME-post-link.bat``
    in ``cmd.exe /d /c``, with conda's variables; then ``.messages.txt`` is shown."""
    name = str(record["name"])
    folder, ext = ("Scripts", ".bat") if os.name == "nt" else ("bin", ".sh")
    if Path(prefix, folder, f".{name}-pre-link{ext}").exists():
        raise MambaError("mamba does not support pre-link scripts")
    script = Path(prefix, folder, f".{name}-post-link{ext}")
    if not script.is_file():
        return
    env = dict(os.environ)
    env.update(ROOT_PREFIX=root, PREFIX=prefix, PKG_NAME=name,
               PKG_VERSION=str(record["version"]), PKG_BUILDNUM=str(record.get("build_number", 0)),
               PATH=f"{script.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    argv = ([os.environ.get("COMSPEC") or "cmd.exe", "/d", "/c", str(script)] if os.name == "nt"
            else [bash_path(), "-x", str(script)])
    result = subprocess.run(argv, cwd=script.parent, env=env, capture_output=True, text=True,
                            errors="replace", check=False)
    if result.returncode != 0:
        raise MambaError(f"post-link script failed for package {dist_name(record)}",
                         f"response code: {result.returncode} error message: "
                         f"{result.stderr.strip()}")
    # shown, and left in place: libmamba's get_prefix_messages removes it only when it
    # cannot be read (link.cpp), and 2.8.1 was seen to leave it
    messages = Path(prefix, ".messages.txt")
    if messages.is_file():
        say(messages.read_text(encoding="utf-8", errors="replace").rstrip() + "\n")


def write_conda_meta(record: Mapping[str, Any], prefix: str,
                     paths: list[dict[str, Any]]) -> Path:
    meta = {k: v for k, v in record.items() if not k.startswith("_")}
    meta.setdefault("build_string", record.get("build", ""))
    meta.setdefault("constrains", [])
    meta.update(
        files=[p["_path"] for p in paths],
        paths_data={"paths_version": 1, "paths": paths},
        package_tarball_full_path=str(record["_tarball"]),
        extracted_package_dir=str(record["_extracted"]),
        link={"source": str(record["_extracted"]), "type": 1},
        requested_spec=str(record.get("_requested", "")),
    )
    path = Path(prefix, "conda-meta", f"{dist_name(record)}.json")
    path.write_text(json.dumps(meta, indent=4), encoding="utf-8")
    return path


def link_package(ctx: Ctx, record: dict[str, Any], prefix: str, root: str,
                 native: bool, platform: str | None = None) -> list[dict[str, Any]]:
    """Link one package; ``platform``: the transaction's (default this machine's)."""
    paths = link_files(record, prefix, ctx.flag("always_copy"), platform or host_platform())
    record["_linked_paths"] = paths
    minor = ".".join(str(record["version"]).split(".")[:2])
    # a package with a real interpreter (realpkgs' linux-64 python) is left as it is; no
    # win-64 package has one: the stand-in's python.exe is a placeholder that make_python_real
    # replaces
    interpreter = any(p["_path"] == f"bin/python{minor}" for p in paths)
    if record["name"] == "python" and native and not interpreter:
        paths += make_python_real(record, prefix)
    write_conda_meta(record, prefix, paths)
    if native:
        run_post_link(record, prefix, root)
    return paths


def unlink_package(record: Mapping[str, Any], prefix: str) -> None:
    for entry in record.get("_linked_paths", []):
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(prefix, str(entry["_path"])))
    with contextlib.suppress(OSError):
        Path(prefix, "conda-meta", f"{dist_name(record)}.json").unlink()
