"""How core modules tell the user what happens, without printing themselves.

``cli`` passes a ``Reporter`` (``console.ConsoleReporter``) into the pipeline; tests may
pass ``Recorder``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

ProgressFn = Callable[[int, "int | None"], None]


class Reporter(Protocol):
    def stage(self, name: str, detail: str = "") -> None:
        """A stage starts."""

    def stage_done(self, name: str, seconds: float, note: str = "") -> None:
        """A stage ended well."""

    def info(self, text: str) -> None: ...

    def warn(self, text: str) -> None: ...

    def detail(self, text: str) -> None:
        """Shown with -v only (commands run, paths chosen)."""

    def output(self, data: bytes) -> None:
        """Raw output of a child (micromamba, a script), streamed through."""

    def progress(self, what: str) -> ProgressFn:
        """A callback ``(done_bytes, total_bytes_or_None)`` for one download."""


class Recorder:
    """A Reporter that remembers everything; for tests and ``--json``-only runs."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def stage(self, name: str, detail: str = "") -> None:
        self.events.append(("stage", f"{name} {detail}".strip()))

    def stage_done(self, name: str, seconds: float, note: str = "") -> None:
        self.events.append(("done", f"{name} {note}".strip()))

    def info(self, text: str) -> None:
        self.events.append(("info", text))

    def warn(self, text: str) -> None:
        self.events.append(("warn", text))

    def detail(self, text: str) -> None:
        self.events.append(("detail", text))

    def output(self, data: bytes) -> None:
        self.events.append(("output", data.decode("utf-8", "replace")))

    def progress(self, what: str) -> ProgressFn:
        def _progress(done: int, total: int | None) -> None:
            return None

        return _progress
