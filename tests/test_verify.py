"""Verifying an activation (bootstrap.verify, DESIGN 3.6): python, sys.prefix, version,
conda and mamba must all be the prefix's own; otherwise ActivationError (exit 7)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bootstrap import launch, verify
from bootstrap.activation import Activation
from bootstrap.errors import ActivationError
from bootstrap.log import RunLog
from bootstrap.platform import POSIX
from bootstrap.process import Completed
from tests.conftest import NO_SYMLINKS

TOOLS = ("conda", "mamba")


@pytest.fixture
def prefix(tmp_path: Path) -> Path:
    folder = tmp_path / "envs" / "py_3_12"
    (folder / "bin").mkdir(parents=True)
    (folder / "condabin").mkdir()
    return folder


def probe_data(env: Path, **changes: Any) -> dict[str, Any]:
    """What the probe prints inside a good environment at ``env``, with ``changes``."""
    data: dict[str, Any] = {
        "executable": str(env / "bin" / "python"),
        "prefix": str(env),
        "version": "3.12.4",
        "which": {"python": str(env / "bin" / "python"),
                  "conda": str(env / "bin" / "conda"),
                  "mamba": str(env / "condabin" / "mamba")},
    }
    data.update(changes)
    return data


def refused(data: dict[str, Any], prefix: Path, python: str | None = "3.12",
            tools: tuple[str, ...] = TOOLS) -> ActivationError:
    with pytest.raises(ActivationError) as info:
        verify.check(data, prefix, python, tools)
    assert info.value.exit_code == 7
    assert info.value.message.startswith(
        f"The activated environment {prefix} is not self-contained: ")
    assert "never falls back" in info.value.hint
    return info.value


# -- check -----------------------------------------------------------------------------------

def test_a_self_contained_environment_passes(prefix: Path) -> None:
    got = verify.check(probe_data(prefix), prefix, "3.12", TOOLS)
    assert got == verify.Verified(str(prefix / "bin" / "python"), "3.12.4",
                                  {"conda": str(prefix / "bin" / "conda"),
                                   "mamba": str(prefix / "condabin" / "mamba")})


@pytest.mark.parametrize(("requested", "actual"), [
    ("3.12", "3.12.4"), ("3.12", "3.12.0"), ("3.12.4", "3.12.4"), (None, "2.7.18"),
])
def test_matching_versions(prefix: Path, requested: str | None, actual: str) -> None:
    got = verify.check(probe_data(prefix, version=actual), prefix, requested, TOOLS)
    assert got.version == actual


def test_python_outside_the_prefix_is_refused(prefix: Path) -> None:
    err = refused(probe_data(prefix, executable="/usr/bin/python3"), prefix)
    assert "python resolves to /usr/bin/python3, outside the prefix" in err.message


def test_python_in_a_sibling_folder_with_the_same_name_start_is_outside(prefix: Path) -> None:
    sibling = prefix.parent / (prefix.name + "_old")
    err = refused(probe_data(prefix, executable=str(sibling / "bin" / "python")), prefix)
    assert f"python resolves to {sibling / 'bin' / 'python'}, outside the prefix" in err.message


def test_other_sys_prefix_is_refused(prefix: Path) -> None:
    err = refused(probe_data(prefix, prefix="/usr"), prefix)
    assert "sys.prefix is /usr" in err.message


@pytest.mark.parametrize(("requested", "actual"), [
    ("3.11", "3.12.4"), ("3.1", "3.12.4"), ("3.12.4", "3.12.5"), ("3.12.1", "3.12.10"),
])
def test_wrong_version_is_refused(prefix: Path, requested: str, actual: str) -> None:
    err = refused(probe_data(prefix, version=actual), prefix, requested)
    assert f"python is version {actual}, not {requested}" in err.message


def test_missing_conda_is_refused(prefix: Path) -> None:
    data = probe_data(prefix)
    data["which"]["conda"] = None
    err = refused(data, prefix)
    assert "conda resolves to nothing" in err.message
    assert "mamba resolves" not in err.message


def test_conda_from_another_installation_is_refused(prefix: Path) -> None:
    data = probe_data(prefix)
    data["which"]["mamba"] = "/opt/miniforge/condabin/mamba"
    err = refused(data, prefix)
    assert "mamba resolves to /opt/miniforge/condabin/mamba" in err.message


def test_tools_are_checked_only_when_asked_for(prefix: Path) -> None:
    data = probe_data(prefix, which={"python": None})
    assert verify.check(data, prefix, "3.12", ()).tools == {}
    err = refused(data, prefix, tools=("conda",))
    assert "conda resolves to nothing" in err.message


def test_every_problem_is_listed(prefix: Path) -> None:
    err = refused({"executable": "/usr/bin/python3", "prefix": "/usr", "version": "3.8.10",
                   "which": {}}, prefix)
    assert err.message.endswith(
        "python resolves to /usr/bin/python3, outside the prefix; sys.prefix is /usr; "
        "python is version 3.8.10, not 3.12; conda resolves to nothing; "
        "mamba resolves to nothing.")


def test_empty_probe_is_refused(prefix: Path) -> None:
    err = refused({}, prefix)
    assert "python resolves to None, outside the prefix" in err.message


@pytest.mark.wine_gap(NO_SYMLINKS)
def test_prefix_reached_through_a_link_is_the_same_environment(prefix: Path,
                                                               tmp_path: Path) -> None:
    link = tmp_path / "link"
    os.symlink(prefix, link)
    # the interpreter reports real paths while mambaboot knows the linked one
    got = verify.check(probe_data(prefix), link, "3.12", TOOLS)
    assert got.version == "3.12.4"


# -- parse_probe -----------------------------------------------------------------------------

def line(data: object) -> str:
    return verify.MARKER + json.dumps(data)


def test_parse_probe_finds_the_marker_among_other_output() -> None:
    output = "\n".join(["activate.d says hi", line({"version": "3.12.4"}), "bye"])
    assert verify.parse_probe(output) == {"version": "3.12.4"}


def test_parse_probe_takes_the_last_marker_and_handles_crlf() -> None:
    output = "\r\n".join([line({"n": 1}), line({"n": 2}), ""])
    assert verify.parse_probe(output) == {"n": 2}


@pytest.mark.parametrize("output", [
    "", "no marker here", verify.MARKER + "{broken", line([1, 2]),
    "  " + line({"indented": True}), verify.MARKER.strip(),
])
def test_parse_probe_without_a_usable_answer(output: str) -> None:
    assert verify.parse_probe(output) is None


def test_the_probe_runs_and_reports_this_interpreter(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", verify.PROBE], capture_output=True, text=True,
                          check=True, cwd=tmp_path, timeout=30,
                          env={"PATH": str(Path(sys.executable).parent)})
    data = verify.parse_probe(done.stdout)
    assert data is not None
    assert data["executable"] == sys.executable
    assert data["prefix"] == sys.prefix
    assert data["version"] == ".".join(map(str, sys.version_info[:3]))
    assert set(data["which"]) == {"python", "conda", "mamba"}


# -- verify, with launch.execute replaced -----------------------------------------------------

def fake_execute(monkeypatch: pytest.MonkeyPatch, result: Completed | Exception,
                 seen: list[launch.Plan]) -> None:
    def execute(act: Activation, plan: launch.Plan, platform: object, **_: object) -> Completed:
        seen.append(plan)
        if isinstance(result, Exception):
            raise result
        return result

    monkeypatch.setattr(launch, "execute", execute)


def test_verify_runs_python_through_the_activation(monkeypatch: pytest.MonkeyPatch,
                                                   prefix: Path) -> None:
    seen: list[launch.Plan] = []
    output = ("noise\n" + line(probe_data(prefix)) + "\n").encode()
    fake_execute(monkeypatch, Completed(["bash"], 0, output), seen)
    act = Activation(prefix, {}, [prefix / "etc" / "conda" / "activate.d" / "a.sh"], [])
    got = verify.verify(act, POSIX, "3.12", TOOLS, RunLog(None))
    assert got.version == "3.12.4"
    assert seen[0].argv_after_wrapper == ("python", "-c", verify.PROBE)
    assert str(act.scripts[0]).encode() in seen[0].wrapper


def test_verify_reports_a_python_that_did_not_run(monkeypatch: pytest.MonkeyPatch,
                                                  prefix: Path) -> None:
    output = "\n".join(f"line {i}" for i in range(10)).encode()
    fake_execute(monkeypatch, Completed(["bash"], 127, output), [])
    with pytest.raises(ActivationError) as info:
        verify.verify(Activation(prefix, {}, [], []), POSIX, "3.12", TOOLS, RunLog(None))
    assert info.value.exit_code == 7
    assert info.value.message == (
        f"python did not run in the activated environment {prefix} (exit code 127): "
        "line 5\nline 6\nline 7\nline 8\nline 9")
    assert "--force" in info.value.hint


def test_verify_without_the_probe_answer_fails_even_with_exit_code_0(
        monkeypatch: pytest.MonkeyPatch, prefix: Path) -> None:
    fake_execute(monkeypatch, Completed(["bash"], 0, b""), [])
    with pytest.raises(ActivationError) as info:
        verify.verify(Activation(prefix, {}, [], []), POSIX, None, (), RunLog(None))
    assert info.value.message.endswith("(exit code 0): no output")


def test_verify_turns_a_shell_that_cannot_start_into_an_activation_error(
        monkeypatch: pytest.MonkeyPatch, prefix: Path) -> None:
    fake_execute(monkeypatch, FileNotFoundError(2, "No such file", "bash"), [])
    with pytest.raises(ActivationError) as info:
        verify.verify(Activation(prefix, {}, [], []), POSIX, None, (), RunLog(None))
    assert info.value.exit_code == 7
    assert info.value.message.startswith("Cannot start the environment's shell: ")
