"""mambaboot's benchmark: how fast and how small, measured side by side in one run.

``make bench`` (or ``.venv/bin/python bench/run.py`` after ``make build``) measures
dist/mambaboot against references taken on the same machine in the same run, prints a
markdown table of ratios and writes it to bench/results.md:

- start-up of ``--version``/``--help`` against a PyInstaller onefile hello-world built the
  same way (the floor of this packaging), the same hello-world with mambaboot's modules
  bundled but not imported, and ``python -c pass``; plus which modules the source imports
  for them beyond what an argparse-only program needs;
- a create against the stand-in micromamba and a loopback channel: mambaboot's own
  overhead (wall time minus the time the stand-in and the post-install script record for
  themselves), then the no-op re-run;
- the downloader against curl on a micromamba-sized file from a loopback server;
- the size of the executable and what dominates it (PyInstaller's TOC);
- an offline-bundle create against the online one, once ``pack`` exists.

It asserts nothing: a missed target is reported with its margin, and the run goes on.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.project import Project
    from tests.standin.server import LoopbackServer

REPO = Path(__file__).resolve().parents[1]
IS_WINDOWS = os.name == "nt"
EXE = REPO / "dist" / ("mambaboot.exe" if IS_WINDOWS else "mambaboot")
VENV_PY = REPO / ".venv" / ("Scripts/python.exe" if IS_WINDOWS else "bin/python")
OUT = REPO / "bench" / "out"
RESULTS = REPO / "bench" / "results.md"
SHM = Path("/dev/shm")  # noqa: S108 - only a private mkdtemp folder is made in it

STARTUP_RUNS = 20
STARTUP_WARMUP = 2
IMPORT_PROBE_RUNS = 3
NOOP_RUNS = 10
CREATE_RUNS = 3
BIAS_RUNS = 5
DOWNLOAD_RUNS = 10
CHUNK_BYTES = 256 * 1024  # bootstrap.download's read size
DOWNLOAD_BYTES = 15 * 1024 * 1024  # about a micromamba 2.x linux-64 binary
TOP_ENTRIES = 8
PROCESS_TIMEOUT_S = 300.0

STARTUP_RATIO_MAX = 1.1  # x the hello-world onefile floor
NOOP_MAX_S = 0.6
OVERHEAD_MAX_S = 0.5
DOWNLOAD_RATIO_MIN = 0.9  # x curl's throughput
SIZE_MAX_MB = 12.0
MB = 1_000_000

FORBIDDEN_AT_STARTUP = ("requests", "urllib3", "truststore", "bootstrap.download")

# The post-install script of the benchmark project: it records its own start and end, so
# its time is not counted as mambaboot's. The sleep stands in for real work.
TIMING_SCRIPT = """\
import os
import time

def exec_time():
    # when this process started (its interpreter's start-up is the script's own time)
    stat = open("/proc/self/stat").read().rsplit(")", 1)[1].split()
    uptime = float(open("/proc/uptime").read().split()[0])
    return time.time() - max(uptime - int(stat[19]) / os.sysconf("SC_CLK_TCK"), 0.0)

START = exec_time()
import json

time.sleep(0.2)
with open(os.path.join(os.environ["MAMBABOOT_CONFIG_DIR"], "script-times.jsonl"), "a") as f:
    f.write(json.dumps({"start": START, "end": time.time()}) + "\\n")
