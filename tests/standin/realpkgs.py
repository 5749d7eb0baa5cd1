"""A channel of real conda packages, built from what this machine has, for the tests that
run the real micromamba (and for the stand-in, which must install the same channel).

- ``python``: the interpreter tree the tests run on (``sys.base_prefix``, or a tree of the
  same minor version under pyenv), trimmed: no ``site-packages`` content, test suites,
  ``idlelib``, ``tkinter``, ``ensurepip``, ``lib2to3``, ``pydoc_data``, static library
  or ``__pycache__``. Its ELF files carry an absolute ``RUNPATH``
  (``/root/.pyenv/versions/3.11.7/lib``); it is rewritten in place to ``$ORIGIN``-relative
  paths (:mod:`tests.standin.elf`, what ``patchelf
  --set-rpath`` would do), so the interpreter loads its own ``libpython`` wherever it is
  installed. Debug information is stripped when ``strip`` is on the machine (size only).
  Text files naming the build prefix (``_sysconfigdata``, ``python3.X-config``, ``.pc``
  files, script shebangs) get conda's placeholder and an ``info/has_prefix`` line.
- ``pip``, ``packaging``: ``noarch: python`` packages made from the distributions installed
  in the running environment (their ``RECORD``), with their console scripts as entry points.
- ``conda``: the stand-in channel's ``noarch: python`` stand-in (``conda --version``) with
  an entry point and ``activate.d`` scripts; ``mamba`` and ``uv``: shell stand-ins (no
  real ones here).
- ``prefixdata`` and ``slowlink`` as in the stand-in channel (tests/standin/channel.py):
  placeholders in text and binary files, ``activate.d``, ``env_vars.d``, post-link scripts.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.standin import elf
from tests.standin.channel import (
    NOARCH_BUILD,
    PLACEHOLDER,
    ChannelFolder,
    Package,
    conda_package,
    host_subdir,
    prefixdata_package,
    python_packages,
    shell_tools,
    slowlink_package,
    write_channel,
)

SKIP_DIRS = frozenset({"__pycache__", "test", "tests", "idle_test", "idlelib", "tkinter",
                       "turtledemo", "ensurepip", "site-packages", "lib2to3", "pydoc_data"})
SKIP_FILES = re.compile(r".*\.(pyc|pyo|a|o)$|_test.*\.so$|_tkinter.*\.so$|xxlimited.*\.so$"
                        r"|.*-gdb\.py$")
BIN_NAMES = ("python{v}", "python3", "python", "python{v}-config", "python3-config",
             "python-config", "pydoc{v}", "pydoc3", "pydoc")
DIST_SKIP = ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")


@dataclass(frozen=True)
class Interpreter:
    """A CPython installation tree to package (``bin/pythonX.Y``, ``lib/pythonX.Y``)."""

    root: Path
    version: str  # X.Y.Z

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


def find_interpreter(minor: str | None = None) -> Interpreter | None:
    """The running interpreter's tree, else one of the same minor version under pyenv;
    ``MAMBABOOT_TEST_PYTHON_ROOT`` names one explicitly. A system tree (``/usr``) is not
    used: distributions patch its layout."""
    minor = minor or "{}.{}".format(*sys.version_info[:2])
    given = os.environ.get("MAMBABOOT_TEST_PYTHON_ROOT")
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = [Path(given)] if given else [
        Path(sys.base_prefix), *sorted(pyenv.glob(f"{minor}.*"), reverse=True),
        *sorted(Path("/root/.pyenv/versions").glob(f"{minor}.*"), reverse=True)]
    for root in candidates:
        exe = root / "bin" / f"python{minor}"
        if str(root) in ("/usr", "/") or not exe.is_file() or \
                not (root / "lib" / f"python{minor}" / "os.py").is_file():
            continue
        done = subprocess.run([str(exe), "-I", "-c", "import platform; "
                               "print(platform.python_version())"],
                              capture_output=True, text=True, check=False)
        if done.returncode == 0 and done.stdout.strip().startswith(minor + "."):
            return Interpreter(root, done.stdout.strip())
    return None


def _strip(data: bytes) -> bytes:
    """Debug information removed (``strip --strip-debug``), when binutils are here."""
    tool = shutil.which("strip")
    if tool is None:
        return data
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f"
        path.write_bytes(data)
        done = subprocess.run([tool, "--strip-debug", str(path)], capture_output=True,
                              check=False)
        return path.read_bytes() if done.returncode == 0 else data


def _relocatable_elf(data: bytes, rel: str) -> bytes:
    """A stripped ELF whose run path points at ``lib/`` relative to its own folder."""
    if elf.runpath(data) is None:
        return _strip(data) if elf.is_elf64le(data) else data
    data = _strip(data)
    up = os.path.relpath("lib", os.path.dirname(rel) or ".")
    return elf.relative_runpath(data, "$ORIGIN" if up == "." else f"$ORIGIN/{up}")


def _tree_files(interp: Interpreter) -> tuple[dict[str, bytes], dict[str, str]]:
    """The files and symlinks of the trimmed tree, by relative path."""
    root, v = interp.root, interp.minor
    wanted = [root / "bin" / n.format(v=v) for n in BIN_NAMES]
    wanted += [p for p in (root / "lib").glob("libpython*")]
    wanted += sorted((root / "lib" / "pkgconfig").glob("*.pc"))
    for dirpath, dirnames, filenames in os.walk(root / "lib" / f"python{v}"):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        wanted += [Path(dirpath) / f for f in sorted(filenames) if not SKIP_FILES.match(f)]
    files: dict[str, bytes] = {}
    links: dict[str, str] = {}
    for path in wanted:
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            links[rel] = os.readlink(path)
        elif path.is_file():
            files[rel] = path.read_bytes()
    files[f"lib/python{v}/site-packages/README.txt"] = \
        b"This directory exists so that 3rd party packages can be installed here.\n"
    return files, links


def python_package(interp: Interpreter) -> Package:
    """The interpreter as conda-forge ships it (``python-X.Y.Z-..._cpython``)."""
    files, links = _tree_files(interp)
    old = str(interp.root).encode()
    prefix_files: dict[str, str] = {}
    executables = []
    for rel, data in files.items():
        if elf.is_elf64le(data):
            files[rel] = _relocatable_elf(data, rel)
            executables.append(rel)
        elif old in data and b"\0" not in data:
            files[rel] = data.replace(old, PLACEHOLDER.encode())
            prefix_files[rel] = "text"
    nodot = interp.minor.replace(".", "")
    return Package("python", interp.version, f"h{nodot}_0_cpython", subdir=host_subdir(),
                   files=files, symlinks=links, prefix_files=prefix_files,
                   executables=tuple(executables))


def wheel_package(dist_name: str, depends: list[str] | None = None) -> Package:
    """A ``noarch: python`` package of an installed distribution (files from its RECORD,
    console scripts as entry points)."""
    dist = importlib.metadata.distribution(dist_name)
    files: dict[str, bytes] = {}
    for entry in dist.files or []:
        parts = entry.parts
        if parts[0] == ".." or "__pycache__" in parts or entry.suffix == ".pyc" or \
                (parts[0].endswith(".dist-info") and parts[-1] in DIST_SKIP):
            continue
        files["site-packages/" + entry.as_posix()] = Path(str(dist.locate_file(entry))).read_bytes()
    entry_points = sorted(f"{ep.name} = {ep.value}" for ep in dist.entry_points
                          if ep.group == "console_scripts")
    return Package(dist.metadata["Name"].lower(), dist.version, NOARCH_BUILD, noarch="python",
                   depends=depends or ["python >=3.8"], files=files,
                   entry_points=entry_points)


def real_packages(interp: Interpreter) -> list[Package]:
    """Everything the conformance tests install: ``python conda mamba uv`` and pip (which
    micromamba adds to python's dependencies), plus packaging, prefixdata and slowlink."""
    windows = [p for p in python_packages(interp.version) if p.subdir == "win-64"]
    return [python_package(interp), *windows, wheel_package("pip"), wheel_package("packaging"),
            conda_package(), *shell_tools(), prefixdata_package(), slowlink_package()]


def build_channel(root: Path, interp: Interpreter) -> ChannelFolder:
    """Write the channel into ``root`` (``<root>/<subdir>/repodata.json`` and archives)."""
    return write_channel(root, real_packages(interp))


def channel_key(interp: Interpreter) -> str:
    """Changes when anything the channel is made from changes (for a cache folder name)."""
    parts = [interp.root, interp.version, Path(__file__).read_bytes(),
             (Path(__file__).with_name("channel.py")).read_bytes(),
             *(importlib.metadata.version(d) for d in ("pip", "packaging"))]
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]
