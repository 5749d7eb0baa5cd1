"""Process-level faults (issue 5), from source and frozen: Ctrl+C/SIGTERM while micromamba
downloads and SIGTERM during a post-install script (Windows: Ctrl+Break), SIGKILL during
create (Windows: TerminateProcess), and two mambaboot processes on the same prefix. Every
scenario ends with the containment check.

Ctrl+C/SIGTERM during create and Ctrl+C during a script are in test_interrupt."""

from __future__ import annotations

import itertools
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bootstrap.errors import EXIT_REFUSED
from tests.conftest import Mambaboot
from tests.project import MICROMAMBA, Project
from tests.standin import procs
from tests.standin.containment import Containment
from tests.standin.fixtures import MicromambaRelease, host_subdir
from tests.standin.server import LoopbackServer

pytestmark = pytest.mark.slow
fault = pytest.mark.fault
Release = Callable[..., MicromambaRelease]
KILLED_LEFTOVERS = ("mambaboot-", "_MEI")  # temp folders a SIGKILLed process cannot remove


@pytest.fixture
def box(project: Project, isolated_home: Path, tmp_path: Path) -> Containment:
    return Containment(tmp_path, watched=[isolated_home, project.root],
                       allowed=[project.prefix, project.cache])


@pytest.fixture
def reaper() -> Iterator[list[int]]:
    """PIDs a test saw its scenario leave behind; killed (by PID) at teardown."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        procs.kill(pid)


def creates(*releases: MicromambaRelease) -> list[dict[str, Any]]:
    return [c for r in releases for c in r.calls() if "create" in c["argv"]]


def assert_never_overlapped(calls: list[dict[str, Any]]) -> None:
    spans = sorted((c["start"], c["end"]) for c in calls)
    for (_, first_end), (second_start, _) in itertools.pairwise(spans):
        assert first_end <= second_start, f"two micromamba creates overlapped: {spans}"


def slow_project(project: Project, factory: Release, delay_s: float,
                 box: Containment) -> MicromambaRelease:
    """Point the project at a stand-in whose create takes ``delay_s`` after linking."""
    slow = factory(delay_create_s=delay_s)
    project.version = slow.version
    project.write_config()
    box.start()
    return slow


def use_fast_release(project: Project, factory: Release, box: Containment
                     ) -> MicromambaRelease:
    """Publish a stand-in without the delay under another tag and point the project at it
    (the slow one stays cached under its own version)."""
    box.check(temp_leftovers=KILLED_LEFTOVERS)
    fast = factory(version="2.8.2")
    project.version = fast.version
    project.write_config()
    box.start()
    return fast


def started_create(project: Project) -> Callable[[], bool]:
    return (project.prefix / "conda-meta" / "history").exists


def linked_first_package(project: Project) -> Callable[[], bool]:
    """True once micromamba linked its first package: the stand-in then sleeps for its
    ``delay_create_s`` without writing anything (a large package being linked)."""
    return lambda: any((project.prefix / "conda-meta").glob("*.json"))


def worker_pid(proc: subprocess.Popen[str], kind: str) -> int:
    """The process doing the work: the frozen one-file launcher runs it as its child."""
    if kind != "frozen":
        return proc.pid
    procs.wait_for(lambda: bool(procs.children(proc.pid)), "the frozen worker process")
    (child,) = procs.children(proc.pid)
    return child.pid


def no_executable_download(project: Project) -> None:
    folder = project.cache / "micromamba"
    files = [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
    assert not [p for p in files if p.stat().st_mode & (stat.S_IXUSR | stat.S_IXGRP)], files
    assert not [p for p in files if p.name == MICROMAMBA], "no unverified binary in place"


# -- Ctrl+C / SIGTERM while micromamba is being downloaded ----------------------------------

@pytest.mark.parametrize(("how", "code"), [
    procs.stop_param(*procs.STOPS[0], fault(
        "interruption", "SIGINT (Ctrl+C) while micromamba downloads",
        expect="exit 130 `Run the same command again`; no child left, nothing executable "
               "kept, no receipt; the next run completes")),
    procs.stop_param(*procs.STOPS[1], fault(
        "interruption", "SIGTERM (Windows: Ctrl+Break) while micromamba downloads",
        expect="exit 143 (Windows: 130); no child left, nothing executable kept, no "
               "receipt; the next run completes")),
])
def test_signal_during_download_then_the_next_run_completes(
        mambaboot: Mambaboot, project: Project, micromamba_release: MicromambaRelease,
        http_server: LoopbackServer, box: Containment, how: str, code: int) -> None:
    asset = micromamba_release.asset_path(f"micromamba-{host_subdir()}")
    http_server.stall(asset, 60)
    proc = mambaboot.popen(*project.args(), env=box.env, cwd=box.cwd,
                           creationflags=procs.NEW_CONSOLE)
    procs.wait_for(lambda: bool(http_server.requests_for(asset)), "the download to start")
    procs.interrupt(proc, how)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, out + err
    assert "Run the same command again" in err
    procs.wait_for(lambda: not procs.mentioning(str(project.config)), "mambaboot to be gone", 10)
    assert not project.prefix.exists(), "no receipt: nothing was created"
    no_executable_download(project)
    assert micromamba_release.calls() == []
    box.check()
    again = mambaboot(*project.args(), env=box.env, cwd=box.cwd)
    assert again.code == 0, again.text
    assert project.receipt()["complete"] is True
    box.check()


# -- SIGTERM (Windows: Ctrl+Break) during a post-install script ------------------------------

@fault("interruption", "SIGTERM (Windows: Ctrl+Break) during a post-install script",
       expect="exit 143 (Windows: 130); the script's process tree stopped; receipt incomplete "
              "at `scripts`; the next run resumes at that script")
@pytest.mark.parametrize(("how", "code"), [procs.stop_param(*procs.STOPS[1])])
def test_sigterm_during_a_script_stops_it_and_the_next_run_resumes(
        mambaboot: Mambaboot, project: Project, box: Containment, how: str, code: int) -> None:
    started, ok = project.root / "started", project.root / "ok"
    sleeper = project.root / "sleeper"
    box.allow(started, ok)
    wait = "import time; time.sleep(97)"
    script = project.shell_script(
        "10-slow", f'if [ ! -f "{ok}" ]; then touch "{started}"; '
                   f'python -c "{wait}" "{sleeper}"; fi\n',
        f'@IF EXIST "{ok}" EXIT /B 0\n@type nul > "{started}"\n'
        f'@python -c "{wait}" "{sleeper}"\n')
    box.start()
    proc = mambaboot.popen(*project.args(), env=box.env, cwd=box.cwd,
                           creationflags=procs.NEW_CONSOLE)
    procs.wait_for(started.exists, "the script to start")
    procs.interrupt(proc, how)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, out + err
    procs.wait_for(lambda: not procs.mentioning(str(sleeper)), "the script's children", 10)
    receipt = project.receipt()
    assert receipt["complete"] is False
    assert receipt["stages"]["scripts"]["state"] == "running"
    box.check()
    ok.touch()
    box.start()
    again = mambaboot(*project.args(), env=box.env, cwd=box.cwd)
    assert again.code == 0, again.text
    assert "Resuming" in again.out
    assert project.receipt()["scripts"][script.name]["state"] == "done"
    box.check()


# -- SIGKILL during create ------------------------------------------------------------------

def kill_during_create(mambaboot: Mambaboot, project: Project, box: Containment,
                       reaper: list[int]) -> list[int]:
    """Start a create, SIGKILL the process doing it, and return the PIDs of what it had
    started and that still runs (micromamba)."""
    proc = mambaboot.popen(*project.args(), env=box.env, cwd=box.cwd)
    procs.wait_for(linked_first_package(project), "micromamba to link a package")
    worker = worker_pid(proc, mambaboot.kind)
    procs.kill(worker)
    proc.communicate(timeout=60)
    procs.wait_for(lambda: not procs.alive(worker), "the killed process to be gone", 10)
    survivors = [p.pid for p in procs.mentioning(str(project.prefix))]
    reaper.extend(survivors)
    return survivors


@fault("interruption", "SIGKILL of mambaboot during create",
       expect="the next run finds the half-made prefix it claimed, says so, rebuilds it; "
              "exit 0, receipt complete")
def test_sigkill_during_create_the_next_run_rebuilds(
        mambaboot: Mambaboot, project: Project, micromamba_release_factory: Release,
        box: Containment, reaper: list[int]) -> None:
    slow_project(project, micromamba_release_factory, 60, box)
    kill_during_create(mambaboot, project, box, reaper)
    for pid in reaper:  # the killed run's micromamba (see the next test) is stopped here
        procs.kill(pid)
    procs.wait_for(lambda: not any(procs.alive(pid) for pid in reaper), "micromamba", 10)
    assert not (project.prefix / "conda-meta" / "mambaboot" / "receipt.json").exists()
    fast = use_fast_release(project, micromamba_release_factory, box)
    again = mambaboot(*project.args(), env=box.env, cwd=box.cwd)
    assert again.code == 0, again.text
    assert "left half-made by an interrupted run; rebuilding it" in again.err
    assert project.receipt()["complete"] is True
    assert len(creates(fast)) == 1
    box.check(temp_leftovers=KILLED_LEFTOVERS)


@fault("interruption", "SIGKILL of mambaboot during create: its micromamba",
       expect="the killed run's micromamba does not keep working on the prefix the next run "
              "rebuilds (stopped with it, or waited for / stopped by the next run)")
def test_sigkill_during_create_leaves_no_micromamba_working_on_the_prefix(
        mambaboot: Mambaboot, project: Project, micromamba_release_factory: Release,
        box: Containment, reaper: list[int]) -> None:
    slow = slow_project(project, micromamba_release_factory, 60, box)
    survivors = kill_during_create(mambaboot, project, box, reaper)
    fast = use_fast_release(project, micromamba_release_factory, box)
    again = mambaboot(*project.args(), env=box.env, cwd=box.cwd)
    assert again.code == 0, again.text
    assert project.receipt()["complete"] is True
    still = [p for p in procs.processes() if p.pid in survivors]
    assert not still, "the killed run's micromamba still runs on the rebuilt prefix:\n" + \
        "\n".join(f"  {p.pid} {p.args[:160]}" for p in still)
    assert_never_overlapped(creates(slow, fast))
    box.check(temp_leftovers=KILLED_LEFTOVERS)


@fault("interruption", "SIGKILL of the frozen executable's launcher process during create",
       expect="the next run never interleaves with the orphaned worker: it waits for the "
              "prefix lock, then exit 0 with a complete environment")
def test_sigkill_of_the_frozen_launcher_never_interleaves(
        frozen: Mambaboot, project: Project, micromamba_release_factory: Release,
        box: Containment, reaper: list[int]) -> None:
    slow = slow_project(project, micromamba_release_factory, 2, box)
    proc = frozen.popen(*project.args(), env=box.env, cwd=box.cwd)
    procs.wait_for(started_create(project), "micromamba create")
    worker = worker_pid(proc, "frozen")
    reaper.append(worker)
    proc.kill()
    proc.wait(timeout=30)
    orphaned = procs.alive(worker)
    again = frozen(*project.args(), env=box.env, cwd=box.cwd)
    assert again.code == 0, again.text
    if orphaned:
        assert "Another mambaboot is working on" in again.err, "it waited for the lock"
    assert project.receipt()["complete"] is True
    proc.communicate(timeout=60)  # the worker held the launcher's pipes until it ended
    assert_never_overlapped(creates(slow))
    box.check(temp_leftovers=KILLED_LEFTOVERS)


# -- two mambaboot processes on one prefix --------------------------------------------------

@fault("concurrency", "a second mambaboot on the same prefix while the first creates",
       expect="the second says it waits for the other, then finds the environment complete "
              "(`Nothing to do`); one micromamba create, never two at once")
def test_second_mambaboot_waits_for_the_first(
        mambaboot: Mambaboot, project: Project, micromamba_release_factory: Release,
        box: Containment) -> None:
    slow = slow_project(project, micromamba_release_factory, 1.5, box)
    first = mambaboot.popen(*project.args(), env=box.env, cwd=box.cwd)
    procs.wait_for(started_create(project), "the first create")
    second = mambaboot(*project.args(), env=box.env, cwd=box.cwd)
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, out + err
    assert second.code == 0, second.text
    assert "Another mambaboot is working on" in second.err
    assert "Nothing to do" in second.out
    assert len(creates(slow)) == 1
    assert project.receipt()["complete"] is True
    box.check()


@fault("concurrency", "a second mambaboot gives up waiting (MAMBABOOT_LOCK_TIMEOUT_S=1)",
       expect="exit 3 `Another mambaboot kept ... busy`, hint MAMBABOOT_LOCK_TIMEOUT_S; it "
              "started nothing; the first completes")
def test_second_mambaboot_stops_after_the_lock_timeout(
        mambaboot: Mambaboot, project: Project, micromamba_release_factory: Release,
        box: Containment) -> None:
    slow = slow_project(project, micromamba_release_factory, 2.5, box)
    first = mambaboot.popen(*project.args(), env=box.env, cwd=box.cwd)
    procs.wait_for(started_create(project), "the first create")
    second = mambaboot(*project.args(), env={**box.env, "MAMBABOOT_LOCK_TIMEOUT_S": "1"},
                       cwd=box.cwd)
    assert second.code == EXIT_REFUSED, second.text
    assert "Another mambaboot kept" in second.err
    assert "MAMBABOOT_LOCK_TIMEOUT_S" in second.err
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, out + err
    assert len(creates(slow)) == 1
    assert project.receipt()["complete"] is True
    box.check()
