"""Context of one invocation: root prefix, rc files, environment variables, target
prefix and package dirs (contract 3.1-3.3).
"""

from __future__ import annotations

import os
import platform as _platform
import re
import sys
from pathlib import Path
from typing import Any

from .cli import Parsed
from .common import LOG_LEVELS, MambaError, Output, log, yaml_bool
from .specs import parse_yaml, yaml_flow_list

ENV_FLAGS = {
    "yes": "MAMBA_ALWAYS_YES", "offline": "MAMBA_OFFLINE", "dry_run": "MAMBA_DRY_RUN",
    "json": "MAMBA_JSON", "quiet": "MAMBA_QUIET", "no_rc": "MAMBA_NO_RC",
    "use_uv": "MAMBA_USE_UV", "download_only": "MAMBA_DOWNLOAD_ONLY",
    "always_copy": "MAMBA_ALWAYS_COPY", "override_channels": "MAMBA_OVERRIDE_CHANNELS",
    "changeps1": "MAMBA_CHANGEPS1",
}
ENV_VALUES = {
    "log_level": ("MAMBA_LOG_LEVEL",), "platform": ("CONDA_SUBDIR", "MAMBA_PLATFORM"),
    "channel_priority": ("MAMBA_CHANNEL_PRIORITY",), "channel_alias": ("MAMBA_CHANNEL_ALIAS",),
    "prefix": ("MAMBA_TARGET_PREFIX",), "ssl_verify": ("MAMBA_SSL_VERIFY",),
}
RC_KEYS = {"yes": "always_yes", "channel_alias": "channel_alias", "platform": "platform",
           "channel_priority": "channel_priority", "offline": "offline", "changeps1": "changeps1"}


class Ctx:
    """Parsed CLI values with environment-variable and rc-file fallbacks."""

    def __init__(self, parsed: Parsed) -> None:
        self.parsed = parsed
        self.values = parsed.values
        self.no_env = bool(self.values.get("no_env")) or yaml_bool(os.environ.get("MAMBA_NO_ENV"))
        self.rc: dict[str, Any] = {}
        self.rc_sources: list[str] = []

    def env(self, name: str) -> str | None:
        return None if self.no_env else os.environ.get(name)

    def flag(self, dest: str, default: bool = False) -> bool:
        if dest in self.values:
            return bool(self.values[dest])
        var = ENV_FLAGS.get(dest)
        if var and self.env(var) is not None:
            return yaml_bool(self.env(var))
        rc_key = RC_KEYS.get(dest)
        if rc_key and rc_key in self.rc:
            return yaml_bool(str(self.rc[rc_key]))
        return default

    def value(self, dest: str) -> str | None:
        if self.values.get(dest) is not None:
            return str(self.values[dest])
        for var in ENV_VALUES.get(dest, ()):
            if self.env(var):
                return self.env(var)
        rc_key = RC_KEYS.get(dest)
        if rc_key and self.rc.get(rc_key):
            return str(self.rc[rc_key])
        return None

    def many(self, dest: str) -> list[str]:
        return [str(v) for v in self.values.get(dest, [])]

    def positionals(self, name: str) -> list[str]:
        return list(self.parsed.positionals.get(name, []))


def home_dir() -> str:
    """libmamba's user_home_dir(): on Windows USERPROFILE, else HOMEDRIVE + HOMEPATH, else an
    error (never a relative ``~``); elsewhere HOME, else the password database."""
    if os.name == "nt":
        home = os.environ.get("USERPROFILE") or \
            os.environ.get("HOMEDRIVE", "") + os.environ.get("HOMEPATH", "")
        if not home:
            raise MambaError("Cannot determine HOME (checked USERPROFILE, HOMEDRIVE and "
                             "HOMEPATH env vars)")
        return home
    return os.path.expanduser("~")


def expand(path: str) -> str:
    if path == "~" or path.startswith("~/"):
        path = home_dir() + path[1:]
    return os.path.realpath(os.path.abspath(path)).rstrip(os.sep) or os.sep


def host_platform() -> str:
    machine = _platform.machine().lower()
    arch = {"x86_64": "64", "amd64": "64", "arm64": "arm64", "aarch64": "aarch64"}.get(machine,
                                                                                    machine)
    if sys.platform.startswith("win"):
        return "win-64"
    if sys.platform == "darwin":
        return "osx-arm64" if arch in ("arm64", "aarch64") else "osx-64"
    return f"linux-{arch}"


def setup_output(ctx: Ctx) -> None:
    level = ctx.value("log_level")
    if level is None:
        if ctx.flag("json"):
            level = "critical"
        else:
            level = ("warning", "info", "debug", "trace")[min(int(ctx.values.get("verbose", 0)), 3)]
    Output.level = LOG_LEVELS.index(level.lower()) if level.lower() in LOG_LEVELS else 3
    Output.quiet = ctx.flag("quiet") or ctx.flag("json")


def user_data_dir() -> str:
    return os.environ.get("XDG_DATA_HOME") or os.path.join(home_dir(), ".local", "share")


def user_config_dir() -> str:
    return os.environ.get("XDG_CONFIG_HOME") or os.path.join(home_dir(), ".config")


def user_cache_dir() -> str:
    return os.environ.get("XDG_CACHE_HOME") or os.path.join(home_dir(), ".cache")


def explicit_root(ctx: Ctx) -> str:
    """-r or MAMBA_ROOT_PREFIX (read even with --no-env), expanded; "" when neither is set."""
    value = ctx.values.get("root_prefix") or os.environ.get("MAMBA_ROOT_PREFIX")
    return expand(str(value)) if value else ""


def is_root_like(path: str) -> bool:
    return any(os.path.exists(os.path.join(path, d)) for d in ("pkgs", "conda-meta", "envs"))


