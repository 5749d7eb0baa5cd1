"""Build small but real conda packages (.tar.bz2) and a conda channel folder for tests.

A channel is ``<root>/<subdir>/repodata.json`` plus the archives next to it; ``noarch`` is
always present. Archives are reproducible (fixed mtimes, sorted members), so their md5 and
sha256 are stable from one build to the next.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import platform
import sys
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PLACEHOLDER = "/opt/anaconda1anaconda2anaconda3"
# conda-build pads binary placeholders to 255 characters so any real prefix fits.
LONG_PLACEHOLDER = (PLACEHOLDER + "_placehold" * 23)[:255]
TIMESTAMP = 1_700_000_000_000  # ms, as in repodata
MTIME = 1_700_000_000


@dataclass
class Package:
    """One conda package. ``files`` maps a relative path to its content."""

    name: str
    version: str
    build: str = "0"
    build_number: int = 0
    subdir: str = "noarch"
    depends: list[str] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    prefix_files: dict[str, str] = field(default_factory=dict)  # path -> "text" | "binary"
    placeholder: str = PLACEHOLDER  # used by "text" files
    binary_placeholder: str = LONG_PLACEHOLDER  # used by "binary" files
    post_link: str | None = None  # bash script text -> bin/.<name>-post-link.sh
    executables: tuple[str, ...] = ()  # extra paths to mark 0o755 (bin/* always are)
    symlinks: dict[str, str] = field(default_factory=dict)  # path -> relative target
    noarch: str = "generic"  # for subdir "noarch": "generic" or "python"
    entry_points: list[str] = field(default_factory=list)  # "cmd = module:func" (python)

    @property
    def fn(self) -> str:
        return f"{self.name}-{self.version}-{self.build}.tar.bz2"

    @property
    def dist(self) -> str:
        return f"{self.name}-{self.version}-{self.build}"

    def all_files(self) -> dict[str, bytes]:
        files = dict(self.files)
        if self.post_link is not None:
            files[f"bin/.{self.name}-post-link.sh"] = self.post_link.encode()
        return files

    def is_executable(self, path: str) -> bool:
        return path.startswith(("bin/", "Scripts/", "Library/bin/")) or path in self.executables

    def placeholder_for(self, path: str) -> str:
        return self.binary_placeholder if self.prefix_files[path] == "binary" else self.placeholder

    def index(self) -> dict[str, Any]:
        index: dict[str, Any] = {
            "name": self.name, "version": self.version, "build": self.build,
            "build_number": self.build_number, "depends": list(self.depends),
            "subdir": self.subdir, "license": "BSD-3-Clause", "timestamp": TIMESTAMP,
        }
        if self.subdir == "noarch":
            index["noarch"] = self.noarch
        else:
            index["platform"], _, arch = self.subdir.partition("-")
            index["arch"] = {"64": "x86_64"}.get(arch, arch)
        return index


def _paths_json(pkg: Package, files: dict[str, bytes]) -> dict[str, Any]:
    paths = []
    for path in sorted([*files, *pkg.symlinks]):
        if path in pkg.symlinks:
            paths.append({"_path": path, "path_type": "softlink", "size_in_bytes": 0})
            continue
        entry: dict[str, Any] = {
            "_path": path, "path_type": "hardlink",
            "sha256": hashlib.sha256(files[path]).hexdigest(), "size_in_bytes": len(files[path]),
        }
        if path in pkg.prefix_files:
            entry["prefix_placeholder"] = pkg.placeholder_for(path)
            entry["file_mode"] = pkg.prefix_files[path]
        paths.append(entry)
    return {"paths": paths, "paths_version": 1}


def _metadata(pkg: Package, files: dict[str, bytes]) -> dict[str, bytes]:
    has_prefix = "".join(f"{pkg.placeholder_for(p)} {pkg.prefix_files[p]} {p}\n"
                         for p in sorted(pkg.prefix_files))
    meta = {
        "info/index.json": json.dumps(pkg.index(), indent=2, sort_keys=True),
        "info/paths.json": json.dumps(_paths_json(pkg, files), indent=2, sort_keys=True),
        "info/files": "".join(f"{p}\n" for p in sorted([*files, *pkg.symlinks])),
        "info/about.json": json.dumps({"summary": f"{pkg.name} (test stand-in package)"}),
    }
    if has_prefix:
        meta["info/has_prefix"] = has_prefix
    if pkg.noarch == "python" and pkg.subdir == "noarch":  # conda-build's link.json
        meta["info/link.json"] = json.dumps({
            "noarch": {"type": "python", "entry_points": list(pkg.entry_points)},
            "package_metadata_version": 1}, indent=2)
    return {k: v.encode() for k, v in meta.items()}


def build_package(pkg: Package) -> bytes:
    """The ``.tar.bz2`` bytes of ``pkg`` (info/ metadata first, then the files)."""
    files = pkg.all_files()
    missing = set(pkg.prefix_files) - set(files)
    if missing:
        raise ValueError(f"prefix_files not in files: {sorted(missing)}")
    members = {**_metadata(pkg, files), **files}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:bz2") as archive:
        for path in sorted([*members, *pkg.symlinks],
                           key=lambda p: (not p.startswith("info/"), p)):
            info = tarfile.TarInfo(path)
            info.mtime = MTIME
            if path in pkg.symlinks:
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, pkg.symlinks[path], 0o777
                archive.addfile(info)
                continue
            info.size = len(members[path])
            info.mode = 0o755 if pkg.is_executable(path) else 0o644
            archive.addfile(info, io.BytesIO(members[path]))
    return buffer.getvalue()


def repodata_record(pkg: Package, archive: bytes) -> dict[str, Any]:
    record = pkg.index()
    record.update(md5=hashlib.md5(archive).hexdigest(),  # noqa: S324
                  sha256=hashlib.sha256(archive).hexdigest(), size=len(archive))
    return record


@dataclass
class ChannelFolder:
    """A channel written to disk: ``records[(subdir, fn)]`` are its repodata entries."""

    root: Path
    packages: list[Package]
    records: dict[tuple[str, str], dict[str, Any]]

    def archive(self, pkg: Package | str, subdir: str | None = None) -> Path:
        """Path of the archive of a package (given as Package or by name)."""
        if isinstance(pkg, Package):
            return self.root / pkg.subdir / pkg.fn
        for candidate in self.packages:
            if candidate.name == pkg and subdir in (None, candidate.subdir):
                return self.root / candidate.subdir / candidate.fn
        raise KeyError(pkg)


def host_subdir() -> str:
    """The conda subdir of this machine (linux-64, osx-arm64, win-64, ...)."""
    machine = platform.machine().lower()
    arch = {"x86_64": "64", "amd64": "64", "arm64": "arm64"}.get(machine, machine)
    if sys.platform.startswith("win"):
        return "win-64"
    if sys.platform == "darwin":
        return "osx-arm64" if arch in ("arm64", "aarch64") else "osx-64"
    return f"linux-{arch}"


def write_channel(root: Path, packages: Iterable[Package],
                  subdirs: Iterable[str] | None = None) -> ChannelFolder:
    """Write archives and ``<subdir>/repodata.json`` for every subdir.

    ``noarch`` and ``subdirs`` (default: this machine's subdir) get a repodata.json even
    when empty, like a real channel: micromamba fails on a 404 for either.
    """
    packages = list(packages)
    wanted = [host_subdir()] if subdirs is None else list(subdirs)
    subdirs = {"noarch", *wanted} | {p.subdir for p in packages}
    records: dict[tuple[str, str], dict[str, Any]] = {}
    for subdir in sorted(subdirs):
        folder = root / subdir
        folder.mkdir(parents=True, exist_ok=True)
        entries: dict[str, Any] = {}
        for pkg in (p for p in packages if p.subdir == subdir):
            archive = build_package(pkg)
            (folder / pkg.fn).write_bytes(archive)
            entries[pkg.fn] = records[(subdir, pkg.fn)] = repodata_record(pkg, archive)
        repodata = {"info": {"subdir": subdir}, "packages": entries, "packages.conda": {},
                    "removed": [], "repodata_version": 1}
        (folder / "repodata.json").write_text(json.dumps(repodata, indent=2, sort_keys=True),
                                              encoding="utf-8")
    return ChannelFolder(root, packages, records)


def running_python_version() -> str:
    return "{}.{}.{}".format(*sys.version_info[:3])


def python_packages(version: str) -> list[Package]:
    major_minor = ".".join(version.split(".")[:2])
    linux = Package("python", version, f"h{major_minor.replace('.', '')}_0_cpython",
                    subdir="linux-64",
                    files={f"lib/python{major_minor}/standin-python.txt":
                           b"stand-in python package; the interpreter comes from venv\n"})
    windows = Package("python", version, f"h{major_minor.replace('.', '')}_0_cpython",
                      subdir="win-64",
                      files={"python.exe": b"MZ stand-in python.exe\n",
                             "Lib/standin-python.txt": b"stand-in python package\n"})
    return [linux, windows]


NOARCH_BUILD = "pyhd8ed1ab_0"  # conda-forge's build string for noarch: python
CONDA_MAIN = b'''"""conda stand-in: just enough to answer --version."""
import sys


def main() -> int:
    if sys.argv[1:2] == ["--version"]:
        print("conda 25.1.1")
        return 0
    print("conda stand-in: only --version is supported", file=sys.stderr)
    return 2
'''
PIP_MAIN = b'''"""pip stand-in: --version, as the real pip prints it."""
import os
import sys

import pip


def main() -> int:
    if sys.argv[1:2] == ["--version"]:
        where = os.path.dirname(pip.__file__)
        print(f"pip {pip.__version__} from {where} (python {sys.version_info[0]}."
              f"{sys.version_info[1]})")
        return 0
    print("pip stand-in: only --version is supported", file=sys.stderr)
    return 2
'''


def conda_package() -> Package:
    """``conda`` as a ``noarch: python`` package with an entry point, and
    ``activate.d`` scripts."""
    return Package("conda", "25.1.1", NOARCH_BUILD, noarch="python", depends=["python >=3.9"],
                   files={"site-packages/conda/__init__.py": b'__version__ = "25.1.1"\n',
                          "site-packages/conda/cli/__init__.py": b"",
                          "site-packages/conda/cli/main.py": CONDA_MAIN,
                          "etc/conda/activate.d/standin-conda.sh":
                              b"export STANDIN_ACTIVATE_D=1\n",
                          "etc/conda/activate.d/standin-conda.bat":
                              b'@SET "STANDIN_ACTIVATE_D=1"\n'},
                   entry_points=["conda = conda.cli.main:main"])


def pip_package() -> Package:
    """A small ``pip`` (``noarch: python``, entry points pip and pip3): micromamba adds pip
    to python's dependencies, so a channel needs one. The channel of real packages has the
    real pip (tests/standin/realpkgs.py)."""
    return Package("pip", "23.2.1", NOARCH_BUILD, noarch="python", depends=["python >=3.7"],
                   files={"site-packages/pip/__init__.py": b'__version__ = "23.2.1"\n',
                          "site-packages/pip/_internal/__init__.py": b"",
                          "site-packages/pip/_internal/cli/__init__.py": b"",
                          "site-packages/pip/_internal/cli/main.py": PIP_MAIN},
                   entry_points=["pip = pip._internal.cli.main:main",
                                 "pip3 = pip._internal.cli.main:main"])


PREFIXDATA_ACTIVATE = f'export PREFIXDATA_HOME="{PLACEHOLDER}/share/prefixdata"\n'
PREFIXDATA_TOOL = f'''#!{PLACEHOLDER}/bin/python
import sys
print("prefixdata-tool", sys.prefix)
'''
PREFIXDATA_POST_LINK = 'echo "prefixdata: linked into $PREFIX" >> "$PREFIX/.messages.txt"\n'


def prefixdata_package() -> Package:
    """Placeholders in text and binary files, activate.d, env_vars.d, a post-link message."""
    text = {
        "share/prefixdata/where.txt": f"prefix={PLACEHOLDER}\n",
        "etc/conda/activate.d/prefixdata.sh": PREFIXDATA_ACTIVATE,
        "lib/pkgconfig/prefixdata.pc": f"prefix={PLACEHOLDER}\nlibdir=${{prefix}}/lib\n"
                                       "Name: prefixdata\nVersion: 1.0.0\nDescription: test\n",
        "bin/prefixdata-tool": PREFIXDATA_TOOL,
    }
    binary = b"WHERE\0" + LONG_PLACEHOLDER.encode() + b"/share/prefixdata\0TAIL\0"
    files = {k: v.encode() for k, v in text.items()}
    files["share/prefixdata/where.bin"] = binary
    files["etc/conda/env_vars.d/prefixdata.json"] = json.dumps(
        {"PREFIXDATA_FROM_ENV_VARS_D": "yes"}).encode()
    return Package("prefixdata", "1.0.0", "0", files=files,
                   prefix_files={**dict.fromkeys(text, "text"),
                                 "share/prefixdata/where.bin": "binary"},
                   post_link=PREFIXDATA_POST_LINK)


SLOWLINK_POST_LINK = """# SLOWLINK_MARKER set: touch it, then take two minutes (a create to
# interrupt); the waiting shell names the marker in its command line, so a test sees it stop.
if [ -n "${SLOWLINK_MARKER:-}" ]; then
    sh -c 'touch "$0"; sleep 120; :' "$SLOWLINK_MARKER"
fi
"""


# the same for Windows (Scripts\.slowlink-post-link.bat, run by cmd.exe): the waiting
# python names the marker in its command line
SLOWLINK_POST_LINK_BAT = (b'@IF "%SLOWLINK_MARKER%"=="" EXIT /B 0\r\n'
                          b'@type nul > "%SLOWLINK_MARKER%"\r\n'
                          b'@"%PREFIX%\\python.exe" -c "import time; time.sleep(120)" '
                          b'"%SLOWLINK_MARKER%"\r\n')


def slowlink_package() -> Package:
    """A package whose post-link script holds micromamba's create when asked to."""
    return Package("slowlink", "1.0.0", "0", files={
        "share/slowlink/README": b"slow\n",
        "Scripts/.slowlink-post-link.bat": SLOWLINK_POST_LINK_BAT,
    }, post_link=SLOWLINK_POST_LINK)


def default_packages(python_version: str | None = None) -> list[Package]:
    """python (linux-64 + win-64), pip, conda, mamba, uv, prefixdata (relocation checks)
    and slowlink (interruption); conda, mamba and uv also as win-64 builds with Windows
    files (winstandin.py)."""
    from tests.standin.winstandin import windows_packages

    version = python_version or running_python_version()
    return [*python_packages(version), pip_package(), conda_package(), *shell_tools(),
            prefixdata_package(), slowlink_package(), *windows_packages()]


def shell_tools() -> list[Package]:
    """mamba and uv: shell stand-ins (no real ones on this machine)."""
    mamba = Package("mamba", "2.1.1", "0", files={
        "bin/mamba": b"#!/bin/sh\necho 'mamba 2.1.1'\n",
        "etc/conda/env_vars.d/mamba-standin.json":
            json.dumps({"standin_env_vars_d": "from-env-vars-d"}).encode(),
    })
    uv = Package("uv", "0.5.31", "0", files={"bin/uv": b"#!/bin/sh\necho 'uv 0.5.31'\n"})
    return [mamba, uv]


@functools.lru_cache(maxsize=4)  # the real binary is published for many tests
def build_micromamba_package(binary: bytes, subdir: str, version: str = "2.8.1",
                             build_number: int = 0) -> bytes:
    """A conda-forge style ``micromamba`` package holding ``binary`` (see contract 1.3)."""
    path = "Library/bin/micromamba.exe" if subdir.startswith("win") else "bin/micromamba"
    pkg = Package("micromamba", version, str(build_number), build_number, subdir,
                  files={path: binary})
    return build_package(pkg)
