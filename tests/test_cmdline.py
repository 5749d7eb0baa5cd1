"""Windows command lines (bootstrap.cmdline), on any platform: each kind's line read back by
a reference reader (tests/winargv.py), the tables of docs/usage.md, and how the kind of a
command is decided. tests/test_windows.py runs the same lines through the real cmd.exe."""

from __future__ import annotations

import subprocess
from pathlib import PureWindowsPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bootstrap import cmdline
from bootstrap.cmdline import Kind
from tests.winargv import CmdBatchModel, parse_crt, parse_crt_arguments

COMSPEC = r"C:\Windows\system32\cmd.exe"
MODEL = CmdBatchModel({cmdline.PERCENT_VAR: "%", "PATH": r"C:\Windows", "V": "value"})

# Characters that matter to some reader, mixed with anything else that can be passed.
ARG = st.text(alphabet=st.one_of(
    st.sampled_from(list('\\\\\\"" \ta%!^&|<>()=,;é\xff日')),
    st.characters(exclude_characters="\r\n\0", exclude_categories=["Cs"]),
), max_size=24)
PROGRAM_NAME = st.text(alphabet=st.characters(exclude_characters='"\r\n\0\t ',
                                              exclude_categories=["Cs"]),
                       min_size=1, max_size=12)


def line_of(command: list[str], kind: Kind) -> cmdline.Line:
    return cmdline.command_line(command, kind, COMSPEC)


# -- regular programs ---------------------------------------------------------------------

def test_reference_reader_knows_microsofts_examples() -> None:
    # the examples of Microsoft's "Parsing C++ command-line arguments"
    for line, args in [('"a b c" d e', ["a b c", "d", "e"]),
                       ('"ab\\"c" "\\\\" d', ['ab"c', "\\", "d"]),
                       ('a\\\\\\b d"e f"g h', ["a\\\\\\b", "de fg", "h"]),
                       ('a\\\\\\"b c d', ['a\\"b', "c", "d"]),
                       ('a\\\\\\\\"b c" d e', ["a\\\\b c", "d", "e"]),
                       ('a"b"" c d', ['ab" c d'])]:
        assert parse_crt("prog " + line) == ["prog", *args], line
    assert parse_crt('"C:\\my dir\\p.exe" x') == ["C:\\my dir\\p.exe", "x"]
    with pytest.raises(AssertionError, match="inside quotes"):
        parse_crt('p "a""b"', strict=True)


QUOTE_CASES = [
    ("", '""'),
    ("a", "a"),
    ("a b", '"a b"'),
    ("a\tb", '"a\tb"'),
    ('say "hi"', '"say \\"hi\\""'),
    ('a"b', 'a\\"b'),
    ("C:\\dir\\file", "C:\\dir\\file"),
    ("C:\\dir\\", "C:\\dir\\"),
    ("C:\\Program Files\\", '"C:\\Program Files\\\\"'),
    ('a\\"b', 'a\\\\\\"b'),
    ("%PATH% !x! ^& | < > ( )", '"%PATH% !x! ^& | < > ( )"'),
    ("100%", "100%"),
    ("Zoë 日本", '"Zoë 日本"'),
]


@pytest.mark.parametrize(("arg", "quoted"), QUOTE_CASES)
def test_program_arguments_are_quoted_only_when_they_need_it(arg: str, quoted: str) -> None:
    assert cmdline.quote_arg(arg) == quoted
    assert parse_crt_arguments(quoted, strict=True) == [arg]


@settings(max_examples=500, deadline=None, database=None)
@given(PROGRAM_NAME, st.lists(ARG, max_size=6))
def test_program_line_round_trips_through_the_c_runtime_rules(program: str,
                                                              args: list[str]) -> None:
    line = line_of([program, *args], Kind.PROGRAM)
    assert parse_crt(str(line), strict=True) == [program, *args]
    assert line.program == f'"{program}"', "cmd must run the file, never a command of its own"
    assert line.env == {}


@settings(max_examples=300, deadline=None, database=None)
@given(ARG)
def test_program_quoting_is_what_list2cmdline_writes(arg: str) -> None:
    assert cmdline.quote_arg(arg) == subprocess.list2cmdline([arg])


@pytest.mark.parametrize("kind", list(Kind))
@pytest.mark.parametrize("arg", ["a\nb", "a\r\nb", "\r", "end\n", "nul\0"])
def test_line_breaks_and_nul_cannot_be_passed(kind: Kind, arg: str) -> None:
    with pytest.raises(ValueError, match="line breaks or NUL"):
        line_of(["prog", arg], kind)


def test_empty_and_impossible_commands_are_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        line_of([], Kind.PROGRAM)
    with pytest.raises(ValueError, match="double quote"):
        line_of(['my"prog', "x"], Kind.PROGRAM)


