"""TLS and proxy faults (issue 5): a mirror behind a private CA (a corporate proxy that
inspects HTTPS), https -> http redirects, verification that cannot be switched off from the
environment, and downloads through a ``CONNECT`` proxy given by HTTPS_PROXY / NO_PROXY."""

from __future__ import annotations

import hashlib
import ssl
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from bootstrap import download
from bootstrap.errors import EXIT_NETWORK, DownloadError
from tests.conftest import IP_CERT_REFUSED, Mambaboot
from tests.project import Project
from tests.standin.containment import Containment
from tests.standin.fixtures import MicromambaRelease, host_subdir, publish_release
from tests.standin.netenv import closed_port, plain_network
from tests.standin.proxy import ConnectProxy
from tests.standin.server import LoopbackServer
from tests.standin.tls import (
    OTHER_CA,
    HttpsLoopbackServer,
    PrivateCA,
    cannot_make_ca,
    make_private_ca,
)

fault = pytest.mark.fault
pytestmark = pytest.mark.skipif(cannot_make_ca() is not None, reason=str(cannot_make_ca()))
PAYLOAD = b"#!/bin/sh\necho 2.8.1\n"
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture(autouse=True)
def network_env(isolated_home: Path, monkeypatch: pytest.MonkeyPatch
                ) -> Iterator[pytest.MonkeyPatch]:
    """In-process downloads see no proxy or CA variables of the machine running the tests."""
    with plain_network(monkeypatch) as patch:
        yield patch


@pytest.fixture(scope="session")
def private_ca(tmp_path_factory: pytest.TempPathFactory) -> PrivateCA:
    return make_private_ca(tmp_path_factory.mktemp("private-ca"))


@pytest.fixture(scope="session")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> PrivateCA:
    """A second CA that did not sign the server's certificate."""
    return make_private_ca(tmp_path_factory.mktemp("other-ca"), OTHER_CA)


@pytest.fixture
def https_server(private_ca: PrivateCA) -> Iterator[HttpsLoopbackServer]:
    with HttpsLoopbackServer(private_ca) as server:
        server.add("/mm", PAYLOAD)
        yield server


@pytest.fixture
def connect_proxy() -> Iterator[ConnectProxy]:
    with ConnectProxy() as proxy:
        yield proxy


@pytest.fixture
def https_project(project: Project, micromamba_release: MicromambaRelease,
                  https_server: HttpsLoopbackServer) -> Project:
    """The project with micromamba published on the HTTPS mirror (the channel stays on
    the plain loopback server)."""
    publish_release(https_server, micromamba_release.binary, tag=micromamba_release.version,
                    platforms=micromamba_release.platforms)
    project.write_config(url=https_server.url + "/releases/download/{version}/"
                                                "micromamba-{platform}")
    return project


def https_asset(release: MicromambaRelease) -> str:
    return release.asset_path(f"micromamba-{host_subdir()}")


def contained(project: Project, home: Path, tmp_path: Path) -> Containment:
    return Containment(tmp_path, watched=[home, project.root],
                       allowed=[project.prefix, project.cache])


def options(**kw: object) -> download.NetOptions:
    return download.NetOptions(retries=0, connect_timeout_s=5, read_timeout_s=5,
                               backoff_s=0.01, **kw)  # type: ignore[arg-type]


# -- a private CA ---------------------------------------------------------------------------

@fault("tls", "mirror certificate from a private CA, nothing configured",
       expect="exit 4 `TLS certificate ... is not trusted`; hint: corporate root CA into the "
              "OS store, or --ca-bundle")
def test_private_ca_fails_by_default_with_the_corporate_ca_hint(
        mambaboot: Mambaboot, https_project: Project, micromamba_release: MicromambaRelease,
        https_server: HttpsLoopbackServer, isolated_home: Path, tmp_path: Path) -> None:
    box = contained(https_project, isolated_home, tmp_path)
    result = mambaboot(*https_project.args(), env=box.env, cwd=box.cwd)
    assert result.code == EXIT_NETWORK, result.text
    assert "TLS certificate of 127.0.0.1 is not trusted" in result.err
    assert "corporate" in result.err and "--ca-bundle" in result.err
    assert https_server.requests == [], "no request was sent over the untrusted connection"
    assert micromamba_release.calls() == []
    box.check()


@pytest.mark.skipif(sys.platform != "linux", reason="SSL_CERT_FILE is the Linux trust store")
@fault("tls", "private CA in the OS trust store (SSL_CERT_FILE, through truststore)",
       expect="exit 0; micromamba fetched over the verified connection")
