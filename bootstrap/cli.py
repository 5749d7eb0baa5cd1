"""The command line: the only module that parses arguments, prints and decides exit codes."""

from __future__ import annotations

import os
import sys

from bootstrap import __version__, errors

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing alone costs ~10 ms
if TYPE_CHECKING:  # the rest loads when a command runs: --version and --help stay fast
    import argparse
    from collections.abc import Sequence
    from typing import Any

    from bootstrap.console import Console

SUBDIRS = ("linux-64", "linux-aarch64", "linux-ppc64le", "osx-64", "osx-arm64", "win-64")
EPILOG = """exit codes: 0 success, 1 unexpected error, 2 usage or config error, 3 refused by
preflight, 4 network or TLS failure, 5 checksum mismatch, 6 micromamba failed, 7 activation
verification failed, 8 a post-install script failed, 130 interrupted (143 on SIGTERM)."""


def _env_options(parser: argparse.ArgumentParser) -> None:
    """What describes the environment: shared by create and pack."""
    parser.add_argument("name", nargs="?", help="environment name (default: py)")
    parser.add_argument("python", nargs="?",
                        help="Python version, e.g. 3.12 (folder NAME_3_12)")
    parser.add_argument("--prefix", metavar="DIR", help="explicit environment folder")
    parser.add_argument("-c", "--channel", action="append", default=[], metavar="CHANNEL",
                        help="channel (repeatable; default conda-forge)")
    parser.add_argument("--spec", action="append", default=[], metavar="SPEC",
                        help="extra package spec (repeatable)")
    parser.add_argument("-f", "--file", metavar="FILE",
                        help="environment.yml, conda-lock file or @EXPLICIT list for micromamba")
    parser.add_argument("--micromamba", metavar="PATH|URL|VERSION",
                        help="micromamba binary, download URL, or release tag (default: latest)")
    parser.add_argument("--micromamba-sha256", metavar="HEX", help="pin micromamba's sha256")
    _network_options(parser)


def _network_options(parser: argparse.ArgumentParser) -> None:
    """How to reach mirrors and channels: the same for create, pack and doctor."""
    parser.add_argument("--allow-http", action="store_true",
                        help="allow plain http for a trusted mirror")
    parser.add_argument("--ca-bundle", metavar="FILE",
                        help="PEM file of extra trusted CAs (corporate proxies)")


def _common(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("common options")
    g.add_argument("--version", action="version", version=f"mambaboot {__version__}")
    g.add_argument("--config", metavar="FILE", help="mambaboot.toml to use (default: next to "
                   "the executable, else in the current directory)")
    g.add_argument("--envs-dir", metavar="DIR", help="folder holding environments")
    g.add_argument("--cache-dir", metavar="DIR", help="cache folder (micromamba, packages, logs)")
    g.add_argument("--log-file", metavar="FILE", help="write the log here (default: CACHE/logs/)")
    g.add_argument("--json", metavar="FILE", dest="json_file",
                   help="write a machine-readable summary to FILE ('-': to standard output, "
                        "and the other text to standard error)")
    g.add_argument("-v", "--verbose", action="store_true", help="show every command run")
    g.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    g.add_argument("--no-color", action="store_true", help="no colours (also: NO_COLOR)")
    g.add_argument("--yes", action="store_true", help="never ask; unattended run")
    g.add_argument("--no-pause", action="store_true",
                   help="do not wait for Enter before closing a double-clicked window")


# name, one-line help, description, epilog
_COMMANDS = (
    ("create", "create, update or resume an environment",
     "Create an environment: download and verify micromamba, create, finish, verify "
     "activation, run scripts. Run again after changing the config: added and removed "
     "packages are installed and removed in place, new and changed scripts run.", EPILOG),
    ("run", "run a command inside an environment",
     "Run CMD inside the activated environment ENV (a name under the envs folder, or a "
     "path). Its exit code is mambaboot's.",
     'example: mambaboot run py_3_12 -- python -c "print(1)"'),
    ("shell", "open a shell inside an environment",
     "Open a new interactive shell with ENV activated (cmd.exe on Windows, your $SHELL "
     "elsewhere, without its rc files). Nothing persists after it exits.", None),
    ("pack", "write an offline bundle (USB stick)",
     "Write a self-contained bundle into DIR: this executable, the config and scripts, "
     "micromamba and every package the environment needs, with an @EXPLICIT lock and "
     "sha256s.", "example: mambaboot pack --out E:\\ --platform win-64"),
    ("doctor", "check this machine (and an environment)",
     "Check everything mambaboot depends on, each with ok/warn/fail and the fix, with the "
     "network settings create uses (--allow-http, --ca-bundle, --offline, the config's "
     "[network] table). Exit 0 when nothing fails, 3 otherwise.", None),
    ("list", "list environments under the envs folder",
     "Environments under the envs folder: name, Python version, state from mambaboot's "
     "receipt, size.", None),
    ("remove", "remove an environment mambaboot made",
     "Remove ENV, only when mambaboot created it (its receipt is there); asks first unless "
     "--yes. Anything else is refused (exit 3).", None),
    ("relocate", "fix an environment that was moved",
     "Rewrite the old location in the text files of an environment that was moved (or "
     "whose drive letter changed). Runs automatically before every use; this runs it now.",
     None),
)


def _create_options(parser: argparse.ArgumentParser) -> None:
    _env_options(parser)
    add = parser.add_argument
    add("--offline", action="store_true",
        help="use no network: install from the bundle next to the config (or from the "
             "package cache)")
    add("--copy", action="store_true",
        help="copy packages instead of linking (automatic on FAT32/exFAT)")
    add("--force", action="store_true",
        help="rebuild an environment mambaboot made, even if complete")
    add("--strict", action="store_true",
        help="refuse to run from a shell with Python/conda variables set")
    add("--no-scripts", action="store_true", help="skip post-install scripts")
    add("--rerun-scripts", action="store_true",
        help="run every post-install script again, not only new and changed ones")
    add("--dry-run", action="store_true",
        help="print what would be done (packages, scripts, micromamba commands); change "
             "nothing")


def _pack_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", metavar="DIR", required=True,
                        help="bundle folder (empty, or an earlier bundle to refresh)")
    parser.add_argument("--platform", metavar="SUBDIR", choices=SUBDIRS,
                        help="target platform: " + ", ".join(SUBDIRS) + " (default: this one)")
    _env_options(parser)


