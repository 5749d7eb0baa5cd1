"""Everything the user sees on the terminal: stage lines, warnings, child output, download
progress, colour, and the pause before a double-clicked console window closes.

The decisions (colour or not, progress bar or plain lines, pause or not) are pure
functions of what they depend on, so they are tested without a terminal.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from pathlib import Path

    from bootstrap.checks import Check
    from bootstrap.envs import EnvInfo
    from bootstrap.relocate import Report

ProgressFn = Callable[[int, "int | None"], None]

QUIET, NORMAL, VERBOSE = 0, 1, 2
_STYLES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}
# A onefile build on Windows runs as two processes (bootloader + Python) on one console.
ONEFILE_PROCESSES = 2


def is_tty(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:
        return False


def use_color(no_color_flag: bool, env: Mapping[str, str], tty: bool) -> bool:
    """Colour only on a terminal, never with --no-color or NO_COLOR (no-color.org), and not
    on a TERM=dumb terminal."""
    if no_color_flag or env.get("NO_COLOR") or not tty:
        return False
    return env.get("TERM") != "dumb"


def should_pause(*, windows: bool, frozen: bool, console_processes: int, stdin_tty: bool,
                 no_pause: bool, yes: bool, env: Mapping[str, str]) -> bool:
    """Wait for Enter before exiting only when the console window is ours alone: a
    double-clicked onefile build (its bootloader and Python share the console), never
    when a terminal, a pipe, --no-pause, --yes or CI says otherwise."""
    if no_pause or yes or env.get("CI") or not (windows and frozen and stdin_tty):
        return False
    expected = ONEFILE_PROCESSES if frozen else 1
    return 0 < console_processes <= expected


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GB"  # pragma: no cover


def progress_line(what: str, done: int, total: int | None, seconds: float) -> str:
    """``micromamba 2.8.1  45%  6.8 MB/15.0 MB  12.3 MB/s  ETA 1 s``"""
    rate = done / seconds if seconds > 0 else 0.0
    parts = [what]
    if total:
        parts.append(f"{100 * done // total:3d}%")
        parts.append(f"{human_bytes(done)}/{human_bytes(total)}")
    else:
        parts.append(human_bytes(done))
    parts.append(f"{human_bytes(rate)}/s")
    if total and rate > 0 and done < total:
        parts.append(f"ETA {int((total - done) / rate) + 1} s")
    return "  ".join(parts)


class Console:
    """Where text goes, how much of it, and whether it is coloured; and how each
    command's result reads."""

    def __init__(self, out: TextIO, err: TextIO, verbosity: int = NORMAL,
                 color: bool = False) -> None:
        self.out, self.err, self.verbosity, self.color = out, err, verbosity, color

    def reporter(self) -> ConsoleReporter:
        return ConsoleReporter(self)

    def style(self, text: str, *names: str) -> str:
        if not self.color or not names:
            return text
        codes = ";".join(_STYLES[n] for n in names)
        return f"\033[{codes}m{text}\033[0m"

    def say(self, text: str, *styles: str) -> None:
        if self.verbosity >= NORMAL:
            print(self.style(text, *styles), file=self.out, flush=True)

    def detail(self, text: str) -> None:
        if self.verbosity >= VERBOSE:
            print(self.style(text, "dim"), file=self.out, flush=True)

    def warn(self, text: str) -> None:
        if self.verbosity >= NORMAL:
            print(self.style("warning: ", "yellow", "bold") + text, file=self.err, flush=True)

    def error(self, text: str, hint: str = "") -> None:
        print(self.style("error: ", "red", "bold") + text, file=self.err, flush=True)
        if hint:
            print("  " + hint, file=self.err, flush=True)

    def ask(self, question: str) -> str:
        """A question on the text stream (standard error with ``--json -``), the answer
        from standard input."""
        print(question, end="", file=self.out, flush=True)
        return input()

    def raw(self, data: bytes) -> None:
        if self.verbosity < NORMAL:
            return
        buffer = getattr(self.out, "buffer", None)
        if buffer is not None:
            self.out.flush()
            buffer.write(data)
            buffer.flush()
        else:
            self.out.write(data.decode("utf-8", "replace"))


    # -- results of commands -----------------------------------------------------------
    def summary(self, summary: Any, settings: Any, log_path: Path | None) -> None:
        """The last words of a create: what happened, where, and how to use it."""
        if summary.outcome == "planned":
            self.plan(summary.plan)
            return
        headline = {"unchanged": "Nothing to do: the environment is complete and up to date.",
                    "resumed": "Environment finished (resumed).",
                    "updated": "Environment updated in place.",
                    "rebuilt": "Environment rebuilt.",
                    "created": "Environment created."}[summary.outcome]
        prefix = summary.prefix
        self.say("")
        self.say(headline, "bold", "green")
        self.say(f"  location  {prefix}")
        if summary.python:
            self.say(f"  python    {summary.python}")
        if summary.stages:
            timing = ", ".join(f"{s['stage']} {s['seconds']:.1f} s" for s in summary.stages)
            self.say(f"  stages    {timing}")
        for label, names in (("added", summary.added), ("removed", summary.removed),
                             ("scripts", summary.scripts_run)):
            if names:
                self.say(f"  {label:9} {', '.join(names)}")
        self.usage(prefix, settings)
        if log_path:
            self.detail(f"  log: {log_path}")

    def plan(self, plan: dict[str, Any]) -> None:
        """A dry run's plan: one line per item, each micromamba command on its own."""
        self.say("Plan (dry run, nothing was changed):", "bold")
        for key, value in plan.items():
            if key == "commands":
                for command in value or ["-"]:
                    self.say(f"  {'command':13} {command}")
                continue
            shown = ", ".join(value) if isinstance(value, list) else value
            self.say(f"  {key:13} {shown if shown not in (None, '') else '-'}")

    def usage(self, prefix: Path, settings: Any) -> None:
        env_ref = prefix.name if prefix.parent == settings.envs_dir else str(prefix)
        self.say("Use it:", "bold")
        if settings.platform.is_windows:
            self.say(f'  cmd.exe:     call "{prefix / "activate.bat"}"')
            self.say(f'  PowerShell:  . "{prefix / "activate.ps1"}"')
        else:
            self.say(f'  bash/zsh:    . "{prefix / "activate.sh"}"')
        self.say(f"  a shell:     mambaboot shell {env_ref}")
        self.say(f"  one command: mambaboot run {env_ref} -- python --version")

    def pack_result(self, result: Any) -> None:
        for text in result.warnings:
            self.warn(text)
        self.say("")
        self.say(f"Bundle written: {result.out}", "bold", "green")
        self.say(f"  platform  {result.subdir}")
        self.say(f"  packages  {result.packages} ({result.bytes / 1e6:.1f} MB)")
        self.say("Use it: copy the folder (or the stick) to the target machine and run "
                 "mambaboot there; without network it installs from the bundle (or say "
                 "--offline). See docs/usb.md.")

    def relocation(self, report: Report | None) -> None:
        if report is None:
            self.say("Nothing to do: the environment is where it was created.")
            return
        for path in report.rewritten + report.binary_patched:
            self.detail(f"  rewrote {path}")
        self.say(f"Relocated {report.new} (was {report.old}).", "bold", "green")

    def checks(self, found: list[Check]) -> bool:
        """Print doctor's checks; True when one failed."""
        marks = {"ok": ("ok  ", "green"), "warn": ("warn", "yellow"), "fail": ("FAIL", "red")}
        for check in found:
            mark, color = marks[check.status]
            self.say(f"[{self.style(mark, color, 'bold')}] {check.name}: {check.detail}")
            if check.fix and check.status != "ok":
                self.say(f"       fix: {check.fix}")
        failed = sum(c.status == "fail" for c in found)
        warned = sum(c.status == "warn" for c in found)
        self.say(f"{failed} failed, {warned} warnings, {len(found) - failed - warned} ok",
                 "bold", "red" if failed else "green")
        return failed > 0

    def environments(self, found: list[EnvInfo], envs_dir: Path) -> None:
        if not found:
            self.say(f"No environments under {envs_dir}.")
            return
        width = max(len(e.name) for e in found)
        self.say(f"{'NAME'.ljust(width)}  PYTHON   SIZE       STATE", "bold")
        for info in found:
            size = f"{info.size / 1e6:.1f} MB"
            self.say(f"{info.name.ljust(width)}  {info.python.ljust(7)}  {size.rjust(9)}  "
                     f"{info.state}")
        self.say(f"({envs_dir})", "dim")


