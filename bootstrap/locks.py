"""One mambaboot at a time per prefix: an OS file lock in mambaboot's state folder.

The lock is released by the operating system when the process dies, so a killed run never
leaves a stale lock behind.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from bootstrap.errors import RefusedError
from bootstrap.paths import prefix_key
from bootstrap.platform import IS_WINDOWS

POLL_S = 0.2
PID_OFFSET = 16


def _locked_at_start(handle: BinaryIO) -> bool:
    """Lock the file's first byte: files opened for appending start at their end, and
    Windows locks the byte range at the current position."""
    handle.seek(0)
    return _try_lock(handle)


def _try_lock(handle: BinaryIO) -> bool:
    if IS_WINDOWS:
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


@contextmanager
def prefix_lock(state_dir: Path, prefix: Path, timeout_s: float,
                waiting: Callable[[str], None]) -> Iterator[None]:
    """Hold the lock for ``prefix``; wait up to ``timeout_s`` for another run to finish."""
    folder = state_dir / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{prefix_key(prefix)}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # not append: writes go where sought
    with os.fdopen(fd, "r+b") as handle:
        deadline = time.monotonic() + timeout_s
        told = False
        while not _locked_at_start(handle):
            if not told:
                waiting(f"Another mambaboot is working on {prefix}; waiting for it "
                        f"(up to {timeout_s:.0f} s).")
                told = True
            if time.monotonic() > deadline:
                raise RefusedError(
                    f"Another mambaboot kept {prefix} busy for more than {timeout_s:.0f} s.",
                    hint="Wait for it to finish (or stop it), then run again. "
                         "MAMBABOOT_LOCK_TIMEOUT_S sets how long to wait.",
                )
            time.sleep(POLL_S)
        # who holds it, for people looking; written past the locked first byte (Windows
        # locks byte ranges), never truncated (another process may be reading)
        handle.seek(PID_OFFSET)
        handle.write(f"{os.getpid():<12} {prefix}\n".encode())
        handle.flush()
        yield
