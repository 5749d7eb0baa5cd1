"""The reference documentation keeps up with the code: every option of every command's
``--help`` is in docs/usage.md (in that command's section, or in "Common options"), every
config key in docs/config.md, and every exit code and doctor check in
docs/troubleshooting.md. Adding an option, a key, a code or a check without documenting it
fails here."""

from __future__ import annotations

import argparse
import inspect
import re
from pathlib import Path, PurePosixPath

import pytest

from bootstrap import checks, cli, config, errors

DOCS = Path(__file__).resolve().parents[1] / "docs"
COMMON_GROUP = "common options"
HELP_OPTIONS = {"-h", "--help"}
# An option as --help prints it: not part of a longer word (linux-64, conda-lock), and
# starting with a letter (so "--" and "-- CMD..." are not options).
_OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")


def read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def mentions(text: str, word: str) -> bool:
    """``word`` appears in ``text`` on its own (``--micromamba`` is not found inside
    ``--micromamba-sha256``)."""
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


def sections(text: str, level: int = 2) -> dict[str, str]:
    """Heading text -> the text up to the next heading of the same or a higher level."""
    out: dict[str, str] = {}
    heading = ""
    lines: list[str] = []
    pattern = re.compile(rf"^#{{1,{level}}} (.+)$")
    for line in text.splitlines():
        match = pattern.match(line)
        if match:
            out[heading] = "\n".join(lines)
            heading, lines = match.group(1).strip(), []
        else:
            lines.append(line)
    out[heading] = "\n".join(lines)
    return out


# -- the command line ---------------------------------------------------------------------

def parser() -> argparse.ArgumentParser:
    return cli.build_parser()


def subcommands() -> dict[str, argparse.ArgumentParser]:
    for action in parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            choices: dict[str, argparse.ArgumentParser] = action.choices
            return dict(choices)
    raise AssertionError("mambaboot has no subcommands")


def help_options(help_text: str) -> tuple[set[str], set[str]]:
    """The option strings a ``--help`` text prints in its option lists, split into the
    command's own and those under the "common options" heading. An option line starts with
    two spaces and a dash; its options are the words before the help text (the usage line
    and the help texts are not read)."""
    own: set[str] = set()
    common: set[str] = set()
    group = ""
    for line in help_text.splitlines():
        heading = re.fullmatch(r"(\S.*):", line)
        if heading:
            group = heading.group(1)
            continue
        invocation = re.match(r"  (-\S.*?)(?: {2,}|$)", line)
        if invocation:
            found = set(_OPTION.findall(invocation.group(1)))
            (common if group == COMMON_GROUP else own).update(found)
    return own, common


def test_help_parsing_finds_every_option_argparse_knows() -> None:
    """Guards the text parsing below: what it reads from --help is what the parser has."""
    for name, sub in {"mambaboot": parser(), **subcommands()}.items():
        own, common = help_options(sub.format_help())
        known = {s for action in sub._actions for s in action.option_strings}
        assert own | common == known, name


def test_every_command_has_a_section_in_usage() -> None:
    headings = sections(read("usage.md"))
    for name in subcommands():
        assert any(re.search(rf"\bmambaboot {name}\b", h) for h in headings), \
            f"docs/usage.md has no '## mambaboot {name}' section"


def command_section(headings: dict[str, str], name: str) -> str:
    return next(text for heading, text in headings.items()
                if re.fullmatch(rf"mambaboot {name}\b.*", heading))


def table_rows(text: str) -> str:
    """The rows of the Markdown tables in ``text``: an option is documented by a row of its
    section's table, not by a passing mention in the prose."""
    return "\n".join(line for line in text.splitlines() if line.startswith("|"))


def test_every_option_of_every_command_is_documented_in_usage() -> None:
    text = read("usage.md")
    headings = sections(text)
    common_section = table_rows(headings["Common options"])
    for name, sub in subcommands().items():
        own, common = help_options(sub.format_help())
        section = table_rows(command_section(headings, name))
        for option in sorted(own | common):
            assert mentions(text, option), f"{option} of '{name}' is not in docs/usage.md"
        for option in sorted(own - HELP_OPTIONS):
            assert mentions(section, option), \
                f"{option} of '{name}' has no row in the 'mambaboot {name}' table of usage.md"
        for option in sorted(common | (own & HELP_OPTIONS)):
            assert mentions(common_section, option), \
                f"common option {option} has no row in the 'Common options' table of usage.md"
        if common:
            assert mentions(headings["Common options"], f"`{name}`"), \
                f"'Common options' of usage.md does not say that '{name}' has them"


def test_top_level_options_are_documented() -> None:
    section = table_rows(sections(read("usage.md"))["mambaboot (no command)"])
    own, common = help_options(parser().format_help())
    assert not common
    for option in sorted(own):
        assert mentions(section, option), f"top-level {option} has no row in usage.md"


def test_help_option_parsing_sees_a_new_option() -> None:
    """The checks above would notice an option added to a command."""
    sub = subcommands()["list"]
    sub.add_argument("--brand-new-option", action="store_true")
    own, _ = help_options(sub.format_help())
    assert "--brand-new-option" in own
    assert not mentions(read("usage.md"), "--brand-new-option")


# -- config, exit codes, doctor checks ----------------------------------------------------

def config_keys() -> list[str]:
    keys = []
    for table, names in config.SCHEMA.items():
        if "*" in names:
            keys.append(f"[{table}]")  # a free-form table such as [copy]
        keys += [f"{table}.{key}" for key in names if key != "*"]
    return keys