def _doctor_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("env", metavar="ENV", nargs="?")
    parser.add_argument("--offline", action="store_true", help="skip the network checks")
    _network_options(parser)


def _env_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("env", metavar="ENV")


def _no_options(parser: argparse.ArgumentParser) -> None:
    return None


_OPTIONS = {"create": _create_options, "pack": _pack_options, "doctor": _doctor_options,
            "shell": _env_argument, "remove": _env_argument, "relocate": _env_argument,
            "run": _env_argument, "list": _no_options}


def build_parser(run_remainder: bool = True) -> argparse.ArgumentParser:
    """The parser; without ``run_remainder`` the ``run`` command takes no CMD (the caller
    split it off at ``--``), so options may also follow ENV."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="mambaboot", epilog=EPILOG,
        description="Create a self-contained conda environment (Python, conda, mamba) with "
                    "micromamba, and run post-install scripts inside it. Without a command: "
                    "'create' with the config next to the executable.")
    parser.add_argument("--version", action="version", version=f"mambaboot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, summary, description, epilog in _COMMANDS:
        command = sub.add_parser(name, help=summary, description=description, epilog=epilog)
        _OPTIONS[name](command)
        if name == "run" and run_remainder:
            command.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD...")
        _common(command)
    return parser


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """Parse the command line. ``mambaboot`` alone (or with options only) means ``create``;
    for ``run``, everything after ``--`` is the command, untouched."""
    args = list(argv)
    names = [c[0] for c in _COMMANDS]
    first_word = next((i for i, a in enumerate(args) if not a.startswith("-")), None)
    if first_word is not None and first_word > 0 and args[first_word] in names:
        args.insert(0, args.pop(first_word))  # `mambaboot -v list` means `list -v`
    if not args or (args[0].startswith("-") and args[0] not in ("-h", "--help", "--version")):
        args.insert(0, "create")
    if args[0] == "run" and "--" in args:
        split = args.index("--")
        parsed = build_parser(run_remainder=False).parse_args(args[:split])
        parsed.cmd = args[split + 1:]
        return parsed
    return build_parser().parse_args(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run mambaboot; returns the process exit code (see EPILOG)."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments == ["--version"]:
        print(f"mambaboot {__version__}")
        return errors.EXIT_OK
    try:
        args = parse(arguments)
    except SystemExit as exit_:
        return int(exit_.code or 0) if not isinstance(exit_.code, str) else errors.EXIT_USAGE
    from bootstrap.console import NORMAL, QUIET, VERBOSE, default_console

    verbosity = QUIET if args.quiet else VERBOSE if args.verbose else NORMAL
    console = default_console(verbosity, args.no_color, os.environ,
                              text_to_stderr=args.json_file == "-")
    code, payload = _dispatch(args, console)
    if args.json_file:
        _write_json(args.json_file, {"exit_code": code, **payload}, console)
    _maybe_pause(args, console)
    return code


def _dispatch(args: argparse.Namespace, console: Console) -> tuple[int, dict[str, Any]]:
    from bootstrap.process import install_signal_handlers

    install_signal_handlers()
    handlers = {"create": _create, "run": _run, "pack": _pack, "relocate": _relocate,
                "shell": _shell, "doctor": _doctor, "list": _list, "remove": _remove}
    try:
        return handlers[args.command or "create"](args, console)
    except errors.BootstrapError as err:
        console.error(err.message, err.hint)
        _log_hint(console, getattr(err, "log_path", None))
        return err.exit_code, {"ok": False, "error": err.message, "hint": err.hint}
    except KeyboardInterrupt:
        console.error("Interrupted.", "Run the same command again to resume where it stopped.")
        return errors.EXIT_INTERRUPTED, {"ok": False, "error": "interrupted"}
    except OSError as err:  # permissions, a full disk, a vanished stick
        where = f" ({err.filename})" if err.filename else ""
        console.error(f"File system error: {err.strerror or err}{where}.",
                      "Check permissions and free space there, then run again; an "
                      "interrupted run resumes.")
        return errors.EXIT_UNEXPECTED, {"ok": False, "error": str(err)}
    except Exception as err:  # noqa: BLE001 - the last line of defence
        if console.verbosity >= 2:
            import traceback

            traceback.print_exc()
        console.error(f"Unexpected error: {type(err).__name__}: {err}",
                      "Run again with -v for the traceback, and report it with the log.")
        return errors.EXIT_UNEXPECTED, {"ok": False, "error": f"{type(err).__name__}: {err}"}


def _overrides(args: argparse.Namespace) -> Any:
    from bootstrap.settings import Overrides

    def get(name: str) -> Any:
        return getattr(args, name, None)

    return Overrides(
        config=args.config, name=get("name"), python=get("python"), prefix=get("prefix"),
        envs_dir=args.envs_dir, cache_dir=args.cache_dir, channels=tuple(get("channel") or ()),
        specs=tuple(get("spec") or ()), file=get("file"), micromamba=get("micromamba"),
        micromamba_sha256=get("micromamba_sha256"), ca_bundle=get("ca_bundle"),
        allow_http=bool(get("allow_http")), offline=bool(get("offline")),
        always_copy=bool(get("copy")))


def _create(args: argparse.Namespace, console: Console) -> tuple[int, dict[str, Any]]:
    from bootstrap import commands
    from bootstrap.create import Options

    settings = commands.settings_for(_overrides(args))
    options = Options(force=args.force, strict=args.strict, no_scripts=args.no_scripts,
                      dry_run=args.dry_run, unattended=args.yes or not _stdin_tty(),
                      rerun_scripts=args.rerun_scripts)
    with commands.opened_log(settings, "create", args.log_file,
                             write_default=not args.dry_run,
                             on_command=console.detail) as log:
        summary = commands.create(settings, options, console.reporter(), log)
        console.summary(summary, settings, log.path)
    return errors.EXIT_OK, {"ok": True, **summary.as_json(),
                            "log": str(log.path) if log.path else None}


def _run(args: argparse.Namespace, console: Console) -> tuple[int, dict[str, Any]]:
    from bootstrap import commands

    settings = commands.settings_for(_overrides(args))
    with commands.opened_log(settings, "run", args.log_file,
                             on_command=console.detail) as log:
        code = commands.run_command(settings, args.env, list(args.cmd), log, console.reporter(),
                                    stdout_to_stderr=args.json_file == "-")
    return code, {"ok": code == 0, "command_exit_code": code}


def _pack(args: argparse.Namespace, console: Console) -> tuple[int, dict[str, Any]]:
    from pathlib import Path

    from bootstrap import commands

    settings = commands.settings_for(_overrides(args))
    with commands.opened_log(settings, "pack", args.log_file,
                             on_command=console.detail) as log:
        result = commands.pack(settings, Path(args.out), args.platform, console.reporter(), log)
    console.pack_result(result)
    return errors.EXIT_OK, {"ok": True, **result.as_json()}


def _relocate(args: argparse.Namespace, console: Console) -> tuple[int, dict[str, Any]]:
    from bootstrap import commands

    settings = commands.settings_for(_overrides(args))
    with commands.opened_log(settings, "relocate", args.log_file,
                             on_command=console.detail) as log:
        log.line(f"mambaboot relocate {args.env}")
        report = commands.relocate_env(settings, args.env, console.reporter())
    console.relocation(report)
    if report is None:
        return errors.EXIT_OK, {"ok": True, "relocated": False}
    return errors.EXIT_OK, {"ok": True, "relocated": True, **report.as_json()}


def _shell(args: argparse.Namespace, console: Console) -> tuple[int, dict[str, Any]]:
    from bootstrap import commands

    settings = commands.settings_for(_overrides(args))
    with commands.opened_log(settings, "shell", args.log_file,
                             on_command=console.detail) as log:
        code = commands.shell(settings, args.env, log, console.reporter(),
                              stdout_to_stderr=args.json_file == "-")
    return code, {"ok": code == 0, "shell_exit_code": code}


def _doctor(args: argparse.Namespace, console: Console) -> tuple[int, dict[str, Any]]:
    from bootstrap import commands

    settings = commands.settings_for(_overrides(args))
    with commands.opened_log(settings, "doctor", args.log_file,
                             on_command=console.detail) as log:
        found = commands.doctor(settings, args.env, log)
    failed = console.checks(found)
    code = errors.EXIT_REFUSED if failed else errors.EXIT_OK
    return code, {"ok": not failed, "checks": [c.as_json() for c in found]}


def _list(args: argparse.Namespace, console: Console) -> tuple[int, dict[str, Any]]:
    from bootstrap import commands

    settings = commands.settings_for(_overrides(args))
    with commands.opened_log(settings, "list", args.log_file, write_default=False):
        found = commands.list_envs(settings)
    console.environments(found, settings.envs_dir)
    return errors.EXIT_OK, {"ok": True, "envs_dir": str(settings.envs_dir),
                            "environments": [e.as_json() for e in found]}


def _remove(args: argparse.Namespace, console: Console) -> tuple[int, dict[str, Any]]:
    from bootstrap import commands, envs

    settings = commands.settings_for(_overrides(args))
    info = commands.removable(settings, args.env)
    if not args.yes:
        if not _stdin_tty():
            raise errors.ConfigError(f"Not removing {info.prefix} without confirmation.",
                                     hint="Add --yes to remove it without asking.")
        answer = console.ask(f"Remove {info.prefix} ({envs.size_text(info.size)})? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            console.say("Nothing removed.")
            return errors.EXIT_OK, {"ok": True, "removed": False}
    with commands.opened_log(settings, "remove", args.log_file,
                             on_command=console.detail) as log:
        commands.remove(settings, info, console.reporter(), log)
    console.say(f"Removed {info.prefix}.", "bold", "green")
    return errors.EXIT_OK, {"ok": True, "removed": True, "prefix": str(info.prefix)}


def _stdin_tty() -> bool:
    from bootstrap.console import is_tty

    return is_tty(sys.stdin)


def _log_hint(console: Console, path: object) -> None:
    if path:
        console.error(f"The log is {path}")


def _write_json(file: str, data: dict[str, Any], console: Console) -> None:
    """``--json FILE``; ``--json -`` prints it on standard output (the other text went to
    standard error), as conda's and micromamba's ``--json`` do."""
    import json
    from pathlib import Path

    text = json.dumps(data, indent=2, default=str) + "\n"
    if file == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    path = Path(file)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        console.error(f"Cannot write the JSON summary {path}: {err}")


def _maybe_pause(args: argparse.Namespace, console: Console) -> None:
    from bootstrap import console as console_mod
    from bootstrap import frozen
    from bootstrap.platform import IS_WINDOWS

    if not (IS_WINDOWS and frozen.is_frozen()):
        return
    from bootstrap import windows

    if console_mod.should_pause(windows=True, frozen=True,
                                console_processes=windows.console_process_count(),
                                stdin_tty=console_mod.is_tty(sys.stdin),
                                no_pause=args.no_pause, yes=args.yes, env=os.environ):
        try:
            input("Press Enter to close this window...")
        except (EOFError, KeyboardInterrupt):
            return
