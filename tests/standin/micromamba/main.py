"""Dispatch of a parsed command line, exit codes (contract 6.2) and the invocation
recorder that tests read.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

from .cli import build_cli, check_parsed, help_text, parse_cli
from .common import CliError, MambaError, cfg, log
from .config import Ctx, load_config, setup_output
from .create import cmd_create
from .export import cmd_env_export, cmd_env_list, cmd_info, cmd_list
from .install import cmd_install, cmd_remove
from .link import bash_path
from .run import cmd_run
from .shell import cmd_activate_subprocess, cmd_shell_activate, cmd_shell_hook, cmd_shell_init


def dispatch(ctx: Ctx) -> int:
    names = [c.name for c in ctx.parsed.chain][1:]
    setup_output(ctx)
    handlers: dict[tuple[str, ...], Callable[[], int]] = {
        ("create",): lambda: cmd_create(ctx),
        ("install",): lambda: cmd_install(ctx),
        ("remove",): lambda: cmd_remove(ctx),
        ("uninstall",): lambda: cmd_remove(ctx),
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
