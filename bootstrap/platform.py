"""The one place where Windows and POSIX differ in data: decided once, passed around.

Behaviour that differs (activation text, process launching, links) lives in the module
that owns it, in one class or function per platform picked by ``Platform.name``.
"""

from __future__ import annotations

import os
import platform as _stdlib_platform
from dataclasses import dataclass
from pathlib import PurePath, PurePosixPath, PureWindowsPath

IS_WINDOWS = os.name == "nt"


@dataclass(frozen=True)
class Platform:
    """Static facts about one platform family, usable on any host for pure functions."""

    name: str  # "windows" or "posix"
    path_type: type[PurePath]
    pathsep: str
    exe_suffix: str
    env_case_insensitive: bool
    script_suffixes: tuple[str, ...]  # post-install scripts run on this platform, in this order
    activate_d_suffix: str

    @property
    def is_windows(self) -> bool:
        return self.name == "windows"

    def path(self, value: str | PurePath) -> PurePath:
        return self.path_type(value)

    def prefix_path_dirs(self, prefix: PurePath) -> list[PurePath]:
        """Folders of PREFIX that go on PATH, in micromamba's order (contract section 4.1)."""
        if self.is_windows:
            return [
                prefix,
                prefix / "Library" / "mingw-w64" / "bin",
                prefix / "Library" / "usr" / "bin",
                prefix / "Library" / "bin",
                prefix / "Scripts",
                prefix / "bin",
                prefix / "condabin",
            ]
        return [prefix / "bin", prefix / "condabin"]

    def python_exe(self, prefix: PurePath) -> PurePath:
        return prefix / "python.exe" if self.is_windows else prefix / "bin" / "python"

    def micromamba_name(self) -> str:
        return "micromamba" + self.exe_suffix


WINDOWS = Platform(
    name="windows",
    path_type=PureWindowsPath,
    pathsep=";",
    exe_suffix=".exe",
    env_case_insensitive=True,
    script_suffixes=(".bat", ".cmd", ".ps1", ".py"),
    activate_d_suffix=".bat",
)
POSIX = Platform(
    name="posix",
    path_type=PurePosixPath,
    pathsep=":",
    exe_suffix="",
    env_case_insensitive=False,
    script_suffixes=(".sh", ".py"),
    activate_d_suffix=".sh",
)
CURRENT = WINDOWS if IS_WINDOWS else POSIX

# conda subdirs micromamba is released for (contract section 1.1).
SUBDIRS = ("linux-64", "linux-aarch64", "linux-ppc64le", "osx-64", "osx-arm64", "win-64")


def conda_subdir(system: str, machine: str) -> str | None:
    """Map ``platform.system()`` and ``platform.machine()`` to a conda subdir (or None)."""
    os_part = {"linux": "linux", "darwin": "osx", "windows": "win"}.get(system.lower())
    arch = machine.lower()
    arch_part = {
        "x86_64": "64",
        "amd64": "64",
        "aarch64": "aarch64",
        "arm64": "arm64" if os_part == "osx" else "aarch64",
        "ppc64le": "ppc64le",
    }.get(arch)
    if os_part is None or arch_part is None:
        return None
    subdir = f"{os_part}-{arch_part}"
    return subdir if subdir in SUBDIRS else None


def host_subdir() -> str | None:
    """The conda subdir of this machine."""
    return conda_subdir(_stdlib_platform.system(), _stdlib_platform.machine())


def platform_for_subdir(subdir: str) -> Platform:
    return WINDOWS if subdir.startswith("win-") else POSIX

