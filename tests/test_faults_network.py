"""Network faults (issue 5): dropped and truncated transfers, 429/5xx with bounded retries,
stalled and silent servers, DNS failure, refused connections and plain http.

The download logic is exercised in-process (``bootstrap.download.download`` against the
loopback server, short timeouts); what the user sees at the end, exit code 4 with the host
and the proxy hint, runs as a process from source and frozen."""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bootstrap import download
from bootstrap.errors import EXIT_NETWORK, DownloadError
from tests.conftest import Mambaboot
from tests.project import Project
from tests.standin.containment import Containment
from tests.standin.fixtures import MicromambaRelease
from tests.standin.netenv import closed_port, plain_network
from tests.standin.server import LoopbackServer

fault = pytest.mark.fault
PAYLOAD = hashlib.sha256(b"mambaboot fault suite").digest() * 32768  # 1 MiB, four chunks
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()
PATH = "/releases/micromamba-linux-64"


def options(**kw: float | bool) -> download.NetOptions:
    base: dict[str, float | bool] = {"allow_http": True, "connect_timeout_s": 2.0,
                                     "read_timeout_s": 2.0, "retries": 3, "backoff_s": 0.01}
    base.update(kw)
    return download.NetOptions(**base)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def network_env(isolated_home: Path, monkeypatch: pytest.MonkeyPatch
                ) -> Iterator[pytest.MonkeyPatch]:
    """In-process downloads see no proxy or CA variables of the machine running the tests."""
    with plain_network(monkeypatch) as patch:
        yield patch


@pytest.fixture
def served(http_server: LoopbackServer) -> LoopbackServer:
    http_server.add(PATH, PAYLOAD)
    return http_server


def fetch(server: LoopbackServer, dest: Path, opts: download.NetOptions | None = None) -> str:
    return download.download(server.url_for(PATH), dest, opts or options(),
                             expected_sha256=PAYLOAD_SHA, what="micromamba test")


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A URL whose server accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/micromamba"


# -- dropped and truncated transfers --------------------------------------------------------

@fault("network", "connection dropped mid-download, server honours Range",
       expect="resumed with `Range: bytes=N-`; file complete and verified")
def test_dropped_transfer_resumes_with_range(served: LoopbackServer, tmp_path: Path) -> None:
    served.truncate(PATH, 600_000)
    dest = tmp_path / "dl" / "micromamba"
    assert fetch(served, dest) == PAYLOAD_SHA
    assert dest.read_bytes() == PAYLOAD
    first, second = served.requests_for(PATH)
    assert first.fault == "truncate" and "Range" not in first.headers
    start = int(second.headers["Range"].removeprefix("bytes=").rstrip("-"))
    assert 0 < start <= 600_000, "only the missing part was asked for"
    assert list(dest.parent.iterdir()) == [dest], "no partial file left behind"


@fault("network", "connection dropped mid-download, server ignores Range",
       expect="restarted from byte 0; file complete and verified")
def test_dropped_transfer_restarts_without_range_support(served: LoopbackServer,
                                                         tmp_path: Path) -> None:
    served.disable_range(PATH)
    served.truncate(PATH, 600_000)
    dest = tmp_path / "micromamba"
    assert fetch(served, dest) == PAYLOAD_SHA
    assert dest.read_bytes() == PAYLOAD
    assert len(served.requests_for(PATH)) == 2


@fault("network", "connection closed before any response",
       expect="retried; file complete and verified")
def test_connection_dropped_before_the_response_is_retried(served: LoopbackServer,
                                                           tmp_path: Path) -> None:
    served.drop(PATH, times=2)
    assert fetch(served, tmp_path / "micromamba") == PAYLOAD_SHA
    assert [r.fault for r in served.requests_for(PATH)] == ["drop", "drop", ""]


@fault("network", "truncated body on every attempt",
       expect="exit 4 after the bounded retries; names the host; nothing at the target")