"""

def own_time(call: dict[str, Any]) -> float:
    """A stand-in invocation's own time, from when its process started (``exec_start``,
    read from /proc by the stand-in) to its end."""
    return float(call["end"]) - float(call.get("exec_start", call["start"]))


# The source downloader in a process of its own (the loopback server lives in this one and
# would otherwise share the GIL with it); it times the transfer only, as curl's time_total.
DOWNLOADER = """\
import json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from bootstrap.download import NetOptions, download, fetch_text
url, dest = sys.argv[2], Path(sys.argv[3])
opts = NetOptions(allow_http=True)
expected = fetch_text(url + ".sha256", opts).split()[0]
started = time.perf_counter()
download(url, dest, opts, expected_sha256=expected, what="bench")
print(json.dumps(time.perf_counter() - started))
"""

SOURCE_MAIN = ("import sys; sys.path.insert(0, {repo!r}); from bootstrap.cli import main; "
               "raise SystemExit(main({argv!r}))")
# What any argparse CLI with a subcommand pays for --version/--help: the import floor.
ARGPARSE_FLOOR = ("import argparse; p = argparse.ArgumentParser(prog='x', epilog='e'); "
                  "p.add_argument('--version', action='version', version='x 0'); "
                  "s = p.add_subparsers(dest='c', metavar='COMMAND'); "
                  "s.add_parser('create', help='h').add_argument('--y', help='h'); "
                  "p.parse_args({argv!r})")


class BenchError(Exception):
    """A measurement could not be taken (a command failed); its row says so."""


@dataclass(frozen=True)
class Row:
    metric: str
    measured: str
    reference: str = "-"
    target: str = "-"
    verdict: str = "info"


@dataclass(frozen=True)
class Imported:
    name: str
    self_us: int
    cumulative_us: int
    parent: str | None


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    sections: list[tuple[str, list[str]]] = field(default_factory=list)

    def section(self, title: str, lines: list[str]) -> None:
        self.sections.append((title, lines))


# ------------------------------------------------------------------------------ helpers
def progress(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def at_most(value: float, limit: float, unit: str, *, strict: bool = False) -> str:
    """``ok``, or by how much ``value`` exceeds ``limit``."""
    if value < limit or (value == limit and not strict):
        return "ok"
    return f"**missed** by {value - limit:.2f}{unit} ({100 * (value / limit - 1):+.0f} %)"


def at_least(value: float, limit: float, unit: str) -> str:
    if value >= limit:
        return "ok"
    return f"**missed** by {limit - value:.2f}{unit} ({100 * (value / limit - 1):+.0f} %)"


def base_env(home: Path) -> dict[str, str]:
    """A clean environment like the test suite's: private HOME and XDG folders, no proxy,
    no conda or Python variables inherited from the shell running the benchmark."""
    env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(home),
           "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "NO_COLOR": "1"}
    for var, sub in (("XDG_CACHE_HOME", "cache"), ("XDG_CONFIG_HOME", "config"),
                     ("XDG_DATA_HOME", "data"), ("XDG_STATE_HOME", "state")):
        env[var] = str(home.parent / "xdg" / sub)
    for var in ("TMPDIR", "SystemRoot", "COMSPEC", "TEMP", "TMP"):
        if var in os.environ:
            env[var] = os.environ[var]
    if IS_WINDOWS:
        env["USERPROFILE"] = str(home)
    return env


def timed(argv: Sequence[str | Path], env: dict[str, str],
          cwd: Path | None = None) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run ``argv`` to completion; returns the wall time and the finished process."""
    started = time.perf_counter()
    proc = subprocess.run([str(a) for a in argv], env=env, cwd=cwd, text=True,
                          stdin=subprocess.DEVNULL, capture_output=True, check=False,
                          encoding="utf-8", errors="replace", timeout=PROCESS_TIMEOUT_S)
    return time.perf_counter() - started, proc


def check(proc: subprocess.CompletedProcess[str], what: str) -> None:
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-12:]
        raise BenchError(f"{what} exited with {proc.returncode}: " + " | ".join(tail))


def seconds(value: float) -> str:
    return f"{value:.3f} s"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@contextmanager
def download_folder(work: Path) -> Iterator[Path]:
    """A tmpfs folder when there is one (the disk's writeback would swamp the clients'
    differences), else one under ``work``."""
    base = SHM if SHM.is_dir() and os.access(SHM, os.W_OK) else work
    folder = Path(tempfile.mkdtemp(prefix="mambaboot-bench-dl-", dir=base))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def sha256_ms(data: bytes) -> float:
    """Least time of a few runs to hash ``data`` in the downloader's chunk size."""
    best = float("inf")
    view = memoryview(data)
    for _ in range(3):
        started = time.perf_counter()
        digest = hashlib.sha256()
        for offset in range(0, len(view), CHUNK_BYTES):
            digest.update(view[offset:offset + CHUNK_BYTES])
        best = min(best, time.perf_counter() - started)
    return 1000 * best


# ------------------------------------------------------------------------------ floor build
def build_spec_excludes() -> list[str]:
    """The ``excludes`` of build.spec, so the hello-world is built the same way."""
    match = re.search(r"excludes=\[([^\]]*)\]", (REPO / "build.spec").read_text("utf-8"))
    return re.findall(r"\"([^\"]+)\"", match.group(1)) if match else []


@functools.cache
def pyinstaller_version() -> str:
    proc = subprocess.run([str(VENV_PY), "-m", "PyInstaller", "--version"], text=True,
                          capture_output=True, check=False, timeout=PROCESS_TIMEOUT_S)
    check(proc, "PyInstaller --version")
    return proc.stdout.strip()


