"""The stand-in micromamba and its packages on Windows, built on any host.

- The stand-in is a real ``.exe`` made the way pip makes console scripts: distlib's
  launcher (``t64.exe``, read from the pip that is installed, never committed), a
  ``#!"C:\\...\\python.exe" -I`` line and the zipapp. The launcher starts that Python on the
  zip with the arguments, passes the standard handles and the exit code through, and holds
  its child in a kill-on-close job object.
- ``python.exe`` in a prefix is the Windows CPython the tests run on, laid out as conda's
  ``python`` package is (``PREFIX\\python.exe`` with its DLLs, ``DLLs\\``, ``Lib\\``), except
  that the standard library travels as one ``python3XY.zip`` beside the exe (CPython's own
  embeddable layout; it is on the default ``sys.path``): ``Lib\\`` holds only ``os.py`` (the
  landmark that makes the folder ``sys.prefix``) and ``site-packages``. Creating the ~1,200
  files of ``Lib\\`` takes ~7 s per create under Wine; the zip, one file. The stand-in
  itself runs on that layout too (:func:`interpreter`).
- conda, mamba and uv have win-64 builds (build number 1, so a win-64 solve prefers them
  over the POSIX noarch ones) with Windows files: ``Scripts\\conda.exe``,
  ``Library\\bin\\mamba.exe`` and ``Scripts\\uv.exe`` are launchers with a relative
  ``#!<launcher_dir>\\..`` line, as relocatable as a compiled entry point, and mamba brings
  ``condabin\\mamba.bat``/``mamba_hook.bat`` with absolute paths (a text placeholder).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import io
import json
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

from tests.standin.channel import Package

ZIP_DATE = (1980, 1, 1, 0, 0, 0)
# not needed by the tests' environments, and most of the files: left out of the zip
STDLIB_SKIP = frozenset({"site-packages", "test", "idlelib", "tkinter", "turtledemo",
                         "ensurepip", "lib2to3", "__pycache__"})
CRLF = "\r\n"


# What a win-64 package's .exe holds when built on a POSIX host whose pip has no launcher
# (Debian's pip drops distlib's .exe files): such packages are packed and copied there,
# never run, so only their bytes matter.
POSIX_LAUNCHER_STAND_IN = b"MZ stand-in launcher: distlib's t64.exe is not in this pip\n"


@functools.cache
def launcher() -> bytes:
    """distlib's 64-bit console launcher, as shipped inside pip (needed to run anything on
    Windows; on another host a stand-in of it, see POSIX_LAUNCHER_STAND_IN)."""
    spec = importlib.util.find_spec("pip")
    path = None if spec is None or spec.origin is None else \
        Path(spec.origin).parent / "_vendor" / "distlib" / "t64.exe"
    if path is not None and path.is_file():
        return path.read_bytes()
    if os.name != "nt":
        return POSIX_LAUNCHER_STAND_IN
    raise RuntimeError(f"pip's distlib launcher t64.exe is needed and missing ({path})")


def windows_header(python: str) -> bytes:
    """Launcher, then ``#!"PYTHON" -I``: what goes before the zip of a console .exe."""
    return launcher() + f'#!"{python}" -I{CRLF}'.encode()


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in sorted(members.items()):
            info = zipfile.ZipInfo(name, ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def entry_point(main: str, python_from_here: str) -> bytes:
    """A console ``.exe`` running ``main`` (Python source) with the prefix's interpreter,
    found relative to the exe (``..\\python.exe`` from ``Scripts``)."""
    shebang = f'#!"<launcher_dir>\\{python_from_here}"{CRLF}'.encode()
    return launcher() + shebang + _zip({"__main__.py": main.encode()})


def _version_main(text: str) -> str:
    return (f"import sys\nif sys.argv[1:2] == ['--version']:\n    print({text!r})\n"
            f"    sys.exit(0)\nprint({text!r} + ' stand-in: only --version is supported', "
            "file=sys.stderr)\nsys.exit(2)\n")


def _bat(*lines: str) -> bytes:
    return "".join(line + CRLF for line in lines).encode()


# micromamba's condabin files of a mamba install: absolute paths, filled in at link time
# from the text placeholder (contract 5: mamba#3708)
MAMBA_BAT = ("@REM mamba stand-in (condabin\\mamba.bat of mamba 2.x)",
             '@SET "MAMBA_EXE={p}\\Library\\bin\\mamba.exe"',
             '@SET "MAMBA_ROOT_PREFIX={p}"',
             '@CALL "%MAMBA_EXE%" %*',
             "@EXIT /B %ERRORLEVEL%")
MAMBA_HOOK_BAT = ("@REM mamba stand-in (condabin\\mamba_hook.bat of mamba 2.x)",
                  '@SET "MAMBA_EXE={p}\\Library\\bin\\mamba.exe"',
                  '@SET "MAMBA_ROOT_PREFIX={p}"',
                  '@SET "PATH=%MAMBA_ROOT_PREFIX%\\condabin;%PATH%"')


def windows_packages() -> list[Package]:
    """win-64 builds of conda, mamba and uv (see the module docstring)."""
    placeholder = Package("x", "0").placeholder
    conda = Package("conda", "25.1.1", "py_1", 1, "win-64", depends=["python >=3.9"], files={
        "Scripts/conda.exe": entry_point(_version_main("conda 25.1.1"), "..\\python.exe"),
        "condabin/conda.bat": _bat('@"%~dp0..\\Scripts\\conda.exe" %*',
                                   "@EXIT /B %ERRORLEVEL%"),
        "etc/conda/activate.d/standin-conda.bat": _bat('@SET "STANDIN_ACTIVATE_D=1"'),
    })
    mamba = Package("mamba", "2.1.1", "1", 1, "win-64", files={
        "Library/bin/mamba.exe": entry_point(_version_main("mamba 2.1.1"),
                                             "..\\..\\python.exe"),
        "condabin/mamba.bat": _bat(*(line.format(p=placeholder) for line in MAMBA_BAT)),
        "condabin/mamba_hook.bat": _bat(*(line.format(p=placeholder)
                                          for line in MAMBA_HOOK_BAT)),
        "etc/conda/env_vars.d/mamba-standin.json":
            json.dumps({"standin_env_vars_d": "from-env-vars-d"}).encode(),
    }, prefix_files={"condabin/mamba.bat": "text", "condabin/mamba_hook.bat": "text"})
    uv = Package("uv", "0.5.31", "1", 1, "win-64", files={
        "Scripts/uv.exe": entry_point(_version_main("uv 0.5.31"), "..\\python.exe")})
    return [conda, mamba, uv]


def interpreter() -> str:
    """``python.exe`` of the running CPython in the zip layout (the module docstring), built
    once into the temp folder under a name keyed by the interpreter: the stand-in runs on
    it (zipimport spares Wine a file lookup per module: ~0.3 s per start) and each prefix's
    ``python`` package is a copy of it."""
    base = Path(sys.base_prefix)
    key = hashlib.sha256(f"{sys.version}|{base}".encode()).hexdigest()[:12]
    target = Path(tempfile.gettempdir(), f"standin-python-{key}")
    if not (target / "python.exe").is_file():
        partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        _lay_out(base, partial)
        try:
            partial.rename(target)
        except OSError:  # another test session made it first
            shutil.rmtree(partial, ignore_errors=True)
    return str(target / "python.exe")


def _lay_out(base: Path, target: Path) -> None:
    """python.exe with the DLLs beside it, ``DLLs\\``, ``Lib\\os.py`` (the landmark that
    makes the folder ``sys.prefix``) and the standard library as ``python3XY.zip``."""
    (target / "Lib" / "site-packages").mkdir(parents=True)
    for path in base.iterdir():
        if path.is_file() and path.suffix.lower() in (".exe", ".dll"):
            shutil.copyfile(path, target / path.name)
    shutil.copytree(base / "DLLs", target / "DLLs")
    shutil.copyfile(base / "Lib" / "os.py", target / "Lib" / "os.py")
    name = "python{}{}.zip".format(*sys.version_info[:2])
    (target / name).write_bytes(_stdlib_bytes(base / "Lib"))


def _stdlib_bytes(lib: Path) -> bytes:
    from tests.standin.fixtures import _unchecked_pyc as unchecked_pyc

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for folder, dirs, files in os.walk(lib):
            dirs[:] = sorted(d for d in dirs if d not in STDLIB_SKIP)
            for filename in sorted(f for f in files if f.endswith(".py")):
                path = Path(folder, filename)
                rel = path.relative_to(lib).as_posix()
                source = path.read_bytes()
                try:
                    pyc = unchecked_pyc(source, rel)
                except SyntaxError:  # lib2to3-style test data
                    continue
                archive.writestr(zipfile.ZipInfo(rel, ZIP_DATE), source)
                archive.writestr(zipfile.ZipInfo(rel + "c", ZIP_DATE), pyc)
    return buffer.getvalue()