def root_prefix(ctx: Ctx) -> str:
    root = explicit_root(ctx)
    if root:
        return root
    if os.environ.get("MAMBA_DEFAULT_ROOT_PREFIX"):
        log("warning", "'MAMBA_DEFAULT_ROOT_PREFIX' is meant for testing purpose.\n"
                       "Consider using 'MAMBA_ROOT_PREFIX' instead")
        return expand(os.environ["MAMBA_DEFAULT_ROOT_PREFIX"])
    legacy = os.path.join(home_dir(), "micromamba")
    if os.path.isdir(legacy) and is_root_like(legacy):
        return expand(legacy)
    candidate = os.path.join(user_data_dir(), "mamba")
    if os.path.exists(candidate):
        if not os.path.isdir(candidate):
            raise MambaError(f'Could not use default root_prefix "{candidate}": Not a directory.')
        if os.listdir(candidate) and not is_root_like(candidate):
            raise MambaError(
                f'Could not use default root_prefix "{candidate}": Directory exists, is not '
                f"empty and not a conda prefix. Please set explicitly `MAMBA_ROOT_PREFIX` to "
                f'"{candidate}" to skip this error.')
    return expand(candidate)


def rc_candidates(ctx: Ctx, root: str, prefix: str) -> list[str]:
    home, conf = home_dir(), user_config_dir()
    names = (".condarc", "condarc", ".mambarc")
    dirs = ["/etc/conda", "/var/lib/conda", root, os.path.join(conf, "conda"),
            os.path.join(home, ".conda"), os.path.join(conf, "mamba"), os.path.join(home, ".mamba")]
    found = [os.path.join(d, n) for d in dirs if d for n in names]
    found += [os.path.join(home, ".condarc"), os.path.join(home, ".mambarc")]
    if os.environ.get("CONDA_PREFIX"):
        found += [os.path.join(os.environ["CONDA_PREFIX"], n) for n in names]
    if prefix:
        found += [os.path.join(prefix, n) for n in names]
    return found


def load_config(ctx: Ctx, root: str = "", prefix: str = "") -> None:
    """rc_files hook: --no-rc conflicts, then read the rc files (simple YAML)."""
    rc_files = ctx.many("rc_file")
    if not rc_files:
        rc_files = [v for v in (ctx.env("MAMBARC"), ctx.env("CONDARC")) if v]
    if ctx.flag("no_rc"):
        if rc_files:
            raise MambaError("Incompatible configuration. Aborting.",
                             "Configuration files disabled by 'no_rc'")
        return
    for path in rc_files:
        if not os.path.isfile(path):
            raise MambaError(f"Configuration file specified but does not exist at '{path}'")
    sources = rc_files or [p for p in rc_candidates(ctx, root, prefix) if os.path.isfile(p)]
    merged: dict[str, Any] = {}
    for path in reversed(sources):
        try:
            data = parse_yaml(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for key, value in data.items():
            if isinstance(value, list) and isinstance(merged.get(key), list):
                merged[key] = value + [v for v in merged[key] if v not in value]
            else:
                merged[key] = value
    ctx.rc, ctx.rc_sources = merged, sources


def env_prefix(root: str, name: str) -> str:
    return root if name == "base" else os.path.join(root, "envs", name)


def target_prefix(ctx: Ctx, root: str, file_name: str = "", fallback: bool = False) -> str:
    prefix = ctx.value("prefix") or ""
    name = str(ctx.values.get("name") or "")
    if name and ctx.values.get("prefix"):
        raise MambaError("Aborting.", "Cannot set both prefix and env name")
    name = name or ("" if prefix else file_name)
    if name:
        if not explicit_root(ctx):
            log("warning", "You have not set the root prefix environment variable.\n"
                           "To permanently modify the root prefix location, either:\n"
                           "  - set the 'MAMBA_ROOT_PREFIX' environment variable\n"
                           "  - use the '-r,--root-prefix' CLI option\n"
                           "  - use 'micromamba shell init ...' to initialize your shell\n"
                           "    (then restart or source the contents of the shell init script)\n"
                           f'Continuing with default value: "{root}"')
        return env_prefix(root, name)
    if not prefix and fallback:
        prefix = os.environ.get("CONDA_PREFIX") or os.environ.get("CONDA_DEFAULT_ENV") or root
    if prefix and not re.search(r"[/\\]", prefix):
        old, prefix = prefix, os.path.join(root, "envs", prefix)
        log("warning", f"'{old}' does not contain any filesystem separator.\n"
                       "It will be handled as env name, resulting to the following\n"
                       f"'target_prefix': '{prefix}'\n"
                       "If 'target_prefix' is expressed as a relative directory to\n"
                       "the current working directory, use './some_prefix'")
    return expand(prefix) if prefix else ""


def pkgs_dirs(ctx: Ctx, root: str) -> list[str]:
    dirs = [str(d) for d in yaml_flow_list(ctx.env("CONDA_PKGS_DIRS") or "")]
    rc_dirs = ctx.rc.get("pkgs_dirs")
    if isinstance(rc_dirs, list):
        dirs += [str(d) for d in rc_dirs]
    dirs += [os.path.join(root, "pkgs"), os.path.join(home_dir(), ".mamba", "pkgs")]
    return [expand(d) for d in dirs]


def channel_priority(ctx: Ctx) -> str:
    value = ctx.value("channel_priority")
    if ctx.flag("strict_channel_priority"):
        if value and value != "strict":
            raise MambaError("Cannot set both 'strict_channel_priority' and 'channel_priority'.")
        return "strict"
    if ctx.flag("no_channel_priority"):
        return "disabled"
    return value or "flexible"