def test_truncated_body_on_every_attempt_fails_cleanly(
        served: LoopbackServer, tmp_path: Path, fault_count: Callable[[int], None]) -> None:
    for _ in range(3):
        served.truncate(PATH, 1000)
    dest = tmp_path / "micromamba"
    with pytest.raises(DownloadError) as caught:
        fetch(served, dest, options(retries=2))
    assert caught.value.exit_code == EXIT_NETWORK
    assert "127.0.0.1" in caught.value.message
    assert "HTTPS_PROXY" in caught.value.hint
    assert not dest.exists()
    fault_count(len(served.requests_for(PATH)))
    assert len(served.requests_for(PATH)) == 3


# -- HTTP errors: bounded retries with backoff ----------------------------------------------

@pytest.mark.parametrize("status", [
    pytest.param(429, marks=fault("network", "HTTP 429 twice, then success",
                                  expect="retried (Retry-After honoured); file verified")),
    pytest.param(500, marks=fault("network", "HTTP 500 twice, then success",
                                  expect="retried with backoff; file verified")),
    pytest.param(503, marks=fault("network", "HTTP 503 twice, then success",
                                  expect="retried with backoff; file verified")),
])
def test_retryable_status_then_success(served: LoopbackServer, tmp_path: Path,
                                       status: int) -> None:
    served.fail(PATH, status, times=2, retry_after=0 if status == 429 else None)
    assert fetch(served, tmp_path / "micromamba") == PAYLOAD_SHA
    assert [r.fault for r in served.requests_for(PATH)] == ["status", "status", ""]


@fault("network", "HTTP 503 on every attempt",
       expect="exit 4 after retries+1 attempts with exponential backoff; `HTTP 503` named")
def test_retries_are_bounded_with_exponential_backoff(
        served: LoopbackServer, tmp_path: Path, fault_count: Callable[[int], None]) -> None:
    served.fail(PATH, 503, times=10)
    started = time.monotonic()
    with pytest.raises(DownloadError) as caught:
        fetch(served, tmp_path / "micromamba", options(retries=3, backoff_s=0.05))
    elapsed = time.monotonic() - started
    attempts = len(served.requests_for(PATH))
    fault_count(attempts)
    assert attempts == 4, "retries=3 means four attempts, no more"
    assert elapsed >= 0.05 * (1 + 2 + 4), "waits of 0.05, 0.1 and 0.2 s between attempts"
    assert "HTTP 503" in caught.value.message
    assert not (tmp_path / "micromamba").exists()


@fault("network", "HTTP 503 with Retry-After: 1",
       expect="waited the announced second, then succeeded")
def test_retry_after_is_honoured(served: LoopbackServer, tmp_path: Path) -> None:
    served.fail(PATH, 503, retry_after=1)
    started = time.monotonic()
    assert fetch(served, tmp_path / "micromamba") == PAYLOAD_SHA
    assert 1.0 <= time.monotonic() - started < 10


@fault("network", "HTTP 404",
       expect="exit 4 at once, no retry; hint: check the version or the mirror template")
def test_not_found_is_not_retried(served: LoopbackServer, tmp_path: Path) -> None:
    served.fail(PATH, 404, times=5)
    with pytest.raises(DownloadError) as caught:
        fetch(served, tmp_path / "micromamba")
    assert len(served.requests_for(PATH)) == 1
    assert "HTTP 404" in caught.value.message
    assert "version" in caught.value.hint


# -- stalls and timeouts --------------------------------------------------------------------

@fault("network", "server stalls once after the headers",
       expect="read timeout, retried, file verified")
def test_stall_once_then_success(served: LoopbackServer, tmp_path: Path) -> None:
    served.stall(PATH, 30)
    started = time.monotonic()
    assert fetch(served, tmp_path / "micromamba", options(read_timeout_s=0.3)) == PAYLOAD_SHA
    assert time.monotonic() - started < 5, "the stalled attempt was abandoned after 0.3 s"


@fault("network", "server stalls after the headers on every attempt",
       expect="exit 4 within the timeouts; message says the server timed out")
