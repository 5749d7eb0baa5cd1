"""Which processes are running, from ``ps`` (Linux and macOS alike) or on Windows from the
process list (winprocs.py), for tests that check that nothing was left behind; interrupting
a child as a user does (Ctrl+C: SIGINT, or the console event on Windows); a polling
helper."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    state: str
    args: str


IS_WINDOWS = os.name == "nt"
# creation flags for a child that a test interrupts: on Windows it needs a console of its own
NEW_CONSOLE = 0x00000010 if IS_WINDOWS else 0


# how a test stops a run, with mambaboot's exit code: Ctrl+C, and SIGTERM on POSIX or
# Ctrl+Break on Windows (which has no SIGTERM to send)
STOPS = [("ctrl-c", 130), ("ctrl-break", 130)] if IS_WINDOWS else \
    [("ctrl-c", 130), ("sigterm", 143)]


def stop_param(how: str, code: int, *marks: pytest.MarkDecorator) -> Any:
    """``pytest.param(how, code)`` with ``marks``; Ctrl+Break is a Wine gap."""
    from tests.conftest import NO_CTRL_BREAK

    gap = [pytest.mark.wine_gap(NO_CTRL_BREAK)] if how == "ctrl-break" else []
    return pytest.param(how, code, marks=[*gap, *marks], id=how)


def interrupt(proc: subprocess.Popen[str], how: str = "ctrl-c") -> None:
    """``ctrl-c`` (SIGINT, or the console's Ctrl+C on Windows: start ``proc`` with
    ``NEW_CONSOLE``), ``sigterm`` (POSIX) or ``ctrl-break`` (Windows)."""
    if not IS_WINDOWS:
        proc.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGINT)
        return
    from tests.standin import winprocs

    winprocs.console_event(proc.pid, winprocs.CTRL_BREAK if how == "ctrl-break"
                           else winprocs.CTRL_C)


def kill(pid: int) -> None:
    """SIGKILL, or TerminateProcess on Windows: the process gets no say."""
    if IS_WINDOWS:
        from tests.standin import winprocs

        winprocs.terminate(pid)
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, getattr(signal, "SIGKILL"))  # noqa: B009 - POSIX only


def processes() -> list[Proc]:
    """Every live process (zombies excluded) but this one."""
    if IS_WINDOWS:
        from tests.standin import winprocs

        return [Proc(pid, ppid, "R", args) for pid, ppid, args in winprocs.processes()
                if pid != os.getpid()]
    listing = subprocess.run(["ps", "-ww", "-A", "-o", "pid=,ppid=,stat=,args="], check=True,
                             capture_output=True, text=True, errors="replace").stdout
    found = []
    for line in listing.splitlines():
        parts = line.split(None, 3)
        if len(parts) < 3 or not parts[0].isdigit():
            continue
        proc = Proc(int(parts[0]), int(parts[1]), parts[2], parts[3] if len(parts) > 3 else "")
        if proc.pid != os.getpid() and not proc.state.startswith("Z"):
            found.append(proc)
    return found


def mentioning(text: str) -> list[Proc]:
    """Processes whose command line contains ``text`` (a prefix or config path)."""
    return [p for p in processes() if text in p.args and not p.args.startswith("ps ")]


def children(pid: int) -> list[Proc]:
    return [p for p in processes() if p.ppid == pid]


def alive(pid: int) -> bool:
    return any(p.pid == pid for p in processes())


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
