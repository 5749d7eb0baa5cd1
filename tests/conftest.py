"""Shared fixtures: an isolated HOME for every test, the mambaboot runner (source or the
frozen executable, chosen by parametrisation), and the loopback project used end to end."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.project import Project
from tests.standin import realmm, reliability
from tests.standin.containment import VERDICTS as CONTAINMENT_VERDICTS
from tests.standin.fixtures import *  # noqa: F403 - stand-in micromamba, channel, server
from tests.standin.fixtures import CondaChannel, MicromambaRelease

REPO = Path(__file__).resolve().parents[1]
IS_WINDOWS = os.name == "nt"
_SCRUB = ("CONDA_", "MAMBA_", "MAMBABOOT_", "PYTHONHOME", "PYTHONPATH", "VIRTUAL_ENV",
          "CONDARC", "MAMBARC", "PYTHON_ENVS", "PY_ENVS", "NO_COLOR", "CI")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-network", action="store_true",
                     help="run tests that need the real internet (marker 'network')")


@pytest.hookimpl(tryfirst=True)  # before the fixtures' own params (mambaboot's)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked ``conformance`` run against the stand-in and the real micromamba (the
    real one skips with the reason when this machine has none). With the real binary they
    run from source only (``conformance(frozen=True)``: frozen too), which keeps the suite's
    time in bounds; the stand-in runs keep both."""
    mark = metafunc.definition.get_closest_marker("conformance")
    if mark is None or "micromamba_kind" not in metafunc.fixturenames:
        return
    reason = realmm.skip_reason()
    real = [pytest.mark.skipif(bool(reason), reason=reason)]
    if "mambaboot" not in metafunc.fixturenames:
        metafunc.parametrize("micromamba_kind", [realmm.STANDIN, pytest.param(
            realmm.REAL, marks=real)], indirect=True)
        return
    combos = [pytest.param("source", realmm.STANDIN, id="source-standin"),
              pytest.param("frozen", realmm.STANDIN, marks=pytest.mark.frozen,
                           id="frozen-standin"),
              pytest.param("source", realmm.REAL, marks=real, id="source-real")]
    if mark.kwargs.get("frozen"):
        combos.append(pytest.param("frozen", realmm.REAL, marks=[*real, pytest.mark.frozen],
                                   id="frozen-real"))
    combos = [c for c in combos if c.values[0] in KINDS]  # MAMBABOOT_TEST_KINDS
    # as a marker, so that mambaboot's own params (source, frozen) give way to these
    metafunc.definition.add_marker(pytest.mark.parametrize(
        ("mambaboot", "micromamba_kind"), combos, indirect=True))


def _kinds() -> list[str]:
    """The ways tests run mambaboot: ``source`` and ``frozen``, or those that
    MAMBABOOT_TEST_KINDS names (``make test-windows`` runs the frozen exe only under Wine,
    where each run costs seconds: the same code runs from source on Linux and on Windows
    in the GitHub workflow)."""
    wanted = [k.strip() for k in os.environ.get("MAMBABOOT_TEST_KINDS", "").split(",")
              if k.strip()] or ["source", "frozen"]
    unknown = set(wanted) - {"source", "frozen"}
    if unknown:
        raise pytest.UsageError(f"MAMBABOOT_TEST_KINDS: unknown {sorted(unknown)}; "
                                "use source, frozen or both")
    return wanted


KINDS = _kinds()  # read before the autouse fixture scrubs MAMBABOOT_* variables


def _under_wine() -> bool:
    """Wine's ntdll exports ``wine_get_version``; Windows' own never does."""
    if not IS_WINDOWS:
        return False
    import ctypes

    return hasattr(getattr(ctypes, "WinDLL")("ntdll"), "wine_get_version")  # noqa: B009


UNDER_WINE = _under_wine()
# What Wine 10 does not do, seen under `make test-windows` (evidence: docs/windows.md).
# Mark a test `pytest.mark.wine_gap(REASON)` only for one of these.
NO_JUNCTIONS = "_winapi.CreateJunction and mklink /J fail with WinError 50"
NO_SYMLINKS = "os.symlink reports success but creates nothing"
PERCENT_IN_DP0 = "cmd expands %VAR% inside the folder name that %~dp0 and %~f0 give"
IP_CERT_REFUSED = ("the chain policy refuses a certificate for 127.0.0.1 from a CA given with "
                   "--ca-bundle (truststore: 0x800b010f CERT_E_CN_NO_MATCH, then "
                   "E_INVALIDARG while freeing the chain)")
