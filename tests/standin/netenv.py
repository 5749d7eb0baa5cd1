"""The network environment of in-process download tests.

requests reads proxies and CA bundles from ``os.environ`` on every request, so a test that
calls ``bootstrap.download`` in-process would otherwise depend on the machine running it
(CI runners and corporate laptops set REQUESTS_CA_BUNDLE, HTTPS_PROXY, ...).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

NETWORK_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                     "all_proxy", "NO_PROXY", "no_proxy", "REQUESTS_CA_BUNDLE",
                     "CURL_CA_BUNDLE")


@contextmanager
def plain_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No proxy or CA-bundle variables inside the block; the patch it yields sets more,
    and everything is restored when the block ends."""
    with monkeypatch.context() as patch:
        for name in NETWORK_VARIABLES:
            patch.delenv(name, raising=False)
        yield patch


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
