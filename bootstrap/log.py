"""The run log: full command lines and every child's output, for when something fails."""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def timestamp() -> str:
    return _dt.datetime.now(_dt.UTC).astimezone().isoformat(timespec="seconds")


class RunLog:
    """An append-only log file; a no-op sink when no file is open. ``on_command`` also
    hears every command line started (``-v`` shows them)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.on_command: Callable[[str], None] | None = None
        self._file: BinaryIO | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("ab")

    @classmethod
    def default_path(cls, logs_dir: Path, command: str) -> Path:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        return logs_dir / f"mambaboot-{command}-{stamp}-{os.getpid()}.log"

    def line(self, text: str) -> None:
        self.raw(f"[{timestamp()}] {text}\n".encode("utf-8", "replace"))

    def command(self, text: str) -> None:
        """A child is started: ``text`` is its command line."""
        self.line(f"$ {text}")
        if self.on_command is not None:
            self.on_command(f"$ {text}")

    def raw(self, data: bytes) -> None:
        if self._file is not None:
            self._file.write(data)
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> RunLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
