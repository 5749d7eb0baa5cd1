"""What the stand-in does differently on Windows: the ``python`` package becomes the Windows
CPython laid out as conda's is, post-link scripts are ``Scripts\\.NAME-post-link.bat`` run
by cmd.exe (conda's rule), and the standard streams are UTF-8 as micromamba's are.

The interpreter tree is the folder of CONFIG['pythons'] (a base ``python.exe``, never a
venv's redirector), with the standard library as one ``python3XY.zip`` beside it
(tests/standin/winstandin.py says why).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .common import MambaError, cfg, say
from .specs import dist_name


def utf8_streams() -> None:
    """micromamba writes UTF-8 whatever the console or ANSI code page is."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(encoding="utf-8")


def _interpreter_files(home: Path) -> dict[str, Path]:
    """Prefix-relative path -> source file of the interpreter tree: the exe and DLLs beside
    it, ``DLLs\\``, ``Lib\\os.py`` (the landmark that makes the folder ``sys.prefix``) and
    the standard library zip."""
    files = {path.name: path for path in sorted(home.iterdir())
             if path.is_file() and path.suffix.lower() in (".exe", ".dll", ".zip")}
    files.update({f"DLLs/{path.name}": path for path in sorted((home / "DLLs").iterdir())
                  if path.is_file()})
    files["Lib/os.py"] = home / "Lib" / "os.py"
    return files


def make_python_real(record: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
    """``PREFIX\\python.exe`` and its DLLs, ``DLLs\\`` and ``Lib\\`` of the configured
    interpreter; returns the paths entries of the files added."""
    major_minor = ".".join(str(record["version"]).split(".")[:2])
    interpreter = dict(cfg("pythons")).get(major_minor)
    if not interpreter:
        raise MambaError(f"stand-in: no Python {major_minor} interpreter configured "
                         "(CONFIG['pythons']) to make package 'python' real")
    added = []
    existing = set()
    for rel, source in _interpreter_files(Path(interpreter).parent).items():
        target = Path(prefix, rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            existing.add(rel)
            target.unlink()
        shutil.copyfile(source, target)
        if rel not in existing:
            added.append({"_path": rel, "path_type": "hardlink",
                          "size_in_bytes": target.stat().st_size,
                          "sha256": hashlib.sha256(target.read_bytes()).hexdigest()})
    for folder in ("Lib/site-packages", "Scripts", "Library/bin"):
        Path(prefix, folder).mkdir(parents=True, exist_ok=True)
    return added


def run_post_link(record: Mapping[str, Any], prefix: str, root: str) -> None:
    """``Scripts\\.NAME-post-link.bat`` in ``cmd.exe /d /c``, with conda's variables."""
    name = str(record["name"])
    if Path(prefix, "Scripts", f".{name}-pre-link.bat").exists():
        raise MambaError("mamba does not support pre-link scripts")
    script = Path(prefix, "Scripts", f".{name}-post-link.bat")
    if not script.is_file():
        return
    env = dict(os.environ)
    env.update(ROOT_PREFIX=root, PREFIX=prefix, PKG_NAME=name,
               PKG_VERSION=str(record["version"]), PKG_BUILDNUM=str(record.get("build_number", 0)),
               PATH=f"{script.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    comspec = os.environ.get("COMSPEC") or "cmd.exe"
    result = subprocess.run([comspec, "/d", "/c", str(script)], cwd=script.parent, env=env,
                            capture_output=True, text=True, errors="replace", check=False)
    if result.returncode != 0:
        raise MambaError(f"post-link script failed for package {dist_name(record)}",
                         f"response code: {result.returncode} error message: "
                         f"{result.stderr.strip()}")
    messages = Path(prefix, ".messages.txt")
    if messages.is_file():
        say(messages.read_text(encoding="utf-8", errors="replace").rstrip())
        messages.unlink()
