"""The update in place against a ``--force`` rebuild, in the same run: a complete
environment gets one more package in its config, and mambaboot runs again (an update:
``micromamba install`` of that package); then the package goes again (``micromamba
remove``); then the same environment is rebuilt with ``--force`` (delete, create, finish,
verify, the scripts again). Measured with the stand-in micromamba and, where it can run,
the real micromamba 2.8.1 (tests/standin/real_release.py)."""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.project import Project
    from tests.standin.channel import Package

RUNS = 3
TIMEOUT_S = 300.0
BASE_SPECS = ("conda", "mamba", "uv")


def extra_package() -> Package:
    """The package the benchmark adds and removes: small, no dependencies."""
    from tests.standin.channel import Package

    return Package("benchextra", "1.0", "0", files={"share/benchextra/x.txt": b"x\n"})


FILLERS = 120  # packages of the larger environment
FILLER_FILES = 25  # files in each, 2 KB each


def filler_packages() -> list[Package]:
    """``benchbase``, a package needing FILLERS small packages: with it in the specs the
    environment holds FILLERS x FILLER_FILES more files, nearer to what a rebuild of a real
    environment links."""
    from tests.standin.channel import Package

    fillers = [Package(f"benchfill{i:03d}", "1.0", "0",
                       files={f"share/benchfill{i:03d}/f{j:02d}.txt": bytes(2048)
                              for j in range(FILLER_FILES)})
               for i in range(FILLERS)]
    base = Package("benchbase", "1.0", "0", depends=[p.name for p in fillers],
                   files={"share/benchbase.txt": b"base\n"})
    return [*fillers, base]


@dataclass
class Times:
    """Wall times of each kind of run, and what the updates reported."""

    add: list[float] = field(default_factory=list)
    remove: list[float] = field(default_factory=list)
    rebuild: list[float] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    stages: str = ""  # of the last add: "update 0.31, finish 0.12, ..."

    @property
    def ratio(self) -> float:
        return statistics.median(self.add) / statistics.median(self.rebuild)


class UpdateError(Exception):
    """A run did not do what the measurement needs."""


def configure(project: Project, specs: Sequence[str]) -> None:
    listing = ", ".join(f'"{s}"' for s in specs)
    project.write_config(env_extra=f"specs = [{listing}]")


def one_run(exe: Path, project: Project, env: dict[str, str], *extra: str,
            outcome: str) -> tuple[float, dict[str, Any]]:
    summary = project.root / "update-summary.json"
    argv = [str(exe), *project.args("--json", str(summary), *extra)]
    started = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=TIMEOUT_S,
                          check=False)
    spent = time.perf_counter() - started
    data = json.loads(summary.read_text("utf-8")) if summary.is_file() else {}
    if proc.returncode != 0 or data.get("outcome") != outcome:
        raise UpdateError(f"expected outcome {outcome}, got exit {proc.returncode} "
                          f"{data.get('outcome')}: {(proc.stdout + proc.stderr)[-300:]}")
    return spent, data


def measure(exe: Path, project: Project, env: dict[str, str], runs: int = RUNS,
            base: Sequence[str] = BASE_SPECS) -> Times:
    """Create once, then ``runs`` rounds of: add a package, remove it, --force rebuild."""
    configure(project, base)
    one_run(exe, project, env, outcome="created")
    times = Times()
    for _ in range(runs):
        configure(project, [*base, "benchextra"])
        spent, data = one_run(exe, project, env, outcome="updated")
        times.add.append(spent)
        times.added = [str(a) for a in data.get("added", [])]
        times.stages = ", ".join(f"{s['stage']} {s['seconds']:.2f}"
                                 for s in data.get("stages", []))
        configure(project, base)
        times.remove.append(one_run(exe, project, env, outcome="updated")[0])
        times.rebuild.append(one_run(exe, project, env, "--force", outcome="rebuilt")[0])
    return times


@contextmanager
def real_project(work: Path, name: str) -> Iterator[Project | None]:
    """A project wired to the real micromamba and a channel it can install from, on a
    loopback server of its own; None where the real binary cannot run here."""
    from tests.project import Project
    from tests.standin import real_release
    from tests.standin.channel import write_channel
    from tests.standin.fixtures import publish_real_release
    from tests.standin.server import LoopbackServer

    if real_release.unavailable():
        yield None
        return
    with LoopbackServer() as server:
        channel = work / f"{name}-channel"
        write_channel(channel, real_release.real_packages([extra_package(),
                                                           *filler_packages()]))
        server.mount("/conda-forge/", channel)
        release = publish_real_release(server)
        project = Project(work / name, server.url_for("/conda-forge"),
                          release.url_template, release.version)
        project.root.mkdir()
        yield project