@dataclass(frozen=True)
class Floor:
    """A ``print("hello")`` onefile build; ``bundled`` also collects every bootstrap module
    (so requests, truststore, ... too) without importing any of them at run time."""

    name: str
    bundled: bool

    @property
    def folder(self) -> Path:
        return OUT / self.name

    @property
    def exe(self) -> Path:
        return self.folder / (f"{self.name}.exe" if IS_WINDOWS else self.name)

    def flags(self) -> list[str]:
        flags = ["--onefile", "--console", "--noupx", "--noconfirm", "--log-level", "WARN",
                 *(["--strip"] if sys.platform.startswith("linux") else []),
                 *[f"--exclude-module={name}" for name in build_spec_excludes()]]
        if self.bundled:
            flags += ["--paths", str(REPO), *[f"--hidden-import=bootstrap.{p.stem}"
                                              for p in sorted((REPO / "bootstrap").glob("*.py"))
                                              if p.stem != "__main__"]]
        return flags

    def stamp(self) -> dict[str, Any]:
        stamp: dict[str, Any] = {"pyinstaller": pyinstaller_version(),
                                 "python": platform.python_version(), "flags": self.flags()}
        if self.bundled:
            digest = hashlib.sha256()
            for path in [*sorted((REPO / "bootstrap").glob("*.py")), REPO / "requirements.txt"]:
                digest.update(path.name.encode() + b"\0" + path.read_bytes())
            stamp["sources"] = digest.hexdigest()
        return stamp

    def build(self) -> Path:
        """Build like dist/mambaboot (onefile, strip on Linux, UPX off, PYTHONHASHSEED=0,
        build.spec's excludes) in a temporary folder; the executable is kept in bench/out
        and reused while its inputs are unchanged."""
        stamp, stamp_file = self.stamp(), self.folder / "stamp.json"
        if self.exe.is_file() and stamp_file.is_file() and \
                json.loads(stamp_file.read_text("utf-8")) == stamp:
            progress(f"{self.name}: cached {self.exe.relative_to(REPO)}")
            return self.exe
        progress(f"{self.name}: building with PyInstaller")
        shutil.rmtree(self.folder, ignore_errors=True)
        with tempfile.TemporaryDirectory(prefix="mambaboot-bench-pyi-") as tmp:
            (Path(tmp) / f"{self.name}.py").write_text('print("hello")\n', encoding="utf-8")
            proc = subprocess.run(
                [str(VENV_PY), "-m", "PyInstaller", *self.flags(), "--distpath", "dist",
                 "--workpath", "build", "--specpath", ".", f"{self.name}.py"], cwd=tmp,
                text=True, capture_output=True, check=False,
                env={**os.environ, "PYTHONHASHSEED": "0"}, timeout=PROCESS_TIMEOUT_S)
            check(proc, f"PyInstaller ({self.name})")
            self.folder.mkdir(parents=True)
            shutil.copy2(Path(tmp) / "dist" / self.exe.name, self.exe)
        stamp_file.write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
        return self.exe


HELLO = Floor("hello", bundled=False)
HELLO_BUNDLED = Floor("hello-bundled", bundled=True)


def runtime_hooks(exe: Path) -> set[str]:
    """PyInstaller runtime hooks in ``exe``'s archive: they run before the program."""
    from PyInstaller.archive.readers import CArchiveReader

    if not exe.is_file():
        return set()
    return {str(n) for n in CArchiveReader(str(exe)).toc if str(n).startswith("pyi_rth_")}


# ------------------------------------------------------------------------------ imports
def import_tree(code: str) -> list[Imported]:
    """Every module ``python -X importtime -c code`` imports, with its importer."""
    proc = subprocess.run([sys.executable, "-I", "-X", "importtime", "-c", code], text=True,
                          capture_output=True, check=False, timeout=PROCESS_TIMEOUT_S)
    check(proc, "import probe")
    found: list[Imported] = []
    waiting: dict[int, list[int]] = {}  # level -> indexes still without their importer
    for line in proc.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)$", line)
        if not match:
            continue
        level = len(match.group(3)) // 2
        name = match.group(4)
        for child in waiting.pop(level + 1, []):  # importtime prints children first
            found[child] = Imported(found[child].name, found[child].self_us,
                                    found[child].cumulative_us, name)
        waiting.setdefault(level, []).append(len(found))
        found.append(Imported(name, int(match.group(1)), int(match.group(2)), None))
    return found


def fastest_tree(code: str) -> dict[str, Imported]:
    """The import tree of ``code``, each module's times the least of a few runs."""
    best: dict[str, Imported] = {}
    for _ in range(IMPORT_PROBE_RUNS):
        for item in import_tree(code):
            old = best.get(item.name)
            if old is None:
                best[item.name] = item
            elif item.cumulative_us < old.cumulative_us:
                best[item.name] = Imported(item.name, min(item.self_us, old.self_us),
                                           item.cumulative_us, old.parent)
    return best


def startup_imports(argv: list[str]) -> tuple[list[str], list[Imported], int]:
    """(forbidden modules imported, modules beyond the argparse floor that bootstrap
    pulls in directly, their total own import time in µs) for the source ``main(argv)``."""
    ours = fastest_tree(SOURCE_MAIN.format(repo=str(REPO), argv=argv))
    floor = fastest_tree(ARGPARSE_FLOOR.format(argv=argv))
    forbidden = sorted(n for n in ours
                       if any(n == f or n.startswith(f + ".") for f in FORBIDDEN_AT_STARTUP))
    extra = {n: m for n, m in ours.items()
             if n not in floor and n != "bootstrap" and not n.startswith("bootstrap.")}
    roots = [m for m in extra.values() if m.parent not in extra]
    roots.sort(key=lambda m: -m.cumulative_us)
    return forbidden, roots, sum(m.self_us for m in extra.values())