def test_private_ca_in_the_os_trust_store_is_trusted(
        mambaboot: Mambaboot, https_project: Project, micromamba_release: MicromambaRelease,
        https_server: HttpsLoopbackServer, private_ca: PrivateCA, isolated_home: Path,
        tmp_path: Path) -> None:
    box = contained(https_project, isolated_home, tmp_path)
    result = mambaboot(*https_project.args(), cwd=box.cwd,
                       env={**box.env, "SSL_CERT_FILE": str(private_ca.ca_cert)})
    assert result.code == 0, result.text
    assert https_project.receipt()["complete"] is True
    assert len(https_server.requests_for(https_asset(micromamba_release))) == 1
    box.check()


@pytest.mark.wine_gap(IP_CERT_REFUSED)
@fault("tls", "private CA given with --ca-bundle",
       expect="exit 0; micromamba fetched; micromamba gets --cacert-path")
def test_private_ca_given_with_ca_bundle_is_trusted(
        mambaboot: Mambaboot, https_project: Project, micromamba_release: MicromambaRelease,
        https_server: HttpsLoopbackServer, private_ca: PrivateCA, isolated_home: Path,
        tmp_path: Path) -> None:
    box = contained(https_project, isolated_home, tmp_path)
    result = mambaboot(*https_project.args("--ca-bundle", str(private_ca.ca_cert)),
                       env=box.env, cwd=box.cwd)
    assert result.code == 0, result.text
    assert len(https_server.requests_for(https_asset(micromamba_release))) == 1
    (create,) = [c for c in micromamba_release.calls() if "create" in c["argv"]]
    at = create["argv"].index("--cacert-path")
    assert create["argv"][at + 1] == str(private_ca.ca_cert)
    box.check()


@fault("tls", "--ca-bundle with a CA that did not sign the mirror's certificate",
       expect="exit 4: an unrelated CA in the bundle does not make the mirror trusted")
def test_ca_bundle_of_another_ca_still_verifies(https_server: HttpsLoopbackServer,
                                                other_ca: PrivateCA, tmp_path: Path) -> None:
    with pytest.raises(DownloadError) as caught:
        download.download(https_server.url_for("/mm"), tmp_path / "mm",
                          options(ca_bundle=other_ca.ca_cert), expected_sha256=PAYLOAD_SHA,
                          what="micromamba")
    assert "not trusted" in caught.value.message
    assert not (tmp_path / "mm").exists()


@fault("tls", "environment that would switch verification off (CURL_CA_BUNDLE='' ...)",
       expect="still exit 4 against the untrusted mirror: never silently disabled")
