"""``micromamba run`` (contract 2.4)."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import shlex
import signal
import subprocess
import tempfile
from pathlib import Path
from types import FrameType

from .activation import activate
from .common import MambaError, log, quoted
from .config import Ctx, explicit_root, load_config, root_prefix, target_prefix, user_cache_dir
from .link import bash_path
from .shell import self_exe


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
