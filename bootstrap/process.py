"""Starting children: argument lists only, output streamed to the console and the log, and
the whole child tree stopped on Ctrl+C, console close or SIGTERM.

On POSIX each piped child leads its own process group (``start_new_session``) so that the
group can be signalled as a whole; on Windows it gets its own process group and, through
``windows``, a job object that takes its descendants down with it.
"""

from __future__ import annotations

import codecs
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from bootstrap.errors import EXIT_INTERRUPTED, EXIT_TERMINATED, Interrupted
from bootstrap.log import RunLog
from bootstrap.platform import IS_WINDOWS

Echo = Callable[[bytes], None]
GRACE_S = 3.0
POLL_S = 0.2
_CHUNK = 65536


@dataclass(frozen=True)
class Completed:
    argv: list[str]
    returncode: int
    output: bytes = b""


Command = Sequence[str] | str  # a string only for cmd.exe, which parses its own line


def describe(argv: Command) -> str:
    """A readable, copy-pasteable command line for messages and the log."""
    if isinstance(argv, str):
        return argv
    if IS_WINDOWS:
        return subprocess.list2cmdline(list(argv))
    import shlex

    return shlex.join(argv)


def run(argv: Command, *, env: Mapping[str, str], log: RunLog, echo: Echo | None = None,
        cwd: Path | None = None, capture: bool = False, timeout_s: float | None = None,
        stdin: int | None = subprocess.DEVNULL,
        on_start: Callable[[int], None] | None = None) -> Completed:
    """Run ``argv`` with its output streamed to ``echo`` and the log.

    ``capture`` keeps the output (for small queries such as ``--version``) instead of
    echoing it. Interrupts stop the child's whole process tree and raise ``Interrupted``;
    a ``timeout_s`` that passes stops it too and raises ``subprocess.TimeoutExpired``.
    """
    log.command(describe(argv) + (f"    (in {cwd})" if cwd else ""))
    proc = _start(_argv(argv), env, cwd, stdin)
    if on_start is not None:
        on_start(proc.pid)
    chunks: list[bytes] = []
    utf8 = Utf8Output(_console_encoding()) if IS_WINDOWS else None

    def sink(data: bytes, final: bool = False) -> None:
        if utf8 is not None:
            data = utf8.feed(data, final)
        if not data:
            return
        log.raw(data)
        if capture:
            chunks.append(data)
        elif echo is not None:
            echo(data)

    assert proc.stdout is not None  # noqa: S101 - set by _start
    reader = threading.Thread(target=_pump, args=(proc.stdout, sink), daemon=True)
    reader.start()
    try:
        code = _wait(proc, timeout_s, argv)
    except BaseException:
        stop_tree(proc)
        raise
    finally:
        # A background process the child left (``server &``) may hold the pipe open for
        # hours: give the reader a moment, then leave it (a daemon thread) to it.
        reader.join(GRACE_S)
        if sys.platform == "win32":
            from bootstrap import windows

            windows.release(proc)
    log.line(f"exit code {code}")
    return Completed(_as_list(argv), code, b"".join(chunks))


def _pump(stream: IO[bytes], sink: Callable[[bytes, bool], None]) -> None:
    """Copy a child's output as it comes (a thread: pipes cannot be polled on Windows);
    the stream is closed here, when the last writer (maybe a grandchild) is done."""
    with stream:
        fd = stream.fileno()
        while True:
            try:
                data = os.read(fd, _CHUNK)
            except OSError:
                data = b""
            if not data:
                sink(b"", True)
                return
            sink(data, False)


class Utf8Output:
    """A Windows child's output as UTF-8. Python children write UTF-8 (the activation sets
    PYTHONIOENCODING), but cmd.exe and most console programs write the console's code page,
    or the ANSI one when there is no console: bytes that are not UTF-8 are read in
    ``fallback``. The log is then UTF-8 throughout, and the console shows them right
    (Python's console writer reads the bytes it is given as UTF-8)."""

    def __init__(self, fallback: str) -> None:
        self.fallback = fallback
        self._decoder = codecs.getincrementaldecoder("utf-8")()

    def feed(self, data: bytes, final: bool = False) -> bytes:
        """UTF-8 for ``data``; a character cut at the end waits for the next call."""
        pending = self._decoder.getstate()[0]
        try:
            text = self._decoder.decode(data, final)
        except UnicodeDecodeError:
            self._decoder.reset()
            text = (pending + data).decode(self.fallback, "replace")
        return text.encode("utf-8")


def _console_encoding() -> str:
    """What cmd.exe writes to a pipe: the console's output code page, else the ANSI one."""
    import locale

    from bootstrap import windows

    try:
        page = windows.console_code_page()
        return codecs.lookup(f"cp{page}").name if page else locale.getencoding()
    except (OSError, LookupError):
        return locale.getencoding()


