"""Windows command lines, written the way each kind of program reads them.

Windows gives a program one string, not an argument list, and every program splits it
itself. mambaboot holds a list (``run ENV -- CMD...``, a post-install script, the
verification probe) and writes the string for the program's kind (``Kind``):

- ``PROGRAM``, an ``.exe`` built with the Microsoft C runtime or reading its line with
  CommandLineToArgvW (python.exe, conda.exe, most programs): each argument comes back
  unchanged. Quotes only where an argument needs them, as ``subprocess.list2cmdline``.
- ``CMD``, cmd.exe itself: switches as they are; after ``/C``, ``/K`` or ``/R`` the rest is
  a command line for cmd, written as you would type it (an argument with a space in double
  quotes), and cmd applies its own rules to it, the ``/C`` quote rule included.
- ``BATCH``, a ``.bat``/``.cmd`` file, and ``BUILTIN``, a command of cmd's own (``echo``,
  ``start``, ``dir``...): these run inside a cmd.exe that parses their line, so each
  argument that holds a space, a delimiter or one of cmd's special characters is written
  in double quotes (``%1`` is then ``"a&b"``, ``%~1`` is ``a&b``), and ``%`` as
  ``%MAMBABOOT_PERCENT%``, a variable that holds ``%``: cmd expands it once, so no variable
  named in an argument is ever expanded. They run in ``cmd.exe /D /V:OFF /S /C "LINE"``.
- ``POWERSHELL``: like a program, except that after ``-Command`` the rest is one string,
  PowerShell code (what PowerShell itself would join the arguments into).

Which kind a command is, ``classify`` decides as cmd.exe does: cmd's own commands first,
then the first word on the current folder and PATH with the PATHEXT extensions.

``Line`` keeps the program token apart from the rest: mambaboot's wrapper batch file runs
``!MAMBABOOT_PROGRAM! !MAMBABOOT_ARGS!`` with delayed expansion, which puts the values in
after cmd has parsed that line, so they reach the program exactly as written here.
"""

from __future__ import annotations

import enum
import ntpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PureWindowsPath

PERCENT_VAR = "MAMBABOOT_PERCENT"
MAX_LINE = 8191  # cmd.exe's limit for a command line after expansion (Microsoft KB830473)
DEFAULT_PATHEXT = ".COM;.EXE;.BAT;.CMD;.VBS;.VBE;.JS;.JSE;.WSF;.WSH;.MSC"
# Characters cmd.exe acts on outside double quotes (and the quote itself).
CMD_SPECIAL = frozenset('&|<>()^"')
# What separates batch parameters (%1 %2 ...) outside quotes.
BATCH_DELIMITERS = frozenset(" \t,;=\x0b\x0c\xff")
# cmd's own commands: cmd runs these before looking for a file of the same name.
BUILTINS = frozenset({
    "assoc", "break", "call", "cd", "chdir", "cls", "color", "copy", "date", "del", "dir",
    "dpath", "echo", "endlocal", "erase", "exit", "for", "ftype", "goto", "if", "keys", "md",
    "mkdir", "mklink", "move", "path", "pause", "popd", "prompt", "pushd", "rd", "rem", "ren",
    "rename", "rmdir", "set", "setlocal", "shift", "start", "time", "title", "type", "ver",
    "verify", "vol"})
POWERSHELL_NAMES = frozenset({"powershell", "pwsh"})

Probe = Callable[[PureWindowsPath], bool]


class Kind(enum.Enum):
    """How a Windows program reads its command line."""

    PROGRAM = "program"
    CMD = "cmd"
    BATCH = "batch"
    BUILTIN = "builtin"
    POWERSHELL = "powershell"


@dataclass(frozen=True)
class Target:
    """What the first word of a command is: its kind, and the file cmd.exe would run."""

    kind: Kind
    path: PureWindowsPath | None = None


