"""Bad input (issue 5): malformed TOML, unknown keys, wrong types, bad values in the config,
on the command line and in environment variables -- exit 2 naming the key, the file and
the line, never a traceback -- plus property-based runs over generated configs, command
lines and tuning variables, and a create in a folder full of awkward characters.

The CLI runs in-process (``bootstrap.cli.main`` with ``--dry-run``, which writes nothing);
only the create with awkward paths and the lock-timeout variable start real processes."""

from __future__ import annotations

import io
import json
import math
import signal
import string
from collections.abc import Callable, Iterator, Mapping
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bootstrap import cli, config, download
from tests.conftest import Mambaboot
from tests.project import PYTHON, Project
from tests.standin.containment import Containment
from tests.standin.fixtures import CondaChannel, MicromambaRelease

fault = pytest.mark.fault
HEX = "0123456789abcdef" * 4
GENERATED = settings(max_examples=150, deadline=None, database=None, derandomize=True,
                     suppress_health_check=[HealthCheck.function_scoped_fixture,
                                            HealthCheck.too_slow])


@dataclass
class Outcome:
    code: int
    out: str
    err: str


class Cli:
    """``bootstrap.cli.main`` in-process: a working folder of its own, an envs and a cache
    folder that a dry run must leave absent, and environment variables per call."""

    def __init__(self, root: Path, patch: pytest.MonkeyPatch) -> None:
        self.root, self.patch = root, patch
        self.envs, self.cache = root / "envs", root / "cache"

    def __call__(self, *argv: str, env: Mapping[str, str] | None = None,
                 folders: bool = True) -> Outcome:
        extra = ["--envs-dir", str(self.envs), "--cache-dir", str(self.cache)] if folders \
            else []
        out, err = io.StringIO(), io.StringIO()
        with self.patch.context() as patch:
            for name, value in (env or {}).items():
                patch.setenv(name, value)
            with redirect_stdout(out), redirect_stderr(err):
                code = cli.main([*argv, *extra, "--no-pause"])
        return Outcome(code, out.getvalue(), err.getvalue())

    def config(self, text: str) -> Path:
        folder = self.root / "cfg"
        folder.mkdir(exist_ok=True)
        path = folder / config.CONFIG_NAME
        path.write_text(text, encoding="utf-8")
        return path


@pytest.fixture
def run_cli(tmp_path: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
            ) -> Iterator[Cli]:
    """In-process CLI; restores the signal handlers ``main`` installs, and the cwd."""
    names = ("SIGTERM", "SIGHUP")  # Windows has no SIGHUP
    saved = {sig: signal.getsignal(sig)
             for sig in (getattr(signal, name) for name in names if hasattr(signal, name))}
    work = tmp_path / "work"
    work.mkdir()
    with monkeypatch.context() as patch:
        patch.chdir(work)
        yield Cli(tmp_path, patch)
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def assert_clean_usage_error(result: Outcome, *needles: str) -> None:
    assert result.code == 2, (result.code, result.out, result.err)
    for needle in needles:
        assert needle in result.err, f"{needle!r} not named in: {result.err!r}"
    assert "Traceback" not in result.err and "Unexpected error" not in result.err


# -- the config file: syntax, schema, types -------------------------------------------------

SYNTAX = fault("input", "malformed TOML",
               expect="exit 2: the file and `line N` of the syntax error")
SCHEMA = fault("input", "unknown keys and tables in the config",
               expect="exit 2: `unknown key`, the file, the line, and the known keys")
TYPES = fault("input", "wrong types in the config",
              expect="exit 2: `[table] key must be ...`, the file and the line")


