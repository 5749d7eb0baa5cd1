"""``noarch: python`` packages as libmamba links them (``core/link.cpp``, contract
Appendix E): ``site-packages/`` goes to ``lib/pythonX.Y/site-packages/`` (Windows:
``Lib/site-packages``), ``python-scripts/`` to ``bin/`` (``Scripts``); the entry points of
``info/link.json`` become scripts with the environment's python in their shebang (the
``#!/bin/sh`` + ``'''exec'`` form for a long path or one with a space); the ``.py`` files
are compiled with that python. On Windows the entry point is ``Scripts/<cmd>-script.py``
and, where micromamba writes a ``<cmd>.exe`` launcher, a ``<cmd>.bat`` that runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .config import host_platform

MAX_SHEBANG_LENGTH = 127  # libmamba link.hpp, Linux
ENTRY_POINT = """# -*- coding: utf-8 -*-
import re
import sys

from {module} import {name}

if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw?|\\.exe)?$', '', sys.argv[0])
    sys.exit({func}())
"""


def is_noarch_python(extracted: Path) -> bool:
    index = extracted / "info" / "index.json"
    try:
        return bool(json.loads(index.read_text(encoding="utf-8")).get("noarch") == "python")
    except (OSError, ValueError):
        return False


def python_minor(prefix: str) -> str | None:
    """X.Y of the python linked into ``prefix`` (its conda-meta record)."""
    for meta in sorted(Path(prefix, "conda-meta").glob("python-[0-9]*.json")):
        version = str(json.loads(meta.read_text(encoding="utf-8")).get("version", ""))
        return ".".join(version.split(".")[:2]) or None
    return None


def target_path(rel: str, minor: str | None, platform: str) -> str:
    """Where a file of a noarch: python package goes in a prefix for ``platform``."""
    windows = platform.startswith("win")
    if rel.startswith("site-packages/") and minor:
        site = "Lib/site-packages" if windows else f"lib/python{minor}/site-packages"
        return site + rel[len("site-packages"):]
    if rel.startswith("python-scripts/"):
        return ("Scripts" if windows else "bin") + rel[len("python-scripts"):]
    return rel


def python_exe(prefix: str, minor: str) -> str:
    if host_platform().startswith("win"):
        return os.path.join(prefix, "python.exe")
    return os.path.join(prefix, "bin", f"python{minor}")


def shebang(python: str) -> str:
    if len(python) > MAX_SHEBANG_LENGTH - 2 or " " in python:
        return f"#!/bin/sh\n'''exec' \"{python}\" \"$0\" \"$@\" #'''"
    return f"#!{python}"


def entry_points(extracted: Path, prefix: str, minor: str,
                 platform: str) -> list[dict[str, Any]]:
    """The scripts of ``info/link.json``'s entry points, as records."""
    try:
        link = json.loads((extracted / "info" / "link.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    written = []
    for definition in link.get("noarch", {}).get("entry_points", []):
        command, _, target = str(definition).partition("=")
        module, _, func = target.strip().rpartition(":")
        body = ENTRY_POINT.format(module=module.strip(), name=func.strip().split(".")[0],
                                  func=func.strip())
        if platform.startswith("win"):
            written += windows_entry_point(prefix, command.strip(), body)
            continue
        path = Path(prefix, "bin", command.strip())
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(shebang(python_exe(prefix, minor)) + "\n" + body, encoding="utf-8")
        path.chmod(0o755)
        written.append({"_path": f"bin/{command.strip()}",
                        "path_type": "unix_python_entry_point"})
    return written


def windows_entry_point(prefix: str, command: str, body: str) -> list[dict[str, Any]]:
    script = Path(prefix, "Scripts", f"{command}-script.py")
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(body, encoding="utf-8")
    launcher = script.with_name(f"{command}.bat")  # the real one is an .exe launcher
    launcher.write_bytes(b'@"%~dp0..\\python.exe" "%~dp0' + command.encode() +
                         b'-script.py" %*\r\n')
    return [{"_path": f"Scripts/{command}-script.py",
             "path_type": "windows_python_entry_point_script"},
            {"_path": f"Scripts/{command}.bat", "path_type": "windows_python_entry_point_exe"}]


def compile_pyc(prefix: str, minor: str,
                linked: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Compile the package's site-packages ``.py`` files with the prefix's python, as
    libmamba does (``python -Wi -m compileall -q -l -i -``); the ``.pyc`` files as records."""
    sources = [str(p["_path"]) for p in linked
               if "/site-packages/" in str(p["_path"]) and str(p["_path"]).endswith(".py")]
    python = python_exe(prefix, minor)
    if not sources or not os.path.exists(python):
        return []
    subprocess.run([python, "-Wi", "-m", "compileall", "-q", "-l", "-i", "-"], cwd=prefix,
                   input="\n".join(sources) + "\n", capture_output=True, text=True,
                   check=False)
    tag = "cpython-" + minor.replace(".", "")
    out = []
    for source in sources:
        folder, _, name = source.rpartition("/")
        pyc = f"{folder}/__pycache__/{name[:-3]}.{tag}.pyc"
        if Path(prefix, pyc).is_file():
            out.append({"_path": pyc, "path_type": "pyc_file"})
    return out
