"""Health checks as pure decisions: each takes plain facts (gathered elsewhere, through the
Windows seams in ``windows`` on that platform) and returns a ``Check`` with its status and
the concrete fix. Preflight prints the warnings; ``doctor`` prints them all."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePath
from urllib.parse import urlsplit

from bootstrap import environ
from bootstrap.platform import Platform

OK, WARN, FAIL = "ok", "warn", "fail"
MAX_PATH = 260  # Windows' classic limit, including the terminating NUL
DEEPEST_IN_PREFIX = 120  # a deep package file below the prefix (Lib\site-packages\...)
DEEPEST_IN_PACKAGE = 60 + DEEPEST_IN_PREFIX  # <name-version-build>\ + the same file
CMD_METACHARACTERS = "&^%!()|<>;,=`'\""
LINKLESS_FILESYSTEMS = {"vfat", "fat", "fat32", "exfat", "msdos"}


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok, warn, fail
    detail: str
    fix: str = ""

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail,
                "fix": self.fix}


def inherited_variables(env: Mapping[str, str]) -> Check:
    found = environ.inherited_variables(env)
    if not found:
        return Check("shell variables", OK, "no Python/conda variables inherited")
    return Check("shell variables", WARN, "inherited: " + ", ".join(found),
                 "mambaboot removes them from every child; --strict refuses to run with "
                 "them. Open a fresh terminal to get rid of them.")


def path_hazards(label: str, path: str) -> Check:
    """Spaces, non-ASCII characters and cmd metacharacters break packages' own scripts
    (unquoted shebangs conda-pack#311, cmd activation mamba#605, mamba#3097, pixi#3714)."""
    problems = []
    if " " in path:
        problems.append("spaces")
    if not path.isascii():
        problems.append("non-ASCII characters")
    metas = sorted({c for c in path if c in CMD_METACHARACTERS})
    if metas:
        problems.append("cmd metacharacters " + " ".join(metas))
    if not problems:
        return Check(f"{label} path", OK, path)
    return Check(f"{label} path", WARN, f"{path} has " + ", ".join(problems),
                 "Some packages' scripts break on such paths; prefer a short plain path "
                 r"such as C:\envs (--envs-dir, --prefix, --cache-dir).")


def channel_url(channel: str) -> str:
    """A channel name means conda's default channel alias."""
    return channel if "://" in channel else f"https://conda.anaconda.org/{channel}"


def cache_layout(channel: str, subdir: str) -> str:
    """micromamba 2.x's nested cache folder for a channel (mamba#4163):
    ``https/<host>/<channel path>/<subdir>``."""
    url = channel_url(channel)
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f"_{parts.port}"
    return "/".join(p for p in (parts.scheme, host, parts.path.strip("/"), subdir) if p)


def projected_longest(prefix: PurePath, pkgs_dir: PurePath, channels: tuple[str, ...],
                      subdir: str) -> int:
    """The longest path a typical environment and its package cache will hold."""
    in_prefix = len(str(prefix)) + 1 + DEEPEST_IN_PREFIX
    layouts = [cache_layout(c, subdir) for c in channels] or [""]
    in_cache = len(str(pkgs_dir)) + 1 + max(len(x) for x in layouts) + 1 + DEEPEST_IN_PACKAGE
    return max(in_prefix, in_cache)


def path_budget(prefix: PurePath, pkgs_dir: PurePath, channels: tuple[str, ...], subdir: str,
                long_paths_enabled: bool) -> Check:
    """MAX_PATH: without LongPathsEnabled, deep package files fail to extract or link
    (mamba#991, mamba#4275); with it, cmd.exe still cannot run .bat files at long paths."""
    longest = projected_longest(prefix, pkgs_dir, channels, subdir)
    if longest < MAX_PATH:
        return Check("path length", OK, f"longest projected path {longest} characters")
    if long_paths_enabled:
        status, fix = OK, ("LongPathsEnabled is on; keep the prefix short anyway: cmd.exe "
                           "cannot run package .bat scripts at paths over 260 characters.")
        return Check("path length", status,
                     f"longest projected path {longest} characters (long paths enabled)", fix)
    return Check(
        "path length", WARN,
        f"longest projected path {longest} characters exceeds {MAX_PATH - 1} and "
        "LongPathsEnabled is off",
        r"Use shorter folders (for example --cache-dir C:\mb --envs-dir C:\envs), or enable "
        r"long paths as administrator: reg add HKLM\SYSTEM\CurrentControlSet\Control"
        r"\FileSystem /v LongPathsEnabled /t REG_DWORD /d 1 /f")


def autorun(entries: Mapping[str, str]) -> Check:
    """cmd.exe AutoRun (often left by `conda init`): reported, never changed."""
    if not entries:
        return Check("cmd AutoRun", OK, "no AutoRun command is set")
    shown = "; ".join(f"{hive}: {cmd}" for hive, cmd in entries.items())
    return Check("cmd AutoRun", WARN, shown,
                 "mambaboot starts cmd.exe with /D, so AutoRun does not run for it; if your "
                 "own cmd windows print errors at start, remove the value under "
                 r"Software\Microsoft\Command Processor (left by 'conda init').")


def appdata_mamba(folder: str, exists: bool) -> Check:
    """A leftover %APPDATA%\\mamba from `micromamba shell hook` makes a plain micromamba
    exit silently (mamba#4077, mamba#4230)."""
    if not exists:
        return Check("%APPDATA%\\mamba", OK, "not present")
    return Check("%APPDATA%\\mamba", WARN, f"{folder} exists",
                 "It is the known cause of micromamba exiting silently (mamba#4077). "
                 "mambaboot gives micromamba a private root and APPDATA, so it is not "
                 "affected; delete the folder if no other micromamba uses it.")


def filesystem(label: str, fstype: str) -> Check:
    """FAT32/exFAT sticks cannot hold links: micromamba must copy (slower, bigger)."""
    if fstype.lower() in LINKLESS_FILESYSTEMS:
        return Check(f"{label} file system", WARN, f"{fstype}: no hard or symbolic links",
                     "Packages are copied instead of linked (slower, more space); format "
                     "the stick as NTFS for speed.")
    return Check(f"{label} file system", OK, fstype or "unknown")


def code_page(page: int) -> Check:
    if page in (0, 65001):
        return Check("console code page", OK, str(page or "unknown"))
    return Check("console code page", OK, f"{page}",
                 "mambaboot sets PYTHONUTF8=1 for children; non-ASCII output of old tools "
                 "may still show as '?'.")


def windows_preflight(prefix: PurePath, pkgs_dir: PurePath, channels: tuple[str, ...],
                      subdir: str, facts: WindowsFacts) -> list[Check]:
    """The checks create runs before touching anything on Windows."""
    return [
        path_budget(prefix, pkgs_dir, channels, subdir, facts.long_paths_enabled),
        path_hazards("environment", str(prefix)),
        path_hazards("package cache", str(pkgs_dir)),
        autorun(facts.autorun),
        appdata_mamba(facts.appdata_mamba, facts.appdata_mamba_exists),
    ]


@dataclass(frozen=True)
class WindowsFacts:
    """What the Windows checks need, read once through ``windows`` (or made up in tests)."""

    long_paths_enabled: bool
    autorun: Mapping[str, str]
    appdata_mamba: str
    appdata_mamba_exists: bool

    @classmethod
    def read(cls, env: Mapping[str, str], platform: Platform) -> WindowsFacts:
        from pathlib import Path

        from bootstrap import windows  # Windows only

        appdata = environ.get(env, "APPDATA", platform) or ""
        folder = str(Path(appdata) / "mamba") if appdata else ""
        return cls(windows.long_paths_enabled(), windows.cmd_autorun(), folder,
                   bool(folder) and Path(folder).is_dir())
