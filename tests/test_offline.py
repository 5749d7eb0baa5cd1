"""``--offline`` uses no network (bootstrap/offline.py): a package missing from the cache is
named before anything is created, and micromamba cannot reach the network even where its
own ``--offline`` would download. Against the stand-in and the real micromamba."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from bootstrap import offline
from bootstrap.errors import EXIT_NETWORK
from bootstrap.platform import CURRENT, POSIX, WINDOWS
from tests.conftest import Mambaboot
from tests.project import MICROMAMBA, Project
from tests.standin import probe
from tests.standin.fixtures import CondaChannel, MicromambaRelease, write_executable
from tests.standin.server import LoopbackServer


def test_proxies_point_at_a_closed_port_and_no_proxy_is_gone() -> None:
    base = {"PATH": "/bin", "NO_PROXY": "127.0.0.1", "no_proxy": "*", "HTTPS_PROXY": "x"}
    with offline.network_closed(base, POSIX) as env:
        proxy = env["https_proxy"]
        assert {env[n] for n in offline.PROXY_VARIABLES} == {proxy}
        assert "NO_PROXY" not in env and "no_proxy" not in env and env["PATH"] == "/bin"
        port = int(proxy.rsplit(":", 1)[1])
        import socket

        with pytest.raises(ConnectionRefusedError), socket.create_connection(
                ("127.0.0.1", port), timeout=5):
            pass
    with offline.network_closed({"Path": "C:\\x", "no_proxy": "*"}, WINDOWS) as env:
        assert sorted(env) == ["ALL_PROXY", "HTTPS_PROXY", "HTTP_PROXY", "Path"]


def test_the_download_list_comes_from_the_json_report_after_other_lines() -> None:
    report = {"actions": {"FETCH": [{"fn": "pip-1-0.tar.bz2", "url": "http://h/pip"},
                                    {"fn": "b-1-0.tar.bz2", "url": "file:///stick/b"}]}}
    output = b"warning  libmamba something\n" + json.dumps(report, indent=4).encode()
    assert offline.to_download(output) == ["pip-1-0.tar.bz2"]
    assert offline.to_download(b"critical libmamba boom\n") is None


@pytest.mark.conformance
def test_micromamba_reaches_no_server_in_a_closed_network(
        micromamba_release: MicromambaRelease, conda_channel: CondaChannel,
        tmp_path: Path) -> None:
    """Even a create that is not offline: every request goes to the refusing proxy."""
    exe = write_executable(tmp_path / "bin" / MICROMAMBA, micromamba_release.binary)
    sandbox = probe.Sandbox("any", exe, tmp_path, conda_channel.server)
    args = probe.create_args(sandbox, conda_channel.url, sandbox.prefix(), "uv")
    with offline.network_closed(sandbox.env(), CURRENT) as env:
        done = subprocess.run([str(exe), *args], env=env, capture_output=True, text=True,
                              timeout=120, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert conda_channel.server.requests == []


@pytest.mark.conformance
@pytest.mark.fault("network", "--offline with a package an interrupted run left incomplete",
                   expect="exit 4 naming the package before anything is created; no request "
                          "leaves; with the cache complete the offline create succeeds")
def test_offline_create_names_a_missing_package_and_uses_no_network(
        mambaboot: Mambaboot, project: Project, http_server: LoopbackServer,
        tmp_path: Path) -> None:
    assert mambaboot(*project.args()).code == 0  # fills the package cache
    lost = probe.interrupt_extraction(project.cache / "pkgs", "pip")
    http_server.clear_log()
    target = tmp_path / "offline-env"
    refused = mambaboot(*project.args("--offline", "--prefix", str(target)))
    assert refused.code == EXIT_NETWORK, refused.text
    assert lost in refused.err and "--offline" in refused.err
    assert http_server.requests == [], "nothing was asked of the network"
    assert not target.exists(), "nothing was created"
    refill = mambaboot(*project.args("--prefix", str(tmp_path / "online-again")))
    assert refill.code == 0, refill.text
    http_server.clear_log()
    done = mambaboot(*project.args("--offline", "--prefix", str(target)))
    assert done.code == 0, done.text
    assert http_server.requests == []
    assert (target / "conda-meta" / "mambaboot" / "receipt.json").is_file()
