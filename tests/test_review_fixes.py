"""Regressions from the code review: ownership claims, bundle manifests that are not ours,
bundles for other inputs, Ctrl+C in attached children, background grandchildren."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bootstrap import process
from bootstrap.cli import parse
from bootstrap.log import RunLog
from tests.conftest import Mambaboot, tree
from tests.project import Project

pytestmark = pytest.mark.posix


def test_a_failed_create_leaves_no_claim_on_the_folder(mambaboot: Mambaboot,
                                                       project: Project) -> None:
    failed = mambaboot(*project.args("--spec", "no-such-package"))
    assert failed.code == 6, failed.text
    assert not project.prefix.exists()
    (project.prefix / "conda-meta").mkdir(parents=True)
    (project.prefix / "data").mkdir()
    (project.prefix / "data" / "thesis.txt").write_text("years of work")
    before = tree(project.prefix)
    listed = mambaboot("list", "--config", str(project.config))
    assert "not made by mambaboot" in listed.out
    again = mambaboot(*project.args())
    assert again.code == 3, again.text
    assert tree(project.prefix) == before


def test_pack_keeps_files_of_a_foreign_bundle_json(mambaboot: Mambaboot, project: Project,
                                                   tmp_path: Path) -> None:
    out = tmp_path / "other-tool"
    (out / "scripts").mkdir(parents=True)
    (out / "bundle.json").write_text('{"packages": []}')
    (out / "scripts" / "deploy.sh").write_text("keep me")
    project.script("10-a.sh", "exit 0\n")
    result = mambaboot("pack", "--out", str(out), "--config", str(project.config))
    assert result.code == 3, result.text
    assert (out / "scripts" / "deploy.sh").read_text() == "keep me"
    online = mambaboot(*project.args(), cwd=out)
    assert online.code == 0, "a bundle.json that is not ours is ignored: " + online.text


def test_a_bundle_for_other_inputs_is_refused(mambaboot: Mambaboot, project: Project,
                                             tmp_path: Path) -> None:
    out = tmp_path / "stick"
    assert mambaboot("pack", "--out", str(out), "--config", str(project.config)).code == 0
    result = mambaboot("create", "--config", str(out / "mambaboot.toml"), "--offline",
                       "--envs-dir", str(tmp_path / "e"), "--spec", "prefixdata",
                       "--no-pause")
    assert result.code == 2, result.text
    assert "packed for another environment" in result.err and "prefixdata" in result.err


def test_pack_with_a_micromamba_url_stores_it_where_the_bundle_looks(
        mambaboot: Mambaboot, project: Project, tmp_path: Path) -> None:
    out = tmp_path / "stick"
    url = project.url_template.format(version=project.version, platform="linux-64")
    result = mambaboot("pack", "--out", str(out), "--config", str(project.config),
                       "--micromamba", url)
    assert result.code == 0, result.text
    config = (out / "mambaboot.toml").read_text()
    version = next(line.split('"')[1] for line in config.splitlines()
                   if line.startswith("version"))
    assert (out / "CACHE" / "micromamba" / version / "micromamba").is_file()


def test_run_passes_ctrl_c_handling_to_the_child(mambaboot: Mambaboot,
                                                 project: Project) -> None:
    assert mambaboot(*project.args()).code == 0
    code = "import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    result = mambaboot("run", str(project.prefix), "--", "python", "-c", code)
    assert result.code == 0, result.text
    assert result.out.strip() == "True", "SIGINT must not arrive ignored in the child"


def test_a_background_grandchild_does_not_hold_the_run(tmp_path: Path) -> None:
    started = time.monotonic()
    done = process.run(["bash", "-c", "sleep 20 & echo started"], env=dict(os.environ),
                       log=RunLog(None), capture=True)
    assert done.returncode == 0
    assert time.monotonic() - started < 10
    subprocess.run(["pkill", "-f", "sleep 20"], check=False)
    time.sleep(0.5)  # the reader thread sees the end of the output and closes the pipe


def test_options_before_the_command_are_taken_for_it() -> None:
    assert parse(["-v", "list"]).command == "list"
    assert parse(["--yes", "remove", "py_3_12"]).env == "py_3_12"
    assert parse(["--offline"]).command == "create"


def test_interactive_children_are_stopped_one_by_one() -> None:
    """An attached child is not a group leader: SIGTERM goes to it alone."""
    proc = process._popen_attached([sys.executable, "-c", "import time; time.sleep(30)"],
                                   dict(os.environ), None)
    process._stop_one(proc)
    assert proc.poll() is not None
    assert json.dumps(proc.returncode)
