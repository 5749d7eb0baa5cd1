"""Resolve what a run will do: command line, then the config file, then environment
variables, then defaults (DESIGN section 3.1). The result is one frozen ``Settings``."""

from __future__ import annotations

import hashlib
import os
import re
import string
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath, PureWindowsPath
from typing import Any, TypeVar

from bootstrap import config, environ, frozen, paths
from bootstrap.errors import ConfigError
from bootstrap.platform import CURRENT, Platform, host_subdir

_T = TypeVar("_T")
_OPTION_NAMES = {"name": "NAME (command line)", "python": "PYTHON (command line)",
                 "channels": "-c/--channel", "specs": "--spec"}
DEFAULT_CHANNELS = ("conda-forge",)
DEFAULT_SPECS = ("conda", "mamba", "uv")
DEFAULT_COPY = ("__shortcut__", "__home__", "__AppData__")
RELEASES = "https://github.com/mamba-org/micromamba-releases/releases"
DEFAULT_URL_TEMPLATE = RELEASES + "/download/{version}/micromamba-{platform}"
LATEST_URL_TEMPLATE = RELEASES + "/latest/download/micromamba-{platform}"
_VERSION_RE = re.compile(r"^(latest|\d+\.\d+\.\d+(?:[.-][0-9A-Za-z]+)*)$")
_SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass(frozen=True)
class Overrides:
    """What the command line said; None or empty means "not given"."""

    config: str | None = None
    name: str | None = None
    python: str | None = None
    prefix: str | None = None
    envs_dir: str | None = None
    cache_dir: str | None = None
    channels: tuple[str, ...] = ()
    specs: tuple[str, ...] = ()
    file: str | None = None
    micromamba: str | None = None
    micromamba_sha256: str | None = None
    ca_bundle: str | None = None
    allow_http: bool = False
    offline: bool = False
    always_copy: bool = False


@dataclass(frozen=True)
class Host:
    """The machine facts settings depend on, captured once so tests can pass their own."""

    platform: Platform
    cwd: Path
    app_dir: Path | None  # folder of the frozen executable; None when run from source
    environ: Mapping[str, str]
    drive: Path
    user_cache: Path | None  # None: no LOCALAPPDATA/XDG_CACHE_HOME and no home folder known
    subdir: str

    @classmethod
    def current(cls) -> Host:
        exe = frozen.executable()
        cwd = Path.cwd()
        anchor = exe if exe else cwd
        drive = Path(paths.drive_anchor(anchor, os.path.ismount))
        system = "windows" if CURRENT.is_windows else sys.platform
        cache = paths.user_cache_dir(system, dict(os.environ), _home())
        return cls(CURRENT, cwd, exe.parent if exe else None, dict(os.environ), drive,
                   Path(cache) if cache else None, host_subdir() or "unknown")


def _default_cache(host: Host) -> Path:
    """``{drive}/CACHE`` or the per-user cache, which needs a home folder or LOCALAPPDATA."""
    stick = host.drive / "CACHE"
    if host.user_cache is None and not _exists(stick):
        raise ConfigError("No cache folder: this environment names no home folder "
                          "(USERPROFILE, HOME) and no per-user cache folder (LOCALAPPDATA, "
                          "XDG_CACHE_HOME).",
                          hint="Give one with --cache-dir DIR, [cache] dir in the config file "
                               "or MAMBABOOT_CACHE_DIR.")
    return Path(paths.default_cache_dir(host.drive, host.user_cache or stick, _exists))


def _home() -> Path | None:
    """The home folder; None when the environment names none (Windows without USERPROFILE
    or HOMEDRIVE/HOMEPATH, as in a stripped service or CI environment)."""
    try:
        return Path.home()
    except (RuntimeError, KeyError):
        return None


@dataclass(frozen=True)
class MicromambaRequest:
    """Where micromamba should come from (DESIGN section 3.3), before anything is fetched."""

    version: str = "latest"
    path: Path | None = None
    url: str | None = None
    url_template: str = DEFAULT_URL_TEMPLATE
    sha256: str | None = None

    @property
    def cache_key(self) -> str:
        """The folder under ``CACHE/micromamba/``: the version, or for an explicit URL a
        name derived from it (a URL says nothing reliable about the version)."""
        if self.url:
            return "url-" + hashlib.sha256(self.url.encode()).hexdigest()[:12]
        return self.version

    def download_url(self, subdir: str) -> str:
        if self.url:
            return self.url
        template = self.url_template
        if self.version == "latest" and template == DEFAULT_URL_TEMPLATE:
            template = LATEST_URL_TEMPLATE
        return template.format(version=self.version, platform=subdir)