@pytest.mark.parametrize(("text", "key", "line"), [
    pytest.param('[env]\nname = "demo\npython = "3.12"\n', None, 2, marks=SYNTAX),
    pytest.param('[env\nname = "x"\n', None, 1, marks=SYNTAX),
    pytest.param("[env]\npython = 3.12.1\n", None, 2, marks=SYNTAX),
    pytest.param('[env]\nname = "a"\nname = "b"\n', None, 3, marks=SYNTAX),
    pytest.param('[env]\nname = "demo"\nnmae = "x"\n', "nmae", 3, marks=SCHEMA),
    pytest.param('[environment]\nname = "x"\n', "environment", 1, marks=SCHEMA),
    pytest.param('name = "x"\n[env]\n', "name", 1, marks=SCHEMA),
    pytest.param('[network]\n\nproxy = "http://p.invalid"\n', "proxy", 3, marks=SCHEMA),
    pytest.param("[env]\npython = 3.12\n", "python", 2, marks=TYPES),
    pytest.param('[env]\nspecs = "numpy"\n', "specs", 2, marks=TYPES),
    pytest.param('[env]\nchannels = ["conda-forge", 1]\n', "channels", 2, marks=TYPES),
    pytest.param('[network]\nallow_http = "yes"\n', "allow_http", 2, marks=TYPES),
    pytest.param("[cache]\ndir = 5\n", "dir", 2, marks=TYPES),
    pytest.param('[copy]\n"__home__" = true\n', "__home__", 2, marks=TYPES),
    pytest.param("# comment\nenv.name = 5\n", "name", 2, marks=TYPES),
])
def test_config_syntax_and_schema_errors_name_key_file_and_line(
        run_cli: Cli, text: str, key: str | None, line: int) -> None:
    path = run_cli.config(text)
    result = run_cli("create", "--config", str(path), "--dry-run")
    assert_clean_usage_error(result, str(path), f"line {line}", *([key] if key else []))
    assert not run_cli.cache.exists() and not run_cli.envs.exists()


# -- the config file: values ----------------------------------------------------------------

PYTHONS = fault("input", "bad Python versions in the config (3.x, three, 3, ...)",
                expect="exit 2: `python`, the file and the line")
NAMES = fault("input", "empty or absurd environment names in the config",
              expect="exit 2: `name`, the file and the line")
VALUES = fault("input", "bad values of other config keys (sha256, version, url, channels, "
                        "specs, copy)", expect="exit 2: the key, the file and the line")


def _value_case(table: str, key: str, value: str, marks: pytest.MarkDecorator
                ) -> Any:
    text = f"# mambaboot.toml\n[{table}]\n{json.dumps(key)} = {value}\n"
    return pytest.param(text, key, id=f"{table}.{key}={value}", marks=marks)


@pytest.mark.parametrize(("text", "key"), [
    *(_value_case("env", "python", json.dumps(v), PYTHONS)
      for v in ("3.x", "three", "3", "3.12.x", "3.12 ", "python3.12")),
    *(_value_case("env", "name", json.dumps(v), NAMES)
      for v in ("a/b", "..", "con", "x" * 65, "tab\there", " padded", "a:b")),
    _value_case("micromamba", "sha256", '"xyz"', VALUES),
    _value_case("micromamba", "version", '"newest"', VALUES),
    _value_case("micromamba", "url", '"https://m.invalid/{tag}/mm"', VALUES),
    _value_case("micromamba", "url", '"https://m.invalid/{version!x}/mm"', VALUES),
    _value_case("micromamba", "url", '"https://m.invalid/{version:d}/mm"', VALUES),
    _value_case("env", "channels", "[]", VALUES),
    _value_case("env", "specs", '["-rf"]', VALUES),
    _value_case("copy", "__home__", '"../outside"', VALUES),
])
def test_config_value_errors_name_key_file_and_line(run_cli: Cli, text: str, key: str) -> None:
    path = run_cli.config(text)
    result = run_cli("create", "--config", str(path), "--dry-run")
    assert_clean_usage_error(result, key, str(path), "line 3")


# -- the command line and environment variables ---------------------------------------------

@pytest.mark.parametrize(("argv", "needle"), [
    (["create", "demo", "3.x"], "3.x"),
    (["create", "demo", "three"], "three"),
    (["create", "a/b", PYTHON], "a/b"),
    (["create", "..", PYTHON], ".."),
    (["create", "x" * 65], "64"),
    (["create", " ", PYTHON], "empty"),
    (["create", "", PYTHON], "name"),
    (["create", "--bogus"], "--bogus"),
    (["create", "--micromamba-sha256", "xyz"], "xyz"),
    (["create", "--micromamba", "no/such/micromamba"], "no such file"),
    (["create", "--spec=-rf"], "-rf"),
    (["create", "--micromamba", "2.x"], "2.x"),
])
@fault("input", "bad command-line arguments (versions, names incl. empty, options)",
       expect="exit 2 naming the bad value; never a traceback")
def test_bad_command_line_arguments_exit_2(run_cli: Cli, argv: list[str], needle: str) -> None:
    result = run_cli(*argv, "--dry-run")
    assert_clean_usage_error(result, needle)


