"""Launching inside an activated environment (bootstrap.launch): the generated wrappers,
Windows argument quoting against the CommandLineToArgvW rules, and the bash wrapper run
for real."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bootstrap import launch
from bootstrap.activation import Activation
from bootstrap.errors import ConfigError
from bootstrap.log import RunLog
from bootstrap.platform import POSIX, WINDOWS

WIN = launch.WindowsLauncher()
POS = launch.PosixLauncher()
PYTHON_EXE = PureWindowsPath(r"C:\envs\py\python.exe")
NASTY = [
    r"C:\Users\Zoë\My Scripts\10 setup.bat",
    r"C:\100% sure\a.bat",
    r"C:\wow!\bang!.cmd",
    r"C:\a^b\c^^d.bat",
    r"C:\R&D\x & y.bat",
    r"C:\(x86)\f(1).bat",
    r"D:\日本語\スクリプト.bat",
    r"\\server\share\setup.CMD",
]
QUOTE_CASES = [
    ("", '""'),
    ("a", '"a"'),
    ("a b", '"a b"'),
    ("a\tb", '"a\tb"'),
    ('say "hi"', '"say \\"hi\\""'),
    ("C:\\dir\\file", '"C:\\dir\\file"'),
    ("C:\\dir\\", '"C:\\dir\\\\"'),
    ("C:\\Program Files\\", '"C:\\Program Files\\\\"'),
    ("\\\\server\\share\\", '"\\\\server\\share\\\\"'),
    ('a\\"b', '"a\\\\\\"b"'),
    ('a\\\\"b', '"a\\\\\\\\\\"b"'),
    ("\\", '"\\\\"'),
    ('"', '"\\""'),
    ('\\"', '"\\\\\\""'),
    ("%PATH% !x! ^& | < > ( )", '"%PATH% !x! ^& | < > ( )"'),
    ("Zoë 日本", '"Zoë 日本"'),
]


def parse_windows_args(line: str) -> list[str]:
    """A reference parser of the CommandLineToArgvW / MS C runtime rules for the arguments
    after the program name: whitespace separates arguments outside quotes; ``2n``
    backslashes before a quote give ``n`` backslashes and the quote toggles quoting;
    ``2n+1`` give ``n`` backslashes and a literal quote; other backslashes are literal.
    ``""`` inside quotes is read differently by different runtimes, so it is refused."""
    args: list[str] = []
    i, n = 0, len(line)
    while True:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            return args
        arg: list[str] = []
        quoted = False
        while i < n:
            char = line[i]
            if char == "\\":
                j = i
                while j < n and line[j] == "\\":
                    j += 1
                count = j - i
                if j < n and line[j] == '"':
                    arg.append("\\" * (count // 2))
                    if count % 2:
                        arg.append('"')
                        j += 1
                else:
                    arg.append("\\" * count)
                i = j
                continue
            if char == '"':
                if quoted and i + 1 < n and line[i + 1] == '"':
                    raise AssertionError(f"ambiguous '\"\"' inside quotes at {i} in {line!r}")
                quoted = not quoted
                i += 1
                continue
            if char in " \t" and not quoted:
                break
            arg.append(char)
            i += 1
        args.append("".join(arg))


def test_reference_parser_knows_the_documented_examples() -> None:
    # the examples of Microsoft's "Parsing C command-line arguments" page
    assert parse_windows_args('"a b c" d e') == ["a b c", "d", "e"]
    assert parse_windows_args('"ab\\"c" "\\\\" d') == ['ab"c', "\\", "d"]
    assert parse_windows_args('a\\\\\\b d"e f"g h') == ["a\\\\\\b", "de fg", "h"]
    assert parse_windows_args('a\\\\\\"b c d') == ['a\\"b', "c", "d"]
    assert parse_windows_args('a\\\\\\\\"b c" d e') == ["a\\\\b c", "d", "e"]


# -- argv_quote ------------------------------------------------------------------------------

@pytest.mark.parametrize(("arg", "quoted"), QUOTE_CASES)
def test_argv_quote_table(arg: str, quoted: str) -> None:
    assert launch.argv_quote(arg) == quoted
    assert parse_windows_args(quoted) == [arg]


def test_argv_quote_table_round_trips_as_one_command_line() -> None:
    args = [a for a, _ in QUOTE_CASES]
    assert parse_windows_args(" ".join(launch.argv_quote(a) for a in args)) == args


@pytest.mark.parametrize("arg", ["a\nb", "a\r\nb", "\r", "end\n", "nul\0"])
def test_argv_quote_rejects_line_breaks_and_nul(arg: str) -> None:
    with pytest.raises(ValueError, match="line breaks or NUL"):
        launch.argv_quote(arg)


def test_windows_command_with_a_line_break_is_a_usage_error() -> None:
    with pytest.raises(ConfigError, match="line breaks") as caught:
        WIN.plan_command([], ["python", "-c", "print(1)\nprint(2)"])
    assert caught.value.exit_code == 2


_ARG_TEXT = st.text(alphabet=st.one_of(
    st.sampled_from(list('\\\\\\"" \ta%!^&|<>()é')),
    st.characters(exclude_characters="\r\n\0", exclude_categories=["Cs"]),
), max_size=30)


@settings(max_examples=400, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_ARG_TEXT, max_size=6))
def test_argv_quote_round_trips_through_the_windows_rules(args: list[str]) -> None:
    line = " ".join(launch.argv_quote(a) for a in args)
    assert parse_windows_args(line) == args


# -- Windows wrappers ------------------------------------------------------------------------

def assert_batch_text(data: bytes) -> list[str]:
    """CRLF everywhere, ASCII only; returns the lines."""
    text = data.decode("ascii")
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")
    assert "\r" not in text.replace("\r\n", "")
    return text.split("\r\n")[:-1]


def test_script_wrapper_calls_the_script_through_a_variable_and_returns_its_code() -> None:
    plan = WIN.plan_script([], PureWindowsPath(r"C:\s\setup.bat"), PYTHON_EXE)
    assert assert_batch_text(plan.wrapper) == [
        "@ECHO OFF",
        "REM Generated by mambaboot: activate.d scripts, then the command.",
        'CALL "%%MAMBABOOT_SCRIPT%%"',
        "EXIT /B %ERRORLEVEL%",
    ]
    assert plan.env == {"MAMBABOOT_SCRIPT": r"C:\s\setup.bat"}
    assert plan.argv_after_wrapper == ()


def test_script_wrapper_calls_activate_d_scripts_first_in_order() -> None:
    acts = [PureWindowsPath(r"C:\e\etc\conda\activate.d\a.bat"),
            PureWindowsPath(r"C:\e\etc\conda\activate.d\b & c.bat")]
    plan = WIN.plan_script(acts, PureWindowsPath(r"C:\s\setup.cmd"), PYTHON_EXE)
    lines = assert_batch_text(plan.wrapper)
    assert lines[2:] == ['CALL "%%MAMBABOOT_ACTIVATE_0%%"', 'CALL "%%MAMBABOOT_ACTIVATE_1%%"',
                         'CALL "%%MAMBABOOT_SCRIPT%%"', "EXIT /B %ERRORLEVEL%"]
    assert plan.env == {"MAMBABOOT_ACTIVATE_0": str(acts[0]),
                        "MAMBABOOT_ACTIVATE_1": str(acts[1]),
                        "MAMBABOOT_SCRIPT": r"C:\s\setup.cmd"}


@pytest.mark.parametrize("script", NASTY)
def test_script_paths_travel_unchanged_in_the_env_never_in_the_text(script: str) -> None:
    path = PureWindowsPath(script)
    act = PureWindowsPath(script).parent / "activate.d" / "x.bat"
    plan = WIN.plan_script([act], path, PYTHON_EXE)
    assert plan.env["MAMBABOOT_SCRIPT"] == script
    assert plan.env["MAMBABOOT_ACTIVATE_0"] == str(act)
    # the text is the same whatever the script: no user data in it
    assert plan.wrapper == WIN.plan_script([PureWindowsPath(r"C:\x.bat")],
                                           PureWindowsPath(r"C:\y.bat"), PYTHON_EXE).wrapper
    assert script.encode("utf-8") not in plan.wrapper


def test_command_wrapper_expands_arguments_with_delayed_expansion() -> None:
    plan = WIN.plan_command([PureWindowsPath(r"C:\e\a.bat")], ["python", "-c", "x"])
    assert assert_batch_text(plan.wrapper) == [
        "@ECHO OFF",
        "REM Generated by mambaboot: activate.d scripts, then the command.",
        'CALL "%%MAMBABOOT_ACTIVATE_0%%"',
        "SETLOCAL EnableDelayedExpansion",
        "!MAMBABOOT_ARG_0! !MAMBABOOT_ARG_1! !MAMBABOOT_ARG_2!",
        "EXIT /B !ERRORLEVEL!",
    ]
    assert plan.env == {"MAMBABOOT_ACTIVATE_0": r"C:\e\a.bat", "MAMBABOOT_ARG_0": '"python"',
                        "MAMBABOOT_ARG_1": '"-c"', "MAMBABOOT_ARG_2": '"x"'}


def test_command_arguments_with_special_characters_survive() -> None:
    command = ["C:\\Zoë's env\\python.exe", "-c", 'print("100% ok!") & echo ^(no)',
               "trailing\\", "", "日本語"]
    plan = WIN.plan_command([], command)
    line = " ".join(plan.env[f"MAMBABOOT_ARG_{i}"] for i in range(len(command)))
    assert parse_windows_args(line) == command
    text = plan.wrapper.decode("ascii")
    assert "print" not in text
    assert "Zo" not in text


def test_python_script_on_windows_runs_with_the_environments_python() -> None:
    script = PureWindowsPath(r"C:\my scripts\20 check!.py")
    plan = WIN.plan_script([], script, PYTHON_EXE)
    args = [plan.env[f"MAMBABOOT_ARG_{i}"] for i in range(2)]
    assert parse_windows_args(" ".join(args)) == [str(PYTHON_EXE), str(script)]
    assert "MAMBABOOT_SCRIPT" not in plan.env
    assert "MAMBABOOT_ARG_2" not in plan.env


def test_powershell_script_runs_without_profile_and_policy_prompts() -> None:
    script = PureWindowsPath(r"C:\s\setup.ps1")
    assert launch.script_argv(script, PYTHON_EXE, WIN) == [
        "powershell.exe", "-NoLogo", "-NoProfile", "-ExecutionPolicy", "Bypass", "-File",
        r"C:\s\setup.ps1"]


def test_cmd_command_line_skips_autorun_and_quotes_the_wrapper() -> None:
    line = WIN.command_line(r"C:\Windows\system32\cmd.exe",
                            PureWindowsPath(r"C:\Users\Zoë Q\Temp\mambaboot-x\wrapper.bat"))
    assert line == (r'"C:\Windows\system32\cmd.exe" /D /E:ON /V:OFF /S /C '
                    r'""C:\Users\Zoë Q\Temp\mambaboot-x\wrapper.bat""')


def test_launcher_registry() -> None:
    assert isinstance(launch.launcher_for(WINDOWS), launch.WindowsLauncher)
    assert isinstance(launch.launcher_for(POSIX), launch.PosixLauncher)


# -- POSIX wrapper ---------------------------------------------------------------------------

def test_posix_wrapper_sources_activate_d_with_shell_quoting_then_execs() -> None:
    acts = [PurePosixPath("/e/etc/conda/activate.d/a b.sh"),
            PurePosixPath("/e/it's/$HOME/`x`.sh")]
    plan = POS.plan_command(acts, ["python", "-c", "x"])
    assert plan.wrapper.decode("utf-8") == (
        "# Generated by mambaboot: activate.d scripts, then the command.\n"
        ". '/e/etc/conda/activate.d/a b.sh'\n"
        ". '/e/it'\"'\"'s/$HOME/`x`.sh'\n"
        'exec "$@"\n')
    assert plan.argv_after_wrapper == ("python", "-c", "x")
    assert plan.env == {}
    assert POS.argv(PurePosixPath("/t/w.sh"), plan) == [
        "bash", "--noprofile", "--norc", "/t/w.sh", "python", "-c", "x"]


@pytest.mark.parametrize(("name", "argv"), [
    ("setup.sh", ["bash", "--noprofile", "--norc", "/s/setup.sh"]),
    ("check.py", ["/e/bin/python", "/s/check.py"]),
    ("tool", ["/s/tool"]),
])
def test_posix_script_argv(name: str, argv: list[str]) -> None:
    plan = POS.plan_script([], PurePosixPath("/s") / name, PurePosixPath("/e/bin/python"))
    assert list(plan.argv_after_wrapper) == argv


def test_posix_shell_plan_skips_rc_files_and_exports_the_prompt() -> None:
    bash = POS.plan_shell([], "/bin/bash", "py_3_12")
    assert list(bash.argv_after_wrapper) == ["/bin/bash", "--noprofile", "--norc", "-i"]
    assert "export PS1='(py_3_12) \\w \\$ '" in bash.wrapper.decode()
    zsh = POS.plan_shell([], "/usr/bin/zsh", "x")
    assert list(zsh.argv_after_wrapper) == ["/usr/bin/zsh", "-f", "-i"]
    assert list(POS.plan_shell([], "/bin/dash", "x").argv_after_wrapper) == ["/bin/dash", "-i"]


def test_windows_shell_plan_keeps_cmd_open_with_the_prompt() -> None:
    plan = WIN.plan_shell([PureWindowsPath(r"C:\e\etc\conda\activate.d\a.bat")], "cmd.exe",
                          "py")
    text = plan.wrapper.decode("ascii")
    assert plan.keep_open
    assert "SETLOCAL" not in text, "changes must survive the batch file in cmd /K"
    assert text.endswith("PROMPT %CONDA_PROMPT_MODIFIER%$P$G\r\n")
    assert WIN.command_line("cmd.exe", PureWindowsPath(r"C:\t\w.bat"), keep_open=True) == \
        '"cmd.exe" /D /E:ON /V:OFF /S /K ""C:\\t\\w.bat""'


ECHO_ARGS = ("import json, os, sys; "
             "print(json.dumps({'argv': sys.argv[1:], 'order': os.environ.get('ORDER'), "
             "'from_act': os.environ.get('FROM_ACT')})); sys.exit(7)")
ODD_ARGS = ["with space", "it's", '"dq"', "$HOME", "*", "a\nb", "", "é", "--", "-x"]


@pytest.fixture
def odd_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "it's a \"dir\" with $pace & `ticks`"
    (folder / "activate.d").mkdir(parents=True)
    (folder / "activate.d" / "1 first.sh").write_text(
        'export ORDER="first"\nexport FROM_ACT="$(pwd)"\n', encoding="utf-8")
    (folder / "activate.d" / "2'second.sh").write_text(
        'export ORDER="$ORDER then second"\n', encoding="utf-8")
    return folder


def _acts(folder: Path) -> list[Path]:
    return sorted((folder / "activate.d").iterdir())


@pytest.mark.posix
def test_posix_wrapper_runs_in_bash_from_an_odd_path(odd_folder: Path) -> None:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    plan = POS.plan_command(_acts(odd_folder), [sys.executable, "-c", ECHO_ARGS, *ODD_ARGS])
    wrapper = odd_folder / "wrap per's.sh"
    wrapper.write_bytes(plan.wrapper)
    done = subprocess.run(POS.argv(wrapper, plan), capture_output=True, cwd=odd_folder,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(odd_folder)},
                          check=False, timeout=30)
    assert done.returncode == 7, done.stderr
    assert json.loads(done.stdout) == {"argv": ODD_ARGS, "order": "first then second",
                                       "from_act": str(odd_folder)}


@pytest.mark.posix
def test_execute_runs_the_plan_with_the_activation_env(odd_folder: Path) -> None:
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    act = Activation(odd_folder, {"PATH": "/usr/bin:/bin", "ORDER": "unset"}, [], [])
    plan = POS.plan_command(_acts(odd_folder), [sys.executable, "-c", ECHO_ARGS, "x y"])
    done = launch.execute(act, plan, POSIX, log=RunLog(None), cwd=odd_folder, capture=True)
    assert done.returncode == 7
    assert json.loads(done.output) == {"argv": ["x y"], "order": "first then second",
                                       "from_act": str(odd_folder)}
