"""The built executable on its own: no Python, no PATH, and a hostile environment."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import Mambaboot
from tests.project import Project

pytestmark = pytest.mark.frozen


def test_version_runs_with_an_empty_environment(frozen: Mambaboot) -> None:
    result = frozen("--version", env={}, replace_env=True)
    assert result.code == 0, result.text
    assert result.out.startswith("mambaboot ")


def test_bogus_pythonhome_and_pythonpath_are_ignored(frozen: Mambaboot, tmp_path: Path) -> None:
    bogus = {"PYTHONHOME": str(tmp_path / "no-such-home"),
             "PYTHONPATH": str(tmp_path / "no-such-path")}
    result = frozen("--version", env=bogus, replace_env=True)
    assert result.code == 0, result.text
    assert "mambaboot" in result.out


def test_create_with_no_path_and_no_python(frozen: Mambaboot, project: Project,
                                           tmp_path: Path) -> None:
    """``env -i``: no PATH, no HOME, bogus Python variables; the whole pipeline still runs
    and the scripts see none of it."""
    exe = tmp_path / "stick" / Path(frozen.argv[0]).name
    exe.parent.mkdir()
    shutil.copy2(frozen.argv[0], exe)
    project.script("10-env.py", "import json, os, sys\n"
                   "json.dump({'env': dict(os.environ), 'prefix': sys.prefix},"
                   " open('seen.json', 'w'))\n")
    env = {"PYTHONHOME": "/bogus/home", "PYTHONPATH": "/bogus/path"}
    runner = Mambaboot("frozen", [str(exe)], frozen.home)
    result = runner(*project.args(), env=env, replace_env=True)
    assert result.code == 0, result.text
    seen = json.loads((project.root / "seen.json").read_text())
    assert seen["prefix"] == str(project.prefix)
    assert "PYTHONHOME" not in seen["env"] and "PYTHONPATH" not in seen["env"]
    assert not any(k.startswith("_PYI_") for k in seen["env"]), "loader variables leaked"
    assert "LD_LIBRARY_PATH" not in seen["env"], "PyInstaller's library path leaked"
