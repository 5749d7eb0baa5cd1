"""Configuration baked into the stand-in, errors and output (contract 6.1: log lines)."""

from __future__ import annotations

import json
import pkgutil
import re
import sys
from typing import Any


def _baked_config() -> dict[str, Any]:
    """``config.json`` beside this module: baked into the zipapp by
    ``tests.standin.fixtures.standin_source``; absent (empty config) in the source tree."""
    try:
        data = pkgutil.get_data(__name__.rpartition(".")[0], "config.json")
    except OSError:
        return {}
    return dict(json.loads(data)) if data else {}


CONFIG: dict[str, Any] = _baked_config()

DEFAULTS: dict[str, Any] = {
    "version": "2.8.1",
    "pythons": {},
    "record_file": "",
    "delay_create_s": 0.0,
    "fail_create": "",
    "bash": "",
    "retry_wait_s": 0.1,
    "http_timeout_s": 10.0,
}
LOG_LEVELS = ("trace", "debug", "info", "warning", "error", "critical", "off")
SHELLS = ("bash", "posix", "powershell", "cmd.exe", "xonsh", "zsh", "fish", "tcsh", "dash", "nu")
CONDA_VERSION = "3.8.0"
INIT_BEGIN = "# >>> mamba initialize >>>"
INIT_END = "# <<< mamba initialize <<<"
BUG_REPORT = (
    "If you run into this error repeatedly, your package cache may be corrupted.\n"
    "Please try running `mamba clean -a` to remove this cache before retrying the operation.\n"
    "\n"
    "If you still are having issues, please report the error on `mamba-org/mamba`'s issue "
    "tracker:\n"  # text of the real message, never fetched:
    "https:" "//github.com/mamba-org/mamba/issues/new?assignees=&labels=&projects=&"
    "template=bug.yml"
)


def cfg(key: str) -> Any:
    return CONFIG.get(key, DEFAULTS[key])


# --------------------------------------------------------------------------- errors, output


class MambaError(Exception):
    """Ends a command: ``error`` lines, then ``critical libmamba <message>``, exit 1."""

    def __init__(self, message: str, *errors: str) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors


class CliError(Exception):
    """A CLI11 parse error: plain text on stderr plus the --help hint."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class Output:
    level = LOG_LEVELS.index("warning")
    quiet = False  # -q / --json: no informative stdout


def mask_tokens(text: str) -> str:
    """A ``/t/<token>/`` path segment (anaconda.org tokens) as micromamba logs it."""
    return re.sub(r"/t/[^/\s]+/", "/t/*****/", text)


def log(level: str, message: str) -> None:
    """One spdlog line (``%-9!l%-8n %v``), continuation lines indented by 4 (empty ones
    too), tokens masked."""
    if LOG_LEVELS.index(level) < Output.level:
        return
    first, *rest = mask_tokens(message).split("\n")
    lines = [f"{level:<9}libmamba {first}"] + [f"    {line}" for line in rest]
    sys.stderr.write("\n".join(lines) + "\n")
    sys.stderr.flush()


def say(text: str = "") -> None:
    if not Output.quiet:
        sys.stdout.write(mask_tokens(text) + "\n")
        sys.stdout.flush()


def prompt(message: str, default: str) -> bool:
    """Console::prompt: ``<msg>: [Y/n] `` on stdout; EOF or empty answer = the default."""
    choices = "[Y/n]" if default == "y" else "[y/N]"
    while True:
        sys.stdout.write(f"{message}: {choices} ")
        sys.stdout.flush()
        line = sys.stdin.readline() if sys.stdin else ""
        answer = line.strip().lower()
        if not line or not answer:
            return default == "y"
        if answer in ("y", "yes"):
            return True
        if answer in ("n", "no"):
            return False


def quoted(text: str) -> str:
    """C++ std::quoted: double quotes, backslash and quote escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def yaml_bool(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on", "y")
