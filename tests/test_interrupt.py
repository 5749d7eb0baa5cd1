"""Ctrl+C, SIGTERM and console close: the child tree stops, the receipt stays incomplete,
mambaboot exits 130 (143 for SIGTERM), and the next run completes."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Mambaboot
from tests.project import Project
from tests.standin.fixtures import MicromambaRelease

pytestmark = [pytest.mark.posix, pytest.mark.slow]
Release = Callable[..., MicromambaRelease]


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def processes_mentioning(text: str) -> list[int]:
    """PIDs whose command line contains ``text`` (zombies excluded)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().split(") ", 1)[1][0]
        except (OSError, IndexError):
            continue
        if text in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def use_fast_release(project: Project, factory: Release) -> None:
    """Publish a stand-in without the delay under another tag and point the project at it
    (the slow one stays cached under its own version)."""
    project.version = factory(version="2.8.2").version
    project.write_config()


@pytest.mark.fault("interruption", "SIGINT and SIGTERM during micromamba create",
                   expect="exit 130/143; micromamba's tree stopped; receipt incomplete; the "
                          "next run rebuilds and completes")
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_create_stops_micromamba_and_the_next_run_rebuilds(
        mambaboot: Mambaboot, project: Project, micromamba_release_factory: Release,
        sig: signal.Signals, code: int) -> None:
    slow = micromamba_release_factory(delay_create_s=120)
    project.version = slow.version
    project.write_config()
    proc = mambaboot.popen(*project.args())
    wait_for((project.prefix / "conda-meta" / "history").exists, "micromamba create")
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, out + err
    assert "Run the same command again" in err
    wait_for(lambda: not processes_mentioning(str(project.prefix)), "children to be gone", 10)
    receipt = project.prefix / "conda-meta" / "mambaboot" / "receipt.json"
    assert not receipt.exists() or '"complete": false' in receipt.read_text()
    use_fast_release(project, micromamba_release_factory)
    again = mambaboot(*project.args())
    assert again.code == 0, again.text
    assert "interrupted run" in again.err
    assert project.receipt()["complete"] is True


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
    wait_for(lambda: not processes_mentioning("sleep 120"), "the script's children", 10)
    assert project.receipt()["complete"] is False
    assert project.receipt()["stages"]["scripts"]["state"] == "running"
    (project.root / "ok").touch()
    again = mambaboot(*project.args())
    assert again.code == 0, again.text
    assert "Resuming" in again.out
    assert project.receipt()["scripts"]["10-slow.sh"]["state"] == "done"
