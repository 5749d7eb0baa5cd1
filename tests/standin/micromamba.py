#!/usr/bin/env python3
"""A stand-in for the micromamba 2.x executable, for tests that have no internet.

It follows /work/shared/reference/micromamba-contract.md (flags, exit codes, messages, files
written) closely enough that a bootstrapper tested against it behaves the same against the
real binary. Stdlib only, one file, runs by itself: ``tests.standin.fixtures.standin_source``
bakes a ``#!<python>`` line and the CONFIG dict below into a copy of this file.

CONFIG keys: ``version``, ``pythons`` ({"3.11": "/abs/python3.11"}), ``record_file``,
``delay_create_s``, ``fail_create``, ``bash``, ``retry_wait_s``, ``http_timeout_s``.
"""

from __future__ import annotations

import contextlib
import datetime
import fnmatch
import functools
import hashlib
import http.client
import json
import os
import platform as _platform
import random
import re
import shlex
import shutil
import signal
import ssl
import string
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

CONFIG: dict[str, Any] = {}

DEFAULTS: dict[str, Any] = {
    "version": "2.8.1",
    "pythons": {},
    "record_file": "",
    "delay_create_s": 0.0,
    "fail_create": "",
    "bash": "",
    "retry_wait_s": 0.1,
    "http_timeout_s": 10.0,
}
LOG_LEVELS = ("trace", "debug", "info", "warning", "error", "critical", "off")
SHELLS = ("bash", "posix", "powershell", "cmd.exe", "xonsh", "zsh", "fish", "tcsh", "dash", "nu")
CONDA_VERSION = "3.8.0"
INIT_BEGIN = "# >>> mamba initialize >>>"
INIT_END = "# <<< mamba initialize <<<"
BUG_REPORT = (
    "If you run into this error repeatedly, your package cache may be corrupted.\n"
    "Please try running `mamba clean -a` to remove this cache before retrying the operation.\n"
    "\n"
    "If you still are having issues, please report the error on `mamba-org/mamba`'s issue "
    "tracker:\n"  # text of the real message, never fetched:
    "https:" "//github.com/mamba-org/mamba/issues/new?assignees=&labels=&projects=&"
    "template=bug.yml"
)


def cfg(key: str) -> Any:
    return CONFIG.get(key, DEFAULTS[key])


# --------------------------------------------------------------------------- errors, output


class MambaError(Exception):
    """Ends a command: ``error`` lines, then ``critical libmamba <message>``, exit 1."""

    def __init__(self, message: str, *errors: str) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors


