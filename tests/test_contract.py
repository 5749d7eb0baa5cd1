"""The contract between the stand-in micromamba and the real one: identical probes (flags,
files written, conda-meta records, outputs, requests, exit codes) run against both, each in
a sandbox of its own, and the answers compared. A difference here is a stand-in that would
let a test pass which fails for a user. Skipped, with the reason, without a real binary
(tests/standin/realmm.py)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.standin import probe, realmm
from tests.standin.channel import ChannelFolder, default_packages, write_channel
from tests.standin.fixtures import standin_source, write_executable
from tests.standin.probe import Outcome, Sandbox
from tests.standin.server import LoopbackServer

pytestmark = [pytest.mark.posix, pytest.mark.skipif(bool(realmm.skip_reason()),
                                                    reason=realmm.skip_reason() or "-")]
SPECS = ("python=3.11", "conda", "mamba", "uv", "prefixdata", "packaging")


@dataclass
class Pair:
    standin: Sandbox
    real: Sandbox
    server: LoopbackServer
    created: dict[str, Outcome]

    @property
    def channel(self) -> str:
        return self.server.url_for("/conda-forge")

    def both(self, probe_fn: Callable[[Sandbox], Any]) -> tuple[Any, Any]:
        """``probe_fn`` run for each; (stand-in's answer, real's answer)."""
        return probe_fn(self.standin), probe_fn(self.real)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory,
         real_channel_folder: ChannelFolder) -> Iterator[Pair]:
    base = tmp_path_factory.mktemp("contract")
    nopip = write_channel(base / "nopip",
                          [p for p in default_packages() if p.name != "pip"])
    standin = write_executable(base / "standin-bin" / "micromamba", standin_source({}))
    real = write_executable(base / "real-bin" / "micromamba", realmm.real_bytes())
    # a copy named micromamba: its post-link wrapper and its hints use the file name
    with LoopbackServer() as server:
        server.mount("/conda-forge/", real_channel_folder.root)
        server.mount("/nopip/", nopip.root)
        found = Pair(Sandbox("standin", standin, base / "standin", server),
                     Sandbox("real", real, base / "real", server), server, {})
        for sandbox in (found.standin, found.real):
            before = len(server.requests)
            found.created[sandbox.kind] = sandbox(*probe.create_args(
                sandbox, found.channel, sandbox.prefix(), *SPECS))
            found.created[sandbox.kind + "-requests"] = Outcome(
                0, json.dumps(sandbox.requests_during(before)), "")
        yield found


def same(pair: Pair, probe_fn: Callable[[Sandbox], Any]) -> None:
    standin, real = pair.both(probe_fn)
    assert standin == real


def failure(done: Outcome) -> tuple[int, str]:
    """What a failure is compared by: the exit code and stderr (stdout is progress)."""
    return done.code, done.err


# -- command line --------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["--version"],
    ["--bogus-flag"],
    ["frobnicate"],
    ["create", "-p"],
    ["create", "-r"],
    ["create", "-y", "--log-level", "loud", "-p", "x"],
    ["create", "-y", "--channel-priority", "bogus", "-p", "x"],
    ["create", "-y", "--safety-checks", "maybe", "-p", "x"],
    ["shell", "activate", "-s", "fish2", "-p", "/tmp"],
    ["shell", "activate", "-s", "bash", "-n", "x", "-p", "/tmp"],
    ["run", "-p", "/nonexistent/prefix", "true"],
], ids=" ".join)
def test_command_line_answers_alike(pair: Pair, argv: list[str]) -> None:
    same(pair, lambda sandbox: sandbox(*argv))


def test_bare_activate_fails_alike(pair: Pair) -> None:
    """The advice on stdout names the parent process for the real one; not compared."""
    same(pair, lambda sandbox: failure(sandbox("activate")))


def test_name_and_prefix_together_fail_alike(pair: Pair) -> None:
    def last_lines(sandbox: Sandbox) -> tuple[int, list[str]]:
        done = sandbox("create", "-y", "-n", "x", "-p", sandbox.prefix("np"))
        return done.code, [line for line in done.err.splitlines()
                            if line.startswith(("error", "critical"))]

    same(pair, last_lines)


# -- create --------------------------------------------------------------------------------

def test_create_succeeds_alike_with_hints_on_stdout(pair: Pair) -> None:
    for kind in ("standin", "real"):
        done = pair.created[kind]
        assert (done.code, done.err) == (0, ""), (kind, done.err)
        assert "micromamba activate <base>/env" in done.out, kind
        assert "micromamba run -p <base>/env mycommand" in done.out, kind
        assert "Linking pip-" in done.out and "prefixdata: linked into <base>/env" in done.out


def test_create_asks_the_server_the_same(pair: Pair) -> None:
    assert pair.created["standin-requests"] == pair.created["real-requests"]
    assert "HEAD" in pair.created["real-requests"].out


def test_create_writes_the_same_files(pair: Pair) -> None:
    same(pair, lambda sandbox: probe.files(sandbox.prefix()))
    same(pair, lambda sandbox: probe.cache_layout(sandbox.pkgs))


def test_create_writes_records_of_the_same_shape(pair: Pair) -> None:
    def shapes(sandbox: Sandbox) -> dict[str, Any]:
        return {n: probe.record_shape(r) for n, r in probe.records(sandbox.prefix()).items()}

    same(pair, shapes)

    def requested(sandbox: Sandbox) -> dict[str, Any]:
        return {n: r["requested_spec"] for n, r in probe.records(sandbox.prefix()).items()}

    same(pair, requested)


def test_entry_points_messages_and_registry_alike(pair: Pair) -> None:
    def texts(sandbox: Sandbox) -> dict[str, str]:
        prefix = sandbox.prefix()
        found = {name: sandbox.plain((prefix / "bin" / name).read_text(encoding="utf-8"))
                 for name in ("pip", "pip3", "conda", "prefixdata-tool")}
        found[".messages.txt"] = sandbox.plain(
            (prefix / ".messages.txt").read_text(encoding="utf-8"))
        found["environments.txt"] = sandbox.plain(
            (sandbox.home / ".conda" / "environments.txt").read_text(encoding="utf-8"))
        return found

    same(pair, texts)


def test_env_export_explicit_alike(pair: Pair) -> None:
    same(pair, lambda sandbox: sandbox("env", "export", "--explicit", "--md5", "-r",
                                       sandbox.root, "-p", sandbox.prefix()))


def test_shell_activate_bash_alike(pair: Pair) -> None:
    same(pair, lambda sandbox: sandbox("shell", "activate", "-s", "bash", "-p",
                                       sandbox.prefix()))


@pytest.mark.parametrize("command", [["sh", "-c", "exit 3"], ["no-such-command-here"],
                                     ["sh", "-c", 'echo "$CONDA_PREFIX $PREFIXDATA_HOME"']],
                         ids=["exit-3", "missing", "activated"])
def test_run_alike(pair: Pair, command: list[str]) -> None:
    def ran(sandbox: Sandbox) -> tuple[int, str]:
        done = sandbox("run", "-p", sandbox.prefix(), *command)
        return done.code, done.out

    same(pair, ran)


def test_run_registers_in_the_proc_folder_alike(pair: Pair) -> None:
    def proc_folder(sandbox: Sandbox) -> tuple[int, bool]:
        done = sandbox("run", "-p", sandbox.prefix(), "true")
        return done.code, (sandbox.home / ".cache" / "mamba" / "proc").is_dir()

    same(pair, proc_folder)


# -- failures ------------------------------------------------------------------------------

def test_unsatisfiable_spec_fails_alike(pair: Pair) -> None:
    same(pair, lambda sandbox: failure(sandbox(*probe.create_args(
        sandbox, pair.channel, sandbox.prefix("unsat"), "no-such-package"))))


def test_python_without_pip_in_the_channel_fails_alike(pair: Pair) -> None:
    channel = pair.server.url_for("/nopip")
    same(pair, lambda sandbox: failure(sandbox(*probe.create_args(
        sandbox, channel, sandbox.prefix("nopip"), "python"))))


def test_non_conda_folder_is_refused_alike(pair: Pair) -> None:
    def refused(sandbox: Sandbox) -> tuple[int, str]:
        folder = sandbox.prefix("occupied")
        folder.mkdir(exist_ok=True)
        (folder / "notes.txt").write_text("mine")
        return failure(sandbox(*probe.create_args(sandbox, pair.channel, folder, "uv")))

    same(pair, refused)


def test_tokens_in_urls_are_masked_alike(pair: Pair) -> None:
    channel = pair.server.url_for("/t/secret-token-42/missing-channel")

    def failed(sandbox: Sandbox) -> tuple[int, str]:
        done = sandbox(*probe.create_args(sandbox, channel, sandbox.prefix("tok"), "uv"))
        assert "secret-token-42" not in done.text
        return failure(done)

    same(pair, failed)


# -- offline -------------------------------------------------------------------------------

def test_offline_downloads_a_package_an_interrupted_run_left_incomplete(pair: Pair) -> None:
    """Both download it again despite --offline (contract Appendix E), so mambaboot must
    check the cache first and keep the network away (bootstrap/offline.py)."""
    def offline(sandbox: Sandbox) -> tuple[list[str], int, list[tuple[str, str]]]:
        lost = probe.interrupt_extraction(sandbox.pkgs, "pip")
        args = probe.create_args(sandbox, pair.channel, sandbox.prefix("off"), *SPECS)
        planned = sandbox(*args, "--offline", "--dry-run", "--json")
        fetch = [str(r["fn"]) for r in json.loads(planned.out)["actions"]["FETCH"]]
        before = len(pair.server.requests)
        done = sandbox(*args, "--offline")
        assert lost in fetch
        return fetch, done.code, sandbox.requests_during(before)

    standin, real = pair.both(offline)
    assert standin == real
    assert ("GET", next(p for m, p in real[2] if p.endswith(".tar.bz2"))) in real[2]