def test_stalled_server_fails_in_time_with_a_clear_message(served: LoopbackServer,
                                                           tmp_path: Path) -> None:
    for _ in range(2):
        served.stall(PATH, 30)
    started = time.monotonic()
    with pytest.raises(DownloadError) as caught:
        fetch(served, tmp_path / "micromamba", options(read_timeout_s=0.3, retries=1))
    assert time.monotonic() - started < 5
    message = caught.value.message
    assert "127.0.0.1" in message
    assert "timed out" in message or "in time" in message
    assert "cannot connect" not in message, \
        f"the server accepted the connection and sent headers, then stalled: {message!r}"


@fault("network", "server accepts the connection and never answers",
       expect="exit 4 within the timeouts; `did not answer in time`")
def test_silent_server_times_out(silent_server: str, tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(DownloadError) as caught:
        download.download(silent_server, tmp_path / "micromamba",
                          options(read_timeout_s=0.3, retries=1), expected_sha256=PAYLOAD_SHA,
                          what="micromamba test")
    assert time.monotonic() - started < 5
    assert "did not answer in time" in caught.value.message
    assert not (tmp_path / "micromamba").exists()


# -- what the user sees: exit 4, the host, the proxy hint -----------------------------------

def contained(project: Project, home: Path, tmp_path: Path) -> Containment:
    return Containment(tmp_path, watched=[home, project.root],
                       allowed=[project.prefix, project.cache])


def assert_network_failure(result_code: int, text: str, host: str) -> None:
    assert result_code == EXIT_NETWORK, text
    assert host in text
    assert "HTTPS_PROXY" in text, "the proxy hint"
    assert "Traceback" not in text and "Unexpected error" not in text


@fault("network", "DNS failure (host under .invalid)",
       expect="exit 4; names the host; hint HTTPS_PROXY/NO_PROXY and --offline")
def test_dns_failure_exits_4_with_the_host_and_the_proxy_hint(
        mambaboot: Mambaboot, project: Project, micromamba_release: MicromambaRelease,
        isolated_home: Path, tmp_path: Path) -> None:
    box = contained(project, isolated_home, tmp_path)
    result = mambaboot(*project.args("--micromamba", "https://mirror.invalid/micromamba"),
                       env=box.env, cwd=box.cwd)
    assert_network_failure(result.code, result.err, "mirror.invalid")
    assert "--offline" in result.err
    assert not project.prefix.exists()
    assert micromamba_release.calls() == []
    box.check()


@fault("network", "connection refused (closed loopback port)",
       expect="exit 4; names the host and `Connection refused`; hint HTTPS_PROXY")
def test_refused_connection_exits_4_with_the_host_and_the_proxy_hint(
        mambaboot: Mambaboot, project: Project, micromamba_release: MicromambaRelease,
        isolated_home: Path, tmp_path: Path) -> None:
    box = contained(project, isolated_home, tmp_path)
    url = f"https://127.0.0.1:{closed_port()}/micromamba"
    result = mambaboot(*project.args("--micromamba", url), env=box.env, cwd=box.cwd)
    assert_network_failure(result.code, result.err, "127.0.0.1")
    assert "refused" in result.err.lower()
    assert micromamba_release.calls() == []
    box.check()


@fault("network", "plain http mirror without --allow-http",
       expect="exit 4 before any request; hint --allow-http")
def test_plain_http_is_refused_without_allow_http(
        mambaboot: Mambaboot, project: Project, micromamba_release: MicromambaRelease,
        http_server: LoopbackServer, isolated_home: Path, tmp_path: Path) -> None:
    project.config.write_text(project.config.read_text().replace("allow_http = true",
                                                                 "allow_http = false"))
    box = contained(project, isolated_home, tmp_path)
    result = mambaboot(*project.args(), env=box.env, cwd=box.cwd)
    assert result.code == EXIT_NETWORK, result.text
    assert "Refusing plain http" in result.err
    assert "--allow-http" in result.err
    assert not [r for r in http_server.requests if r.path.startswith("/releases/")]
    assert micromamba_release.calls() == []
    box.check()