NO_CTRL_BREAK = ("a console's Ctrl+Break ends each process with exit code 1, calling no "
                 "console control handler")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for gap in item.iter_markers("wine_gap"):
            if not gap.args or not str(gap.args[0]).strip():
                raise pytest.UsageError(f"{item.nodeid}: wine_gap needs the reason")
            if UNDER_WINE:
                item.add_marker(pytest.mark.skip(reason=f"Wine gap: {gap.args[0]}"))
        if "network" in item.keywords and not config.getoption("--run-network"):
            item.add_marker(pytest.mark.skip(reason="needs the internet: --run-network"))
        if "windows" in item.keywords and not IS_WINDOWS:
            item.add_marker(pytest.mark.skip(reason="Windows only"))
        if "posix" in item.keywords and IS_WINDOWS:
            item.add_marker(pytest.mark.skip(reason="POSIX only"))


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """HOME and every cache in tmp_path; fails a test that leaves os.environ or the working
    directory changed."""
    home = tmp_path / "home"
    home.mkdir()
    for name in list(os.environ):
        if name.startswith(_SCRUB):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("USERPROFILE", str(home))
    for var, sub in (("XDG_CACHE_HOME", "cache"), ("XDG_CONFIG_HOME", "config"),
                     ("XDG_DATA_HOME", "data"), ("XDG_STATE_HOME", "state")):
        monkeypatch.setenv(var, str(tmp_path / "xdg" / sub))
    env_before, cwd_before = _environ(), Path.cwd()
    yield home
    assert Path.cwd() == cwd_before, "the test changed the working directory"
    assert _environ() == env_before, "the test changed os.environ"


def _environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}