@dataclass(frozen=True)
class Line:
    """A command line as cmd.exe splits it: the program token and the rest; ``env`` holds
    the variables the text relies on."""

    program: str
    arguments: str
    env: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.program} {self.arguments}" if self.arguments else self.program


# -- one argument -------------------------------------------------------------------------

def check_argument(arg: str) -> None:
    """Line breaks and NUL cannot be part of a Windows command line at all."""
    if any(c in arg for c in "\r\n\0"):
        raise ValueError("an argument for a Windows command cannot contain line breaks or NUL")


def quote_arg(arg: str) -> str:
    """One argument for the Microsoft C runtime rules (CommandLineToArgvW): unchanged
    unless it is empty or holds a space or tab, then in double quotes; a quote becomes
    ``\\"``, and backslashes are doubled only where they come before a quote."""
    check_argument(arg)
    wrap = not arg or " " in arg or "\t" in arg
    out = ['"'] if wrap else []
    backslashes = 0
    for char in arg:
        if char == "\\":
            backslashes += 1
            continue
        if char == '"':
            out.append("\\" * (2 * backslashes + 1) + '"')
        else:
            out.append("\\" * backslashes + char)
        backslashes = 0
    out.append("\\" * (2 * backslashes if wrap else backslashes))
    if wrap:
        out.append('"')
    return "".join(out)


def quote_cmd_arg(arg: str, *, always: bool = False) -> str:
    """One argument in a line that cmd.exe parses (a batch file's or a built-in command's):
    in double quotes when it is empty or holds a delimiter or a special character, a quote
    inside doubled (so cmd's quoting state never flips), ``%`` as ``%MAMBABOOT_PERCENT%``.
    ``!`` needs nothing: that cmd runs with delayed expansion off."""
    check_argument(arg)
    wrap = always or not arg or any(c in CMD_SPECIAL or c in BATCH_DELIMITERS for c in arg)
    text = arg.replace("%", f"%{PERCENT_VAR}%")
    return f'"{text.replace(chr(34), chr(34) * 2)}"' if wrap else text


def _as_typed(arg: str) -> str:
    """A word of a command line for cmd, as a user types it: in quotes when it holds a
    space or tab or is empty, otherwise as it is (quotes inside are cmd's own syntax)."""
    check_argument(arg)
    return f'"{arg}"' if not arg or " " in arg or "\t" in arg else arg


# -- the arguments of each kind -------------------------------------------------------------

def program_arguments(args: Sequence[str]) -> str:
    return " ".join(quote_arg(a) for a in args)


def cmd_arguments(args: Sequence[str]) -> str:
    """cmd.exe's own arguments: switches up to ``/C``, ``/K`` or ``/R``, then a command
    line for cmd; each written as typed (``cmd /c "echo a&b"`` runs ``echo a`` and ``b``,
    exactly as in a cmd window)."""
    return " ".join(_as_typed(a) for a in args)


def powershell_arguments(args: Sequence[str]) -> str:
    """powershell.exe / pwsh: argv rules (``-File SCRIPT ARGS`` included); after
    ``-Command`` (``-c``) everything is PowerShell code, passed as one string."""
    for i, arg in enumerate(args):
        lower = arg.lower()
        if lower == "-c" or (len(lower) >= 4 and "-command".startswith(lower)):
            rest = [" ".join(args[i + 1:])] if args[i + 1:] else []
            return program_arguments([*args[:i + 1], *rest])
    return program_arguments(args)


def cmd_invocation(comspec: str, text: str, *, keep_open: bool = False) -> Line:
    """cmd.exe running exactly ``text``: ``/D`` (no registry AutoRun), ``/V:OFF``, and ``/S``
    with ``text`` in one more pair of quotes, which ``/S`` strips and nothing else. The
    caller quotes what is in ``text`` (``quote_cmd_arg``)."""
    switch = "/K" if keep_open else "/C"
    return Line(f'"{comspec}"', f'/D /E:ON /V:OFF /S {switch} "{text}"', {PERCENT_VAR: "%"})