def _wait(proc: subprocess.Popen[bytes], timeout_s: float | None, argv: Command) -> int:
    """Wait in short steps, so Ctrl+C is noticed on Windows too, and honour the timeout."""
    deadline = time.monotonic() + timeout_s if timeout_s else None
    while True:
        try:
            return proc.wait(POLL_S)
        except subprocess.TimeoutExpired:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(_argv(argv), timeout_s or 0) from None


def _argv(argv: Command) -> str | list[str]:
    return argv if isinstance(argv, str) else list(argv)


def _as_list(argv: Command) -> list[str]:
    return [argv] if isinstance(argv, str) else list(argv)


def run_interactive(argv: Command, *, env: Mapping[str, str], log: RunLog,
                    cwd: Path | None = None, stdout: int | None = None) -> int:
    """Run ``argv`` attached to this console (``run``, ``shell``); its exit code is returned.

    The child shares our console and process group, so Ctrl+C reaches it directly, as in
    any shell; mambaboot lets it pass meanwhile and just waits. (A handler, not SIG_IGN:
    an ignored SIGINT would be inherited by the child through exec.) ``stdout``: a file
    descriptor for the child's standard output instead of ours.
    """
    log.command(describe(argv) + (f"    (in {cwd})" if cwd else ""))
    previous = signal.signal(signal.SIGINT, _let_pass)
    try:
        proc = _popen_attached(_argv(argv), env, cwd, stdout)
        try:
            code = _wait(proc, None, argv)
        except BaseException:
            _stop_one(proc)
            raise
    finally:
        signal.signal(signal.SIGINT, previous)
    log.line(f"exit code {code}")
    return code


def _let_pass(_signum: int, _frame: object) -> None:
    """Ctrl+C while a child owns the console: the child got it too and decides."""


def _popen_attached(argv: str | list[str], env: Mapping[str, str],
                    cwd: Path | None, stdout: int | None = None) -> subprocess.Popen[bytes]:
    if sys.platform == "win32":
        from bootstrap import windows

        with windows.child_dll_search_path():
            return subprocess.Popen(argv, env=dict(env), cwd=cwd, stdout=stdout)
    return subprocess.Popen(argv, env=dict(env), cwd=cwd, stdout=stdout)


def _stop_one(proc: subprocess.Popen[bytes]) -> None:
    """Stop an attached child (it shares our process group, so no group signal)."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(GRACE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(GRACE_S)


def _start(argv: str | list[str], env: Mapping[str, str], cwd: Path | None,
           stdin: int | None) -> subprocess.Popen[bytes]:
    if sys.platform == "win32":
        from bootstrap import windows

        with windows.child_dll_search_path():
            proc = subprocess.Popen(argv, env=dict(env), cwd=cwd, stdin=stdin,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    creationflags=subprocess.CREATE_NEW_PROCESS_GROUP)
        windows.adopt(proc)
        return proc
    return subprocess.Popen(argv, env=dict(env), cwd=cwd, stdin=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)


def stop_tree(proc: subprocess.Popen[bytes]) -> None:
    """Stop ``proc`` and everything it started: interrupt, then terminate, then kill."""
    if proc.poll() is not None and IS_WINDOWS:
        return
    if IS_WINDOWS:
        from bootstrap import windows

        windows.kill_tree(proc)
        return
    for sig, wait_s in ((signal.SIGINT, GRACE_S), (signal.SIGTERM, GRACE_S),
                        (signal.SIGKILL, GRACE_S)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            break
        if _group_gone(proc, wait_s):
            break
    proc.poll()


def _group_gone(proc: subprocess.Popen[bytes], wait_s: float) -> bool:
    """Wait until no process of the child's group is left (the leader is reaped too)."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        proc.poll()
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def command_line_of(pid: int) -> str | None:
    """The command line of a running process (POSIX), or None when it is gone."""
    proc_file = Path(f"/proc/{pid}/cmdline")
    if proc_file.parent.is_dir():
        try:
            return proc_file.read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            return None
    try:
        done = subprocess.run(["ps", "-ww", "-o", "command=", "-p", str(pid)],
                              capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


def stop_orphan(pid: int, marker: str) -> bool:
    """Stop a child a killed mambaboot left behind (it leads its own process group), but
    only when its command line still shows ``marker`` (pids are reused). POSIX only: on
    Windows the job object took it down with its parent."""
    if IS_WINDOWS:
        return False
    line = command_line_of(pid)
    if line is None or marker not in line:
        return False
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            return True
        deadline = time.monotonic() + GRACE_S
        while time.monotonic() < deadline:
            if command_line_of(pid) is None:
                return True
            time.sleep(0.05)
    return True


def install_signal_handlers() -> None:
    """SIGTERM and SIGHUP (console closed) interrupt like Ctrl+C, with their own exit codes."""

    def _raise(signum: int, _frame: object) -> None:
        raise Interrupted(f"Stopped by signal {signal.Signals(signum).name}.",
                          exit_code=EXIT_TERMINATED if signum == signal.SIGTERM
                          else EXIT_INTERRUPTED)

    signal.signal(signal.SIGTERM, _raise)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, _raise)