@pytest.mark.parametrize(("variable", "value"), [
    ("MAMBABOOT_PYTHON", "three"), ("MAMBABOOT_NAME", "a/b"),
    ("MAMBABOOT_MICROMAMBA_SHA256", "xyz"), ("MAMBABOOT_MICROMAMBA", "2.x"),
])
@fault("input", "bad values in MAMBABOOT_* environment variables",
       expect="exit 2 naming the variable and the value")
def test_bad_environment_variables_name_the_variable(run_cli: Cli, variable: str,
                                                     value: str) -> None:
    result = run_cli("create", "--dry-run", env={variable: value})
    assert_clean_usage_error(result, variable, value)


@pytest.mark.posix
@fault("input", "MAMBABOOT_LOCK_TIMEOUT_S that is not a number",
       expect="no crash: exit 0 with the default timeout, or exit 2 naming the variable")
def test_lock_timeout_variable_that_is_not_a_number(
        mambaboot: Mambaboot, project: Project, isolated_home: Path, tmp_path: Path) -> None:
    box = Containment(tmp_path, watched=[isolated_home, project.root],
                      allowed=[project.prefix, project.cache])
    result = mambaboot(*project.args(), env={**box.env, "MAMBABOOT_LOCK_TIMEOUT_S": "ten"},
                       cwd=box.cwd)
    assert "Unexpected error" not in result.err, result.err
    assert result.code in (0, 2), result.text
    if result.code == 2:
        assert "MAMBABOOT_LOCK_TIMEOUT_S" in result.err
    box.check()


# -- generated input (hypothesis) -----------------------------------------------------------

_KEYS = sorted({k for keys in config.SCHEMA.values() for k in keys if k != "*"})
_INTERESTING = ["", " ", "3.12", "3.x", "three", "conda-forge", "latest", "2.3.0-1", HEX,
                "a/b", "..", "con", "-rf", "{drive}/CACHE", "../up", "/", "ü & ^ % ! ( ) ;",
                "https://m.invalid/{version}/{platform}", "https://m.invalid/{version!r}",
                "https://m.invalid/{platform:>9}", "https://m.invalid/{0}", "{", "}{"]
_TEXT = st.one_of(st.sampled_from(_INTERESTING),
                  st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]),
                          max_size=12))
_VALUES: st.SearchStrategy[Any] = st.one_of(
    _TEXT, st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True),
    st.lists(_TEXT, max_size=3), st.lists(st.integers(), max_size=2))
_TABLES = st.dictionaries(
    st.one_of(st.sampled_from([*config.SCHEMA, "envs", "Env"]), st.text("abcxyz_", min_size=1,
                                                                         max_size=5)),
    st.dictionaries(st.one_of(st.sampled_from(_KEYS), st.text("abcxyz_.", min_size=1,
                                                              max_size=6)),
                    _VALUES, max_size=4),
    max_size=4)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") \
            if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def toml_document(tables: dict[str, dict[str, Any]]) -> str:
    lines = []
    for table, content in tables.items():
        lines.append(f"[{json.dumps(table)}]")
        lines += [f"{json.dumps(k, ensure_ascii=False)} = {toml_value(v)}"
                  for k, v in content.items()]
    return "\n".join(lines) + "\n"


@fault("input", "generated config files (hypothesis: tables, keys, values, types)",
       expect="exit 0, 2 or 3 (a prefix overlapping the cache), never a crash; a dry run "
              "writes nothing")
@GENERATED
@given(tables=_TABLES)
def test_generated_config_files_never_crash(run_cli: Cli, fault_count: Callable[[int], None],
                                            tables: dict[str, dict[str, Any]]) -> None:
    fault_count(1)
    path = run_cli.config(toml_document(tables))
    result = run_cli("create", "--config", str(path), "--dry-run")
    assert "Unexpected error" not in result.err, (path.read_text(), result.err)
    assert "Traceback" not in result.err
    assert result.code in (0, 2, 3), (path.read_text(), result.err)
    assert not run_cli.cache.exists() and not run_cli.envs.exists()


_ARG = st.one_of(st.sampled_from(_INTERESTING),
                 st.text(st.characters(codec="utf-8", exclude_categories=["Cs"],
                                       exclude_characters="\0"), max_size=10))