def command_line(command: Sequence[str], kind: Kind, comspec: str = "cmd.exe") -> Line:
    """The line that starts ``command`` (its first word as given) so that a program of
    ``kind`` reads back what the list says; ValueError when no such line exists."""
    if not command or not command[0]:
        raise ValueError("the command is empty")
    first, args = command[0], command[1:]
    check_argument(first)
    if '"' in first:
        raise ValueError(f"a program name cannot contain a double quote: {first}")
    if kind in (Kind.BATCH, Kind.BUILTIN):
        token = first if kind is Kind.BUILTIN else quote_cmd_arg(first, always=True)
        inner = " ".join([token, *(quote_cmd_arg(a) for a in args)])
        _check_length(inner)
        return cmd_invocation(comspec, inner)
    rest = {Kind.CMD: cmd_arguments, Kind.POWERSHELL: powershell_arguments}.get(
        kind, program_arguments)(args)
    # In quotes, always: cmd then runs the program, never a command of its own ("echo.exe").
    line = Line(f'"{first}"', rest)
    _check_length(str(line))
    return line


def _check_length(text: str) -> None:
    if len(text) > MAX_LINE:
        raise ValueError(f"the command line is {len(text)} characters long; cmd.exe takes at "
                         f"most {MAX_LINE}")


# -- which kind ---------------------------------------------------------------------------

def _lookup(env: Mapping[str, str], name: str) -> str | None:
    found = [v for k, v in env.items() if k.upper() == name]
    return found[0] if found else None


def resolve(name: str, env: Mapping[str, str], cwd: PureWindowsPath,
            exists: Probe) -> PureWindowsPath | None:
    """The file cmd.exe runs for ``name``: a name with a folder in it is looked up there
    only; otherwise in the current folder (unless ``NoDefaultCurrentDirectoryInExePath`` is
    set), then in each PATH folder. In each folder the name as given when it has an
    extension, then the name with each PATHEXT extension, in order."""
    given = PureWindowsPath(name)
    exts = [e for e in (_lookup(env, "PATHEXT") or DEFAULT_PATHEXT).split(";") if e]
    if given.name != name or given.drive:
        folders = [PureWindowsPath(ntpath.normpath(cwd / given.parent))]
    else:
        folders = [] if _lookup(env, "NODEFAULTCURRENTDIRECTORYINEXEPATH") is not None \
            else [cwd]
        folders += [PureWindowsPath(p.strip().strip('"'))
                    for p in (_lookup(env, "PATH") or "").split(";") if p.strip()]
    for folder in folders:
        candidates = ([given.name] if given.suffix else []) + [given.name + e for e in exts]
        for candidate in candidates:
            path = folder / candidate
            if exists(path):
                return path
    return None


def kind_of(name: str, path: PureWindowsPath | None) -> Kind:
    """The kind of the program named ``name`` (found at ``path``, if it was found)."""
    if name.lower() in BUILTINS:
        return Kind.BUILTIN
    found = path or PureWindowsPath(name)
    stem, suffix = found.stem.lower(), found.suffix.lower()
    if suffix in (".bat", ".cmd"):
        return Kind.BATCH
    if suffix in (".exe", "") and stem == "cmd":
        return Kind.CMD
    if suffix in (".exe", "") and stem in POWERSHELL_NAMES:
        return Kind.POWERSHELL
    return Kind.PROGRAM


def classify(name: str, env: Mapping[str, str], cwd: PureWindowsPath,
             exists: Probe) -> Target:
    """Decide as cmd.exe does: its own commands first (``echo`` even when an
    ``echo.exe`` is on PATH), then the file ``resolve`` finds."""
    if name.lower() in BUILTINS:
        return Target(Kind.BUILTIN)
    path = resolve(name, env, cwd, exists)
    return Target(kind_of(name, path), path)
