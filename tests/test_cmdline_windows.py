"""Windows command lines through the real cmd.exe (bootstrap.cmdline, launch, ``run``).

Each line of ``TYPED`` is run twice by cmd.exe, as a user types it: once on its own, and
once after ``mambaboot run ENV --``; both must give the same output and exit code, and
that is the one in the table (docs/usage.md shows the same table). ``ARGV`` passes
arguments as a list instead (as from a program), and the property tests pass random ones
and compare what the batch file sees with the reference model of tests/winargv.py.
Marked ``windows``: skipped elsewhere; run under Wine by ``make test-windows``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bootstrap import cmdline, launch
from bootstrap.activation import Activation
from bootstrap.log import RunLog
from bootstrap.platform import WINDOWS
from tests.conftest import Mambaboot
from tests.winargv import CmdBatchModel, parse_crt

pytestmark = pytest.mark.windows

ECHOARGS = b"@echo [%1] [%2] [%*]\r\n"
PRINT_ARGV = "import json, sys; sys.stdout.write(json.dumps(sys.argv[1:]))"
NOT_FOUND = 9009  # cmd's exit code for a command it cannot find
# (typed line, expected standard output lines, expected exit code)
TYPED = [
    ("cmd /c exit 7", [], 7),
    ('cmd /c "echo a&b"', ["a"], NOT_FOUND),
    ("cmd /c if 1==1 (exit 3)", [], 3),
    ("echoargs.bat a b", ["[a] [b] [a b]"], 0),
    ('echoargs.bat "x y"', ['["x y"] [] ["x y"]'], 0),
    ("echoargs.bat 50%", ["[50%] [] [50%]"], 0),
    ('echoargs.bat "a&b"', ['["a&b"] [] ["a&b"]'], 0),
    ("echoargs.bat a&b", ["[a] [] [a]"], NOT_FOUND),
    ("echoargs.bat a^b", ["[ab] [] [ab]"], 0),
    ('echoargs.bat "a^b"', ['["a^b"] [] ["a^b"]'], 0),
    ("echoargs.bat !v!", ["[!v!] [] [!v!]"], 0),
    ('echo 100% "a b"', ['100% "a b"'], 0),
]
POWERSHELL: tuple[str, list[str], int] = ('powershell -NoProfile -Command "exit 5"', [], 5)
# (arguments after echoargs.bat as a list, what the batch file echoes)
ARGV = [
    (["a b"], '["a b"] [] ["a b"]'),
    (["a", "b"], "[a] [b] [a b]"),
    (["50%"], "[50%] [] [50%]"),
    (["%PATH%"], "[%PATH%] [] [%PATH%]"),
    (["a&b"], '["a&b"] [] ["a&b"]'),
    (["a^b"], '["a^b"] [] ["a^b"]'),
    (["!v!"], "[!v!] [] [!v!]"),
    (['say "hi"'], '["say ""hi"""] [] ["say ""hi"""]'),
    (["a,b", ""], '["a,b"] [""] ["a,b" ""]'),
]


def output_encoding() -> str:
    """cmd.exe writes the console's output code page, or the ANSI one without a console."""
    import locale

    from bootstrap import windows

    page = windows.console_code_page()
    return f"cp{page}" if page else locale.getencoding()


@pytest.fixture
def prefix(tmp_path: Path) -> Path:
    """A small environment: echoargs.bat in Scripts (on the activated PATH)."""
    root = tmp_path / "env"
    (root / "conda-meta").mkdir(parents=True)
    (root / "Scripts").mkdir()
    (root / "Scripts" / "echoargs.bat").write_bytes(ECHOARGS)
    return root


def comspec() -> str:
    return os.environ.get("COMSPEC") or "cmd.exe"


def cmd_line(env: dict[str, str], line: str, cwd: Path) -> tuple[list[str], int]:
    """``line`` typed into cmd.exe: ``cmd /d /s /c "LINE"`` runs exactly LINE."""
    done = subprocess.run(f'"{comspec()}" /d /s /c "{line}"', env=env, cwd=cwd,
                          capture_output=True, check=False, timeout=120)
    return done.stdout.decode(output_encoding()).splitlines(), done.returncode


def typed_env(mambaboot: Mambaboot, prefix: Path) -> dict[str, str]:
    env = {**mambaboot.base_env(), "v": "VALUE"}
    env["PATH"] = f"{prefix / 'Scripts'};{env['PATH']}"
    return env


@pytest.mark.parametrize(("line", "out", "code"), TYPED)
def test_a_line_gives_what_it_gives_in_cmd(mambaboot: Mambaboot, prefix: Path,
                                           tmp_path: Path, line: str, out: list[str],
                                           code: int) -> None:
    env = typed_env(mambaboot, prefix)
    assert cmd_line(env, line, tmp_path) == (out, code), "typed in cmd.exe"
    run = subprocess.list2cmdline([*mambaboot.argv, "run", "--cache-dir",
                                   str(tmp_path / "cache"), str(prefix), "--"])
    assert cmd_line(env, f"{run} {line}", tmp_path) == (out, code), "through mambaboot run"


