"""What the stand-in does differently on Windows: the ``python`` package becomes the Windows
CPython laid out as conda's is, and the standard streams are UTF-8 as micromamba's are
(post-link scripts, ``Scripts\\.NAME-post-link.bat`` in cmd.exe, are link.py's).

The interpreter tree is the folder of CONFIG['pythons'] (a base ``python.exe``, never a
venv's redirector), with the standard library as one ``python3XY.zip`` beside it
(tests/standin/winstandin.py says why).
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .common import MambaError, cfg


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