@dataclass(frozen=True)
class Settings:
    """Everything one run needs, fully resolved to absolute paths."""

    platform: Platform
    subdir: str
    name: str
    python: str | None
    specs: tuple[str, ...]
    channels: tuple[str, ...]
    env_file: Path | None
    prefix: Path
    envs_dir: Path
    cache_dir: Path
    pkgs_dir: Path
    micromamba: MicromambaRequest
    allow_http: bool
    ca_bundle: Path | None
    offline: bool
    config_file: Path | None
    config_dir: Path
    scripts_dir: Path | None
    copy_dirs: tuple[tuple[Path, str], ...] = field(default=())
    app_dir: Path | None = None
    always_copy: bool = False  # micromamba copies instead of linking (FAT/exFAT, --copy)

    @property
    def layout(self) -> paths.CacheLayout:
        return paths.CacheLayout(self.cache_dir)

    @property
    def root_dir(self) -> Path:
        return Path(self.layout.root)


def load_config(over: Overrides, host: Host) -> config.ConfigFile | None:
    """The explicit ``--config`` (or MAMBABOOT_CONFIG), else one found next to the
    executable or in the current directory, else None."""
    given = over.config or host.environ.get("MAMBABOOT_CONFIG")
    if given:
        return config.load(_absolute(given, host.cwd))
    candidates = [host.app_dir] if host.app_dir else []
    found = config.find_config([*candidates, host.cwd])
    return config.load(found) if found else None


def resolve(over: Overrides, host: Host, cfg: config.ConfigFile | None = None) -> Settings:
    """Apply the precedence rules and validate every value; an invalid value is reported
    with where it came from (the option, the config file's line, the variable)."""
    src = _Sources(over, cfg, host)
    for attr in ("name", "python"):
        if getattr(over, attr) == "":
            raise ConfigError(f"The {'environment name' if attr == 'name' else 'Python version'}"
                              " given on the command line is empty.",
                              hint="Leave it out for the default, or give a value.")
    name = src.checked(("name", "env", "name", "MAMBABOOT_NAME"), lambda: paths.validate_name(
        src.value("name", "env", "name", "MAMBABOOT_NAME") or "py"))
    python = src.value("python", "env", "python", "MAMBABOOT_PYTHON")
    if python:
        src.checked(("python", "env", "python", "MAMBABOOT_PYTHON"),
                    lambda: paths.validate_python(python))
    envs_dir = src.path("envs_dir", "env", "envs_dir", "MAMBABOOT_ENVS_DIR", "PY_ENVS")
    if envs_dir is None:
        envs_dir = Path(paths.default_envs_dir(host.drive, host.cwd, _exists))
    # No environment variable for the prefix: post-install scripts see MAMBABOOT_PREFIX (the
    # environment being finished) and a mambaboot they start must not target it by accident.
    prefix = src.path("prefix", "env", "prefix")
    if prefix is None:
        prefix = envs_dir / paths.prefix_folder_name(name, python)
    cache_dir = src.path("cache_dir", "cache", "dir", "MAMBABOOT_CACHE_DIR")
    explicit_cache = bool(over.cache_dir or (cfg and cfg.get("cache", "dir")))
    if cache_dir is None:
        cache_dir = _default_cache(host)
    return Settings(
        platform=host.platform,
        subdir=host.subdir,
        name=name,
        python=python,
        specs=src.checked(("specs", "env", "specs", "MAMBABOOT_SPECS"),
                          lambda: _specs(src, python)),
        channels=src.checked(("channels", "env", "channels", "MAMBABOOT_CHANNELS"),
                             lambda: _channels(src)),
        env_file=src.path("file", "env", "file", "MAMBABOOT_FILE"),
        prefix=prefix,
        envs_dir=envs_dir,
        cache_dir=cache_dir,
        pkgs_dir=_pkgs_dir(host, cache_dir, explicit_cache),
        micromamba=_micromamba(src),
        allow_http=over.allow_http or bool(cfg and cfg.get("network", "allow_http")),
        ca_bundle=src.path("ca_bundle", "network", "ca_bundle", "MAMBABOOT_CA_BUNDLE"),
        offline=over.offline or bool(cfg and cfg.get("network", "offline")),
        config_file=cfg.path if cfg else None,
        config_dir=src.base,
        scripts_dir=_scripts_dir(src),
        copy_dirs=_copy_dirs(src),
        app_dir=host.app_dir,
        always_copy=over.always_copy or bool(cfg and cfg.get("env", "always_copy")),
    )


