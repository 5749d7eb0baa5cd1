"""Reference readers of Windows command lines, for tests on any platform.

``parse_crt`` follows Microsoft's documented rules for the C runtime's startup code
("Parsing C++ command-line arguments", learn.microsoft.com, the same rules as
CommandLineToArgvW except where noted):

1. Arguments are separated by whitespace: a space or a tab.
2. The first argument, the program name, is read specially: double quotes group (and are
   dropped), nothing is escaped, and the rules below do not apply to it.
3. A string in double quotes is one argument, whitespace or not, and may be part of a
   longer argument. ``^`` is neither an escape nor a delimiter. Inside quotes, a pair of
   quotes is one literal quote. A line that ends inside quotes ends the last argument.
4. ``\\"`` is a literal quote.
5. Backslashes are literal unless they come right before a quote.
6. ``2n`` backslashes before a quote give ``n`` backslashes, and the quote delimits.
7. ``2n+1`` backslashes before a quote give ``n`` backslashes and a literal quote.

Rule 3's ``""`` inside quotes is read differently by older runtimes and by
CommandLineToArgvW; ``strict=True`` refuses it, so a writer can show it never relies on it.

``CmdBatchModel`` reads a ``cmd.exe /D /V:OFF /S /C "TEXT"`` line that runs a batch file
the way cmd.exe does, restricted to what mambaboot's lines may contain, and refuses
anything else: ``/S`` strips the first and the last quote; ``%NAME%`` of a defined
variable is replaced by its value, once and left to right (any other ``%`` is refused);
outside double quotes ``& | < > ( ) ^`` would be acted on and are refused; the first word is
the batch file (``%0``) and the parameters ``%1``... are separated by space, tab, ``,``,
``;``, ``=``, 0x0B, 0x0C and 0xFF outside quotes, keeping their quotes (``cmd /?``, ``call
/?``). tests/test_windows.py checks it against the real cmd.exe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

WHITESPACE = " \t"


def parse_crt(line: str, *, strict: bool = False) -> list[str]:
    """The argv a Microsoft C runtime program gets for ``line`` (program name included)."""
    program, i = _program_name(line)
    return [program, *_arguments(line, i, strict)]


def parse_crt_arguments(line: str, *, strict: bool = False) -> list[str]:
    """The arguments after the program name, for a line that holds only arguments."""
    return _arguments(line, 0, strict)


def _program_name(line: str) -> tuple[str, int]:
    name: list[str] = []
    quoted = False
    i = 0
    while i < len(line) and (quoted or line[i] not in WHITESPACE):
        if line[i] == '"':
            quoted = not quoted
        else:
            name.append(line[i])
        i += 1
    return "".join(name), i


def _arguments(line: str, i: int, strict: bool) -> list[str]:
    args: list[str] = []
    n = len(line)
    while True:
        while i < n and line[i] in WHITESPACE:
            i += 1
        if i >= n:
            return args
        arg: list[str] = []
        quoted = False
        while i < n and (quoted or line[i] not in WHITESPACE):
            char = line[i]
            if char == "\\":
                j = i
                while j < n and line[j] == "\\":
                    j += 1
                if j < n and line[j] == '"':
                    arg.append("\\" * ((j - i) // 2))
                    if (j - i) % 2:
                        arg.append('"')
                        j += 1
                else:
                    arg.append("\\" * (j - i))
                i = j
            elif char == '"':
                if quoted and i + 1 < n and line[i + 1] == '"':
                    if strict:
                        raise AssertionError(f"'\"\"' inside quotes at {i} in {line!r}")
                    arg.append('"')
                    i += 2
                    continue
                quoted = not quoted
                i += 1
            else:
                arg.append(char)
                i += 1
        args.append("".join(arg))


# -- cmd.exe running a batch file --------------------------------------------------------------

BATCH_DELIMITERS = " \t,;=\x0b\x0c\xff"
CMD_ACTS_ON = "&|<>()^"


@dataclass(frozen=True)
class BatchCall:
    """What the batch file sees: ``%0`` and ``%1``..., each as cmd gives it (with quotes),
    and ``%*``."""

    params: list[str]
    star: str

    def tilde(self, n: int) -> str:
        """``%~n``: the parameter without one pair of surrounding quotes."""
        value = self.params[n]
        value = value[1:] if value.startswith('"') else value
        return value[:-1] if value.endswith('"') else value


class CmdBatchModel:
    """Reads ``cmd.exe /D /V:OFF /S /C "TEXT"`` for a batch file (see the module text)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = {k.upper(): v for k, v in env.items()}

    def run(self, arguments: str) -> BatchCall:
        """``arguments``: what follows the program name of cmd.exe."""
        head, sep, quoted = arguments.partition(" /S /C ")
        assert sep and "/V:OFF" in head, f"not a /V:OFF /S /C line: {arguments!r}"
        assert quoted.startswith('"') and quoted.endswith('"'), quoted
        text = self.expand(quoted[1:-1])
        self.check_special(text)
        return self.split(text)

    def expand(self, text: str) -> str:
        out: list[str] = []
        i = 0
        while i < len(text):
            if text[i] != "%":
                out.append(text[i])
                i += 1
                continue
            end = text.find("%", i + 1)
            name = text[i + 1:end].upper() if end > 0 else ""
            assert name in self.env, f"a % that is not a defined variable at {i}: {text!r}"
            out.append(self.env[name])
            i = end + 1
        return "".join(out)

    @staticmethod
    def check_special(text: str) -> None:
        quoted = False
        for i, char in enumerate(text):
            if char == '"':
                quoted = not quoted
            elif not quoted and char in CMD_ACTS_ON:
                raise AssertionError(f"cmd acts on {char!r} at {i} in {text!r}")

    @staticmethod
    def split(text: str) -> BatchCall:
        params: list[str] = []
        star = ""
        i, n = 0, len(text)
        while True:
            while i < n and text[i] in BATCH_DELIMITERS:
                i += 1
            if i >= n:
                return BatchCall(params, star)
            if len(params) == 1:
                star = text[i:]
            start, quoted = i, False
            while i < n and (quoted or text[i] not in BATCH_DELIMITERS):
                quoted ^= text[i] == '"'
                i += 1
            params.append(text[start:i])
