"""Ctrl+C, SIGTERM and console close: the child tree stops, the receipt stays incomplete,
mambaboot exits 130 (143 for SIGTERM), and the next run completes."""

from __future__ import annotations

import signal

import pytest

from tests.conftest import Mambaboot
from tests.project import Project
from tests.standin.procs import mentioning, wait_for

pytestmark = [pytest.mark.posix, pytest.mark.slow]


@pytest.mark.conformance
@pytest.mark.fault("interruption", "SIGINT and SIGTERM during micromamba create",
                   expect="exit 130/143; micromamba's tree stopped; receipt incomplete; the "
                          "next run rebuilds and completes")
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_create_stops_micromamba_and_the_next_run_rebuilds(
        mambaboot: Mambaboot, project: Project, sig: signal.Signals, code: int) -> None:
    project.write_config(env_extra='specs = ["conda", "mamba", "uv", "slowlink"]')
    marker = project.root / "linking-slowlink"  # its post-link script waits while it is set
    proc = mambaboot.popen(*project.args(), env={"SLOWLINK_MARKER": str(marker)})
    wait_for(marker.exists, "micromamba to run the post-link script", 120)
    proc.send_signal(sig)
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


@pytest.mark.conformance
@pytest.mark.fault("interruption", "SIGINT (Ctrl+C) during a post-install script",
                   expect="exit 130; the script's children stopped; the next run resumes at "
                          "that script")
def test_ctrl_c_during_a_script_resumes_at_that_script(
        mambaboot: Mambaboot, project: Project) -> None:
    marker = project.root / "started"
    project.script("10-slow.sh", f'if [ ! -f "{project.root}/ok" ]; then touch "{marker}"; '
                                 "sleep 120; fi\n")
    proc = mambaboot.popen(*project.args())
    wait_for(marker.exists, "the script to start")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, out + err
    wait_for(lambda: not mentioning("sleep 120"), "the script's children", 10)
    assert project.receipt()["complete"] is False
    assert project.receipt()["stages"]["scripts"]["state"] == "running"
    (project.root / "ok").touch()
    again = mambaboot(*project.args())
    assert again.code == 0, again.text
    assert "Resuming" in again.out
    assert project.receipt()["scripts"]["10-slow.sh"]["state"] == "done"


def test_run_passes_ctrl_c_handling_to_the_child(mambaboot: Mambaboot,
                                                 project: Project) -> None:
    assert mambaboot(*project.args()).code == 0
    code = "import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    result = mambaboot("run", str(project.prefix), "--", "python", "-c", code)
    assert result.code == 0, result.text
    assert result.out.strip() == "True", "SIGINT must not arrive ignored in the child"