def tree(root: Path) -> dict[str, int]:
    """Every file under ``root`` with its size: a snapshot to compare before/after."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): (p.lstat().st_size if not p.is_dir() else -1)
            for p in sorted(root.rglob("*"))}


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@dataclass
class Mambaboot:
    """Runs mambaboot as a separate process: from source (``python -m bootstrap``) or as
    the built executable."""

    kind: str
    argv: list[str]
    home: Path
    env: dict[str, str] = field(default_factory=dict)

    def base_env(self) -> dict[str, str]:
        env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(self.home),
               "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "NO_COLOR": "1",
               "MAMBABOOT_BACKOFF_S": "0.01"}
        if IS_WINDOWS:
            env.update({k: os.environ[k] for k in ("SystemRoot", "COMSPEC", "TEMP", "TMP")
                        if k in os.environ})
            env["USERPROFILE"] = str(self.home)
        if "TMPDIR" in os.environ:
            env["TMPDIR"] = os.environ["TMPDIR"]
        return {**env, **self.env}

    def popen(self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
              replace_env: bool = False, stdin: int = subprocess.DEVNULL,
              creationflags: int = 0) -> subprocess.Popen[str]:
        full_env = env if replace_env and env is not None else {**self.base_env(), **(env or {})}
        return subprocess.Popen([*self.argv, *args], env=full_env, cwd=cwd, text=True,
                                stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                encoding="utf-8", errors="replace", creationflags=creationflags)

    def __call__(self, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
                 timeout: float = 180, replace_env: bool = False,
                 input: str | None = None) -> Result:
        """Run to the end; ``input`` is written to its standard input (else: none)."""
        stdin = subprocess.DEVNULL if input is None else subprocess.PIPE
        proc = self.popen(*args, env=env, cwd=cwd, replace_env=replace_env, stdin=stdin)
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"mambaboot timed out:\n{out}\n{err}") from None
        return Result(proc.returncode, out, err)


# read once at import: the autouse fixture scrubs every MAMBABOOT_* variable before a test
TEST_EXE = os.environ.get("MAMBABOOT_TEST_EXE", "")


def frozen_exe() -> Path | None:
    given = TEST_EXE
    exe = Path(given) if given else REPO / "dist" / ("mambaboot.exe" if IS_WINDOWS else "mambaboot")
    return exe if exe.is_file() else None


def _require_frozen() -> Path:
    exe = frozen_exe()
    if exe is None:
        if TEST_EXE:
            pytest.fail(f"MAMBABOOT_TEST_EXE={TEST_EXE} does not exist")
        pytest.skip("dist/mambaboot is not built (make build)")
    return exe


def _source_argv() -> list[str]:
    """mambaboot from source. On Windows a venv's ``python.exe`` is a redirector that runs
    the real interpreter as its child: it would come between mambaboot and a console's
    Ctrl+Break (and cost a process per run), so the real one runs with the venv's
    site-packages added."""
    start = f"sys.path.insert(0, {str(REPO)!r}); from bootstrap.cli import main; " \
            "raise SystemExit(main())"
    base = getattr(sys, "_base_executable", sys.executable)
    if not IS_WINDOWS or sys.prefix == sys.base_prefix or not base:
        return [sys.executable, "-c", f"import sys; {start}"]
    import site

    sites = [p for p in site.getsitepackages() if p.startswith(sys.prefix)]
    return [base, "-c", f"import site, sys; [site.addsitedir(p) for p in {sites!r}]; {start}"]


SOURCE_ARGV = _source_argv()


@pytest.fixture(params=[pytest.param(k, marks=pytest.mark.frozen) if k == "frozen" else k
                        for k in KINDS])
def mambaboot(request: pytest.FixtureRequest, isolated_home: Path) -> Mambaboot:
    """mambaboot as a process, once from source and once as the frozen executable."""
    if request.param == "frozen":
        return Mambaboot("frozen", [str(_require_frozen())], isolated_home)
    return Mambaboot("source", list(SOURCE_ARGV), isolated_home)


@pytest.fixture
def frozen(isolated_home: Path) -> Mambaboot:
    """The frozen executable only."""
    return Mambaboot("frozen", [str(_require_frozen())], isolated_home)


@pytest.fixture
def project(tmp_path: Path, conda_channel: CondaChannel,
            micromamba_release: MicromambaRelease) -> Project:
    """A project whose config points at the loopback channel and release."""
    proj = Project(tmp_path / "project", conda_channel.url, micromamba_release.url_template,
                   micromamba_release.version)
    proj.root.mkdir()
    proj.write_config()
    return proj



# -- reliability report (docs/reliability.md) -----------------------------------------------
# Tests marked ``fault(category, description, expect=...)`` are tallied by
# tests/standin/reliability.py; ``fault_count(n)`` reports cases a test tried. A full run
# (``make test``: the testpaths, nothing deselected, not stopped early) writes the table;
# MAMBABOOT_RELIABILITY_REPORT=FILE writes it from any run, to FILE.

_TALLIES = pytest.StashKey[reliability.Tallies]()
_PARTIAL = pytest.StashKey[bool]()
_OUTCOME = pytest.StashKey[str]()
_EXAMPLES = pytest.StashKey[int]()
_REAL = pytest.StashKey[reliability.RealRuns]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_TALLIES] = {}
    config.stash[_PARTIAL] = False
    config.stash[_REAL] = reliability.RealRuns()


def pytest_deselected(items: Sequence[pytest.Item]) -> None:
    if any(item.get_closest_marker("fault") is not None for item in items):
        items[0].config.stash[_PARTIAL] = True


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """pytest-xdist (``make test-windows`` runs workers): a worker's reliability rows and
    real-micromamba outcomes."""
    output = getattr(node, "workeroutput", {})
    for data in output.get("reliability", []):
        reliability.merge(node.config.stash[_TALLIES], data)
    real = node.config.stash[_REAL]
    for test, counts in output.get("real", {}).items():
        real.outcomes.setdefault(test, Counter()).update(counts)


@pytest.fixture
def fault_count(request: pytest.FixtureRequest) -> Callable[[int], None]:
    """``fault_count(n)``: this fault test tried ``n`` more cases (shown in the table)."""

    def add(count: int) -> None:
        request.node.stash[_EXAMPLES] = request.node.stash.get(_EXAMPLES, 0) + count

    return add


def _real_sides(item: pytest.Item) -> tuple[str, ...]:
    """Which micromamba a test ran against, for the real-micromamba section: its
    ``micromamba_kind`` when marked conformance; both for the contract probes."""
    if Path(str(item.fspath)).name == "test_contract.py":
        return (realmm.STANDIN, realmm.REAL)
    params = getattr(getattr(item, "callspec", None), "params", {})
    if item.get_closest_marker("conformance") is not None and "micromamba_kind" in params:
        return (str(params["micromamba_kind"]),)
    return ()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    mark = item.get_closest_marker("fault")
    sides = _real_sides(item)
    if mark is None and not sides:
        return report
    outcome = item.stash.get(_OUTCOME, "passed")
    if report.failed:
        outcome = "failed"
    elif report.skipped and outcome != "failed":
        outcome = "skipped"
    item.stash[_OUTCOME] = outcome
    if report.when != "teardown":
        return report
    for side in sides:
        name = f"{Path(str(item.fspath)).name}::{getattr(item, 'originalname', item.name)}"
        item.config.stash[_REAL].add(name, side, outcome)
    if mark is not None:
        params = getattr(getattr(item, "callspec", None), "params", {})
        flavour = "real" if params.get("micromamba_kind") == realmm.REAL else str(
            params.get("mambaboot", "frozen" if "frozen" in getattr(
                item, "fixturenames", ()) else "in-process"))
        reliability.record(item.config.stash[_TALLIES], mark.args,
                           str(mark.kwargs.get("expect", "")), node_id=item.nodeid,
                           flavour=flavour, outcome=outcome,
                           examples=item.stash.get(_EXAMPLES, 0),
                           contained=CONTAINMENT_VERDICTS.pop(item.nodeid, None))
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int | pytest.ExitCode) -> None:
    config = session.config
    tallies = config.stash.get(_TALLIES, {})
    worker_output = getattr(config, "workeroutput", None)
    if worker_output is not None:  # a pytest-xdist worker: its rows go to the controller
        worker_output["reliability"] = [reliability.to_json(row) for row in tallies.values()]
        worker_output["real"] = {test: dict(counts) for test, counts in
                                 config.stash.get(_REAL, reliability.RealRuns()).outcomes.items()}
        return
    forced = os.environ.get("MAMBABOOT_RELIABILITY_REPORT")
    full = (config.args_source is pytest.Config.ArgsSource.TESTPATHS
            and not config.stash.get(_PARTIAL, False) and not session.shouldstop
            and not session.shouldfail
            and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED))
    if tallies and (forced or full):
        target = Path(forced) if forced else REPO / "docs" / "reliability.md"
        real = config.stash.get(_REAL, reliability.RealRuns())
        real.version = realmm.real_version()
        target.write_text(reliability.markdown(tallies.values(), datetime.date.today(), real),
                          encoding="utf-8")
