"""Windows figures for bench/results.md, measured under Wine (``make bench-windows``, which
runs this with the Windows Python of devtools/windows) or on real Windows
(``python bench/windows.py`` after building dist/mambaboot.exe):

- the size of dist/mambaboot.exe against a PyInstaller onefile hello-world built the same
  way by the same Windows Python (build.spec's excludes, no UPX, PYTHONHASHSEED=0);
- ``mambaboot.exe --version`` start-up against that hello-world and ``python -c pass``
  (min, median, max of 20 runs after 2 warm-ups);
- the wall time of a fresh create against the Windows stand-in micromamba and a loopback
  channel, and of the no-op re-run (medians).

The section between the ``windows`` markers of bench/results.md is replaced; ``make
bench`` (bench/run.py) keeps it. Like bench/run.py it asserts nothing.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.run import (  # noqa: E402 - the repository first
    HELLO,
    base_env,
    check,
    loopback,
    progress,
    seconds,
    timed,
)

EXE = REPO / "dist" / "mambaboot.exe"
OUT = REPO / "bench" / "out" / "windows"
RESULTS = REPO / "bench" / "results.md"
BEGIN, END = "<!-- windows: bench/windows.py -->", "<!-- /windows -->"
STARTUP_RUNS, WARMUP = 20, 2
CREATE_RUNS, NOOP_RUNS = 3, 5
MB = 1_000_000


def build_hello() -> Path:
    """The hello-world onefile, with bench/run.py's flags, by this Python; cached while the
    PyInstaller version, the Python and the flags stay the same."""
    exe, stamp_file = OUT / "hello.exe", OUT / "stamp.json"
    stamp = {"python": sys.version, "flags": HELLO.flags(),
             "pyinstaller": subprocess.run([sys.executable, "-m", "PyInstaller", "--version"],
                                           capture_output=True, text=True,
                                           check=False).stdout.strip()}
    if exe.is_file() and stamp_file.is_file() and \
            json.loads(stamp_file.read_text("utf-8")) == stamp:
        progress(f"hello-world: cached {exe.relative_to(REPO)}")
        return exe
    progress("hello-world: building with PyInstaller")
    shutil.rmtree(OUT, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="mambaboot-bench-pyi-") as tmp:
        Path(tmp, "hello.py").write_text('print("hello")\n', encoding="utf-8")
        proc = subprocess.run(
            [sys.executable, "-m", "PyInstaller", *HELLO.flags(), "--distpath", "dist",
             "--workpath", "build", "--specpath", ".", "hello.py"], cwd=tmp, text=True,
            capture_output=True, check=False, env={**os.environ, "PYTHONHASHSEED": "0"})
        check(proc, "PyInstaller (hello)")
        OUT.mkdir(parents=True)
        shutil.copy2(Path(tmp, "dist", "hello.exe"), exe)
    stamp_file.write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
    return exe


def startup(argv: list[str], env: dict[str, str]) -> list[float]:
    samples = []
    for index in range(WARMUP + STARTUP_RUNS):
        spent, proc = timed(argv, env)
        check(proc, Path(argv[0]).name)
        if index >= WARMUP:
            samples.append(spent)
    return samples


def spread(samples: list[float]) -> str:
    return " / ".join(seconds(x) for x in (min(samples), statistics.median(samples),
                                           max(samples)))


def creates(work: Path, env: dict[str, str]) -> tuple[list[float], list[float], str]:
    """Fresh creates (each in a project of its own) and no-op re-runs of the first; the
    stages of the last create as mambaboot reports them."""
    fresh, noop, stages = [], [], ""
    with loopback(work) as lb:
        projects = [lb.project(f"create-{n}") for n in range(CREATE_RUNS)]
        for project in projects:  # its timing script reads /proc: nothing to time here
            shutil.rmtree(project.scripts)
        for project in projects:
            summary = project.root / "summary.json"
            spent, proc = timed([EXE, *project.args("--json", str(summary))], env)
            check(proc, "mambaboot.exe create")
            fresh.append(spent)
            data = json.loads(summary.read_text("utf-8"))
            stages = ", ".join(f"{s['stage']} {s['seconds']:.2f}" for s in data["stages"])
        for _ in range(NOOP_RUNS):
            spent, proc = timed([EXE, *projects[0].args()], env)
            check(proc, "mambaboot.exe create (no-op)")
            noop.append(spent)
    return fresh, noop, stages


def wine_version() -> str:
    import ctypes

    ntdll = getattr(ctypes, "WinDLL")("ntdll")  # noqa: B009 - Windows only
    getter = getattr(ntdll, "wine_get_version", None)
    if getter is None:
        return "Windows " + platform.version()
    getter.restype = ctypes.c_char_p
    return f"Wine {getter().decode()}"


def measure() -> list[str]:
    with tempfile.TemporaryDirectory(prefix="mambaboot-bench-win-") as tmp:
        work = Path(tmp)
        (work / "home").mkdir()
        env = base_env(work / "home")
        hello = build_hello()
        progress(f"start-up: {WARMUP} + {STARTUP_RUNS} runs each")
        ours = startup([str(EXE), "--version"], env)
        floor = startup([str(hello)], env)
        python = getattr(sys, "_base_executable", sys.executable)  # not a venv redirector
        bare = startup([python, "-I", "-c", "pass"], env)
        progress(f"create: {CREATE_RUNS} fresh creates, {NOOP_RUNS} no-op re-runs")
        fresh, noop, stages = creates(work, env)
    ratio = statistics.median(ours) / statistics.median(floor)
    size, hello_size = EXE.stat().st_size / MB, hello.stat().st_size / MB
    machine = (f"{os.cpu_count()} cores, {wine_version()}, Python {platform.python_version()} "
               f"(Windows, {platform.architecture()[0]})")
    return [
        BEGIN,
        "## Windows (mambaboot.exe under Wine)",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} by `make bench-windows` on {machine}.",
        "",
        "| metric | measured | reference | ratio |",
        "|---|---|---|---|",
        f"| size of dist/mambaboot.exe | {size:.2f} MB | hello-world onefile "
        f"{hello_size:.2f} MB | {size / hello_size:.2f} x |",
        f"| start-up `mambaboot.exe --version` (min / median / max of {STARTUP_RUNS}) | "
        f"{spread(ours)} | hello-world onefile {spread(floor)}; `python -c pass` "
        f"{spread(bare)} | {ratio:.2f} x hello-world (median) |",
        f"| fresh create, stand-in micromamba (median of {CREATE_RUNS}) | "
        f"{seconds(statistics.median(fresh))} | - | - |",
        f"| no-op re-run (median of {NOOP_RUNS}) | {seconds(statistics.median(noop))} | "
        f"fresh create | {statistics.median(noop) / statistics.median(fresh):.2f} x |",
        "",
        f"- creates: {', '.join(seconds(x) for x in fresh)}; stages of the last in s: "
        f"{stages}",
        "- under Wine every process start costs far more than on Linux or real Windows "
        "(a onefile program unpacks its runtime into `%TEMP%` at each start, and the stand-in "
        "micromamba is a launcher .exe plus a Python): compare the ratios, not the seconds",
        END,
    ]


def write_section(lines: list[str], results: Path = RESULTS) -> None:
    """Replace the Windows section of ``results`` (or append it)."""
    text = results.read_text(encoding="utf-8") if results.is_file() else ""
    block = "\n".join(lines)
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        text = head + block + rest.partition(END)[2]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    results.write_text(text, encoding="utf-8")


def kept_section(results: Path = RESULTS) -> str:
    """The Windows section of ``results`` as it is (bench/run.py keeps it), or ""."""
    text = results.read_text(encoding="utf-8") if results.is_file() else ""
    if BEGIN not in text or END not in text:
        return ""
    return BEGIN + text.partition(BEGIN)[2].partition(END)[0] + END + "\n"


def main() -> int:
    if not EXE.is_file():
        print(f"{EXE} is missing: build it first (make test-windows, or README).",
              file=sys.stderr)
        return 2
    lines = measure()
    print("\n".join(lines))
    write_section(lines)
    progress(f"written to {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