class _Sources:
    """Looks a setting up in the command line, the config file and the environment."""

    def __init__(self, over: Overrides, cfg: config.ConfigFile | None, host: Host) -> None:
        self.over, self.cfg, self.host = over, cfg, host
        self.base = cfg.folder if cfg else (host.app_dir or host.cwd)

    def value(self, attr: str, table: str, key: str, *env: str) -> str | None:
        given = getattr(self.over, attr, None)
        if given:
            return str(given)
        if self.cfg and self.cfg.get(table, key):
            return str(self.cfg.get(table, key))
        for var in env:
            if self.host.environ.get(var):
                return self.host.environ[var]
        return None

    def path(self, attr: str, table: str, key: str, *env: str) -> Path | None:
        given = getattr(self.over, attr, None)
        if given:
            return _absolute(self._drive(given), self.host.cwd)
        if self.cfg and self.cfg.get(table, key):
            return _absolute(self._drive(self.cfg.get(table, key)), self.cfg.folder)
        for var in env:
            if self.host.environ.get(var):
                return _absolute(self._drive(self.host.environ[var]), self.host.cwd)
        return None

    def listing(self, attr: str, table: str, key: str, env: str) -> list[str] | None:
        given: tuple[str, ...] = getattr(self.over, attr, ())
        if given:
            return list(given)
        if self.cfg and self.cfg.get(table, key) is not None:
            return list(self.cfg.get(table, key))
        raw = self.host.environ.get(env)
        return [v.strip() for v in raw.split(",") if v.strip()] if raw else None

    def _drive(self, value: str) -> str:
        return paths.expand_drive(value, self.host.drive)

    def origin(self, attr: str, table: str, key: str, *env: str) -> str:
        """Where a setting comes from, by the same precedence as ``value``."""
        if attr and getattr(self.over, attr, None) not in (None, "", ()):
            return _OPTION_NAMES.get(attr, "--" + attr.replace("_", "-"))
        if self.cfg and key and self.cfg.get(table, key) not in (None, ""):
            return self.cfg.where(table, key)
        if self.cfg and not key and table in self.cfg.tables:
            return f"{self.cfg.path}: [{table}]"
        for var in env:
            if var and self.host.environ.get(var):
                return f"environment variable {var}"
        return "the defaults"

    def checked(self, where: tuple[str, str, str, str], check: Callable[[], _T]) -> _T:
        """Run ``check``; a ConfigError it raises is prefixed with the value's origin."""
        try:
            return check()
        except ConfigError as err:
            origin = self.origin(*where)
            if origin in err.message:
                raise
            raise ConfigError(f"{origin}: {err.message}", hint=err.hint) from None


def _absolute(value: str | PurePath, base: Path) -> Path:
    path = Path(os.path.expanduser(str(value)))
    return Path(os.path.normpath(path if path.is_absolute() else base / path))


def _exists(path: PurePath) -> bool:
    return Path(path).is_dir()


def _specs(src: _Sources, python: str | None) -> tuple[str, ...]:
    """``python[=VER]``, then the configured specs (default conda mamba uv), then --spec."""
    configured = src.listing("no_such_option", "env", "specs", "MAMBABOOT_SPECS")
    base = list(DEFAULT_SPECS) if configured is None else configured
    specs = [paths.python_spec(python), *base, *src.over.specs]
    for spec in specs:
        clean = spec.strip()
        if not clean or any(c in clean for c in "\r\n\0") or clean.startswith("-"):
            raise ConfigError(f"Invalid package spec {spec!r}.",
                              hint="Give specs like 'numpy' or 'numpy>=2'.")
    return tuple(dict.fromkeys(s.strip() for s in specs))


def _channels(src: _Sources) -> tuple[str, ...]:
    channels = src.listing("channels", "env", "channels", "MAMBABOOT_CHANNELS")
    if channels is not None and not channels:
        raise ConfigError("No channel given: [env] channels is empty.",
                          hint='Use channels = ["conda-forge"] or remove the key.')
    return tuple(channels or DEFAULT_CHANNELS)


def _pkgs_dir(host: Host, cache_dir: Path, explicit_cache: bool) -> Path:
    """``CACHE/pkgs`` of a cache given on the command line or in the config; else the
    reference script's ``CONDA_PKGS_DIRS`` (first entry) when set; else the default."""
    inherited = next(iter(environ.yaml_list(host.environ.get("CONDA_PKGS_DIRS", ""))), "")
    if inherited and not explicit_cache:
        return _absolute(inherited, host.cwd)
    return Path(paths.pkgs_dir(cache_dir, _exists))