@pytest.mark.parametrize(("args", "echoed"), ARGV)
def test_arguments_from_a_list_reach_a_batch_file(mambaboot: Mambaboot, prefix: Path,
                                                  tmp_path: Path, args: list[str],
                                                  echoed: str) -> None:
    done = mambaboot("run", "--cache-dir", str(tmp_path / "cache"), str(prefix), "--",
                     "echoargs.bat", *args, env={"v": "VALUE"})
    assert done.code == 0, done.text
    assert done.out.splitlines()[-1] == echoed


def test_run_cmd_c_exit_7_exits_7(mambaboot: Mambaboot, prefix: Path, tmp_path: Path) -> None:
    done = mambaboot("run", "--cache-dir", str(tmp_path / "cache"), str(prefix), "--",
                     "cmd", "/c", "exit", "7")
    assert done.code == 7, done.text


def powershell_runs_code() -> bool:
    """Wine ships a powershell.exe that exits 0 and prints nothing, whatever it is given."""
    try:
        done = subprocess.run(["powershell", "-NoProfile", "-Command", "Write-Output 6*7"],
                              capture_output=True, check=False, timeout=120)
    except OSError:
        return False
    return b"6*7" in done.stdout or b"42" in done.stdout


def test_powershell_command_exit_code(mambaboot: Mambaboot, prefix: Path,
                                      tmp_path: Path) -> None:
    if not powershell_runs_code():
        pytest.skip("no PowerShell here that runs code (Wine's powershell.exe is a stub)")
    line, out, code = POWERSHELL
    assert cmd_line(typed_env(mambaboot, prefix), line, tmp_path) == (out, code)
    done = mambaboot("run", "--cache-dir", str(tmp_path / "cache"), str(prefix), "--",
                     "powershell", "-NoProfile", "-Command", "exit 5")
    assert done.code == 5, done.text


# -- random arguments through the real cmd.exe ----------------------------------------------

def run_in(prefix: Path, command: list[str], tmp_path: Path) -> tuple[int, bytes]:
    """``command`` through mambaboot's wrapper, as ``run`` starts it; the output as
    mambaboot logs and shows it."""
    act = Activation.load(prefix, WINDOWS, dict(os.environ))
    plan = launch.plan_command(act, command, WINDOWS, cwd=tmp_path)
    done = launch.execute(act, plan, WINDOWS, log=RunLog(None), cwd=tmp_path, capture=True)
    return done.returncode, done.output


# Pieces that matter to cmd.exe or the C runtime, and a variable cmd would expand.
TEXT = st.lists(st.sampled_from([*'\\\\"" \ta%!^&|<>()=,;é~:*?/', "%PATH%", "!v!"]),
                max_size=10).map("".join)


@settings(max_examples=30, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(TEXT, min_size=1, max_size=5))
def test_a_program_gets_random_arguments_unchanged(prefix: Path, tmp_path: Path,
                                                   args: list[str]) -> None:
    code, out = run_in(prefix, [sys.executable, "-c", PRINT_ARGV, *args], tmp_path)
    assert code == 0
    import json

    assert json.loads(out.decode("utf-8").splitlines()[-1]) == args


@settings(max_examples=30, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(TEXT, min_size=1, max_size=5))
def test_a_batch_file_sees_what_the_model_says(prefix: Path, tmp_path: Path,
                                               args: list[str]) -> None:
    """The model of tests/winargv.py, checked against the real cmd.exe: ``%*`` as the
    batch file echoes it is the text the model predicts."""
    code, out = run_in(prefix, ["echoargs.bat", *args], tmp_path)
    assert code == 0
    line = cmdline.command_line(["echoargs.bat", *args], cmdline.Kind.BATCH, comspec())
    call = CmdBatchModel(line.env).run(line.arguments)
    expected = f"[{call.params[1]}] [{call.params[2] if len(args) > 1 else ''}] [{call.star}]"
    assert out.decode("utf-8").splitlines()[-1] == expected, "mambaboot's output is UTF-8"


def test_the_reference_reader_reads_the_line_python_gets() -> None:
    """tests/winargv.py's C runtime reader against the real one."""
    line = r'"x.exe" a "b c" d\"e "f\\" "g""h" \\\"i'
    done = subprocess.run(f'"{sys.executable}" -c "{PRINT_ARGV}" {line.split(" ", 1)[1]}',
                          capture_output=True, check=False, timeout=60)
    import json

    assert json.loads(done.stdout) == parse_crt(line)[1:]