@pytest.mark.parametrize("kind", [Kind.PROGRAM, Kind.BATCH])
def test_a_line_longer_than_cmd_takes_is_refused(kind: Kind) -> None:
    line_of(["p", "x" * 8000], kind)
    with pytest.raises(ValueError, match=r"cmd\.exe takes at most 8191"):
        line_of(["p", "x" * 8200], kind)


# -- cmd.exe ------------------------------------------------------------------------------

CMD_CASES = [
    (["cmd", "/c", "exit", "7"], '"cmd" /c exit 7'),
    (["cmd", "/c", "echo a&b"], '"cmd" /c "echo a&b"'),
    (["cmd", "/c", "if", "1==1", "(exit", "3)"], '"cmd" /c if 1==1 (exit 3)'),
    (["cmd.exe", "/d", "/s", "/v:on", "/c", "echo !x!"], '"cmd.exe" /d /s /v:on /c "echo !x!"'),
    ([COMSPEC, "/k"], f'"{COMSPEC}" /k'),
    (["cmd", "/c", '"C:\\Program Files\\x.exe" "a b"'],
     '"cmd" /c ""C:\\Program Files\\x.exe" "a b""'),
]


@pytest.mark.parametrize(("command", "line"), CMD_CASES)
def test_cmd_gets_switches_bare_and_its_command_as_typed(command: list[str], line: str) -> None:
    assert str(line_of(command, Kind.CMD)) == line


# -- batch files and cmd's own commands -----------------------------------------------------

BATCH_CASES = [
    (["a", "b"], ["a", "b"], "a b"),
    (["x y"], ['"x y"'], '"x y"'),
    (["50%"], ["50%"], "50%"),
    (["%PATH%"], ["%PATH%"], "%PATH%"),
    (["a&b"], ['"a&b"'], '"a&b"'),
    (["a^b"], ['"a^b"'], '"a^b"'),
    (["!v!"], ["!v!"], "!v!"),
    (['say "hi"'], ['"say ""hi"""'], '"say ""hi"""'),
    (["a,b", "c;d=e"], ['"a,b"', '"c;d=e"'], '"a,b" "c;d=e"'),
    ([""], ['""'], '""'),
    (["(x86)"], ['"(x86)"'], '"(x86)"'),
]


@pytest.mark.parametrize(("args", "params", "star"), BATCH_CASES)
def test_batch_parameters_table(args: list[str], params: list[str], star: str) -> None:
    line = line_of([r"C:\my tools\echoargs.bat", *args], Kind.BATCH)
    assert line.program == f'"{COMSPEC}"'
    assert line.env == {cmdline.PERCENT_VAR: "%"}
    call = CmdBatchModel({**MODEL.env, **line.env}).run(line.arguments)
    assert call.params == ['"C:\\my tools\\echoargs.bat"', *params]
    assert call.star == star


def test_batch_line_runs_in_cmd_without_autorun_or_delayed_expansion() -> None:
    line = line_of([r"C:\100% sure\a.bat", "50%"], Kind.BATCH)
    assert str(line) == (f'"{COMSPEC}" /D /E:ON /V:OFF /S /C '
                         '""C:\\100%MAMBABOOT_PERCENT% sure\\a.bat" 50%MAMBABOOT_PERCENT%"')


@settings(max_examples=500, deadline=None, database=None)
@given(st.lists(ARG, max_size=6))
def test_batch_parameters_round_trip(args: list[str]) -> None:
    """Each argument is one parameter; ``%~n`` gives it back when it holds no quote, and
    cmd acts on nothing in the line but mambaboot's own percent variable."""
    line = line_of(["echoargs.bat", *args], Kind.BATCH)
    call = MODEL.run(line.arguments)
    assert call.params[0] == '"echoargs.bat"'
    assert len(call.params) == len(args) + 1
    for n, arg in enumerate(args, start=1):
        if '"' in arg:
            assert call.params[n] == '"' + arg.replace('"', '""') + '"'
        else:
            assert call.tilde(n) == arg
    # a batch file that passes %* on to a program: the program reads the same arguments
    # when none ends in a backslash inside quotes (as when typed; see docs/usage.md)
    if not any(a.endswith("\\") for a in args):
        assert parse_crt_arguments(call.star) == args


def test_builtin_commands_run_in_cmd_with_the_name_bare() -> None:
    line = line_of(["echo", "100%", "a&b"], Kind.BUILTIN)
    assert line.arguments == '/D /E:ON /V:OFF /S /C "echo 100%MAMBABOOT_PERCENT% "a&b""'
    assert MODEL.run(line.arguments).params == ["echo", "100%", '"a&b"']
    assert str(line_of(["start", "", "notepad"], Kind.BUILTIN)).endswith('/C "start "" notepad"')


# -- PowerShell ---------------------------------------------------------------------------