# ------------------------------------------------------------------------------ loopback
@dataclass
class Loopback:
    """The loopback channel and micromamba release (tests/standin), and projects wired to
    them."""

    server: LoopbackServer
    work: Path
    channel_url: str
    url_template: str
    version: str
    record_file: Path  # every run of the published stand-in appends here
    probe: Path  # a copy of the stand-in that records into probe_record
    probe_record: Path

    def project(self, name: str) -> Project:
        from tests.project import Project

        project = Project(self.work / name, self.channel_url, self.url_template, self.version)
        project.root.mkdir()
        project.write_config()
        project.script("10-bench-timing.py", TIMING_SCRIPT)
        return project

    def calls(self) -> list[dict[str, Any]]:
        return read_jsonl(self.record_file)


@contextmanager
def loopback(work: Path) -> Iterator[Loopback]:
    """The same assembly as tests/standin/fixtures.py, without pytest."""
    from bench.update import extra_package
    from tests.standin.channel import default_packages, host_subdir, write_channel
    from tests.standin.fixtures import RELEASE_TAG, StandinFactory, publish_release
    from tests.standin.server import LoopbackServer

    with LoopbackServer() as server:
        channel = write_channel(work / "channel" / "conda-forge",
                                [*default_packages(), extra_package()])
        server.mount("/conda-forge/", channel.root)
        (work / "standin").mkdir()
        factory = StandinFactory(work / "standin")
        publish_release(server, factory(), tag=RELEASE_TAG, platforms=(host_subdir(),))
        template = f"{server.url}/releases/download/{{version}}/micromamba-{{platform}}"
        probe_record = work / "standin" / "probe.jsonl"
        probe = factory.install(work / "standin" / "probe" / "micromamba",
                                record_file=str(probe_record))
        yield Loopback(server, work, server.url_for("/conda-forge"), template, RELEASE_TAG,
                       factory.record_file, probe, probe_record)


@dataclass(frozen=True)
class Create:
    """One fresh create: its wall time and the time others recorded for themselves."""

    wall_s: float
    calls: list[dict[str, Any]]
    scripts_s: float
    summary: dict[str, Any]

    @property
    def standin_s(self) -> float:
        return sum(own_time(c) for c in self.calls)

    @property
    def own_s(self) -> float:
        return self.wall_s - self.standin_s - self.scripts_s


