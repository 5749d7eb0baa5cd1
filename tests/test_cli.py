"""The command line in-process (main([...]) with capsys), and the frozen executable's
commands that need no stand-in micromamba, so they also run on Windows."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bootstrap import __version__
from bootstrap.cli import main, parse
from tests.conftest import Mambaboot

CONFIG = """
[env]
name = "demo"
channels = ["https://mirror.invalid/conda-forge"]
envs_dir = "envs"

[micromamba]
version = "2.8.1-0"
url = "https://mirror.invalid/{version}/micromamba-{platform}"

[cache]
dir = "cache"
"""


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """A project folder that is the working directory (restored before the autouse
    fixture checks it)."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "mambaboot.toml").write_text(CONFIG, encoding="utf-8")
    before = Path.cwd()
    os.chdir(root)
    try:
        yield root
    finally:
        os.chdir(before)


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"mambaboot {__version__}"
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("create", "run", "shell", "pack", "doctor", "list", "remove", "relocate"):
        assert command in out


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert main(["create", "--no-such-option"]) == 2


def test_dry_run_in_process(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["create", "--dry-run", "--no-pause"]) == 0
    out = capsys.readouterr().out
    assert "dry run" in out and "download https://mirror.invalid/2.8.1-0/" in out
    assert sorted(p.name for p in project.iterdir()) == ["mambaboot.toml"]


def test_list_and_json_in_process(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "envs" / "a" / "conda-meta").mkdir(parents=True)
    assert main(["list", "--json", str(project / "out.json")]) == 0
    assert "not made by mambaboot" in capsys.readouterr().out
    data = json.loads((project / "out.json").read_text())
    assert data["exit_code"] == 0 and data["environments"][0]["name"] == "a"


def test_json_dash_prints_json_on_stdout_and_the_text_on_stderr(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "envs" / "a" / "conda-meta").mkdir(parents=True)
    assert main(["list", "--json", "-"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["environments"][0]["name"] == "a"
    assert "not made by mambaboot" in captured.err
    assert main(["create", "--dry-run", "--no-pause", "--json", "-"]) == 0
    captured = capsys.readouterr()
    plan = json.loads(captured.out)["plan"]
    assert plan["action"] == "create" and plan["commands"][0].startswith("micromamba create")
    assert "Plan (dry run, nothing was changed):" in captured.err
    assert main(["remove", "nowhere", "--yes", "--json", "-"]) == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out)["exit_code"] == 2 and "Nothing to remove" in captured.err


def test_remove_refuses_in_process(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "envs" / "a" / "conda-meta").mkdir(parents=True)
    assert main(["remove", "a", "--yes"]) == 3
    assert (project / "envs" / "a").is_dir()
    assert "not created by mambaboot" in capsys.readouterr().err


def test_doctor_offline_in_process(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["doctor", "--offline"])
    out = capsys.readouterr().out
    assert code in (0, 3)
    assert "temp folder" in out and "failed" in out


@pytest.mark.frozen
def test_frozen_commands_without_micromamba(frozen: Mambaboot, project: Path) -> None:
    """Runs on every platform, Windows included: no stand-in needed."""
    version = frozen("--version", cwd=project)
    assert version.code == 0 and version.out.startswith("mambaboot ")
    plan = frozen("create", "--dry-run", "--no-pause", cwd=project)
    assert plan.code == 0, plan.text
    assert "micromamba create -y -r" in plan.out
    doctor = frozen("doctor", "--offline", cwd=project)
    assert doctor.code in (0, 3), doctor.text
    assert "Unexpected error" not in doctor.text and "Traceback" not in doctor.text
    assert "temp folder" in doctor.out
    listing = frozen("list", cwd=project)
    assert listing.code == 0 and "No environments" in listing.out


def test_options_before_the_command_are_taken_for_it() -> None:
    assert parse(["-v", "list"]).command == "list"
    assert parse(["--yes", "remove", "py_3_12"]).env == "py_3_12"
    assert parse(["--offline"]).command == "create"