def test_tls_verification_cannot_be_switched_off_from_the_environment(
        https_server: HttpsLoopbackServer, tmp_path: Path,
        network_env: pytest.MonkeyPatch) -> None:
    for name in ("CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "PYTHONHTTPSVERIFY", "SSL_CERT_FILE"):
        network_env.setenv(name, "")
    with pytest.raises(DownloadError) as caught:
        download.download(https_server.url_for("/mm"), tmp_path / "mm", options(),
                          expected_sha256=PAYLOAD_SHA, what="micromamba")
    assert "not trusted" in caught.value.message


@pytest.mark.wine_gap(IP_CERT_REFUSED)
@fault("tls", "--ca-bundle while REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE name another bundle",
       expect="exit 0: the command line outranks the environment (README precedence)")
def test_ca_bundle_option_outranks_ca_bundle_variables(
        mambaboot: Mambaboot, https_project: Project, private_ca: PrivateCA,
        other_ca: PrivateCA, isolated_home: Path, tmp_path: Path) -> None:
    box = contained(https_project, isolated_home, tmp_path)
    elsewhere = {"REQUESTS_CA_BUNDLE": str(other_ca.ca_cert),
                 "CURL_CA_BUNDLE": str(other_ca.ca_cert)}
    result = mambaboot(*https_project.args("--ca-bundle", str(private_ca.ca_cert)),
                       env={**box.env, **elsewhere}, cwd=box.cwd)
    assert result.code == 0, result.text
    assert https_project.receipt()["complete"] is True
    box.check()


@pytest.mark.wine_gap(IP_CERT_REFUSED)
@fault("network", "redirect from https to http",
       expect="exit 4 `Refusing redirect from https`; the http URL is never requested")
def test_https_to_http_redirect_is_refused(
        mambaboot: Mambaboot, https_project: Project, micromamba_release: MicromambaRelease,
        https_server: HttpsLoopbackServer, http_server: LoopbackServer, private_ca: PrivateCA,
        isolated_home: Path, tmp_path: Path) -> None:
    sha_path = https_asset(micromamba_release) + ".sha256"
    https_server.redirect(sha_path, http_server.url_for(sha_path))
    box = contained(https_project, isolated_home, tmp_path)
    result = mambaboot(*https_project.args("--ca-bundle", str(private_ca.ca_cert)),
                       env=box.env, cwd=box.cwd)
    assert result.code == EXIT_NETWORK, result.text
    assert "Refusing redirect from https to http://" in result.err
    assert http_server.requests_for(sha_path) == []
    assert micromamba_release.calls() == []
    box.check()


# -- proxies --------------------------------------------------------------------------------

@pytest.mark.wine_gap(IP_CERT_REFUSED)
@fault("proxy", "HTTPS_PROXY: a CONNECT proxy in the way",
       expect="exit 0; every download tunnelled through the proxy; micromamba's child gets "
              "the same HTTPS_PROXY and NO_PROXY")
def test_downloads_go_through_the_proxy_and_micromamba_inherits_it(
        mambaboot: Mambaboot, https_project: Project, micromamba_release: MicromambaRelease,
        https_server: HttpsLoopbackServer, connect_proxy: ConnectProxy, private_ca: PrivateCA,
        isolated_home: Path, tmp_path: Path) -> None:
    box = contained(https_project, isolated_home, tmp_path)
    proxy_env = {"HTTPS_PROXY": connect_proxy.url, "NO_PROXY": "example.invalid"}
    result = mambaboot(*https_project.args("--ca-bundle", str(private_ca.ca_cert)),
                       env={**box.env, **proxy_env}, cwd=box.cwd)
    assert result.code == 0, result.text
    mirror = f"127.0.0.1:{https_server.port}"
    assert connect_proxy.tunnels == [mirror, mirror], "the .sha256 and the binary"
    assert connect_proxy.refused == []
    calls = micromamba_release.calls()
    assert calls, "micromamba ran"
    for call in calls:
        assert {k: call["env"].get(k) for k in proxy_env} == proxy_env, call["argv"]
    box.check()


@pytest.mark.wine_gap(IP_CERT_REFUSED)
@fault("proxy", "NO_PROXY names the mirror",
       expect="the proxy is bypassed for that host (and used without NO_PROXY)")
def test_no_proxy_bypasses_the_proxy(https_server: HttpsLoopbackServer,
                                     connect_proxy: ConnectProxy, private_ca: PrivateCA,
                                     tmp_path: Path, network_env: pytest.MonkeyPatch) -> None:
    opts = options(ca_bundle=private_ca.ca_cert)
    url = https_server.url_for("/mm")
    network_env.setenv("HTTPS_PROXY", connect_proxy.url)
    download.download(url, tmp_path / "via-proxy", opts, expected_sha256=PAYLOAD_SHA,
                      what="micromamba")
    assert connect_proxy.tunnels == [f"127.0.0.1:{https_server.port}"]
    network_env.setenv("NO_PROXY", "127.0.0.1")
    download.download(url, tmp_path / "direct", opts, expected_sha256=PAYLOAD_SHA,
                      what="micromamba")
    assert len(connect_proxy.tunnels) == 1, "no tunnel for a NO_PROXY host"
    assert len(https_server.requests_for("/mm")) == 2


@fault("proxy", "HTTPS_PROXY points at nothing",
       expect="exit 4 naming the proxy error; the hint shows the HTTPS_PROXY value in use")
def test_unreachable_proxy_is_named(https_server: HttpsLoopbackServer, private_ca: PrivateCA,
                                    tmp_path: Path, network_env: pytest.MonkeyPatch) -> None:
    proxy = f"http://127.0.0.1:{closed_port()}"
    network_env.setenv("HTTPS_PROXY", proxy)
    with pytest.raises(DownloadError) as caught:
        download.download(https_server.url_for("/mm"), tmp_path / "mm",
                          options(ca_bundle=private_ca.ca_cert), expected_sha256=PAYLOAD_SHA,
                          what="micromamba")
    assert "proxy" in caught.value.message.lower()
    assert f"HTTPS_PROXY={proxy}" in caught.value.hint
    assert https_server.requests == []


def test_a_refused_certificate_masked_by_a_later_error_is_still_not_trusted() -> None:
    """Wine's crypt32 fails (E_INVALIDARG) while freeing a chain it refused: the error that
    reaches requests is a connection error caused by the refusal."""
    refused = ssl.SSLCertVerificationError("Certificate chain policy error 0x800b010f [0]")
    try:
        try:
            raise refused
        except ssl.SSLError:
            raise OSError(22, "Invalid parameter.") from None  # cleanup, as under Wine
    except OSError as masked:
        masked.__context__ = refused
        error = requests.exceptions.ConnectionError(masked)
        error.__context__ = masked
    found = download._classify(error, "https://127.0.0.1:1/mm")
    assert isinstance(found, DownloadError)
    assert found.message == ("TLS certificate of 127.0.0.1 is not trusted: Certificate chain "
                             "policy error 0x800b010f [0]")
    assert "--ca-bundle" in found.hint
