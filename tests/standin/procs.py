"""Which processes are running, from ``ps`` (Linux and macOS alike), for tests that check
that nothing was left behind, and a polling helper."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    state: str
    args: str


def processes() -> list[Proc]:
    """Every live process (zombies excluded) but this one."""
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