def _micromamba(src: _Sources) -> MicromambaRequest:
    """Where micromamba comes from; each invalid part is reported with its own origin."""
    given = src.over.micromamba or src.host.environ.get("MAMBABOOT_MICROMAMBA")
    cfg = src.cfg.table("micromamba") if src.cfg else {}
    sha = src.over.micromamba_sha256 or cfg.get("sha256") \
        or src.host.environ.get("MAMBABOOT_MICROMAMBA_SHA256")
    if sha and not _SHA256_RE.fullmatch(sha):
        where = src.origin("micromamba_sha256", "micromamba", "sha256",
                           "MAMBABOOT_MICROMAMBA_SHA256")
        raise ConfigError(f"{where}: invalid micromamba sha256 {sha!r}: expected 64 hex "
                          "characters.")
    template = cfg.get("url") or DEFAULT_URL_TEMPLATE
    request = MicromambaRequest(version=cfg.get("version") or "latest", url_template=template,
                                sha256=sha.lower() if sha else None)
    names_binary = cfg.get("version") or (cfg.get("url") and "{version}" not in cfg["url"])
    if given and src.over.micromamba is None and names_binary:
        given = None  # a config file that names micromamba outranks the environment
    if given:
        request = src.checked(("micromamba", "", "", "MAMBABOOT_MICROMAMBA"),
                              lambda: _micromamba_from_option(given, request, src.host.cwd))
    if not _VERSION_RE.fullmatch(request.version):
        where = src.origin("micromamba", "micromamba", "version", "MAMBABOOT_MICROMAMBA")
        raise ConfigError(f"{where}: invalid micromamba version {request.version!r}.",
                          hint="Use 'latest' or a release tag such as 2.3.0-1.")
    if not _template_ok(request.url_template):
        raise ConfigError(f"{src.origin('', 'micromamba', 'url')}: invalid micromamba url "
                          f"template {request.url_template!r}.",
                          hint="Only {version} and {platform} may appear in braces, with no "
                               "conversion or format spec.")
    return request


def _micromamba_from_option(given: str, request: MicromambaRequest,
                            cwd: Path) -> MicromambaRequest:
    fields: dict[str, Any] = {"version": request.version, "url_template": request.url_template,
                              "sha256": request.sha256}
    if "://" in given:
        return MicromambaRequest(url=given, **fields)
    if _VERSION_RE.fullmatch(given) and not Path(given).exists():
        fields["version"] = given
        return MicromambaRequest(**fields)
    path = _absolute(given, cwd)
    if not path.is_file():
        raise ConfigError(
            f"micromamba {given!r}: no such file ({path}), and not a URL or a version.",
            hint="Give the path of a micromamba executable, a URL, or a version like 2.3.0-1.",
        )
    return MicromambaRequest(path=path, **fields)


def _template_ok(template: str) -> bool:
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError:  # unbalanced braces
        return False
    fields = [(f, spec, conv) for _, f, spec, conv in parts if f is not None]
    return all(f in ("version", "platform") and not spec and conv is None
               for f, spec, conv in fields)


def _scripts_dir(src: _Sources) -> Path | None:
    """The configured scripts folder (default ``scripts`` beside the config), if it exists."""
    folder = src.path("no_such_option", "scripts", "dir", "MAMBABOOT_SCRIPTS_DIR")
    folder = folder or src.base / "scripts"
    return folder if folder.is_dir() else None


def _copy_dirs(src: _Sources) -> tuple[tuple[Path, str], ...]:
    present = src.cfg is not None and "copy" in src.cfg.tables  # an empty [copy]: none
    table = src.cfg.table("copy") if src.cfg else {}
    pairs = table.items() if present else ((name, name) for name in DEFAULT_COPY)
    out = []
    for source, dest in pairs:
        as_windows = PureWindowsPath(dest)  # also "\\x" and "C:x", which escape on Windows
        if Path(dest).is_absolute() or as_windows.drive or as_windows.root \
                or ".." in as_windows.parts:
            where = src.cfg.where("copy", source) if src.cfg else "[copy]"
            raise ConfigError(f"{where} = {dest!r}: the destination must be a folder "
                              "inside the environment (a relative path without '..').")
        out.append((_absolute(source, src.base), dest))
    return tuple(out)
