"""The CLI11-like parser, the table of commands and options, and --help (contract 2.1-2.6)."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from typing import Any

from .common import LOG_LEVELS, SHELLS, CliError, cfg, yaml_bool


@dataclass(frozen=True)
class Opt:
    names: tuple[str, ...]
    dest: str
    kind: str = "flag"  # flag | count | value | append | greedy | version
    store: Any = True
    type_name: str = "TEXT"  # 2.8.1 names every string value TEXT, paths too
    choices: tuple[str, ...] = ()
    enum: tuple[tuple[str, int], ...] = ()  # CLI11 CheckedTransformer: name -> enum value

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
        Opt(("--log-level",), "log_level", "value", choices=LOG_LEVELS,
            enum=tuple((name, i) for i, name in enumerate(LOG_LEVELS))),
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
        Opt(("-r", "--root-prefix"), "root_prefix", "value"),
        Opt(("-p", "--prefix"), "prefix", "value"),
        Opt(("--relocate-prefix",), "relocate_prefix", "value"),
        Opt(("-n", "--name"), "name", "value"),
    ]


def network_opts() -> list[Opt]:
    return [
        Opt(("--ssl-verify",), "ssl_verify", "value"),
        Opt(("--ssl-no-revoke",), "ssl_no_revoke"),
        Opt(("--cacert-path",), "cacert_path", "value"),
        Opt(("--repodata-ttl",), "repodata_ttl", "value", type_name="INT"),
        Opt(("--retry-clean-cache",), "retry_clean_cache"),
    ]


def channel_opts() -> list[Opt]:
    return [
        Opt(("-c", "--channel"), "channels", "append"),
        Opt(("--override-channels",), "override_channels"),
        Opt(("--channel-priority",), "channel_priority", "value",
            choices=("disabled", "flexible", "strict"),
            enum=(("disabled", 0), ("flexible", 1), ("strict", 2))),
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
        Opt(("-f", "--file"), "file", "append"),
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
            choices=("enabled", "warn", "disabled"),
            enum=(("disabled", 0), ("warn", 1), ("enabled", 2))),
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
        Opt(("--cwd",), "cwd", "value"),
        Opt(("-d", "--detach"), "detach"),
        Opt(("--clean-env",), "clean_env"),
        Opt(("-e", "--env"), "env", "append"),
        Opt(("--label",), "label", "value"),
    ]
    return Command("run", "Run an executable in an environment", join(prefix_opts(), run_opts),
                   prefix_command=True)


def remove_command(name: str = "remove") -> Command:
    """remove takes no channel, network or install options (micromamba 2.8.1 --help)."""
    own = [Opt(("-a", "--all"), "all"), Opt(("-f", "--force"), "force"),
           *toggles(("--prune-deps", "--no-prune-deps", "prune_deps"))]
    return Command(name, "Remove packages from active environment",
                   join(general_opts(), prefix_opts(), own), positional="specs", many=True)


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
    install = Command("install", "Install packages in active environment",
                      join(transaction_opts(), flags(("--freeze-installed", "freeze_installed"),
                                                     ("--force-reinstall", "force_reinstall")),
                           [Opt(("--revision",), "revision", "value", type_name="UINT")]),
                      positional="specs", many=True)
    for cmd in (shell_command(), create, install, remove_command(), env_command(),
                run_command(), info, listing, activate, deactivate):
        root.subs[cmd.name] = cmd
    root.subs["uninstall"] = remove_command("uninstall")
    for name in ("update", "self-update", "repoquery",
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
            raise CliError(f"{opt.label}: {invalid_choice(opt, str(value))}", 105)
        if opt.type_name == "INT" and not re.fullmatch(r"-?\d+", str(value)):
            raise CliError(f"Could not convert: {opt.label} = {value}", 104)
        parsed.values[opt.dest] = value


def invalid_choice(opt: Opt, value: str) -> str:
    """CLI11's words: a CheckedTransformer (enum options) lists the map sorted by name and
    then the values; an IsMember check lists the names sorted (real 2.8.1)."""
    if opt.enum:
        pairs = sorted(opt.enum)
        mapped = ",".join(f"{name}->{number}" for name, number in pairs)
        numbers = ",".join(str(number) for _, number in pairs)
        return f"Check {value} value in {{{mapped}}} OR {{{numbers}}} FAILED"
    return f"{value} not in {{{','.join(sorted(opt.choices))}}}"


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
            raise CliError("--prefix excludes --name", 108)
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