class ConsoleReporter:
    """The Reporter the CLI hands to the pipeline."""

    def __init__(self, console: Console) -> None:
        self.c = console

    def stage(self, name: str, detail: str = "") -> None:
        self.c.say(f"==> {name}" + (f": {detail}" if detail else ""), "bold", "cyan")

    def stage_done(self, name: str, seconds: float, note: str = "") -> None:
        text = f"    {name} done in {seconds:.1f} s" + (f" ({note})" if note else "")
        self.c.say(text, "green")

    def info(self, text: str) -> None:
        self.c.say(text)

    def warn(self, text: str) -> None:
        self.c.warn(text)

    def detail(self, text: str) -> None:
        self.c.detail(text)

    def output(self, data: bytes) -> None:
        self.c.raw(data)

    def progress(self, what: str) -> ProgressFn:
        return Progress(self.c, what).update


class Progress:
    """A redrawn progress bar on a terminal; on a pipe, a line per quarter."""

    def __init__(self, console: Console, what: str) -> None:
        self.c, self.what = console, what
        self.tty = is_tty(console.out)
        self.started = time.monotonic()
        self.last_draw = 0.0
        self.last_quarter = -1

    def update(self, done: int, total: int | None) -> None:
        if self.c.verbosity < NORMAL:
            return
        elapsed = time.monotonic() - self.started
        finished = total is not None and done >= total
        if self.tty:
            if finished or elapsed - self.last_draw >= 0.1:
                self.last_draw = elapsed
                line = progress_line(self.what, done, total, elapsed)
                end = "\n" if finished else ""
                print("\r" + line.ljust(78), end=end, file=self.c.out, flush=True)
            return
        quarter = 4 * done // total if total else -1
        if total and (quarter > self.last_quarter):
            self.last_quarter = quarter
            print(progress_line(self.what, done, total, elapsed), file=self.c.out, flush=True)


def default_console(verbosity: int, no_color: bool, env: Mapping[str, str],
                    text_to_stderr: bool = False) -> Console:
    """The console on sys.stdout/sys.stderr; ``text_to_stderr`` keeps standard output for
    the JSON of ``--json -``."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")
    out = sys.stderr if text_to_stderr else sys.stdout
    color = use_color(no_color, env, is_tty(out))
    if color and sys.platform == "win32":
        import colorama

        colorama.just_fix_windows_console()
    return Console(out, sys.stderr, verbosity, color)
