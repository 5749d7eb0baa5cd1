"""What the user sees on the terminal (bootstrap.console): colour, the pause before a
double-clicked window closes, progress lines and sizes."""

from __future__ import annotations

import io
import itertools

import pytest

from bootstrap import console
from bootstrap.console import Console, ConsoleReporter, Progress

KB, MB, GB = 1024, 1024**2, 1024**3


# -- colour --------------------------------------------------------------------------------

@pytest.mark.parametrize(("flag", "env", "tty", "expected"), [
    (False, {}, True, True),
    (False, {"TERM": "xterm-256color"}, True, True),
    (True, {}, True, False),
    (False, {"NO_COLOR": "1"}, True, False),
    (False, {"NO_COLOR": "0"}, True, False),
    (False, {}, False, False),
    (False, {"TERM": "dumb"}, True, False),
    (True, {"NO_COLOR": "1", "TERM": "dumb"}, False, False),
])
def test_use_color(flag: bool, env: dict[str, str], tty: bool, expected: bool) -> None:
    assert console.use_color(flag, env, tty) is expected


def test_empty_no_color_does_not_disable_colour() -> None:
    # no-color.org: "when present and not an empty string"
    assert console.use_color(False, {"NO_COLOR": ""}, True) is True


def test_style_only_when_coloured() -> None:
    plain = Console(io.StringIO(), io.StringIO(), color=False)
    assert plain.style("x", "red", "bold") == "x"
    coloured = Console(io.StringIO(), io.StringIO(), color=True)
    assert coloured.style("x", "red", "bold") == "\033[31;1mx\033[0m"
    assert coloured.style("x") == "x"


# -- pause -----------------------------------------------------------------------------------

def pause(*, windows: bool = True, frozen: bool = True, processes: int = 2,
          stdin_tty: bool = True, no_pause: bool = False, yes: bool = False,
          env: dict[str, str] | None = None) -> bool:
    return console.should_pause(windows=windows, frozen=frozen, console_processes=processes,
                                stdin_tty=stdin_tty, no_pause=no_pause, yes=yes,
                                env=env or {})


def test_double_clicked_onefile_build_pauses() -> None:
    assert pause() is True
    assert pause(processes=1) is True


@pytest.mark.parametrize("processes", [0, 3, 4, 10])
def test_console_shared_with_a_shell_or_unknown_does_not_pause(processes: int) -> None:
    assert pause(processes=processes) is False


def test_any_reason_not_to_pause_wins() -> None:
    """The whole truth table: only a double-clicked frozen build on Windows, reading a
    console, without --no-pause, --yes or CI, pauses."""
    paused = []
    for windows, frozen, stdin_tty, no_pause, yes, ci in itertools.product([True, False],
                                                                           repeat=6):
        if pause(windows=windows, frozen=frozen, stdin_tty=stdin_tty, no_pause=no_pause,
                 yes=yes, env={"CI": "true"} if ci else {}):
            paused.append((windows, frozen, stdin_tty, no_pause, yes, ci))
    assert paused == [(True, True, True, False, False, False)]


def test_ci_variable_with_any_value_prevents_the_pause() -> None:
    assert pause(env={"CI": "1"}) is False
    assert pause(env={"CI": ""}) is True


# -- sizes and progress ------------------------------------------------------------------------

@pytest.mark.parametrize(("count", "text"), [
    (0, "0 B"),
    (1, "1 B"),
    (1023, "1023 B"),
    (KB, "1.0 KB"),
    (1536, "1.5 KB"),
    (MB, "1.0 MB"),
    (int(6.75 * MB), "6.8 MB"),
    (15 * MB, "15.0 MB"),
    (GB, "1.0 GB"),
    (5 * GB + GB // 2, "5.5 GB"),
    (2048 * GB, "2048.0 GB"),
])
def test_human_bytes(count: int, text: str) -> None:
    assert console.human_bytes(count) == text


def test_progress_line_with_a_known_total() -> None:
    line = console.progress_line("micromamba 2.8.1", int(0.45 * 15 * MB), 15 * MB, 0.5)
    assert line == "micromamba 2.8.1   45%  6.8 MB/15.0 MB  13.5 MB/s  ETA 1 s"


def test_progress_line_eta_rounds_up() -> None:
    assert console.progress_line("f", 10 * MB, 100 * MB, 10.0).endswith("1.0 MB/s  ETA 91 s")


def test_progress_line_without_total() -> None:
    assert console.progress_line("pkgs", 2 * KB, None, 2.0) == "pkgs  2.0 KB  1.0 KB/s"


def test_progress_line_when_finished_has_no_eta() -> None:
    assert console.progress_line("f", 100, 100, 1.0) == "f  100%  100 B/100 B  100 B/s"


def test_progress_line_at_time_zero() -> None:
    assert console.progress_line("f", 0, 100, 0.0) == "f    0%  0 B/100 B  0 B/s"


def test_progress_on_a_pipe_prints_one_line_per_quarter() -> None:
    out = io.StringIO()
    update = ConsoleReporter(Console(out, io.StringIO())).progress("mm")
    for done in (0, 10, 24, 25, 30, 50, 74, 75, 99, 100):
        update(done, 100)
    lines = out.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["0%", "25%", "50%", "75%", "100%"]
    assert all(line.startswith("mm ") for line in lines)


def test_progress_without_total_on_a_pipe_prints_nothing() -> None:
    out = io.StringIO()
    progress = Progress(Console(out, io.StringIO()), "mm")
    progress.update(10, None)
    progress.update(20, None)
    assert out.getvalue() == ""


def test_progress_is_silent_when_quiet() -> None:
    out = io.StringIO()
    progress = Progress(Console(out, io.StringIO(), verbosity=console.QUIET), "mm")
    progress.update(100, 100)
    assert out.getvalue() == ""


# -- console output ------------------------------------------------------------------------------

def test_quiet_keeps_errors_only() -> None:
    out, err = io.StringIO(), io.StringIO()
    c = Console(out, err, verbosity=console.QUIET)
    c.say("hello")
    c.warn("careful")
    c.detail("details")
    c.error("broken", hint="fix it")
    assert out.getvalue() == ""
    assert err.getvalue() == "error: broken\n  fix it\n"


def test_normal_and_verbose_output() -> None:
    out, err = io.StringIO(), io.StringIO()
    c = Console(out, err)
    c.say("hello")
    c.detail("hidden")
    c.warn("careful")
    assert out.getvalue() == "hello\n"
    assert err.getvalue() == "warning: careful\n"
    c.verbosity = console.VERBOSE
    c.detail("shown")
    assert out.getvalue() == "hello\nshown\n"


def test_reporter_stage_lines() -> None:
    out = io.StringIO()
    reporter = ConsoleReporter(Console(out, io.StringIO()))
    reporter.stage("create", "py_3_12")
    reporter.stage_done("create", 12.345, "3 packages")
    assert out.getvalue() == "==> create: py_3_12\n    create done in 12.3 s (3 packages)\n"


def test_raw_child_output_goes_to_the_text_stream_without_a_buffer() -> None:
    out = io.StringIO()
    Console(out, io.StringIO()).raw("Zoë\n".encode())
    assert out.getvalue() == "Zoë\n"


def test_is_tty() -> None:
    closed = io.StringIO()
    closed.close()
    assert console.is_tty(closed) is False
    assert console.is_tty(io.StringIO()) is False
    assert console.is_tty(object()) is False