class CliError(Exception):
    """A CLI11 parse error: plain text on stderr plus the --help hint."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class Output:
    level = LOG_LEVELS.index("warning")
    quiet = False  # -q / --json: no informative stdout


def log(level: str, message: str) -> None:
    """One spdlog line (``%-9!l%-8n %v``), continuation lines indented by 4."""
    if LOG_LEVELS.index(level) < Output.level:
        return
    first, *rest = message.split("\n")
    lines = [f"{level:<9}libmamba {first}"] + [f"    {line}" if line else "" for line in rest]
    sys.stderr.write("\n".join(lines) + "\n")
    sys.stderr.flush()


def say(text: str = "") -> None:
    if not Output.quiet:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


def prompt(message: str, default: str) -> bool:
    """Console::prompt: ``<msg>: [Y/n] `` on stdout; EOF or empty answer = the default."""
    choices = "[Y/n]" if default == "y" else "[y/N]"
    while True:
        sys.stdout.write(f"{message}: {choices} ")
        sys.stdout.flush()
        line = sys.stdin.readline() if sys.stdin else ""
        answer = line.strip().lower()
        if not line or not answer:
            return default == "y"
        if answer in ("y", "yes"):
            return True
        if answer in ("n", "no"):
            return False


def quoted(text: str) -> str:
    """C++ std::quoted: double quotes, backslash and quote escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def yaml_bool(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on", "y")


# --------------------------------------------------------------------------- CLI (CLI11-like)


@dataclass(frozen=True)
class Opt:
    names: tuple[str, ...]
    dest: str
    kind: str = "flag"  # flag | count | value | append | greedy | version
    store: Any = True
    type_name: str = "TEXT"
    choices: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        longs = [n for n in self.names if n.startswith("--")]
        return longs[0] if longs else self.names[0]


@dataclass
class Command:
    name: str
    help: str
    opts: list[Opt] = field(default_factory=list)
    subs: dict[str, Command] = field(default_factory=dict)
    positional: str = ""
    many: bool = False
    prefix_command: bool = False
    stub: bool = False

    def find(self, name: str) -> Opt | None:
        for opt in self.opts:
            if name in opt.names:
                return opt
        return None


def flags(*pairs: tuple[str, str]) -> list[Opt]:
    return [Opt((name,), dest) for name, dest in pairs]


def general_opts() -> list[Opt]:
    return [
        Opt(("--rc-file",), "rc_file", "greedy", type_name="FILE"),
        Opt(("--log-level",), "log_level", "value", choices=LOG_LEVELS),
        Opt(("-v", "--verbose"), "verbose", "count"),
        Opt(("-q", "--quiet"), "quiet"),
        Opt(("-y", "--yes"), "yes"),
        *flags(("--no-rc", "no_rc"), ("--no-env", "no_env"), ("--json", "json")),
        *flags(("--offline", "offline"), ("--dry-run", "dry_run")),
        *flags(("--download-only", "download_only"), ("--experimental", "experimental")),
        *flags(("--use-uv", "use_uv"), ("--debug", "debug")),
        *flags(("--print-context-only", "print_context_only")),
        *flags(("--print-config-only", "print_config_only")),
    ]


def prefix_opts() -> list[Opt]:
    return [
        Opt(("-r", "--root-prefix"), "root_prefix", "value", type_name="PATH"),
        Opt(("-p", "--prefix"), "prefix", "value", type_name="PATH"),
        Opt(("--relocate-prefix",), "relocate_prefix", "value", type_name="PATH"),
        Opt(("-n", "--name"), "name", "value"),
    ]


def network_opts() -> list[Opt]:
    return [
        Opt(("--ssl-verify",), "ssl_verify", "value"),
        Opt(("--ssl-no-revoke",), "ssl_no_revoke"),
        Opt(("--cacert-path",), "cacert_path", "value", type_name="PATH"),
        Opt(("--repodata-ttl",), "repodata_ttl", "value", type_name="INT"),
        Opt(("--retry-clean-cache",), "retry_clean_cache"),
    ]


def channel_opts() -> list[Opt]:
    return [
        Opt(("-c", "--channel"), "channels", "append"),
        Opt(("--override-channels",), "override_channels"),
        Opt(("--channel-priority",), "channel_priority", "value",
            choices=("disabled", "flexible", "strict")),
        Opt(("--channel-alias",), "channel_alias", "value"),
        Opt(("--strict-channel-priority",), "strict_channel_priority"),
        Opt(("--no-channel-priority",), "no_channel_priority"),
    ]


def toggles(*names: tuple[str, str, str]) -> list[Opt]:
    """``--x/--no-x`` pairs storing True/False under one dest."""
    out: list[Opt] = []
    for on, off, dest in names:
        out += [Opt((on,), dest, store=True), Opt((off,), dest, store=False)]
    return out


def install_opts() -> list[Opt]:
    return [
        Opt(("-f", "--file"), "file", "append", type_name="PATH"),
        *toggles(("--pin", "--no-pin", "pin"), ("--py-pin", "--no-py-pin", "py_pin")),
        *toggles(("--pyc", "--no-pyc", "pyc"), ("--shortcuts", "--no-shortcuts", "shortcuts")),
        *toggles(("--allow-uninstall", "--no-allow-uninstall", "allow_uninstall")),
        *toggles(("--allow-downgrade", "--no-allow-downgrade", "allow_downgrade")),
        *toggles(("--allow-softlinks", "--no-allow-softlinks", "allow_softlinks")),
        *toggles(("--always-softlink", "--no-always-softlink", "always_softlink")),
        *toggles(("--always-copy", "--no-always-copy", "always_copy")),
        *toggles(("--extra-safety-checks", "--no-extra-safety-checks", "extra_safety")),
        *toggles(("--exp-repodata-parsing", "--no-exp-repodata-parsing", "exp_repodata")),
        Opt(("--copy",), "always_copy"),
        Opt(("--lock-timeout",), "lock_timeout", "value", type_name="INT"),
        Opt(("--safety-checks",), "safety_checks", "value",
            choices=("enabled", "warn", "disabled")),
        Opt(("--verify-artifacts",), "verify_artifacts"),
        Opt(("--trusted-channels",), "trusted_channels", "greedy"),
        Opt(("--platform",), "platform", "value"),
        *flags(("--no-deps", "no_deps"), ("--only-deps", "only_deps")),
        Opt(("--category",), "category", "greedy"),
    ]


def join(*groups: list[Opt]) -> list[Opt]:
    return [opt for group in groups for opt in group]


def transaction_opts() -> list[Opt]:
    return join(general_opts(), prefix_opts(), network_opts(), channel_opts(), install_opts())


def shell_opts() -> list[Opt]:
    shell = Opt(("-s", "--shell"), "shell", "value", choices=SHELLS)
    return join(general_opts(), [shell], prefix_opts())


def stub(name: str) -> Command:
    return Command(name, f"{name} (not simulated by the stand-in)",
                   join(general_opts(), prefix_opts()), positional="args", many=True, stub=True)


def env_command() -> Command:
    export_opts = [
        Opt(("-e", "--explicit"), "explicit"),
        *toggles(("--md5", "--no-md5", "md5"), ("--build", "--no-build", "build")),
        Opt(("--no-builds",), "build", store=False),
        Opt(("--channel-subdir",), "channel_subdir"),
        Opt(("--from-history",), "from_history"),
    ]
    env = Command("env", "See `mamba env --help`", join(general_opts(), prefix_opts()))
    env.subs["export"] = Command("export", "Export environment",
                                 join(general_opts(), prefix_opts(), export_opts))
    env.subs["list"] = Command("list", "List known environments",
                               join(general_opts(), prefix_opts()))
    for name in ("create", "remove", "update", "config"):
        env.subs[name] = stub(name)
    return env


def shell_command() -> Command:
    shell = Command("shell", "Generate shell init scripts", shell_opts(),
                    positional="prefix_or_name")
    for name in ("init", "deinit", "reinit", "hook", "enable_long_path_support"):
        shell.subs[name] = Command(name, f"shell {name}", shell_opts())
    for name in ("activate", "reactivate", "deactivate"):
        # -r is accepted here only to reproduce the observed exit 108 (see check_parsed)
        shell.subs[name] = Command(name, f"shell {name}",
                                   join(shell_opts(), [Opt(("--stack",), "stack")]),
                                   positional="prefix_or_name")
    return shell


def run_command() -> Command:
    run_opts = [
        Opt(("-a", "--attach"), "attach", "value"),
        Opt(("--cwd",), "cwd", "value", type_name="PATH"),
        Opt(("-d", "--detach"), "detach"),
        Opt(("--clean-env",), "clean_env"),
        Opt(("-e", "--env"), "env", "append"),
        Opt(("--label",), "label", "value"),
    ]
    return Command("run", "Run an executable in an environment", join(prefix_opts(), run_opts),
                   prefix_command=True)


def build_cli() -> Command:
    general = join(general_opts(), prefix_opts())
    root = Command("micromamba", "Version: {version}",
                   join([Opt(("--version",), "version", "version")], general))
    create = Command("create", "Create new environment",
                     join(transaction_opts(), [Opt(("--clone",), "clone", "value")]),
                     positional="specs", many=True)
    info_opts = [*flags(("--licenses", "licenses"), ("--base", "base")),
                 Opt(("-e", "--envs"), "envs")]
    info = Command("info", "Information about micromamba",
                   join(general, channel_opts(), info_opts))
    listing = Command("list", "List packages in active environment",
                      join(general, channel_opts()), positional="regex")
    activate = Command("activate", "Activate an environment",
                       join(general, [Opt(("--stack",), "stack")]), positional="prefix_or_name")
    deactivate = Command("deactivate", "Deactivate the current environment", general_opts())
    for cmd in (shell_command(), create, env_command(), run_command(), info, listing, activate,
                deactivate):
        root.subs[cmd.name] = cmd
    for name in ("install", "update", "self-update", "repoquery", "remove", "uninstall",
                 "package", "clean", "config", "ps", "auth", "search", "constructor"):
        root.subs[name] = stub(name)
    return root


def option_like(arg: str) -> bool:
    if arg.startswith("--"):
        return len(arg) > 2
    return len(arg) > 1 and arg[0] == "-" and not re.fullmatch(r"-[0-9.]+", arg)


@dataclass
class Parsed:
    chain: list[Command]
    values: dict[str, Any] = field(default_factory=dict)
    positionals: dict[str, list[str]] = field(default_factory=dict)
    extras: list[str] = field(default_factory=list)
    command: list[str] = field(default_factory=list)
    help: bool = False
    depth: dict[str, int] = field(default_factory=dict)  # dest -> len(chain) when given

    @property
    def leaf(self) -> Command:
        return self.chain[-1]


def store_value(parsed: Parsed, opt: Opt, value: Any) -> None:
    if opt.kind == "flag":
        parsed.values[opt.dest] = opt.store if value is None else yaml_bool(str(value))
    elif opt.kind == "count":
        parsed.values[opt.dest] = int(parsed.values.get(opt.dest, 0)) + 1
    elif opt.kind in ("append", "greedy"):
        parsed.values.setdefault(opt.dest, []).extend(value)
    else:
        if opt.choices and str(value).lower() not in opt.choices:
            allowed = ",".join(opt.choices)
            raise CliError(f"{opt.label}: {value} not in {{{allowed}}}", 105)
        if opt.type_name == "INT" and not re.fullmatch(r"-?\d+", str(value)):
            raise CliError(f"Could not convert: {opt.label} = {value}", 104)
        parsed.values[opt.dest] = value


def take_values(opt: Opt, argv: list[str], i: int, inline: str | None) -> tuple[Any, int]:
    """The value(s) of ``opt`` starting at argv[i]; returns (value, next index)."""
    if opt.kind in ("flag", "count", "version"):
        return inline, i
    if inline is not None:
        return ([inline] if opt.kind in ("append", "greedy") else inline), i
    if i >= len(argv) or option_like(argv[i]) or argv[i] == "--":
        raise CliError(f"{opt.label}: 1 required {opt.type_name} missing", 114)
    if opt.kind == "greedy":
        j = i
        while j < len(argv) and not option_like(argv[j]) and argv[j] != "--":
            j += 1
        return argv[i:j], j
    return ([argv[i]] if opt.kind == "append" else argv[i]), i + 1


def apply_option(parsed: Parsed, opt: Opt, value: Any) -> None:
    if opt.kind == "version":
        sys.stdout.write(f"{cfg('version')}\n")
        sys.stdout.flush()
        raise SystemExit(0)
    parsed.depth[opt.dest] = len(parsed.chain)
    store_value(parsed, opt, value)


def parse_long(parsed: Parsed, arg: str, argv: list[str], i: int) -> int:
    name, eq, inline = arg.partition("=")
    if name == "--help":
        parsed.help = True
        return i
    opt = parsed.leaf.find(name)
    if opt is None:
        parsed.extras.append(arg)
        return i
    value, i = take_values(opt, argv, i, inline if eq else None)
    apply_option(parsed, opt, value)
    return i


def parse_short(parsed: Parsed, arg: str, argv: list[str], i: int) -> int:
    letters = arg[1:]
    for j, letter in enumerate(letters):
        if letter == "h":
            parsed.help = True
            continue
        opt = parsed.leaf.find("-" + letter)
        if opt is None:
            parsed.extras.append(arg if j == 0 else "-" + letter)
            return i
        if opt.kind not in ("flag", "count", "version"):
            rest = letters[j + 1:].removeprefix("=")
            value, i = take_values(opt, argv, i, rest or None)
            apply_option(parsed, opt, value)
            return i
        apply_option(parsed, opt, None)
    return i


def parse_positional(parsed: Parsed, arg: str, argv: list[str], i: int) -> bool:
    """Handle one positional word; True when the rest of argv was consumed."""
    cmd = parsed.leaf
    taken = parsed.positionals.get(cmd.positional, [])
    if not taken and arg in cmd.subs:
        parsed.chain.append(cmd.subs[arg])
        return False
    if cmd.prefix_command:
        parsed.command = [arg, *argv[i:]]
        return True
    if cmd.positional and (cmd.many or not taken):
        parsed.positionals.setdefault(cmd.positional, []).append(arg)
    else:
        parsed.extras.append(arg)
    return False


def parse_cli(argv: list[str], root: Command) -> Parsed:
    parsed = Parsed(chain=[root])
    i, only_positional = 0, False
    while i < len(argv):
        arg = argv[i]
        i += 1
        unknown = parsed.leaf.find(arg.partition("=")[0]) is None
        if (parsed.leaf.prefix_command and not only_positional and option_like(arg)
                and unknown and arg not in ("-h", "--help")):
            parsed.command = [arg, *argv[i:]]  # run: an unknown option starts the command
            break
        if not only_positional and arg == "--":
            only_positional = True
        elif not only_positional and option_like(arg):
            i = (parse_long if arg.startswith("--") else parse_short)(parsed, arg, argv, i)
        elif parse_positional(parsed, arg, argv, i):
            break
    return parsed


def check_parsed(parsed: Parsed) -> None:
    names = [c.name for c in parsed.chain]
    if names[1:3] == ["shell", "activate"]:
        v = parsed.values
        if parsed.depth.get("root_prefix", 0) >= 3 or (
            v.get("prefix") and parsed.positionals.get("prefix_or_name")
        ):
            raise CliError("--prefix excludes prefix_or_name", 108)
        if v.get("prefix") and v.get("name"):
            raise CliError("--name excludes --prefix", 108)
    if parsed.extras and not parsed.leaf.stub:
        extras = list(reversed(parsed.extras))
        if len(extras) == 1:
            raise CliError(f"The following argument was not expected: {extras[0]}", 109)
        raise CliError(f"The following arguments were not expected: {' '.join(extras)}", 109)


def help_text(cmd: Command, chain: list[Command]) -> str:
    usage = " ".join(c.name for c in chain)
    lines = [cmd.help.format(version=cfg("version")), "",
             f"Usage: {usage} [OPTIONS]" + (" [SUBCOMMAND]" if cmd.subs else ""), "",
             "Options:", "  -h,--help                   Print this help message and exit"]
    for opt in cmd.opts:
        names = ",".join(opt.names)
        value = "" if opt.kind in ("flag", "count", "version") else f" {opt.type_name}"
        lines.append(f"  {names + value:<28}")
    if cmd.subs:
        lines += ["", "Subcommands:"] + [f"  {n:<28}{c.help}" for n, c in cmd.subs.items()]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- configuration

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
    if os.name == "nt":
        return os.environ.get("USERPROFILE") or os.path.expanduser("~")
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
    dirs = [d.strip() for d in (ctx.env("CONDA_PKGS_DIRS") or "").split(",") if d.strip()]
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


# --------------------------------------------------------------------------- simple YAML


def _yaml_lines(text: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if line.strip() and line.strip() != "---":
            out.append((len(line) - len(line.lstrip()), line.strip()))
    return out


def _yaml_scalar(text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if text.startswith("[") and text.endswith("]"):
        return [_yaml_scalar(t) for t in text[1:-1].split(",") if t.strip()]
    return text


def _yaml_block(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[Any, int]:
    if lines[i][1].startswith("- ") or lines[i][1] == "-":
        items: list[Any] = []
        while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("-"):
            item = lines[i][1][1:].strip()
            i += 1
            nested = i < len(lines) and lines[i][0] > indent
            if item.endswith(":") and nested:
                value, i = _yaml_block(lines, i, lines[i][0])
                items.append({item[:-1].strip(): value})
            elif not item and nested:
                value, i = _yaml_block(lines, i, lines[i][0])
                items.append(value)
            else:
                items.append(_yaml_scalar(item))
        return items, i
    mapping: dict[str, Any] = {}
    while i < len(lines) and lines[i][0] == indent and not lines[i][1].startswith("- "):
        key, _, rest = lines[i][1].partition(":")
        i += 1
        if rest.strip():
            mapping[_yaml_scalar(key)] = _yaml_scalar(rest)
        elif i < len(lines) and (lines[i][0] > indent or lines[i][1].startswith("- ")):
            mapping[_yaml_scalar(key)], i = _yaml_block(lines, i, lines[i][0])
        else:
            mapping[_yaml_scalar(key)] = None
    return mapping, i


def parse_yaml(text: str) -> dict[str, Any]:
    lines = _yaml_lines(text)
    if not lines:
        return {}
    value, _ = _yaml_block(lines, 0, lines[0][0])
    if not isinstance(value, dict):
        raise ValueError("not a mapping")
    return value


# --------------------------------------------------------------------------- versions, specs


def _atoms(component: str) -> list[tuple[int, Any]]:
    atoms: list[tuple[int, Any]] = []
    for atom in re.findall(r"\d+|[a-z]+|\*", component.lower()):
        if atom.isdigit():
            atoms.append((1, int(atom)))
        elif atom == "post":
            atoms.append((2, 0))
        else:
            atoms.append((-1 if atom == "dev" else 0, atom))
    return atoms or [(1, 0)]


def version_key(version: str) -> tuple[tuple[tuple[int, Any], ...], ...]:
    version = version.split("+", 1)[0]
    epoch, _, version = version.rpartition("!")
    parts = [[(1, int(epoch or 0))]] + [_atoms(c) for c in re.split(r"[._-]", version)]
    parts += [[(1, 0)]] * (8 - len(parts))
    return tuple(tuple(p + [(1, 0)] * (3 - len(p))) for p in parts)


def version_components(version: str) -> list[str]:
    return [c for c in re.split(r"[._-]", version.lower()) if c]


def version_matches(spec: str, version: str) -> bool:
    spec = spec.strip()
    if spec in ("", "*", "=*"):
        return True
    if "|" in spec:
        return any(version_matches(s, version) for s in spec.split("|"))
    if "," in spec:
        return all(version_matches(s, version) for s in spec.split(","))
    match = re.fullmatch(r"(>=|<=|==|!=|~=|>|<|=)?(.*)", spec)
    op, value = (match.group(1), match.group(2)) if match else (None, spec)
    star = value.endswith(".*") or value.endswith("*")
    value = value.rstrip("*").rstrip(".")
    if op in (None, "=") and (star or op == "="):
        return version_components(version)[: len(version_components(value))] == \
            version_components(value)
    if op == "!=" and star:
        return not version_matches(f"={value}", version)
    if op == "~=":
        return version_matches(f">={value}", version) and version_matches(
            "=" + ".".join(version_components(value)[:-1]), version)
    have, want = version_key(version), version_key(value)
    return {None: have == want, "==": have == want, "!=": have != want, ">=": have >= want,
            "<=": have <= want, ">": have > want, "<": have < want}[op]


@dataclass(frozen=True)
class MatchSpec:
    raw: str
    name: str
    version: str = ""
    build: str = ""
    channel: str = ""

    @classmethod
    def parse(cls, raw: str) -> MatchSpec:
        text = raw.strip()
        channel = ""
        if "::" in text:
            channel, text = text.split("::", 1)
        extra: dict[str, str] = {}
        if "[" in text and text.endswith("]"):
            text, _, inner = text[:-1].partition("[")
            extra = dict(re.findall(r"(\w+)\s*=\s*['\"]?([^'\",\]]+)['\"]?", inner))
        match = re.match(r"^\s*([^\s=<>!~]+)\s*(.*)$", text)
        if not match:
            raise MambaError(f"Invalid spec: '{raw}'")
        name, rest = match.group(1), match.group(2).strip()
        version, build = "", ""
        if " " in rest:
            version, build = rest.split(None, 1)
        elif rest.startswith("=") and not rest.startswith("=="):
            version, _, build = rest[1:].partition("=")
            version = "=" + version if version and "*" not in version else version
        else:
            version = rest
        return cls(raw, name.lower(), extra.get("version", version), extra.get("build", build),
                   channel)

    def matches(self, record: Mapping[str, Any]) -> bool:
        if record.get("name") != self.name:
            return False
        if self.version and not version_matches(self.version, str(record.get("version"))):
            return False
        return not self.build or fnmatch.fnmatchcase(str(record.get("build")), self.build)

    def display(self) -> str:
        version = self.version or "=*"
        if version.endswith(".*") and version[0].isdigit():
            version = "=" + version[:-2]
        return f"{self.name} {version} {self.build or '*'}"


def dist_name(rec: Mapping[str, Any]) -> str:
    return f"{rec['name']}-{rec['version']}-{rec['build']}"


# --------------------------------------------------------------------------- solver


@dataclass
class Pool:
    records: list[dict[str, Any]]
    priority: str = "flexible"

    def by_name(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r["name"] == name]

    def candidates(self, spec: MatchSpec) -> list[dict[str, Any]]:
        named = self.by_name(spec.name)
        if spec.channel:
            named = [r for r in named if r["channel"].rstrip("/").endswith(spec.channel)]
        if self.priority == "strict" and named:
            best = min(r["_channel_index"] for r in named)
            named = [r for r in named if r["_channel_index"] == best]
        found = [r for r in named if spec.matches(r)]

        def order(r: dict[str, Any]) -> tuple[Any, ...]:
            rank = (version_key(str(r["version"])), int(r.get("build_number", 0)))
            channel = 0 if self.priority == "disabled" else -int(r["_channel_index"])
            return (channel, *rank)

        return sorted(found, key=order, reverse=True)


def solve(pool: Pool, specs: list[MatchSpec]) -> list[dict[str, Any]] | None:
    budget = [20000]

    def search(chosen: dict[str, dict[str, Any]],
               pending: list[MatchSpec]) -> dict[str, dict[str, Any]] | None:
        budget[0] -= 1
        if budget[0] < 0:
            return None
        if not pending:
            return chosen
        spec, rest = pending[0], pending[1:]
        if spec.name.startswith("__"):
            return search(chosen, rest)
        if spec.name in chosen:
            return search(chosen, rest) if spec.matches(chosen[spec.name]) else None
        for record in pool.candidates(spec):
            deps = [MatchSpec.parse(d) for d in record.get("depends", [])]
            result = search({**chosen, spec.name: record}, rest + deps)
            if result is not None:
                return result
        return None

    solution = search({}, list(specs))
    return None if solution is None else topological(solution)


def topological(chosen: Mapping[str, dict[str, Any]]) -> list[dict[str, Any]]:
    ordered: list[dict[str, Any]] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen or name not in chosen:
            return
        seen.add(name)
        for dep in chosen[name].get("depends", []):
            visit(MatchSpec.parse(dep).name)
        ordered.append(chosen[name])

    for name in sorted(chosen):
        visit(name)
    return ordered


def first_missing(pool: Pool, spec: MatchSpec, depth: int = 0) -> str:
    """The display of the first dependency (recursively) that no record provides."""
    candidates = pool.candidates(spec)
    if not candidates:
        return spec.display()
    if depth < 5:
        for dep in candidates[0].get("depends", []):
            dep_spec = MatchSpec.parse(dep)
            found = "" if dep_spec.name.startswith("__") else first_missing(pool, dep_spec,
                                                                            depth + 1)
            if found:
                return found
    return ""


def explain_unsat(pool: Pool, specs: list[MatchSpec]) -> str:
    lines = ["The following package could not be installed" if len(specs) == 1
             else "The following packages are incompatible"]
    for index, spec in enumerate(specs):
        last = index == len(specs) - 1
        branch, end, pad = ("└─", ".", "   ") if last else ("├─", ";", "│  ")
        missing = first_missing(pool, spec)
        if not pool.candidates(spec):
            lines.append(f"{branch} {spec.display()} does not exist (perhaps a typo or a "
                         f"missing channel){end}")
        elif missing:
            lines.append(f"{branch} {spec.display()} is not installable because it requires")
            lines.append(f"{pad}└─ {missing}, which does not exist (perhaps a missing "
                         f"channel){end}")
        elif len(specs) > 1:
            lines.append(f"{branch} {spec.display()} is requested and can be installed{end}")
        else:
            lines.append(f"{branch} {spec.display()} is not installable because it conflicts "
                         f"with any installable versions required by your environment{end}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- network


class FetchError(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def is_loopback(host: str | None) -> bool:
    return bool(host) and (host in ("localhost", "::1") or str(host).startswith("127."))


def proxy_for(url: str) -> str | None:
    parts = urllib.parse.urlsplit(url)
    proxies = urllib.request.getproxies()
    if not proxies.get(parts.scheme) or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return proxies[parts.scheme]


def ssl_context(ctx: Ctx | None) -> ssl.SSLContext | None:
    if ctx is None:
        return None
    verify = (ctx.value("ssl_verify") or "").strip()
    if verify.lower() in ("false", "<false>", "0", "no"):
        return ssl._create_unverified_context()  # noqa: S323
    cafile = ctx.value("cacert_path") or (verify if verify and verify != "true" else None)
    return ssl.create_default_context(cafile=cafile) if cafile else None


def curl_error(url: str, exc: BaseException) -> FetchError:
    text = str(exc).lower()
    host = urllib.parse.urlsplit(url).hostname or ""
    port = urllib.parse.urlsplit(url).port or 80
    if isinstance(exc, TimeoutError) or "timed out" in text:
        return FetchError(f"Download error (28) Timeout was reached [{url}]\n"
                          "Operation timed out")
    if isinstance(exc, ConnectionRefusedError) or "refused" in text:
        return FetchError(f"Download error (7) Couldn't connect to server [{url}]\n"
                          f"Failed to connect to {host} port {port} after 0 ms: "
                          "Couldn't connect to server")
    if "incompleteread" in type(exc).__name__.lower() or "incomplete" in text:
        return FetchError(f"Download error (18) Transferred a partial file [{url}]\n"
                          "end of response with bytes missing")
    return FetchError(f"Download error (52) Server returned nothing (no headers, no status "
                      f"code) [{url}]\nEmpty reply from server")


def _http_once(url: str, ctx: Ctx | None) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": f"mamba/{cfg('version')}"})
    timeout = float(cfg("http_timeout_s"))
    with urllib.request.urlopen(request, timeout=timeout, context=ssl_context(ctx)) as resp:
        return bytes(resp.read())


def fetch_url(url: str, ctx: Ctx | None = None) -> bytes:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        path = urllib.request.url2pathname(parts.path)
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise FetchError(f"Download error (37) Couldn't read a file:// file [{url}]\n"
                             f"Couldn't open file {path}") from exc
    if parts.scheme not in ("http", "https"):
        raise FetchError(f"Download error (1) Unsupported protocol [{url}]")
    proxy = proxy_for(url)
    proxy_host = urllib.parse.urlsplit(proxy).hostname if proxy else None
    if proxy and not is_loopback(proxy_host):  # never leave the machine, not even via a proxy
        raise FetchError(f"Download error (5) Couldn't resolve proxy name [{url}]\n"
                         f"Could not resolve proxy: {proxy_host}")
    if not is_loopback(parts.hostname) and (parts.scheme == "https" or not proxy):
        raise FetchError(f"Download error (6) Couldn't resolve host name [{url}]\n"
                         f"Could not resolve host: {parts.hostname}")
    return _fetch_with_retries(url, ctx)


def _fetch_with_retries(url: str, ctx: Ctx | None) -> bytes:
    attempts, wait = 4, float(cfg("retry_wait_s"))
    for attempt in range(attempts):
        retry = attempt < attempts - 1
        try:
            return _http_once(url, ctx)
        except urllib.error.HTTPError as exc:
            body = exc.read()
            exc.close()
            if not (retry and exc.code in (408, 429, 500, 502, 503, 504)):
                raise FetchError(f"Transfer finalized, status: {exc.code} [{url}] "
                                 f"{len(body)} bytes", exc.code) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            error = curl_error(url, reason if isinstance(reason, BaseException) else exc)
            if not retry:
                raise error from None
        except http.client.HTTPException as exc:  # IncompleteRead and friends
            if not retry:
                raise curl_error(url, exc) from None
        log("warning", f"Retrying in {wait:g} seconds")
        time.sleep(wait)
        wait *= 2
    raise FetchError(f"Download error [{url}]")


def aggregate(errors: list[str], bug_report: bool = True) -> str:
    text = ("Multiple errors occurred:\n" if len(errors) > 1 else "") + "".join(
        e + "\n" for e in errors)
    return (text + BUG_REPORT) if bug_report else text.rstrip("\n")


# --------------------------------------------------------------------------- channels, repodata


@dataclass(frozen=True)
class Channel:
    spec: str
    url: str


def resolve_channel(spec: str, alias: str) -> list[Channel]:
    spec = spec.strip()
    if spec in ("nodefaults", ""):
        return []
    if spec == "defaults":
        return [Channel("pkgs/main", "https://repo.anaconda.com/pkgs/main"),
                Channel("pkgs/r", "https://repo.anaconda.com/pkgs/r")]
    if "://" in spec:
        return [Channel(spec, spec.rstrip("/"))]
    if spec.startswith(("/", "./", "../", "~")) or re.match(r"^[A-Za-z]:[\\/]", spec):
        return [Channel(spec, Path(expand(spec)).as_uri())]
    return [Channel(spec, f"{alias.rstrip('/')}/{spec.strip('/')}")]


def expand_vars(text: str) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)",
                  lambda m: os.environ.get(m.group(1) or m.group(2), m.group(0)), text)


def configured_channels(ctx: Ctx, from_file: list[str]) -> list[Channel]:
    names = ctx.many("channels") + [expand_vars(c) for c in from_file]
    if not ctx.flag("override_channels"):
        env_channels = [c for c in (ctx.env("CONDA_CHANNELS") or "").split(",") if c.strip()]
        rc_channels = ctx.rc.get("channels") if isinstance(ctx.rc.get("channels"), list) else []
        names += env_channels + [str(c) for c in rc_channels or []]
    if not names:
        names = ["conda-forge"]
    alias = ctx.value("channel_alias") or "https://conda.anaconda.org"  # never fetched
    out: list[Channel] = []
    for name in names:
        out += [c for c in resolve_channel(name, alias) if c.url not in {o.url for o in out}]
    return out


def cache_key(subdir_url: str) -> str:
    return hashlib.md5(subdir_url.rstrip("/").encode() + b"/").hexdigest()[:8]  # noqa: S324


def get_repodata(ctx: Ctx, url: str, cache_dir: Path) -> dict[str, Any] | None:
    key = cache_key(url.rsplit("/", 1)[0])
    cached = cache_dir / f"{key}.json"
    if ctx.flag("offline"):
        return json.loads(cached.read_text(encoding="utf-8")) if cached.is_file() else None
    data = fetch_url(url, ctx)
    cache_dir.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(data)
    state = {"url": url, "mod": "", "etag": "", "cache_control": "", "size": len(data),
             "mtime_ns": cached.stat().st_mtime_ns, "has_zst": {"value": False}}
    (cache_dir / f"{key}.state.json").write_text(json.dumps(state, indent=4), encoding="utf-8")
    try:
        return dict(json.loads(data))
    except ValueError as exc:
        raise FetchError(f"Could not parse repodata at {url}: {exc}") from None


def records_from_repodata(data: Mapping[str, Any], channel: Channel, subdir: str,
                          index: int) -> list[dict[str, Any]]:
    records = []
    for fn, raw in dict(data.get("packages", {})).items():
        record = dict(raw)
        record.update(fn=fn, url=f"{channel.url}/{subdir}/{fn}", channel=channel.url,
                      _channel_index=index)
        record.setdefault("subdir", subdir)
        record.setdefault("build_number", 0)
        record.setdefault("depends", [])
        records.append(record)
    return records


def load_channels(ctx: Ctx, channels: list[Channel], platform: str,
                  pkgs: list[str]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    errors: list[str] = []
    cache_dir = Path(pkgs[0]) / "cache"
    for index, channel in enumerate(channels):
        for subdir in ("noarch", platform):
            url = f"{channel.url}/{subdir}/repodata.json"
            try:
                data = get_repodata(ctx, url, cache_dir)
            except FetchError as exc:
                errors.append(exc.message)
                continue
            status = "Using cache" if ctx.flag("offline") else "Done"
            say(f"{channel.spec + '/' + subdir:<50} {status if data is not None else 'Missing'}")
            if data is not None:
                records += records_from_repodata(data, channel, subdir, index)
    if errors:
        raise MambaError(aggregate(errors))
    if ctx.flag("offline"):
        records += cached_package_records(pkgs, len(channels))
    return records


def cached_package_records(pkgs: list[str], index: int) -> list[dict[str, Any]]:
    records = []
    for folder in pkgs:
        for path in sorted(Path(folder).glob("**/info/repodata_record.json")):
            with contextlib.suppress(OSError, ValueError):
                record = dict(json.loads(path.read_text(encoding="utf-8")))
                record["_channel_index"] = index
                records.append(record)
    return records


# --------------------------------------------------------------------------- package cache


def cache_folder(pkgs_dir: str, url: str) -> Path:
    """The nested package cache layout: <pkgs>/<scheme>/<host>_<port>/<url dirs>/."""
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "") + (f"_{parts.port}" if parts.port else "")
    dirs = [p for p in urllib.parse.unquote(parts.path).split("/") if p][:-1]
    base = Path(pkgs_dir) / parts.scheme
    return base.joinpath(host, *dirs) if host else base.joinpath(*dirs)


def archive_stem(fn: str) -> str:
    for ext in (".tar.bz2", ".conda"):
        if fn.endswith(ext):
            return fn[: -len(ext)]
    raise MambaError("Unknown package format.", f"Unknown package format '{fn}'")


def file_digest(path: Path, algo: str) -> str:
    digest = hashlib.new(algo)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def validation_error(record: Mapping[str, Any], tarball: Path) -> str:
    """PackageFetcher::validate: size, then sha256 if known, else md5. "" when valid."""
    size = int(record.get("size") or 0)
    actual_size = tarball.stat().st_size
    if size and size != actual_size:
        log("error", f"File not valid: file size doesn't match expectation {quoted(str(tarball))}"
                     f"\nExpected: {size}\nActual: {actual_size}\n")
        return "size"
    for key, name in (("sha256", "SHA256"), ("md5", "MD5")):
        expected = str(record.get(key) or "")
        if expected:
            actual = file_digest(tarball, key)
            if actual != expected:
                log("error", f"File not valid: {name} doesn't match expectation "
                             f"{quoted(str(tarball))}\nExpected: {expected}\nActual: {actual}\n")
                return name
            return ""
    return ""


def extracted_is_valid(extracted: Path, record: Mapping[str, Any]) -> bool:
    meta = extracted / "info" / "repodata_record.json"
    if not meta.is_file():
        return False
    try:
        cached = json.loads(meta.read_text(encoding="utf-8"))
    except ValueError:
        return False
    for key in ("sha256", "md5"):
        if record.get(key):
            return bool(cached.get(key) == record.get(key))
    return bool(cached.get("url") == record.get("url"))


def extract_package(tarball: Path, extracted: Path) -> None:
    if extracted.exists():
        shutil.rmtree(extracted)
    try:
        with tarfile.open(tarball, "r:bz2") as archive:
            archive.extractall(extracted, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        say(f"{tarball.name} extraction failed")
        raise MambaError(f"Error when extracting package: {exc}") from None


def write_repodata_record(extracted: Path, record: Mapping[str, Any], tarball: Path) -> None:
    """info/repodata_record.json = the package record, completed by info/index.json."""
    merged = {k: v for k, v in record.items() if not k.startswith("_")}
    index = json.loads((extracted / "info" / "index.json").read_text(encoding="utf-8"))
    for key, value in index.items():
        merged.setdefault(key, value)
    merged["size"] = merged.get("size") or tarball.stat().st_size
    (extracted / "info" / "repodata_record.json").write_text(json.dumps(merged, indent=4),
                                                               encoding="utf-8")


def complete_record(record: dict[str, Any], extracted: Path) -> None:
    data = json.loads((extracted / "info" / "repodata_record.json").read_text(encoding="utf-8"))
    for key, value in data.items():
        record.setdefault(key, value)


def append_urls(paths: list[Path], url: str) -> None:
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(url + "\n")


def checksum_mismatch(record: Mapping[str, Any], tarball: Path) -> bool:
    for key in ("sha256", "md5"):
        if record.get(key):
            return file_digest(tarball, key) != record.get(key)
    return False


def download_package(ctx: Ctx, record: Mapping[str, Any], tarball: Path) -> bool:
    url = str(record["url"])
    if ctx.flag("offline") and not url.startswith("file:"):
        raise MambaError(f"Cannot download '{url}': offline mode is enabled")
    try:
        data = fetch_url(url, ctx)
    except FetchError as exc:
        raise MambaError(aggregate([exc.message])) from None
    tarball.parent.mkdir(parents=True, exist_ok=True)
    tarball.write_bytes(data)
    problem = validation_error(record, tarball)
    if problem:
        say(f"{record['fn']} tarball has incorrect {problem}")
        tarball.unlink()
        return False
    return True


def fetch_package(ctx: Ctx, record: dict[str, Any], pkgs_dir: str) -> bool:
    """Download (or reuse), validate and extract one package; False when invalid."""
    folder = cache_folder(pkgs_dir, str(record["url"]))
    tarball = folder / str(record["fn"])
    extracted = folder / archive_stem(str(record["fn"]))
    record["_tarball"], record["_extracted"] = str(tarball), str(extracted)
    if not extracted_is_valid(extracted, record):
        cached = tarball.is_file() and not checksum_mismatch(record, tarball)
        if not cached and not download_package(ctx, record, tarball):
            return False
        extract_package(tarball, extracted)
        write_repodata_record(extracted, record, tarball)
        append_urls([folder / "urls.txt", Path(pkgs_dir) / "urls.txt"], str(record["url"]))
    complete_record(record, extracted)
    return True


# --------------------------------------------------------------------------- linking

PLACEHOLDER_DEFAULT = "/opt/anaconda1anaconda2anaconda3"


def read_paths(extracted: Path) -> list[dict[str, Any]]:
    paths_json = extracted / "info" / "paths.json"
    if paths_json.is_file():
        return list(json.loads(paths_json.read_text(encoding="utf-8"))["paths"])
    prefixed: dict[str, tuple[str, str]] = {}
    has_prefix = extracted / "info" / "has_prefix"
    if has_prefix.is_file():
        for line in has_prefix.read_text(encoding="utf-8").splitlines():
            parts = shlex.split(line)
            if len(parts) == 3:
                prefixed[parts[2]] = (parts[0], parts[1])
            elif parts:
                prefixed[parts[0]] = (PLACEHOLDER_DEFAULT, "text")
    entries = []
    files = (extracted / "info" / "files").read_text(encoding="utf-8").splitlines()
    for rel in filter(None, files):
        entry: dict[str, Any] = {"_path": rel, "path_type": "hardlink"}
        if rel in prefixed:
            entry["prefix_placeholder"], entry["file_mode"] = prefixed[rel]
        entries.append(entry)
    return entries


def replace_binary(data: bytes, placeholder: bytes, prefix: bytes, path: str) -> bytes:
    def repl(match: re.Match[bytes]) -> bytes:
        original = match.group(0)
        new = prefix + match.group(1)
        if len(new) + 1 > len(original):
            raise MambaError(f"Padding error: the prefix is longer than the placeholder in "
                             f"binary file '{path}'")
        return new + b"\0" * (len(original) - len(new))

    return re.sub(re.escape(placeholder) + rb"([^\0]*?)\0", repl, data)


def fix_long_shebang(data: bytes) -> bytes:
    if not data.startswith(b"#!"):
        return data
    first, sep, rest = data.partition(b"\n")
    if len(first) <= 127:
        return data
    exe, _, args = first[2:].strip().partition(b" ")
    new = b"#!/usr/bin/env " + os.path.basename(exe) + (b" " + args if args else b"")
    return new + sep + rest


def link_file(src: Path, dst: Path, entry: Mapping[str, Any], prefix: str, copy: bool) -> str:
    """Link or copy one file; returns the sha256 of the file in the prefix."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.is_symlink() or dst.exists():
        dst.unlink()
    placeholder = entry.get("prefix_placeholder")
    if entry.get("path_type") == "softlink" or src.is_symlink():
        os.symlink(os.readlink(src), dst)
        return str(entry.get("sha256", ""))
    if placeholder:
        data = src.read_bytes()
        if entry.get("file_mode") == "binary":
            data = replace_binary(data, str(placeholder).encode(), prefix.encode(), str(dst))
        else:
            data = fix_long_shebang(data.replace(str(placeholder).encode(), prefix.encode()))
        dst.write_bytes(data)
        shutil.copymode(src, dst)
        return hashlib.sha256(data).hexdigest()
    if copy:
        shutil.copy2(src, dst)
    else:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
    return str(entry.get("sha256") or file_digest(dst, "sha256"))


def link_files(record: dict[str, Any], prefix: str, copy: bool) -> list[dict[str, Any]]:
    extracted = Path(str(record["_extracted"]))
    paths_data = []
    for entry in read_paths(extracted):
        rel = str(entry["_path"])
        dst = Path(prefix, rel)
        if entry.get("path_type") == "directory":
            dst.mkdir(parents=True, exist_ok=True)
            continue
        in_prefix = link_file(extracted / rel, dst, entry, prefix, copy)
        item = {"_path": rel, "path_type": entry.get("path_type", "hardlink"),
                "sha256": entry.get("sha256") or in_prefix,
                "size_in_bytes": entry.get("size_in_bytes", dst.lstat().st_size)}
        if entry.get("prefix_placeholder"):
            item.update(prefix_placeholder=entry["prefix_placeholder"],
                        file_mode=entry.get("file_mode", "text"), sha256_in_prefix=in_prefix)
        paths_data.append(item)
    return paths_data


def tree_files(prefix: str) -> set[str]:
    out = set()
    for dirpath, _dirs, files in os.walk(prefix):
        for name in files:
            out.add(os.path.relpath(os.path.join(dirpath, name), prefix))
        for name in _dirs:
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                out.add(os.path.relpath(full, prefix))
    return out


def make_python_real(record: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
    """Turn the ``python`` package into a working interpreter with ``python -m venv``."""
    major_minor = ".".join(str(record["version"]).split(".")[:2])
    interpreter = dict(cfg("pythons")).get(major_minor)
    if not interpreter:
        raise MambaError(f"stand-in: no Python {major_minor} interpreter configured "
                         "(CONFIG['pythons']) to make package 'python' real")
    before = tree_files(prefix)
    result = subprocess.run([interpreter, "-I", "-m", "venv", "--without-pip", prefix],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise MambaError(f"stand-in: python -m venv failed: {result.stderr.strip()}")
    for name in ("activate", "activate.csh", "activate.fish", "Activate.ps1"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(prefix, "bin", name))
    added = []
    for rel in sorted(tree_files(prefix) - before):
        full = os.path.join(prefix, rel)
        kind = "softlink" if os.path.islink(full) else "hardlink"
        added.append({"_path": rel, "path_type": kind, "size_in_bytes": os.lstat(full).st_size,
                      "sha256": "" if kind == "softlink" else file_digest(Path(full), "sha256")})
    return added


def bash_path() -> str:
    return str(cfg("bash") or shutil.which("bash") or "/bin/bash")


def run_post_link(record: Mapping[str, Any], prefix: str, root: str) -> None:
    name = str(record["name"])
    if Path(prefix, "bin", f".{name}-pre-link.sh").exists():
        raise MambaError("mamba does not support pre-link scripts")
    script = Path(prefix, "bin", f".{name}-post-link.sh")
    if not script.is_file():
        return
    env = dict(os.environ)
    env.update(ROOT_PREFIX=root, PREFIX=prefix, PKG_NAME=name,
               PKG_VERSION=str(record["version"]), PKG_BUILDNUM=str(record.get("build_number", 0)),
               PATH=f"{script.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    result = subprocess.run([bash_path(), "-x", str(script)], cwd=script.parent, env=env,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise MambaError(f"post-link script failed for package {dist_name(record)}",
                         f"response code: {result.returncode} error message: "
                         f"{result.stderr.strip()}")
    messages = Path(prefix, ".messages.txt")
    if messages.is_file():
        say(messages.read_text(encoding="utf-8", errors="replace").rstrip())
        messages.unlink()


def write_conda_meta(record: Mapping[str, Any], prefix: str,
                     paths: list[dict[str, Any]]) -> Path:
    meta = {k: v for k, v in record.items() if not k.startswith("_")}
    meta.update(
        files=[p["_path"] for p in paths],
        paths_data={"paths_version": 1, "paths": paths},
        package_tarball_full_path=str(record["_tarball"]),
        extracted_package_dir=str(record["_extracted"]),
        link={"source": str(record["_extracted"]), "type": 1},
        requested_spec=str(record.get("_requested", "")),
    )
    path = Path(prefix, "conda-meta", f"{dist_name(record)}.json")
    path.write_text(json.dumps(meta, indent=4), encoding="utf-8")
    return path


def link_package(ctx: Ctx, record: dict[str, Any], prefix: str, root: str,
                 native: bool) -> list[dict[str, Any]]:
    paths = link_files(record, prefix, ctx.flag("always_copy"))
    record["_linked_paths"] = paths
    if record["name"] == "python" and native:
        paths += make_python_real(record, prefix)
    write_conda_meta(record, prefix, paths)
    if native:
        run_post_link(record, prefix, root)
    return paths


def unlink_package(record: Mapping[str, Any], prefix: str) -> None:
    for entry in record.get("_linked_paths", []):
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(prefix, str(entry["_path"])))
    with contextlib.suppress(OSError):
        Path(prefix, "conda-meta", f"{dist_name(record)}.json").unlink()


# --------------------------------------------------------------------------- create


@dataclass
class SpecFiles:
    specs: list[str] = field(default_factory=list)
    explicit: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    name: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    pip: list[str] = field(default_factory=list)
    platform: str = ""


def file_kind(path: str) -> str:
    if re.search(r"-lock\.ya?ml$", path):
        return "conda-lock"
    if path.endswith((".yml", ".yaml")):
        return "yaml"
    return "json-lock" if path.endswith(".json") else "text"


def read_yaml_spec(path: str, out: SpecFiles) -> None:
    data = parse_yaml(Path(path).read_text(encoding="utf-8"))
    out.name = out.name or str(data.get("name") or "")
    out.channels += [str(c) for c in data.get("channels") or []]
    for dep in data.get("dependencies") or []:
        if isinstance(dep, dict) and "pip" in dep:
            out.pip += [str(p) for p in dep["pip"] or []]
        else:
            out.specs.append(str(dep))
    variables = data.get("variables") or {}
    if isinstance(variables, dict):
        out.variables.update({str(k): "" if v is None else str(v) for k, v in variables.items()})


def read_text_spec(path: str, out: SpecFiles) -> None:
    text = Path(path).read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines()]
    if not any(lines):
        raise MambaError(f"Got an empty file: {path}")
    explicit = any(line.startswith("@EXPLICIT") for line in lines)
    for line in lines:
        if line.startswith("# platform:"):
            out.platform = line.split(":", 1)[1].strip()
        if not line or line.startswith(("#", "@")):
            continue
        (out.explicit if explicit else out.specs).append(line)


def read_spec_files(paths: list[str]) -> SpecFiles:
    out = SpecFiles()
    kinds = {file_kind(p) for p in paths}
    if len(kinds) > 1:
        raise MambaError("found multiple spec file types, all spec files must be of same format")
    for path in paths:
        if not os.path.isfile(path):
            raise MambaError("Aborting.", f"File not found: '{path}'")
        kind = file_kind(path)
        if kind == "yaml":
            read_yaml_spec(path, out)
        elif kind == "text":
            read_text_spec(path, out)
        else:
            raise MambaError(f"stand-in: {kind} files are not simulated ('{path}')")
    return out


def explicit_record(line: str) -> dict[str, Any]:
    url, _, digest = line.partition("#")
    fn = url.rstrip("/").rsplit("/", 1)[-1]
    stem = archive_stem(fn)
    try:
        name, version, build = stem.rsplit("-", 2)
    except ValueError:
        raise MambaError(f"Invalid package filename in explicit spec: '{url}'") from None
    parent = url.rsplit("/", 1)[0]
    record: dict[str, Any] = {
        "name": name, "version": version, "build": build, "fn": fn, "url": url,
        "channel": parent.rsplit("/", 1)[0], "_requested": url, "_explicit": True}
    if digest.startswith("sha256:"):
        record["sha256"] = digest[7:]
    elif digest:
        record["md5"] = digest.removeprefix("md5:")
    return record


def check_existing_prefix(ctx: Ctx, prefix: str, root: str) -> None:
    if not os.path.lexists(prefix):
        return
    if prefix == root:
        raise MambaError("Aborting.", "Overwriting root prefix is not permitted - aborting.")
    if not os.path.isdir(prefix):
        raise MambaError("Aborting.", "Target prefix already exists and is not a folder - "
                                      "aborting.")
    if os.path.isdir(os.path.join(prefix, "conda-meta")):
        if ctx.flag("yes") or prompt(f"Found conda-prefix at '{prefix}'. Overwrite?", "n"):
            shutil.rmtree(prefix)
            return
        raise MambaError("Aborting.")
    if not os.listdir(prefix):
        log("warning", "Using existing empty folder as target prefix")
        return
    raise MambaError("Aborting.", "Non-conda folder exists at prefix - aborting.")


def register_env(prefix: str) -> None:
    env_file = Path(home_dir(), ".conda", "environments.txt")
    env_file.parent.mkdir(parents=True, exist_ok=True)
    lines = env_file.read_text(encoding="utf-8").splitlines() if env_file.exists() else []
    if prefix not in lines:
        with env_file.open("a", encoding="utf-8") as handle:
            handle.write(prefix + "\n")


def create_target_directory(prefix: str) -> None:
    Path(prefix, "conda-meta").mkdir(parents=True, exist_ok=True)
    Path(prefix, "conda-meta", "history").touch()
    register_env(prefix)


def human_size(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.1f}{unit}"
        size /= 1000
    return f"{size}B"


def print_transaction(prefix: str, specs: list[str], records: list[dict[str, Any]]) -> None:
    say("\nTransaction\n")
    say(f"  Prefix: {prefix}\n")
    say("  Updating specs:\n")
    for spec in specs:
        say(f"   - {spec}")
    say("\n")
    rows = [(f"+ {r['name']}", str(r["version"]), str(r["build"]),
             r["fn"] if r.get("_explicit") else str(r["channel"]).rsplit("/", 1)[-1],
             human_size(int(r.get("size") or 0))) for r in sorted(records, key=lambda r: r["name"])]
    header = ("Package", "Version", "Build", "Channel", "Size")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(5)]
    line = "─" * (sum(widths) + 14)
    say("  " + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    say(line + "\n  Install:\n" + line + "\n")
    for row in rows:
        say("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    total = sum(int(r.get("size") or 0) for r in records)
    say(f"\n  Summary:\n\n  Install: {len(records)} packages\n\n  Total download: "
        f"{human_size(total)}\n\n{line}\n")


def activation_message(prefix: str, root: str) -> None:
    envs = os.path.join(root, "envs")
    named = os.path.dirname(prefix) == envs
    shown = os.path.basename(prefix) if named else prefix
    say(f"\nTo activate this environment, use:\n\n    micromamba activate {shown}\n\n"
        "Or to execute a single command in this environment, use:\n\n"
        f"    micromamba run {'-n' if named else '-p'} {shown} mycommand\n")


def history_entry(prefix: str, records: list[dict[str, Any]], specs: list[str]) -> None:
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    lines = [f"==> {now} <==", f"# cmd: {' '.join(sys.argv)}", f"# conda version: {CONDA_VERSION}"]
    lines += [f"+{r['channel']}/{r['subdir']}::{dist_name(r)}" for r in records]
    if specs:
        lines.append("# update specs: [" + ", ".join(quoted(s) for s in specs) + "]")
    with Path(prefix, "conda-meta", "history").open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def fetch_all(ctx: Ctx, records: list[dict[str, Any]], pkgs_dir: str) -> None:
    valid = [fetch_package(ctx, record, pkgs_dir) for record in records]
    if not all(valid):
        raise MambaError("Found incorrect downloads. Aborting")


def interruptible_delay() -> None:
    delay = float(cfg("delay_create_s"))
    if delay > 0:
        time.sleep(delay)


def execute(ctx: Ctx, plan: Plan) -> None:
    say("\nTransaction starting")
    fetch_all(ctx, plan.records, plan.pkgs[0])
    if ctx.flag("download_only"):
        say("Download only - packages are downloaded and extracted. Skipping the linking phase.")
        return
    linked: list[dict[str, Any]] = []
    try:
        if not plan.records:
            interruptible_delay()
        for index, record in enumerate(plan.records):
            say(f"Linking {dist_name(record)}")
            link_package(ctx, record, plan.prefix, plan.root, plan.native)
            linked.append(record)
            if index == 0:
                interruptible_delay()
    except KeyboardInterrupt:
        say("Transaction interrupted, rollbacking")
        for record in reversed(linked):
            unlink_package(record, plan.prefix)
        raise
    history_entry(plan.prefix, plan.records, plan.specs)
    say("\nTransaction finished\n")


@dataclass
class Plan:
    prefix: str
    root: str
    pkgs: list[str]
    platform: str
    specs: list[str]
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def native(self) -> bool:
        return self.platform == host_platform()


def solve_specs(ctx: Ctx, plan: Plan, channels: list[str]) -> None:
    priority = channel_priority(ctx)
    records = load_channels(ctx, configured_channels(ctx, channels), plan.platform, plan.pkgs)
    pool = Pool(records, priority)
    specs = [MatchSpec.parse(s) for s in plan.specs]
    say("Resolving Environment\n")
    solution = solve(pool, specs)
    if solution is None:
        explanation = explain_unsat(pool, specs)
        if ctx.flag("json"):
            print_json({"success": False, "solver_problems": explanation.splitlines()[1:]})
        raise MambaError("Could not solve for environment specs",
                         "Could not solve for environment specs\n" + explanation)
    requested = {s.name: s.raw for s in specs}
    for record in solution:
        record["_requested"] = requested.get(record["name"], "")
    plan.records = solution


def print_json(data: Mapping[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, indent=4) + "\n")
    sys.stdout.flush()


def json_report(plan: Plan, dry_run: bool) -> dict[str, Any]:
    clean = [{k: v for k, v in r.items() if not k.startswith("_")} for r in plan.records]
    return {"actions": {"FETCH": clean, "LINK": clean, "PREFIX": plan.prefix},
            "dry_run": dry_run, "prefix": plan.prefix, "success": True}


def write_state(ctx: Ctx, prefix: str, variables: Mapping[str, str]) -> None:
    if not variables:
        return
    if ctx.no_env:
        log("warning", "Using `no-env`. Variables from yaml file are not considered.")
        return
    path = Path(prefix, "conda-meta", "state")
    state: dict[str, Any] = {}
    if path.is_file():
        with contextlib.suppress(ValueError):
            state = dict(json.loads(path.read_text(encoding="utf-8")))
    env_vars = dict(state.get("env_vars", {}))
    env_vars.update({k.upper(): v for k, v in variables.items()})
    state["env_vars"] = env_vars
    path.write_text(json.dumps(state, indent=4), encoding="utf-8")


def install_pip(ctx: Ctx, prefix: str, pip: list[str]) -> None:
    if not pip:
        return
    python = os.path.join(prefix, "bin", "python")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("\n".join(pip) + "\n")
    command = ["uv", "pip", "install", "-r", handle.name] if ctx.flag("use_uv") else \
        [python, "-m", "pip", "install", "-r", handle.name, "--no-input"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError:
        result = subprocess.CompletedProcess(command, 1, "", "")
    finally:
        os.unlink(handle.name)
    if result.returncode != 0:
        raise MambaError("pip failed to install packages", result.stderr.strip() or
                         "pip failed to install packages")


def prepare_create(ctx: Ctx) -> tuple[Plan, SpecFiles]:
    root = root_prefix(ctx)
    load_config(ctx, root)
    files = read_spec_files(ctx.many("file"))
    prefix = target_prefix(ctx, root, files.name)
    if not prefix:
        raise MambaError("Aborting.", "No target prefix specified")
    platform = ctx.value("platform") or files.platform or host_platform()
    plan = Plan(prefix, root, pkgs_dirs(ctx, root), platform,
                ctx.positionals("specs") + files.specs + files.explicit)
    return plan, files


def cmd_create(ctx: Ctx) -> int:
    plan, files = prepare_create(ctx)
    dry_run = ctx.flag("dry_run")
    if not dry_run:
        check_existing_prefix(ctx, plan.prefix, plan.root)
        if not plan.specs:
            create_target_directory(plan.prefix)
        if ctx.values.get("platform") or ctx.env("CONDA_SUBDIR") or ctx.env("MAMBA_PLATFORM"):
            Path(plan.prefix).mkdir(parents=True, exist_ok=True)
            Path(plan.prefix, ".mambarc").write_text(f"platform: {plan.platform}",
                                                     encoding="utf-8")
    if not plan.specs:
        say(f"Empty environment created at prefix: {plan.prefix}")
        return 0
    if files.explicit:
        plan.records = [explicit_record(line) for line in files.explicit]
    else:
        solve_specs(ctx, plan, files.channels)
    if cfg("fail_create"):
        raise MambaError(str(cfg("fail_create")))
    print_transaction(plan.prefix, plan.specs, plan.records)
    if dry_run:
        say("Dry run. Not executing the transaction.")
    elif ctx.flag("yes") or prompt("Confirm changes", "y"):
        create_target_directory(plan.prefix)
        execute(ctx, plan)
        if not ctx.flag("download_only"):
            write_state(ctx, plan.prefix, files.variables)
            install_pip(ctx, plan.prefix, files.pip)
            activation_message(plan.prefix, plan.root)
    if ctx.flag("json"):
        print_json(json_report(plan, dry_run))
    return 0


# --------------------------------------------------------------------------- env export, list


RECORD_DEFAULTS = {"name": "", "version": "", "build": "", "build_number": 0, "channel": "",
                   "url": "", "subdir": "", "fn": "", "md5": "", "sha256": "", "depends": []}


def prefix_records(prefix: str) -> list[dict[str, Any]]:
    """conda-meta/*.json, one record per name, sorted by name (PrefixData's std::map).

    Like PackageInfo::from_json, any JSON file is accepted and missing keys default to empty
    values: a non-package file in conda-meta becomes a record named "".
    """
    by_name: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(prefix, "conda-meta").glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, OSError) as exc:
            raise MambaError(f"[json.exception.parse_error] {path}: {exc}") from None
        record = {**RECORD_DEFAULTS, **(data if isinstance(data, dict) else {})}
        by_name[str(record["name"])] = record
    return [by_name[name] for name in sorted(by_name)]


def sorted_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """PrefixData::sorted_records: reverse DFS finish order over dependency -> dependent
    edges, nodes in name order; so dependencies come before the packages needing them."""
    index = {str(r["name"]): i for i, r in enumerate(records)}
    successors: list[list[int]] = [[] for _ in records]
    for i, record in enumerate(records):
        for dep in record.get("depends") or []:
            j = index.get(MatchSpec.parse(str(dep)).name)
            if j is not None and i not in successors[j]:
                successors[j].append(i)
    finished: list[int] = []
    seen: set[int] = set()

    def visit(node: int) -> None:
        seen.add(node)
        for nxt in successors[node]:
            if nxt not in seen:
                visit(nxt)
        finished.append(node)

    for node in range(len(records)):
        if node not in seen:
            visit(node)
    return [records[i] for i in reversed(finished)]


def existing_env(ctx: Ctx, root: str) -> str:
    prefix = target_prefix(ctx, root, fallback=True)
    if not os.path.isdir(prefix):
        raise MambaError("Aborting.", f"No prefix found at: {prefix}\n"
                                      "Environment must first be created with "
                                      "\"micromamba create -n {env_name} ...\"")
    if not os.path.isdir(os.path.join(prefix, "conda-meta")):
        raise MambaError("Aborting.", f"Expected environment not found at prefix: {prefix}")
    return prefix


def prefix_platform(ctx: Ctx, prefix: str) -> str:
    rc = Path(prefix, ".mambarc")
    if not ctx.flag("no_rc") and rc.is_file():
        with contextlib.suppress(ValueError, OSError):
            value = parse_yaml(rc.read_text(encoding="utf-8")).get("platform")
            if value:
                return str(value)
    return ctx.value("platform") or host_platform()


def cmd_env_export(ctx: Ctx) -> int:
    root = root_prefix(ctx)
    load_config(ctx, root)
    prefix = existing_env(ctx, root)
    records = prefix_records(prefix)
    if ctx.flag("explicit"):
        lines = ["# This file may be used to create an environment using:",
                 "# $ conda create --name <env> --file <this file>",
                 f"# platform: {prefix_platform(ctx, prefix)}", "@EXPLICIT"]
        md5 = ctx.flag("md5", default=True)
        lines += [f"{r['url']}#{r['md5']}" if md5 else str(r["url"])
                  for r in sorted_records(records)]
        sys.stdout.write("\n".join(lines) + "\n")
        return 0
    name = os.path.basename(prefix) if os.path.dirname(prefix) == os.path.join(root, "envs") \
        else ("base" if prefix == root else "")
    channels = sorted({str(r.get("channel", "")) for r in records})
    deps = [f"{r['name']}={r['version']}" + (f"={r['build']}" if ctx.flag("build", True) else "")
            for r in records]
    if ctx.flag("json"):
        print_json({"channels": channels, "dependencies": deps, "name": name, "prefix": prefix})
        return 0
    out = [f"name: {name}", "channels:", *[f"  - {c}" for c in channels], "dependencies:",
           *[f"  - {d}" for d in deps], "", f"prefix: {quoted(prefix)}"]
    sys.stdout.write("\n".join(out) + "\n")
    return 0


def known_envs(root: str) -> list[str]:
    envs = [root] if os.path.isdir(os.path.join(root, "conda-meta")) else []
    envs_dir = Path(root, "envs")
    if envs_dir.is_dir():
        envs += [str(p) for p in sorted(envs_dir.iterdir()) if (p / "conda-meta").is_dir()]
    env_file = Path(home_dir(), ".conda", "environments.txt")
    if env_file.is_file():
        for line in env_file.read_text(encoding="utf-8").splitlines():
            if line and line not in envs and os.path.isdir(os.path.join(line, "conda-meta")):
                envs.append(line)
    return envs


def cmd_env_list(ctx: Ctx) -> int:
    root = root_prefix(ctx)
    load_config(ctx, root)
    envs = known_envs(root)
    if ctx.flag("json"):
        print_json({"envs": envs})
        return 0
    active = os.environ.get("CONDA_PREFIX", "")
    sys.stdout.write("  Name  Active  Path\n" + "─" * 40 + "\n")
    for env in envs:
        name = "base" if env == root else (os.path.basename(env) if os.path.dirname(env)
                                           == os.path.join(root, "envs") else "")
        sys.stdout.write(f"  {name:<10} {'*' if env == active else ' ':<6} {env}\n")
    return 0


def cmd_list(ctx: Ctx) -> int:
    root = root_prefix(ctx)
    load_config(ctx, root)
    prefix = existing_env(ctx, root)
    pattern = (ctx.positionals("regex") or [""])[0]
    records = [r for r in prefix_records(prefix) if re.search(pattern, str(r.get("name")))]
    if ctx.flag("json"):
        rows = [{"name": r.get("name"), "version": r.get("version"),
                 "build_string": r.get("build"), "build_number": r.get("build_number"),
                 "channel": r.get("channel"), "platform": r.get("subdir"),
                 "dist_name": dist_name(r)} for r in records]
        sys.stdout.write(json.dumps(rows, indent=4) + "\n")
        return 0
    sys.stdout.write(f"List of packages in environment: {quoted(prefix)}\n\n")
    sys.stdout.write("  Name  Version  Build  Channel\n" + "─" * 40 + "\n")
    for r in records:
        sys.stdout.write(f"  {r['name']}  {r['version']}  {r['build']}  {r.get('channel', '')}\n")
    return 0


# --------------------------------------------------------------------------- info


def virtual_packages() -> list[str]:
    out = ["__unix=0=0"]
    if sys.platform.startswith("linux"):
        release = re.match(r"[\d.]+", _platform.release())
        out.append(f"__linux={release.group(0).rstrip('.') if release else '0'}=0")
        libc, version = _platform.libc_ver()
        if libc == "glibc":
            out.append(f"__glibc={version}=0")
    out.append(f"__archspec=1={_platform.machine()}")
    return out


def cmd_info(ctx: Ctx) -> int:
    root = root_prefix(ctx)
    load_config(ctx, root)
    version, platform = str(cfg("version")), ctx.value("platform") or host_platform()
    active = os.environ.get("CONDA_PREFIX", "")
    env = "None" if not active else f"{os.path.basename(active) or active} (active)"
    channels = [f"{c.url}/{s}" for c in configured_channels(ctx, []) for s in (platform, "noarch")]
    items: list[tuple[str, Any]] = [
        ("libmamba version", version), ("micromamba version", version),
        ("curl version", "libcurl/8.14.1 OpenSSL/3.5.1 zlib/1.3.1 zstd/1.5.7"),
        ("libarchive version", "libarchive 3.8.1 zlib/1.3.1 bz2lib/1.0.8 libzstd/1.5.7"),
        ("envs directories", [os.path.join(root, "envs")]),
        ("package cache", pkgs_dirs(ctx, root)), ("environment", env),
        ("env location", active or "-"),
        ("user config files", [os.path.join(home_dir(), ".mambarc")]),
        ("populated config files", ctx.rc_sources), ("virtual packages", virtual_packages()),
        ("channels", channels), ("base environment", root), ("platform", platform)]
    if ctx.flag("json"):
        print_json(dict(items))
        return 0
    width = max(len(k) for k, _ in items) + 1
    lines = [""]
    for key, value in items:
        values = value if isinstance(value, list) else [value]
        lines.append(f"{key:>{width}} : {values[0] if values else ''}")
        lines += [f"{'':>{width}}   {v}" for v in values[1:]]
    sys.stdout.write("\n".join(lines) + "\n\n")
    return 0


# --------------------------------------------------------------------------- activation


def prefix_path_dirs(prefix: str) -> list[str]:
    if os.name == "nt":
        return [prefix] + [os.path.join(prefix, *p.split("/")) for p in (
            "Library/mingw-w64/bin", "Library/usr/bin", "Library/bin", "Scripts", "bin")]
    return [os.path.join(prefix, "bin")]


def prefix_env_vars(prefix: str) -> dict[str, str]:
    out: dict[str, str] = {}
    folder = Path(prefix, "etc", "conda", "env_vars.d")
    sources = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    state = Path(prefix, "conda-meta", "state")
    for path in [*sources, state] if state.is_file() else sources:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            data = data.get("env_vars", {}) if path == state else data
        except (ValueError, OSError):
            log("warning", f"Could not read JSON at {path}")
            continue
        if isinstance(data, dict):
            out.update({str(k).upper(): str(v) for k, v in data.items()})
    return {k: v for k, v in out.items() if v != "***unset***"}


def default_env_name(prefix: str, root: str) -> str:
    if prefix == root:
        return "base"
    if os.path.basename(os.path.dirname(prefix)) == "envs":
        return os.path.basename(prefix)
    return prefix


def dedupe_adjacent(items: list[str]) -> list[str]:
    return [item for i, item in enumerate(items) if i == 0 or items[i - 1] != item]


@dataclass
class Activation:
    exports: list[tuple[str, str]] = field(default_factory=list)
    unsets: list[str] = field(default_factory=list)
    ps1: str | None = None
    scripts: list[str] = field(default_factory=list)
    deactivate_scripts: list[str] = field(default_factory=list)


def scripts_in(prefix: str, kind: str, ext: str, reverse: bool = False) -> list[str]:
    folder = Path(prefix, "etc", "conda", kind)
    if not folder.is_dir():
        return []
    found = [str(p) for p in folder.iterdir() if p.suffix == ext]
    return sorted(found, reverse=reverse)


def activate(prefix: str, root: str, environ: Mapping[str, str], ext: str,
             stack: bool = False, changeps1: bool = True) -> Activation:
    act = Activation()
    old_shlvl = int(environ.get("CONDA_SHLVL") or 0)
    old_prefix = environ.get("CONDA_PREFIX", "") if old_shlvl > 0 else ""
    path = [p for p in environ.get("PATH", environ.get("Path", "")).split(os.pathsep) if p]
    for key, value in prefix_env_vars(prefix).items():
        if key in environ:
            act.exports.append((f"__CONDA_SHLVL_{old_shlvl}_{key}", environ[key]))
        act.exports.append((key, value))
    new_dirs, shlvl = prefix_path_dirs(prefix), old_shlvl + 1
    if old_prefix == prefix:
        shlvl = old_shlvl
        path = [p for p in path if p not in new_dirs]
    elif old_prefix and not stack:
        path = [p for p in path if p not in prefix_path_dirs(old_prefix)]
        act.deactivate_scripts = scripts_in(old_prefix, "deactivate.d", ext, reverse=True)
    if not any(p.endswith("condabin") for p in path):
        path.insert(0, os.path.join(root, "condabin") if root else os.sep + "condabin")
    act.exports.append(("PATH", os.pathsep.join(dedupe_adjacent(new_dirs + path))))
    if old_prefix and old_prefix != prefix:
        act.exports.append((f"CONDA_PREFIX_{old_shlvl}", old_prefix))
        if stack:
            act.exports.append((f"CONDA_STACKED_{shlvl}", "true"))
    name = default_env_name(prefix, root)
    act.exports += [("CONDA_PREFIX", prefix), ("CONDA_SHLVL", str(shlvl)),
                    ("CONDA_DEFAULT_ENV", name)]
    if changeps1:
        modifier = f"({name}) "
        act.exports.append(("CONDA_PROMPT_MODIFIER", modifier))
        old_ps1 = environ.get("PS1", "")
        old_ps1 = old_ps1.removeprefix(environ.get("CONDA_PROMPT_MODIFIER", "") or "\0")
        act.ps1 = None if "POWERLINE_COMMAND" in old_ps1 else modifier + old_ps1
    else:
        act.unsets.append("CONDA_PROMPT_MODIFIER")
    act.scripts = scripts_in(prefix, "activate.d", ext)
    return act


def deactivate(environ: Mapping[str, str], ext: str) -> Activation:
    act = Activation()
    shlvl = int(environ.get("CONDA_SHLVL") or 0)
    prefix = environ.get("CONDA_PREFIX", "")
    if shlvl <= 0 or not prefix:
        return act
    path = [p for p in environ.get("PATH", "").split(os.pathsep)
            if p and p not in prefix_path_dirs(prefix)]
    act.deactivate_scripts = scripts_in(prefix, "deactivate.d", ext, reverse=True)
    act.unsets = list(prefix_env_vars(prefix))
    previous = environ.get(f"CONDA_PREFIX_{shlvl - 1}", "")
    act.exports.append(("PATH", os.pathsep.join(path)))
    if previous:
        act.exports += [("CONDA_PREFIX", previous), ("CONDA_SHLVL", str(shlvl - 1))]
        act.unsets.append(f"CONDA_PREFIX_{shlvl - 1}")
    else:
        act.unsets += ["CONDA_PREFIX", "CONDA_DEFAULT_ENV", "CONDA_PROMPT_MODIFIER"]
        act.exports.append(("CONDA_SHLVL", "0"))
    act.ps1 = environ.get("PS1", "").removeprefix(environ.get("CONDA_PROMPT_MODIFIER", "") or
                                                  "\0")
    return act


SCRIPT_EXT = {"bash": ".sh", "zsh": ".sh", "posix": ".sh", "dash": ".sh", "xonsh": ".sh",
              "cmd.exe": ".bat", "powershell": ".ps1", "fish": ".fish", "tcsh": ".csh",
              "nu": ".nu"}


def render(shell: str, act: Activation) -> str:
    lines: list[str] = []
    if shell in ("bash", "zsh", "posix", "dash"):
        lines += [f". {quoted(s)}" for s in act.deactivate_scripts]
        lines += [f"unset {v}" for v in act.unsets]
        lines += [f"PS1='{act.ps1}'"] if act.ps1 is not None else []
        lines += [f"export {k}='{v}'" for k, v in act.exports]
        lines += [f". {quoted(s)}" for s in act.scripts]
    elif shell == "cmd.exe":
        lines += [f"@CALL {quoted(s)}" for s in act.deactivate_scripts]
        lines += [f"@SET {v}=" for v in act.unsets]
        lines += [f'@SET "{k}={v}"' for k, v in act.exports]
        lines += [f"@CALL {quoted(s)}" for s in act.scripts]
    elif shell == "powershell":
        lines += [f". {quoted(s)}" for s in act.deactivate_scripts]
        lines += [f'$Env:{v} = ""' for v in act.unsets]
        lines += [f'$Env:{k} = "{v}"' for k, v in act.exports]
        lines += [f". {quoted(s)}" for s in act.scripts]
    elif shell == "fish":
        lines += [f"set -e {v}" for v in act.unsets]
        lines += [f'set -gx {k} "{v}"' for k, v in act.exports]
        lines += [f"source {quoted(s)}" for s in act.scripts]
    elif shell == "tcsh":
        lines += [f"unsetenv {v};" for v in act.unsets]
        lines += [f"set prompt='{act.ps1}';"] if act.ps1 is not None else []
        lines += [f'setenv {k} "{v}";' for k, v in act.exports]
        lines += [f"source {quoted(s)};" for s in act.scripts]
    elif shell == "xonsh":
        lines += [f"del ${v}" for v in act.unsets]
        lines += [f'${k} = "{v}"' for k, v in act.exports]
        lines += [f"source-bash --suppress-skip-message -n {quoted(s)}" for s in act.scripts]
    else:  # nu
        lines += [f"hide-env {v}" for v in act.unsets]
        lines += [f'$env.{k} = "{v}"' for k, v in act.exports]
    return "\n".join(lines) + ("\n" if lines else "")


def emit_activation(shell: str, act: Activation) -> None:
    text = render(shell, act)
    if shell != "cmd.exe":
        sys.stdout.write(text)
        return
    suffix = "".join(random.choice(string.ascii_letters + string.digits) for _ in range(10))
    path = os.path.join(tempfile.gettempdir(), f"mamba_act{suffix}.bat")
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    sys.stdout.write(path)


def detect_shell() -> str:
    name = os.path.basename(os.environ.get("SHELL", "bash"))
    return name if name in SHELLS else "bash"


def activation_root(ctx: Ctx) -> str:
    return explicit_root(ctx)


def changeps1(ctx: Ctx) -> bool:
    return ctx.flag("changeps1", default=True)


def cmd_shell_activate(ctx: Ctx, stack_cmd: str) -> int:
    load_config(ctx)
    shell = ctx.value("shell") or detect_shell()
    root = activation_root(ctx)
    environ = dict(os.environ)
    if stack_cmd == "deactivate":
        emit_activation(shell, deactivate(environ, SCRIPT_EXT[shell]))
        return 0
    base_root = root or root_prefix(ctx)
    arg = (ctx.positionals("prefix_or_name") or [""])[0]
    if stack_cmd == "reactivate":
        prefix = os.environ.get("CONDA_PREFIX") or base_root
    elif ctx.values.get("prefix") or (arg and re.search(r"[/\\]", arg)):
        prefix = expand(str(ctx.values.get("prefix") or arg))
    else:
        prefix = env_prefix(base_root, str(ctx.values.get("name") or arg or "base"))
    if not os.path.exists(prefix):
        raise MambaError(f"Cannot activate, prefix does not exist at: '{prefix}'")
    act = activate(prefix, root, environ, SCRIPT_EXT[shell], bool(ctx.values.get("stack")),
                   changeps1(ctx))
    emit_activation(shell, act)
    return 0


def self_exe() -> str:
    return os.path.realpath(sys.argv[0])


def hook_text(shell: str, root: str) -> str:
    exe = self_exe()
    if shell == "powershell":
        return (f"$MambaModuleArgs = @{{ChangePs1 = $True}}\n$Env:MAMBA_EXE='{exe}'\n"
                f"$Env:MAMBA_ROOT_PREFIX='{root}'\n")
    return f"""export MAMBA_EXE='{exe}';
export MAMBA_ROOT_PREFIX='{root}';
__mamba_name="$(basename "$MAMBA_EXE")"
case "$__mamba_name" in micromamba|mamba) ;;
  *) echo "Error unknown MAMBA_EXE: \\"$MAMBA_EXE\\", filename must be mamba or micromamba" 1>&2;;
esac
__mamba_exe() (
    "$MAMBA_EXE" "$@"
)
__mamba_activate() {{
    \\local ask_conda
    ask_conda="$(PS1="${{PS1:-}}" __mamba_exe shell "$@" --shell {shell})" || \\return
    \\eval "$ask_conda"
    \\hash -r
}}
micromamba() {{
    case "${{1:-}}" in
        activate|reactivate|deactivate) __mamba_activate "$@" ;;
        *) __mamba_exe "$@" ;;
    esac
}}
if [ -z "${{CONDA_SHLVL+x}}" ]; then
    \\export CONDA_SHLVL=0
    export PATH="${{MAMBA_ROOT_PREFIX}}/condabin:${{PATH}}"
fi
"""


def write_cmdexe_files(root: str) -> None:
    exe = self_exe()
    files = {
        "condabin/micromamba.bat": f'@SET "MAMBA_EXE={exe}"\n@SET "MAMBA_ROOT_PREFIX={root}"\n'
                                   '@CALL "%~dp0_micromamba_activate.bat" %*\n',
        "condabin/_micromamba_activate.bat": f'@SET "MAMBA_EXE={exe}"\n',
        "condabin/activate.bat": '@CALL "%~dp0micromamba.bat" activate %*\n',
        "Scripts/activate.bat": '@CALL "%~dp0..\\condabin\\micromamba.bat" activate %*\n',
        "condabin/mamba_hook.bat": f'@SET "MAMBA_EXE={exe}"\n@SET "MAMBA_ROOT_PREFIX={root}"\n'
                                   '@DOSKEY micromamba="%MAMBA_EXE%" $*\n',
    }
    for rel, text in files.items():
        path = Path(root, rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def cmd_shell_hook(ctx: Ctx) -> int:
    load_config(ctx)
    shell = ctx.value("shell") or detect_shell()
    root = explicit_root(ctx) or root_prefix(ctx)
    if shell == "cmd.exe":
        write_cmdexe_files(root)
        hook = os.path.join(root, "condabin", "mamba_hook.bat")
        log("warning", f"Hook installed, now 'manually' execute:\nCALL {quoted(hook)}")
        return 0
    sys.stdout.write(hook_text(shell, root))
    return 0


def rc_file_for(shell: str) -> Path:
    home = home_dir()
    files = {"bash": ".bash_profile" if sys.platform == "darwin" else ".bashrc", "zsh": ".zshrc",
             "xonsh": ".xonshrc", "tcsh": ".tcshrc", "fish": ".config/fish/config.fish",
             "powershell": ".config/powershell/profile.ps1", "nu": ".config/nushell/config.nu",
             "posix": ".profile", "dash": ".profile"}
    if shell == "zsh" and os.environ.get("ZDOTDIR"):
        return Path(os.environ["ZDOTDIR"], ".zshrc")
    if shell not in files:
        raise MambaError(f"Shell '{shell}' is not supported on this platform")
    return Path(home, files[shell])


def init_block(shell: str, root: str) -> str:
    exe = self_exe()
    body = [f"export MAMBA_EXE='{exe}';", f"export MAMBA_ROOT_PREFIX='{root}';",
            f'__mamba_setup="$("$MAMBA_EXE" shell hook --shell {shell} --root-prefix '
            '"$MAMBA_ROOT_PREFIX" 2> /dev/null)"', "if [ $? -eq 0 ]; then",
            '    eval "$__mamba_setup"', "else",
            '    alias micromamba="$MAMBA_EXE"  # Fallback on help from micromamba activate',
            "fi", "unset __mamba_setup"]
    return "\n".join([INIT_BEGIN, "# !! Contents within this block are managed by "
                      "'micromamba shell init' !!", *body, INIT_END])


def strip_block(text: str) -> str:
    return re.sub(re.escape(INIT_BEGIN) + r".*?" + re.escape(INIT_END) + r"\n?", "", text,
                  flags=re.DOTALL)


def cmd_shell_init(ctx: Ctx, action: str) -> int:
    load_config(ctx)
    shell = ctx.value("shell") or detect_shell()
    root = explicit_root(ctx) or root_prefix(ctx)
    shells = [shell]
    if action == "reinit":
        shells = [s for s in ("bash", "zsh", "fish", "xonsh", "tcsh", "powershell")
                  if ctx.value("shell") in (None, s) and rc_file_for(s).is_file()
                  and INIT_BEGIN in rc_file_for(s).read_text(encoding="utf-8")]
    for name in shells:
        rc = rc_file_for(name)
        old = rc.read_text(encoding="utf-8") if rc.is_file() else ""
        if action == "deinit":
            say(f"Removing the following in your {quoted(str(rc))} file\n")
            if rc.is_file():
                rc.write_text(strip_block(old), encoding="utf-8")
            continue
        block = init_block(name, root)
        say(f"Modifying RC file {quoted(str(rc))}\nGenerating config for root prefix "
            f"{quoted(root)}\nSetting mamba executable to: {quoted(self_exe())}\n"
            f"Adding (or replacing) the following in your {quoted(str(rc))} file\n\n{block}")
        rc.parent.mkdir(parents=True, exist_ok=True)
        kept = strip_block(old)
        rc.write_text(kept + ("\n" if kept and not kept.endswith("\n") else "") + block + "\n",
                      encoding="utf-8")
        Path(root, "etc", "profile.d").mkdir(parents=True, exist_ok=True)
        Path(root, "etc", "profile.d", "mamba.sh").write_text(hook_text("bash", root),
                                                              encoding="utf-8")
    return 0


def cmd_activate_subprocess(ctx: Ctx) -> int:
    shell = detect_shell()
    sys.stdout.write(
        "\n'micromamba' is running as a subprocess and can't modify the parent shell.\n"
        "Thus you must initialize your shell before using activate and deactivate.\n\n"
        f"To initialize the current {shell} shell, run:\n"
        f'    $ eval "$(micromamba shell hook --shell {shell})"\n'
        "and then activate or deactivate with:\n    $ micromamba activate\n"
        f"To automatically initialize all future ({shell}) shells, run:\n"
        f"    $ micromamba shell init --shell {shell} --root-prefix=~/.local/share/mamba\n"
        "If your shell was already initialized, reinitialize your shell with:\n"
        f"    $ micromamba shell reinit --shell {shell}\n"
        "Otherwise, this may be an issue. In the meantime you can run commands. See:\n"
        "    $ micromamba run --help\n\n"
        "Supported shells are {bash, zsh, csh, posix, xonsh, cmd.exe, powershell, fish, nu}.\n")
    raise MambaError("Shell not initialized")


# --------------------------------------------------------------------------- run


def run_environment(ctx: Ctx, prefix: str) -> tuple[dict[str, str], list[str]]:
    base = {} if ctx.values.get("clean_env") else dict(os.environ)
    for item in ctx.many("env"):
        key, eq, value = item.partition("=")
        if eq:
            base[key] = value
        elif key in os.environ:
            base[key] = os.environ[key]
    act = activate(prefix, explicit_root(ctx), base, ".sh")
    for name in act.unsets:
        base.pop(name, None)
    base.update(dict(act.exports))
    base["MAMBA_EXE"] = self_exe()
    return base, act.scripts


def proc_file(pid: int, prefix: str, command: list[str], label: str) -> Path:
    folder = Path(user_cache_dir(), "mamba", "proc")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{pid}.json"
    started = datetime.datetime.now().strftime("%Y-%m-%dT%H:%M:%S")
    path.write_text(json.dumps({"name": label, "command": command, "prefix": prefix,
                                "pid": pid, "started": started}, indent=4), encoding="utf-8")
    return path


def run_script(scripts: list[str], command: list[str]) -> str:
    lines = [f". {quoted(s)}" for s in scripts] + ["exec " + shlex.join(command)]
    with tempfile.NamedTemporaryFile("w", prefix="mamba_run_", suffix=".sh", delete=False) as fh:
        fh.write("\n".join(lines) + "\n")
    return fh.name


def cmd_run(ctx: Ctx) -> int:
    load_config(ctx)
    root = explicit_root(ctx) or root_prefix(ctx)
    prefix = target_prefix(ctx, root, fallback=True)
    if not ctx.parsed.command:
        log("error", "Did not receive any command to run inside environment")
        return 1
    if not os.path.exists(prefix):
        raise MambaError(f"The given prefix does not exist: {quoted(prefix)}")
    cwd = str(ctx.values.get("cwd") or os.getcwd())
    if not os.path.isdir(cwd):
        log("critical", f"The given path does not exist: {cwd}")
        return 255
    env, scripts = run_environment(ctx, prefix)
    script = run_script(scripts, ctx.parsed.command)
    attach = ctx.values.get("attach")
    sink = subprocess.DEVNULL if attach == "" else None
    try:
        return run_child([bash_path(), script], env, cwd, sink, prefix, ctx)
    finally:
        os.unlink(script)


def run_child(argv: list[str], env: dict[str, str], cwd: str, sink: int | None, prefix: str,
              ctx: Ctx) -> int:
    label = str(ctx.values.get("label") or os.path.basename(ctx.parsed.command[0]))
    child = subprocess.Popen(argv, env=env, cwd=cwd, stdout=sink, stderr=sink)

    def forward(signum: int, _frame: FrameType | None) -> None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGHUP)}
    previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.SIG_IGN)
    record = proc_file(child.pid, prefix, ctx.parsed.command, label)
    try:
        code = child.wait()
    finally:
        with contextlib.suppress(OSError):
            record.unlink()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 128 - code if code < 0 else code


# --------------------------------------------------------------------------- main


def dispatch(ctx: Ctx) -> int:
    names = [c.name for c in ctx.parsed.chain][1:]
    setup_output(ctx)
    handlers: dict[tuple[str, ...], Callable[[], int]] = {
        ("create",): lambda: cmd_create(ctx),
        ("env", "export"): lambda: cmd_env_export(ctx),
        ("env", "list"): lambda: cmd_env_list(ctx),
        ("list",): lambda: cmd_list(ctx),
        ("info",): lambda: cmd_info(ctx),
        ("run",): lambda: cmd_run(ctx),
        ("activate",): lambda: cmd_activate_subprocess(ctx),
        ("deactivate",): lambda: cmd_activate_subprocess(ctx),
        ("shell", "hook"): lambda: cmd_shell_hook(ctx),
        ("shell", "enable_long_path_support"): lambda: 0,
    }
    for action in ("activate", "reactivate", "deactivate"):
        handlers[("shell", action)] = functools.partial(cmd_shell_activate, ctx, action)
    for action in ("init", "deinit", "reinit"):
        handlers[("shell", action)] = functools.partial(cmd_shell_init, ctx, action)
    key = tuple(names)
    if key in handlers:
        return handlers[key]()
    if key == ("shell",):
        ctx.parsed.command = [os.environ.get("SHELL") or bash_path()]
        return cmd_run(ctx)
    if not names:
        load_config(ctx)
        sys.stdout.write(help_text(ctx.parsed.leaf, ctx.parsed.chain))
        return 0
    raise MambaError(f"stand-in: 'micromamba {' '.join(names)}' is not simulated")


def run_cli(argv: list[str]) -> int:
    root = build_cli()
    try:
        parsed = parse_cli(argv, root)
        check_parsed(parsed)
    except CliError as exc:
        sys.stderr.write(f"{exc.message}\nRun with --help for more information.\n")
        return exc.exit_code
    if parsed.help:
        sys.stdout.write(help_text(parsed.leaf, parsed.chain))
        return 0
    try:
        return dispatch(Ctx(parsed))
    except MambaError as exc:
        for error in exc.errors:
            log("error", error)
        log("critical", exc.message)
        return 1


def exec_time() -> float | None:
    """When this process was started (Linux: /proc), so that the interpreter's own start-up
    counts as the stand-in's time, as a real binary's would."""
    try:
        stat = Path("/proc/self/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text(encoding="ascii").split()[0])
        age = uptime - int(stat[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
    return time.time() - max(age, 0.0)


class Recorder:
    """Appends one JSON line per invocation to CONFIG['record_file']."""

    def __init__(self) -> None:
        self.start = time.time()
        self.exec_start = exec_time() or self.start
        self.done = False

    def write(self, exit_code: int | None) -> None:
        path = str(cfg("record_file") or "")
        if self.done or not path:
            return
        self.done = True
        try:
            cwd = os.getcwd()
        except OSError:
            cwd = ""
        line = json.dumps({"argv": sys.argv, "cwd": cwd, "env": dict(os.environ),
                           "pid": os.getpid(), "start": self.start,
                           "exec_start": self.exec_start, "end": time.time(),
                           "exit_code": exit_code})
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    def on_sigterm(self, signum: int, _frame: FrameType | None) -> None:
        self.write(-signum)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


@contextlib.contextmanager
def recorded() -> Iterator[Recorder]:
    recorder = Recorder()
    signal.signal(signal.SIGTERM, recorder.on_sigterm)
    yield recorder


def main(argv: list[str]) -> int:
    with recorded() as recorder:
        code = 1
        try:
            code = run_cli(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except KeyboardInterrupt:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            log("warning", "Interrupted by user")
            code = 0
        finally:
            recorder.write(code)
        return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