_OPTIONS = st.lists(st.one_of(
    st.tuples(st.sampled_from(["-c", "--channel", "--spec", "--micromamba",
                               "--micromamba-sha256", "-f", "--file", "--ca-bundle",
                               "--prefix"]), _ARG).map(list),
    st.sampled_from([["--allow-http"], ["--offline"], ["--force"], ["--strict"], ["--copy"],
                     ["--no-scripts"], ["-v"], ["-q"], ["--no-color"], ["--yes"],
                     ["--bogus"], ["-x"]]),
), max_size=4)


@fault("input", "generated command lines (hypothesis: names, versions, options, values)",
       expect="exit 0, 2 or 3, never a crash; a dry run writes nothing")
@GENERATED
@given(positional=st.lists(_ARG, max_size=3), options=_OPTIONS)
def test_generated_command_lines_never_crash(run_cli: Cli, fault_count: Callable[[int], None],
                                             positional: list[str],
                                             options: list[list[str]]) -> None:
    fault_count(1)
    argv = ["create", *positional, *(a for option in options for a in option), "--dry-run"]
    if "--" in argv or any(a.startswith("@") for a in argv):
        return
    result = run_cli(*argv)
    assert "Unexpected error" not in result.err, (argv, result.err)
    assert "Traceback" not in result.err
    assert result.code in (0, 2, 3), (argv, result.err)
    assert not run_cli.cache.exists() and not run_cli.envs.exists()


_TUNING = ("MAMBABOOT_CONNECT_TIMEOUT_S", "MAMBABOOT_READ_TIMEOUT_S", "MAMBABOOT_RETRIES",
           "MAMBABOOT_BACKOFF_S")
_NUMBERS = st.one_of(st.sampled_from(["", "0", "-1", "1e309", "inf", "-inf", "nan", "ten",
                                      "3", "0.5", " 2 "]),
                     st.floats().map(str), st.integers(-10, 10).map(str),
                     st.text(string.printable, max_size=5))


@fault("input", "generated MAMBABOOT_*_TIMEOUT_S / RETRIES / BACKOFF_S values (hypothesis)",
       expect="never a crash: retries >= 0, timeouts > 0 and finite, backoff >= 0 (invalid "
              "values fall back to the defaults)")
@GENERATED
@given(values=st.fixed_dictionaries({name: _NUMBERS for name in _TUNING}))
def test_generated_network_tuning_values_give_sane_options(
        fault_count: Callable[[int], None], values: dict[str, str]) -> None:
    fault_count(1)
    opts = download.NetOptions.from_env(values)
    assert opts.retries >= 0
    for timeout in (opts.connect_timeout_s, opts.read_timeout_s):
        assert 0 < timeout < math.inf
    assert 0 <= opts.backoff_s < math.inf


# -- awkward characters in paths and names --------------------------------------------------

ODD = "dir with spaces ü 日本 & ^ % ! ( ) ;"


@pytest.mark.posix
@fault("input", "paths and names with spaces, non-ASCII and & ^ % ! ( ) ;",
       expect="exit 0; the environment, its scripts and `mambaboot run` work there")
def test_create_in_a_folder_with_awkward_characters(
        mambaboot: Mambaboot, conda_channel: CondaChannel,
        micromamba_release: MicromambaRelease, isolated_home: Path, tmp_path: Path) -> None:
    project = Project(tmp_path / ODD, conda_channel.url, micromamba_release.url_template,
                      micromamba_release.version)
    project.root.mkdir()
    project.write_config()
    name = "env & (1) ! ^ % ü;"
    prefix = project.envs / f"{name}_{PYTHON.replace('.', '_')}"
    probe = project.root / "probe.txt"
    project.script("10-probe.sh", 'printf "%s|%s" "$MAMBABOOT_PREFIX" "$PWD" > probe.txt\n')
    project.script("20-probe.py", "import sys\nopen('probe.py.txt', 'w').write(sys.prefix)\n")
    box = Containment(tmp_path, watched=[isolated_home, project.root],
                      allowed=[prefix, project.cache, probe, project.root / "probe.py.txt"])
    result = mambaboot("create", name, "--config", str(project.config), "--no-pause",
                       env=box.env, cwd=box.cwd)
    assert result.code == 0, result.text
    assert probe.read_text() == f"{prefix}|{project.root}"
    assert (project.root / "probe.py.txt").read_text() == str(prefix)
    ran = mambaboot("run", str(prefix), "--config", str(project.config), "--", "python", "-c",
                    "import sys; print(sys.prefix)", env=box.env, cwd=box.cwd)
    assert ran.code == 0, ran.text
    assert ran.out.strip() == str(prefix)
    box.check()