@pytest.mark.parametrize("key", config_keys())
def test_every_config_key_is_documented(key: str) -> None:
    assert mentions(read("config.md"), key), f"{key} is not in docs/config.md"


def exit_codes() -> list[tuple[int, str]]:
    """``(code, name)`` of every ``EXIT_*`` constant of bootstrap.errors, by code."""
    return sorted((value, name) for name, value in vars(errors).items()
                  if name.startswith("EXIT_") and isinstance(value, int))


@pytest.mark.parametrize(("code", "name"), exit_codes())
def test_every_exit_code_has_a_section_in_troubleshooting(code: int, name: str) -> None:
    headings = sections(read("troubleshooting.md"), level=3)
    assert any(re.match(rf"Exit code {code}\b", h) for h in headings), \
        f"docs/troubleshooting.md has no '### Exit code {code}' section ({name})"
    assert mentions(read("usage.md"), str(code)), f"exit code {code} is not in usage.md"


DOCTOR_PY = Path(checks.__file__).with_name("doctor.py")
# The labels doctor.py gives the folder checks (create's come from windows_preflight).
DOCTOR_LABELS = ("envs folder", "cache")
CALLED = {"inherited_variables", "autorun", "appdata_mamba", "code_page", "path_budget",
          "windows_preflight", "filesystem", "path_hazards"}


def check_names() -> set[str]:
    """Every check name the check functions of bootstrap.checks produce, called with simple
    inputs and the labels doctor.py and create pass."""
    posix = PurePosixPath("/x")
    facts = checks.WindowsFacts(long_paths_enabled=False, autorun={}, appdata_mamba="",
                                appdata_mamba_exists=False)
    found = [
        checks.inherited_variables({}),
        checks.autorun({}),
        checks.appdata_mamba("", exists=False),
        checks.code_page(65001),
        checks.path_budget(posix, posix, ("conda-forge",), "win-64", long_paths_enabled=False),
        *checks.windows_preflight(posix, posix, ("conda-forge",), "win-64", facts),
        *(checks.filesystem(label, "ext4") for label in DOCTOR_LABELS),
        *(checks.path_hazards(label, "/x") for label in DOCTOR_LABELS),
    ]
    return {c.name for c in found}


def test_every_check_function_is_called_above() -> None:
    """A new check function (one returning Check) fails here until check_names calls it,
    and so until its name is documented; likewise a new label in doctor.py."""
    producers = {name for name, func in vars(checks).items()
                 if inspect.isfunction(func) and func.__module__ == checks.__name__
                 and "Check" in str(inspect.signature(func).return_annotation)}
    assert producers <= CALLED, f"check functions not covered here: {producers - CALLED}"
    source = DOCTOR_PY.read_text(encoding="utf-8")
    loop = next((line for line in source.splitlines() if "for label, folder in" in line), "")
    labels = set(re.findall(r'\("([^"]+)", settings\.', loop))
    assert labels == set(DOCTOR_LABELS), f"doctor.py labels its folder checks {labels}"


def doctor_section() -> str:
    return sections(read("troubleshooting.md"))["Doctor checks"]


@pytest.mark.parametrize("name", sorted(check_names()))
def test_every_check_is_documented_in_troubleshooting(name: str) -> None:
    assert name in doctor_section(), f"doctor check '{name}' is not in troubleshooting.md"


# Checks doctor.py names itself: a literal name, or a prefix followed by a value. Each
# comes with the source text that makes it, so renaming one there fails here too.
DOCTOR_NAMES = {
    "temp folder": ['"temp folder"'],
    "reach micromamba download": ['f"reach {label}"', '"micromamba download"'],
    "reach channel": ['f"reach {label}"', 'f"channel {channel}"'],
    "environment ": ['f"environment {prefix.name}"'],
}


@pytest.mark.parametrize("prefix", sorted(DOCTOR_NAMES))
def test_doctor_checks_of_doctor_py_are_documented(prefix: str) -> None:
    source = DOCTOR_PY.read_text(encoding="utf-8")
    for fragment in DOCTOR_NAMES[prefix]:
        assert fragment in source, f"doctor.py no longer has {fragment}: update this test"
    assert prefix in doctor_section(), f"doctor check '{prefix}...' is not documented"


# -- how run passes a command on Windows ----------------------------------------------------

RUN_ON_WINDOWS = "How run passes a command on Windows"
_SPAN = re.compile(r"`([^`]*)`|\(empty\)")


def run_tables() -> list[list[list[str]]]:
    """The tables of that section of usage.md: rows of cells, header and rule left out."""
    text = sections(read("usage.md"), level=3)[RUN_ON_WINDOWS]
    tables: list[list[list[str]]] = [[]]
    for line in text.splitlines():
        if not line.startswith("|"):
            if tables[-1]:
                tables.append([])
            continue
        tables[-1].append([c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]])
    return [t[2:] for t in tables if t]


def spans(cell: str) -> list[str]:
    return [m.group(1) or "" for m in _SPAN.finditer(cell)]


def test_the_windows_examples_of_run_are_the_tested_ones() -> None:
    """The examples are the tables tests/test_cmdline_windows.py runs through the real
    cmd.exe (typed alone and after ``mambaboot run``, and given as a list)."""
    from tests.test_cmdline_windows import ARGV, POWERSHELL, TYPED

    _, typed, listed = run_tables()
    assert [(spans(line)[0], spans(out)[:1], int(code)) for line, out, code in typed] == [
        (line, out, code) for line, out, code in [*TYPED, POWERSHELL]]
    assert [(spans(args), spans(out)[0]) for args, out in listed] == ARGV