@pytest.mark.parametrize(("command", "args"), [
    (["powershell", "-NoProfile", "-Command", "exit 5"], ["-NoProfile", "-Command", "exit 5"]),
    (["pwsh", "-c", "Write-Output", "'a b'", "; exit 2"], ["-c", "Write-Output 'a b' ; exit 2"]),
    (["powershell", "-Comm", "$x", "=", "1"], ["-Comm", "$x = 1"]),
    (["powershell", "-File", r"C:\s\my script.ps1", "a b", 'say "hi"'],
     ["-File", r"C:\s\my script.ps1", "a b", 'say "hi"']),
    (["powershell", "-Command"], ["-Command"]),
])
def test_powershell_takes_argv_and_command_as_one_string(command: list[str],
                                                        args: list[str]) -> None:
    line = line_of(command, Kind.POWERSHELL)
    assert parse_crt(str(line), strict=True) == [command[0], *args]


def test_powershell_command_line_as_in_the_docs() -> None:
    assert str(line_of(["powershell", "-NoProfile", "-Command", "exit", "5"], Kind.POWERSHELL)) \
        == '"powershell" -NoProfile -Command "exit 5"'


# -- which kind -----------------------------------------------------------------------------

FILES = {
    r"C:\work\tool.bat", r"C:\work\python.exe",
    r"C:\env\python.exe", r"C:\env\Scripts\conda.exe", r"C:\env\condabin\conda.bat",
    r"C:\env\condabin\mamba.bat", r"C:\env\Library\bin\mamba.exe", r"C:\env\Scripts\echo.exe",
    r"C:\env\Scripts\run.cmd", r"C:\env\Scripts\script.py",
    r"C:\Windows\system32\cmd.exe", r"C:\Windows\system32\where.exe",
    r"C:\Windows\system32\WindowsPowerShell\v1.0\powershell.exe",
    r"C:\Program Files\PowerShell\7\pwsh.exe",
}
ENV = {"Path": r"C:\env;C:\env\Library\bin;C:\env\Scripts;C:\env\condabin;"
               r'"C:\Windows\system32";C:\Windows\system32\WindowsPowerShell\v1.0;'
               r"C:\Program Files\PowerShell\7",
       "PATHEXT": ".COM;.EXE;.BAT;.CMD"}
CWD = PureWindowsPath(r"C:\work")


def exists(path: PureWindowsPath) -> bool:
    return str(path).lower() in {f.lower() for f in FILES}


@pytest.mark.parametrize(("name", "kind", "path"), [
    ("python", Kind.PROGRAM, r"C:\work\python.exe"),  # the current folder first, as cmd
    ("conda", Kind.PROGRAM, r"C:\env\Scripts\conda.exe"),  # PATH order, then PATHEXT order
    ("mamba", Kind.PROGRAM, r"C:\env\Library\bin\mamba.exe"),
    ("mamba.bat", Kind.BATCH, r"C:\env\condabin\mamba.bat"),
    ("tool", Kind.BATCH, r"C:\work\tool.bat"),
    ("RUN", Kind.BATCH, r"C:\env\Scripts\run.cmd"),
    ("cmd", Kind.CMD, r"C:\Windows\system32\cmd.exe"),
    (r"C:\Windows\system32\cmd.exe", Kind.CMD, r"C:\Windows\system32\cmd.exe"),
    ("powershell", Kind.POWERSHELL, r"C:\Windows\system32\WindowsPowerShell\v1.0\powershell.exe"),
    ("pwsh.exe", Kind.POWERSHELL, r"C:\Program Files\PowerShell\7\pwsh.exe"),
    ("where", Kind.PROGRAM, r"C:\Windows\system32\where.exe"),
    ("script.py", Kind.PROGRAM, r"C:\env\Scripts\script.py"),
    (r"..\env\condabin\conda.bat", Kind.BATCH, r"C:\env\condabin\conda.bat"),
    ("echo", Kind.BUILTIN, None),  # cmd's own, although Scripts\echo.exe exists
    ("Start", Kind.BUILTIN, None),
    ("echo.exe", Kind.PROGRAM, r"C:\env\Scripts\echo.exe"),
    ("nothing", Kind.PROGRAM, None),
    ("missing.cmd", Kind.BATCH, None),
])
def test_the_kind_is_decided_as_cmd_finds_the_program(name: str, kind: Kind,
                                                     path: str | None) -> None:
    target = cmdline.classify(name, ENV, CWD, exists)
    assert target.kind is kind
    assert target.path == (PureWindowsPath(path) if path else None)


def test_no_current_folder_when_windows_is_told_so() -> None:
    env = {**ENV, "NoDefaultCurrentDirectoryInExePath": "1"}
    assert cmdline.classify("python", env, CWD, exists).path == PureWindowsPath(
        r"C:\env\python.exe")


def test_default_pathext_when_none_is_set() -> None:
    env = {"PATH": r"C:\env\condabin"}
    assert cmdline.classify("conda", env, CWD, exists) == cmdline.Target(
        Kind.BATCH, PureWindowsPath(r"C:\env\condabin\conda.bat"))
