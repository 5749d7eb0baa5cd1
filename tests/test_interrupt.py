"""Ctrl+C, SIGTERM (Ctrl+Break on Windows) and console close: the child tree stops, the
receipt stays incomplete, mambaboot exits 130 (143 for SIGTERM), and the next run
completes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Mambaboot
from tests.project import Project
from tests.standin.procs import (
    NEW_CONSOLE,
    STOPS,
    interrupt,
    mentioning,
    stop_param,
    wait_for,
)

pytestmark = pytest.mark.slow
SLEEPER = "import time; time.sleep(120)"


@pytest.mark.conformance
@pytest.mark.fault("interruption", "Ctrl+C and SIGTERM (Windows: Ctrl+Break) during "
                   "micromamba create",
                   expect="exit 130/143; micromamba's tree stopped; receipt incomplete; the "
                          "next run rebuilds and completes")
@pytest.mark.parametrize(("how", "code"), [stop_param(*stop) for stop in STOPS])
def test_signal_during_create_stops_micromamba_and_the_next_run_rebuilds(
        mambaboot: Mambaboot, project: Project, how: str, code: int) -> None:
    project.write_config(env_extra='specs = ["conda", "mamba", "uv", "slowlink"]')
    marker = project.root / "linking-slowlink"  # its post-link script waits while it is set
    proc = mambaboot.popen(*project.args(), env={"SLOWLINK_MARKER": str(marker)},
                           creationflags=NEW_CONSOLE)
    wait_for(marker.exists, "micromamba to run the post-link script", 120)
    interrupt(proc, how)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, out + err
    assert "Run the same command again" in err
    wait_for(lambda: not mentioning(str(marker)), "the post-link script to be stopped", 10)
    wait_for(lambda: not mentioning(str(project.prefix)), "micromamba to be gone", 10)
    receipt = project.prefix / "conda-meta" / "mambaboot" / "receipt.json"
    assert not receipt.exists() or '"complete": false' in receipt.read_text()
    again = mambaboot(*project.args())
    assert again.code == 0, again.text
    assert "interrupted run" in again.err
    assert project.receipt()["complete"] is True


def slow_script(project: Project, name: str) -> tuple[Path, Path]:
    """Script ``NAME`` (.sh or .bat) that, until the file ``ok`` exists, touches
    ``started`` and then waits two minutes in a python whose command line names this
    test's own folder (a test looks for that process, never another suite's)."""
    started, ok = project.root / "started", project.root / "ok"
    sleeper = project.root / f"sleeper-{name}"
    project.shell_script(
        name, f'if [ ! -f "{ok}" ]; then touch "{started}"; '
              f'python -c "{SLEEPER}" "{sleeper}"; fi\n',
        f'@IF EXIST "{ok}" EXIT /B 0\n@type nul > "{started}"\n'
        f'@python -c "{SLEEPER}" "{sleeper}"\n')
    return started, sleeper


@pytest.mark.conformance
@pytest.mark.fault("interruption", "SIGINT (Ctrl+C) during a post-install script",
                   expect="exit 130; the script's children stopped; the next run resumes at "
                          "that script")
def test_ctrl_c_during_a_script_resumes_at_that_script(
        mambaboot: Mambaboot, project: Project) -> None:
    started, sleeper = slow_script(project, "10-slow")
    proc = mambaboot.popen(*project.args(), creationflags=NEW_CONSOLE)
    wait_for(started.exists, "the script to start")
    interrupt(proc)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    wait_for(lambda: not mentioning(str(sleeper)), "the script's children", 10)
    assert project.receipt()["complete"] is False
    assert project.receipt()["stages"]["scripts"]["state"] == "running"
    (project.root / "ok").touch()
    again = mambaboot(*project.args())
    assert again.code == 0, again.text
    assert "Resuming" in again.out
    name = next(project.scripts.iterdir()).name
    assert project.receipt()["scripts"][name]["state"] == "done"


def test_run_passes_ctrl_c_handling_to_the_child(mambaboot: Mambaboot,
                                                 project: Project) -> None:
    assert mambaboot(*project.args()).code == 0
    code = "import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    result = mambaboot("run", str(project.prefix), "--", "python", "-c", code)
    assert result.code == 0, result.text
    assert result.out.strip() == "True", "SIGINT must not arrive ignored in the child"
