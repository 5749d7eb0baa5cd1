"""Pure path rules: names, prefix folders, ``{drive}``, and the cache layout.

Everything here works on ``PurePath`` so Windows cases are tested on any host; callers
pass an ``exists`` function where a rule depends on what is on disk.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath, PurePosixPath, PureWindowsPath

from bootstrap.errors import ConfigError

Exists = Callable[[PurePath], bool]

MAX_NAME_LENGTH = 64
_PYTHON_RE = re.compile(r"^[23](\.\d{1,2}){1,2}$")
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                     *(f"LPT{i}" for i in range(1, 10))}
_BAD_NAME_CHARS = set('<>:"/\\|?*')


def validate_name(name: str) -> str:
    """An environment name must be usable as one folder name on every platform."""
    problem = _name_problem(name)
    if problem:
        raise ConfigError(
            f"Invalid environment name {name!r}: {problem}.",
            hint="Use letters, digits, '-', '_' or '.', for example: mambaboot create myenv 3.12",
        )
    return name


def _name_problem(name: str) -> str | None:
    if not name.strip():
        return "it is empty"
    if len(name) > MAX_NAME_LENGTH:
        return f"it is longer than {MAX_NAME_LENGTH} characters"
    if name in {".", ".."} or name != name.strip() or name.endswith("."):
        return "it cannot be '.', '..', end with a dot or have surrounding spaces"
    bad = sorted({c for c in name if c in _BAD_NAME_CHARS or ord(c) < 32})
    if bad:
        return "it contains " + " ".join(repr(c) for c in bad)
    if name.split(".", maxsplit=1)[0].upper() in _WINDOWS_RESERVED:
        return "it is a reserved device name on Windows"
    return None


def validate_python(version: str) -> str:
    """``3.12`` or ``3.12.4``; anything else is a usage error."""
    if not _PYTHON_RE.fullmatch(version):
        raise ConfigError(
            f"Invalid Python version {version!r}.",
            hint="Give major.minor or major.minor.patch, for example 3.12 or 3.11.9.",
        )
    return version


def prefix_folder_name(name: str, python: str | None) -> str:
    """The reference script's naming: ``py`` + ``3.12`` -> ``py_3_12``."""
    return f"{name}_{python.replace('.', '_')}" if python else name


def python_spec(python: str | None) -> str:
    return f"python={python}" if python else "python"


def drive_anchor(path: PurePath, is_mount: Callable[[PurePath], bool]) -> PurePath:
    """The root of the drive ``path`` is on: ``E:\\`` on Windows, the mount point elsewhere."""
    if isinstance(path, PureWindowsPath):
        return PureWindowsPath(path.anchor)
    for candidate in (path, *path.parents):
        if is_mount(candidate):
            return candidate
    return type(path)(path.anchor)  # the path's own flavour, whatever the host


def expand_drive(value: str, drive: PurePath) -> str:
    """Replace ``{drive}`` by the drive root without its trailing separator.

    ``{drive}\\CACHE`` with drive ``E:\\`` gives ``E:\\CACHE``; on POSIX with drive ``/``
    ``{drive}/CACHE`` gives ``/CACHE``.
    """
    if "{drive}" not in value:
        return value
    root = str(drive).rstrip("/\\")
    return value.replace("{drive}", root)


def default_envs_dir(drive: PurePath, cwd: PurePath, exists: Exists) -> PurePath:
    """``{drive}/dev/Anaconda/envs`` when it exists (the reference layout), else the cwd."""
    candidate = drive / "dev" / "Anaconda" / "envs"
    return candidate if exists(candidate) else cwd


def default_cache_dir(drive: PurePath, user_cache: PurePath, exists: Exists) -> PurePath:
    """``{drive}/CACHE`` when it exists (a prepared USB stick), else the per-user cache."""
    candidate = drive / "CACHE"
    return candidate if exists(candidate) else user_cache


def pkgs_dir(cache: PurePath, exists: Exists) -> PurePath:
    """``CACHE/pkgs``, except that the reference script's ``CACHE/Python/pkgs`` is kept."""
    legacy = cache / "Python" / "pkgs"
    return legacy if exists(legacy) else cache / "pkgs"


def prefix_key(prefix: PurePath) -> str:
    """A short, stable file name for a prefix (its locks and claims)."""
    return hashlib.sha256(os.path.normcase(str(prefix)).encode()).hexdigest()[:24]


@dataclass(frozen=True)
class CacheLayout:
    """Where mambaboot keeps things inside the cache folder."""

    cache: PurePath

    @property
    def root(self) -> PurePath:
        """micromamba's private root prefix (``-r``), never the user's."""
        return self.cache / "root"

    @property
    def profile(self) -> PurePath:
        """HOME/USERPROFILE/APPDATA/XDG_* for micromamba's process point in here."""
        return self.root / "profile"

    @property
    def state(self) -> PurePath:
        """mambaboot's own bookkeeping: claims of prefixes being created, locks."""
        return self.root / "mambaboot"

    @property
    def logs(self) -> PurePath:
        return self.cache / "logs"

    def micromamba_dir(self, version: str) -> PurePath:
        return self.cache / "micromamba" / version


def user_cache_dir(system: str, environ: dict[str, str] | None, home: PurePath) -> PurePath:
    """The per-user cache folder when no ``{drive}/CACHE`` exists."""
    env = environ or {}
    if system == "windows":
        base = env.get("LOCALAPPDATA")
        return PureWindowsPath(base) / "mambaboot" if base else home / "AppData/Local/mambaboot"
    if system == "darwin":
        return home / "Library" / "Caches" / "mambaboot"
    xdg = env.get("XDG_CACHE_HOME")
    return (PurePosixPath(xdg) if xdg else home / ".cache") / "mambaboot"