# ------------------------------------------------------------------------------ the bench
class Bench:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.home = work / "home"
        self.home.mkdir()
        self.env = base_env(self.home)
        self.report = Report()
        self.medians: dict[str, float] = {}
        self.online_create_s: float | None = None
        self.project: Project | None = None  # the first one created: no-op and pack use it

    def add(self, row: Row) -> None:
        self.report.rows.append(row)
        progress(f"{row.metric}: {row.measured} [{row.verdict}]")

    # -- start-up -------------------------------------------------------------------------
    def startup(self) -> None:
        commands: dict[str, list[str | Path]] = {
            "mambaboot --version": [EXE, "--version"], "mambaboot --help": [EXE, "--help"],
            "hello-world onefile": [HELLO.exe], "hello-world, mambaboot's modules bundled":
            [HELLO_BUNDLED.exe], "python -c pass": [sys.executable, "-c", "pass"]}
        progress(f"start-up: {STARTUP_WARMUP} warm-up + {STARTUP_RUNS} runs of each, "
                 "interleaved")
        samples: dict[str, list[float]] = {label: [] for label in commands}
        for i in range(STARTUP_WARMUP + STARTUP_RUNS):
            for label, argv in commands.items():
                spent, proc = timed(argv, self.env, cwd=self.work)
                check(proc, label)
                if i >= STARTUP_WARMUP:
                    samples[label].append(spent)
        self.medians = {label: median(values) for label, values in samples.items()}
        floor, python = self.medians["hello-world onefile"], self.medians["python -c pass"]
        for flag in ("--version", "--help"):
            value = self.medians[f"mambaboot {flag}"]
            self.add(Row(f"start-up `mambaboot {flag}` (median of {STARTUP_RUNS})",
                         seconds(value), f"hello-world onefile {seconds(floor)}; "
                         f"`python -c pass` {seconds(python)}",
                         f"{value / floor:.2f} x floor (≤ {STARTUP_RATIO_MAX} x)",
                         at_most(value / floor, STARTUP_RATIO_MAX, " x")))
        self.startup_details(samples)

    def startup_details(self, samples: dict[str, list[float]]) -> None:
        floor = self.medians["hello-world onefile"]
        bundled = self.medians["hello-world, mambaboot's modules bundled"]
        ours = self.medians["mambaboot --version"]
        lines = ["| command | min | median | max |", "|---|---|---|---|"]
        lines += [f"| {label} | {seconds(min(v))} | {seconds(median(v))} | {seconds(max(v))} |"
                  for label, v in samples.items()]
        lines += ["", "Where the `--version` start-up above the floor goes (medians):", "",
                  f"- {1000 * (bundled - floor):+.0f} ms from what is bundled: the same "
                  "hello-world with every bootstrap module (and so requests, truststore, ...) "
                  "collected but not imported: a larger archive to unpack, more runtime hooks",
                  f"- {1000 * (ours - bundled):+.0f} ms from what runs: imports and argparse "
                  "in `main(['--version'])`"]
        hooks = runtime_hooks(EXE) - runtime_hooks(HELLO.exe)
        if hooks:
            lines.append(f"- runtime hooks that run at every start and the hello-world does not "
                         f"have: {', '.join(f'`{h}`' for h in sorted(hooks))}")
        self.report.section("Start-up", lines)

    def imports(self) -> None:
        lines: list[str] = []
        bad: dict[str, list[str]] = {}
        for flag in ("--version", "--help"):
            forbidden, roots, total_us = startup_imports([flag])
            bad[flag] = forbidden
            shown = ", ".join(f"`{m.name}` {m.cumulative_us / 1000:.1f} ms (by `{m.parent}`)"
                              for m in roots) or "none"
            lines.append(f"- `{flag}`: {len(roots)} imports beyond an argparse-only CLI, "
                         f"{total_us / 1000:.1f} ms of import time in all: {shown}")
        lines.append("")
        lines.append("Measured from source with `python -X importtime` (least of "
                     f"{IMPORT_PROBE_RUNS} runs; cumulative times include what each pulls "
                     "in). The floor is a bare argparse parser with one subcommand.")
        self.report.section("Start-up imports beyond argparse (candidates to trim)", lines)
        found = sorted({m for names in bad.values() for m in names})
        self.add(Row("`--version`/`--help` import requests, urllib3, truststore, "
                     "bootstrap.download", ", ".join(found) or "none of them",
                     "source, `-X importtime`", "none",
                     "ok" if not found else f"**missed**: imports {', '.join(found)}"))

    # -- create, no-op ----------------------------------------------------------------------
    def create(self, lb: Loopback) -> None:
        progress(f"create: {CREATE_RUNS} fresh creates, stand-in micromamba, loopback channel")
        runs = [self.one_create(lb, i) for i in range(CREATE_RUNS)]
        self.online_create_s = median([r.wall_s for r in runs])
        own = median([r.own_s for r in runs])
        bias = self.standin_bias(lb)
        net = median([r.own_s - len(r.calls) * bias for r in runs])
        calls = len(runs[0].calls)
        self.add(Row(f"own overhead during create (median of {CREATE_RUNS} fresh creates)",
                     seconds(own), f"wall {seconds(self.online_create_s)} - micromamba "
                     f"{seconds(median([r.standin_s for r in runs]))} ({calls} runs) - "
                     f"script {seconds(median([r.scripts_s for r in runs]))}",
                     f"< {OVERHEAD_MAX_S} s", at_most(own, OVERHEAD_MAX_S, " s", strict=True)))
        self.add(Row("own overhead, net of the stand-in's interpreter start-up", seconds(net),
                     f"{calls} x {seconds(bias)}: the stand-in's Python start-up before it "
                     "records its start (a real micromamba does not pay it)",
                     f"< {OVERHEAD_MAX_S} s", at_most(net, OVERHEAD_MAX_S, " s", strict=True)))
        self.create_details(runs, bias)

    def one_create(self, lb: Loopback, index: int) -> Create:
        project = lb.project(f"project-{index}")
        self.project = self.project or project
        summary_file = project.root / "summary.json"
        before = len(lb.calls())
        wall, proc = timed([EXE, *project.args("--json", str(summary_file))], self.env)
        check(proc, "mambaboot create")
        scripts = read_jsonl(project.root / "script-times.jsonl")
        if not scripts:
            raise BenchError("the timing post-install script did not run")
        summary = json.loads(summary_file.read_text("utf-8")) if summary_file.is_file() else {}
        return Create(wall, lb.calls()[before:], sum(s["end"] - s["start"] for s in scripts),
                      summary)

    def standin_bias(self, lb: Loopback) -> float:
        """Wall time of the stand-in minus what it records: its Python start-up and
        imports (and compiling itself: a script has no .pyc), which a real (C++)
        micromamba does not pay."""
        samples: list[float] = []
        for _ in range(BIAS_RUNS):
            spent, proc = timed([lb.probe, "--version"], self.env)
            check(proc, "stand-in --version")
            call = read_jsonl(lb.probe_record)[-1]
            samples.append(spent - own_time(call))
        return median(samples)

    def create_details(self, runs: list[Create], bias: float) -> None:
        lines = []
        for i, run in enumerate(runs, 1):
            stages = ", ".join(f"{s['stage']} {s['seconds']:.3f}"
                               for s in run.summary.get("stages", [])) or "-"
            lines.append(f"- create {i}: wall {seconds(run.wall_s)}, micromamba "
                         f"{seconds(run.standin_s)}, script {seconds(run.scripts_s)}, own "
                         f"{seconds(run.own_s)} (outcome {run.summary.get('outcome', '?')}; "
                         f"stages in s: {stages})")
        for call in runs[0].calls:
            args = [a for a in call["argv"][1:] if not a.startswith("/")]
            lines.append(f"- micromamba `{' '.join(args[:4])} ...` (create 1): "
                         f"{seconds(own_time(call))} by its own clock, "
                         f"+ about {seconds(bias)} of stand-in start-up")
        startup = self.medians.get("mambaboot --version")
        if startup is not None:
            lines.append(f"- the onefile start-up alone (the `--version` median, "
                         f"{seconds(startup)}) is part of the overhead")
        lines.append("- the overhead also holds the children mambaboot starts itself: the "
                     "verify probes (python, conda, mamba) and the script's interpreter "
                     "start-up")
        self.report.section("Where a create's time goes", lines)

    def noop(self, lb: Loopback) -> None:
        if self.project is None:
            raise BenchError("no-op re-run: no environment was created")
        calls_before = len(lb.calls())
        requests_before = len(lb.server.requests)
        progress(f"no-op re-run: {NOOP_RUNS} runs")
        samples = []
        for _ in range(NOOP_RUNS):
            spent, proc = timed([EXE, *self.project.args()], self.env)
            check(proc, "mambaboot create (no-op)")
            if "Nothing to do" not in proc.stdout:
                raise BenchError("the re-run did not report 'Nothing to do': "
                                 + proc.stdout.strip()[-300:])
            samples.append(spent)
        value = median(samples)
        starts = len(lb.calls()) - calls_before
        requests = len(lb.server.requests) - requests_before
        self.add(Row(f"no-op re-run on a complete environment (median of {NOOP_RUNS})",
                     seconds(value), f"fresh create {seconds(self.online_create_s or 0)}",
                     f"< {NOOP_MAX_S} s", at_most(value, NOOP_MAX_S, " s", strict=True)))
        self.add(Row("no-op re-run: micromamba started", f"{starts} times in {NOOP_RUNS} runs "
                     f"({requests} HTTP requests)", "-", "0",
                     "ok" if starts == 0 else f"**missed**: {starts} micromamba runs"))

    # -- update in place ---------------------------------------------------------------------
    def update(self, lb: Loopback) -> None:
        """One added package in place against a --force rebuild, with the stand-in and
        (where it runs) the real micromamba."""
        from bench import update

        progress(f"update: {update.RUNS} rounds of add, remove, --force rebuild, stand-in")
        try:
            times = {"stand-in micromamba": update.measure(EXE, lb.project("update-standin"),
                                                           self.env)}
            for label, base in (("real micromamba 2.8.1", update.BASE_SPECS),
                                ("real micromamba 2.8.1, larger environment",
                                 (*update.BASE_SPECS, "benchbase"))):
                with update.real_project(self.work, label.replace(" ", "-")) as real:
                    if real is None:
                        break
                    real.script("10-bench-timing.py", TIMING_SCRIPT)
                    progress(f"update: {update.RUNS} rounds, {label}")
                    times[label] = update.measure(EXE, real, self.env, base=base)
        except update.UpdateError as err:
            raise BenchError(f"update in place: {err}") from err
        lines = []
        for label, t in times.items():
            add, rebuild = median(t.add), median(t.rebuild)
            self.add(Row(f"update in place, one added package, vs a `--force` rebuild "
                         f"({label}, median of {update.RUNS})", seconds(add),
                         f"`--force` rebuild {seconds(rebuild)}",
                         f"{t.ratio:.2f} x rebuild", "info"))
            lines.append(f"- {label}: add {', '.join(seconds(x) for x in t.add)}; remove "
                         f"{', '.join(seconds(x) for x in t.remove)} (median "
                         f"{seconds(median(t.remove))}); rebuild "
                         f"{', '.join(seconds(x) for x in t.rebuild)}; the update added "
                         f"{', '.join(t.added) or 'nothing'} (stages in s: "
                         f"{t.stages or '-'})")
        lines.append(f"- the larger environment has `benchbase` among its specs: "
                     f"{update.FILLERS} more packages of {update.FILLER_FILES} files each, "
                     f"{update.FILLERS * update.FILLER_FILES} files (a real python, conda "
                     "and mamba link several thousand), which a rebuild links again and an "
                     "update leaves alone")
        lines.append("- each round: the config gains `benchextra` (an update: `micromamba "
                     "install`), loses it (an update: `micromamba remove`), then `--force` "
                     "rebuilds the same environment (delete, create, finish, verify, and the "
                     "post-install script, which sleeps 0.2 s, again); the updates run "
                     "finish and verify again but no script")
        self.report.section("Update in place against a rebuild", lines)

    # -- offline bundle ---------------------------------------------------------------------
    def offline(self, lb: Loopback) -> None:
        """``pack`` the first project, then create from the bundle alone (fresh envs
        folder), against the median fresh online create."""
        metric = "offline-bundle create vs online create"
        _, proc = timed([EXE, "pack", "--help"], self.env)
        if proc.returncode != 0:
            self.add(Row(metric, "not available yet (pack/offline not implemented)",
                         verdict="n/a"))
            return
        if self.project is None or self.online_create_s is None:
            raise BenchError("offline create: no online create to compare with")
        bundle = self.work / "bundle"
        progress("offline: pack, then create --offline from the bundle")
        pack_s, proc = timed([EXE, "pack", "--out", bundle, "--config", self.project.config],
                             self.env)
        check(proc, "mambaboot pack")
        requests_before = len(lb.server.requests)
        summary_file = self.work / "offline.json"
        offline_s, proc = timed(
            [EXE, "create", "--offline", "--config", bundle / "mambaboot.toml", "--envs-dir",
             self.work / "offline-envs", "--no-pause", "--json", summary_file], self.env)
        check(proc, "mambaboot create --offline")
        outcome = json.loads(summary_file.read_text("utf-8")).get("outcome", "?") \
            if summary_file.is_file() else "?"
        requests = len(lb.server.requests) - requests_before
        online = self.online_create_s
        self.add(Row(metric, f"{seconds(offline_s)} (outcome {outcome}, {requests} HTTP "
                     f"requests; pack took {seconds(pack_s)})", f"online {seconds(online)}",
                     f"{offline_s / online:.2f} x online",
                     "info" if requests == 0 and outcome == "created"
                     else f"**check**: outcome {outcome}, {requests} HTTP requests"))

    # -- download --------------------------------------------------------------------------
    def download(self, server: LoopbackServer) -> None:
        curl = shutil.which("curl")
        metric = "download throughput, 15 MiB from loopback"
        if curl is None:
            self.add(Row(metric, "curl not found: no reference", verdict="n/a"))
            return
        data = os.urandom(DOWNLOAD_BYTES)
        url = server.add("/bench/micromamba-sized.bin", data)
        server.add("/bench/micromamba-sized.bin.sha256",
                   hashlib.sha256(data).hexdigest().encode(), "text/plain")
        progress(f"download: 1 warm-up + {DOWNLOAD_RUNS} runs each of curl and mambaboot")
        ours, theirs = [], []
        with download_folder(self.work) as folder:
            for _ in range(DOWNLOAD_RUNS + 1):
                dest = folder / "curl.bin"
                _, proc = timed([curl, "-sSf", "-o", dest, "-w", "%{time_total}", url],
                                self.env)
                check(proc, "curl")
                dest.unlink()
                theirs.append(float(proc.stdout.strip().replace(",", ".")))
                dest = folder / "ours.bin"
                _, proc = timed([sys.executable, "-I", "-c", DOWNLOADER, str(REPO), url,
                                 str(dest)], self.env)
                check(proc, "bootstrap.download")
                dest.unlink()
                ours.append(float(json.loads(proc.stdout)))
            where = "tmpfs" if folder.is_relative_to(SHM) else str(folder)
        ours_s, curl_s, hash_ms = median(ours[1:]), median(theirs[1:]), sha256_ms(data)
        ratio = curl_s / ours_s
        self.add(Row(metric, f"{DOWNLOAD_BYTES / MB / ours_s:.0f} MB/s ({seconds(ours_s)})",
                     f"curl {DOWNLOAD_BYTES / MB / curl_s:.0f} MB/s ({seconds(curl_s)})",
                     f"{ratio:.2f} x curl (≥ {DOWNLOAD_RATIO_MIN} x)",
                     at_least(ratio, DOWNLOAD_RATIO_MIN, " x")))
        self.report.section("Download", [
            f"- files written to {where}, deleted after each run, so the disk's writeback "
            "does not decide; each client is a process of its own and times the transfer "
            "only (curl's `time_total`; mambaboot's `download()` without its imports)",
            f"- mambaboot samples: {', '.join(f'{1000 * t:.0f}' for t in ours[1:])} ms; "
            f"curl: {', '.join(f'{1000 * t:.0f}' for t in theirs[1:])} ms",
            f"- mambaboot also streams the sha256 (curl does not): {hash_ms:.0f} ms for "
            f"15 MiB on this machine; against curl plus that hashing ({curl_s * 1000:.0f} + "
            f"{hash_ms:.0f} ms) the ratio would be {(curl_s + hash_ms / 1000) / ours_s:.2f} x"])

    # -- size ------------------------------------------------------------------------------
    def size(self) -> None:
        from PyInstaller.archive.readers import CArchiveReader

        size = EXE.stat().st_size / MB
        ours = CArchiveReader(str(EXE))
        theirs = CArchiveReader(str(HELLO.exe)) if HELLO.exe.is_file() else None
        floor = f"hello-world {HELLO.exe.stat().st_size / MB:.2f} MB" if theirs else "-"
        self.add(Row("size of dist/mambaboot", f"{size:.2f} MB", floor,
                     f"< {SIZE_MAX_MB:g} MB", at_most(size, SIZE_MAX_MB, " MB", strict=True)))
        hello_toc: dict[str, Any] = dict(theirs.toc) if theirs else {}
        entries = sorted(ours.toc.items(), key=lambda kv: -kv[1][2])
        lines = ["| entry | stored | unpacked | in the hello-world too |", "|---|---|---|---|"]
        lines += [f"| `{name}` | {e[1] / MB:.2f} MB | {e[2] / MB:.2f} MB | "
                  f"{'yes' if name in hello_toc else '**no**'} |"
                  for name, e in entries[:TOP_ENTRIES]]
        extra = sorted((n for n in ours.toc if n not in hello_toc),
                       key=lambda n: -ours.toc[n][1])
        extra_mb = sum(ours.toc[n][1] for n in extra) / MB
        lines += ["", f"Not in the hello-world ({len(extra)} entries, {extra_mb:.2f} MB stored): "
                  + ", ".join(f"`{n}` {ours.toc[n][1] / MB:.2f}" for n in extra)]
        lines += ["", *self.pyz_packages(ours)]
        self.report.section(f"What dominates dist/mambaboot (top {TOP_ENTRIES} of "
                            f"{len(ours.toc)} entries in PyInstaller's TOC)", lines)

    @staticmethod
    def pyz_packages(reader: Any) -> list[str]:
        """The Python packages in the PYZ archive by stored (compressed) size."""
        name = next((n for n, e in reader.toc.items() if e[4] == "z"), None)
        if name is None:
            return []
        pyz = reader.open_embedded_archive(name)
        by_package: dict[str, int] = {}
        for module, entry in pyz.toc.items():
            package = str(module).split(".")[0]
            by_package[package] = by_package.get(package, 0) + int(entry[2])
        top = sorted(by_package.items(), key=lambda kv: -kv[1])[:TOP_ENTRIES]
        return [f"Inside `{name}` ({sum(by_package.values()) / MB:.2f} MB, by top-level "
                "package): " + ", ".join(f"`{p}` {b / MB:.2f} MB" for p, b in top)]


# ------------------------------------------------------------------------------ output
def machine() -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, text=True,
                            capture_output=True, check=False).stdout.strip() or "unknown"
    return (f"{os.cpu_count()} cores (nproc), {platform.machine()}, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}, "
            f"{pyinstaller_version_safe()}, commit {commit}")


def pyinstaller_version_safe() -> str:
    try:
        return f"PyInstaller {pyinstaller_version()}"
    except BenchError:
        return "PyInstaller ?"


def render(report: Report, took_s: float) -> str:
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    lines = ["# mambaboot benchmark", "",
             f"Measured {now} on {machine()}; the run took {took_s:.0f} s.", "",
             "| metric | measured | reference | ratio / target | verdict |",
             "|---|---|---|---|---|"]
    lines += [f"| {r.metric} | {r.measured} | {r.reference} | {r.target} | {r.verdict} |"
              for r in report.rows]
    for title, body in report.sections:
        lines += ["", f"## {title}", "", *body]
    lines += ["", "## How to rerun", "",
              "`make bench` (runs `make build` first when the sources changed). "
              "Numbers are from one run on one machine: compare ratios, not seconds, and rerun "
              "before trusting a small difference.", ""]
    return "\n".join(lines)


def run(report_to: Path) -> int:
    if not EXE.is_file():
        print(f"{EXE} is missing: run `make build` first.", file=sys.stderr)
        return 2
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mambaboot-bench-") as tmp:
        bench = Bench(Path(tmp))
        for step in (HELLO.build, HELLO_BUNDLED.build, bench.startup, bench.imports,
                     bench.size):
            guarded(bench, step)
        with loopback(Path(tmp)) as lb:
            for step in (lambda: bench.create(lb), lambda: bench.noop(lb),
                         lambda: bench.update(lb), lambda: bench.offline(lb),
                         lambda: bench.download(lb.server)):
                guarded(bench, step)
    text = render(bench.report, time.monotonic() - started)
    print(text)
    report_to.write_text(text, encoding="utf-8")
    progress(f"written to {report_to.relative_to(REPO)}")
    return 0


def guarded(bench: Bench, step: Callable[[], object]) -> None:
    """Run one measurement; a failed command becomes an ``error`` row, not a crash."""
    try:
        step()
    except (BenchError, OSError, subprocess.SubprocessError) as err:
        bench.add(Row("error", str(err).replace("|", "/")[:400], verdict="**error**"))


def main() -> int:
    return run(RESULTS)


if __name__ == "__main__":
    sys.exit(main())
