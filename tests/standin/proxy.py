"""A loopback HTTP ``CONNECT`` proxy that records every tunnel it opens.

    with ConnectProxy() as proxy:
        env = {"HTTPS_PROXY": proxy.url}        # http://127.0.0.1:<port>
        ...
        proxy.tunnels                           # ["127.0.0.1:44321", ...]

Only ``CONNECT`` to loopback addresses is served (a test never leaves the machine, not
even through its proxy); anything else is answered 403/405 and logged in ``refused``.
"""

from __future__ import annotations

import select
import socket
import socketserver
import threading

from tests.standin.service import BackgroundServer

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
RELAY_POLL_S = 0.1
IO_TIMEOUT_S = 10.0


class _Handler(socketserver.StreamRequestHandler):
    server: _ProxyServer

    def handle(self) -> None:
        self.connection.settimeout(IO_TIMEOUT_S)
        line = self.rfile.readline(8192).decode("latin-1").strip()
        while self.rfile.readline(8192).strip():  # the request headers are not needed
            pass
        method, _, rest = line.partition(" ")
        target = rest.split(" ", 1)[0]
        owner = self.server.owner
        if method.upper() != "CONNECT":
            owner.record(refused=line)
            self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        host, _, port = target.rpartition(":")
        host = host.strip("[]")
        if host not in LOOPBACK or not port.isdigit():
            owner.record(refused=line)
            self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        try:
            upstream = socket.create_connection((host, int(port)), timeout=IO_TIMEOUT_S)
        except OSError:
            owner.record(refused=line)
            self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        owner.record(tunnel=f"{host}:{port}")
        with upstream:
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.wfile.flush()
            self._relay(upstream)

    def _relay(self, upstream: socket.socket) -> None:
        client = self.connection
        stopping = self.server.owner.stopping
        while not stopping.is_set():
            ready, _, _ = select.select([client, upstream], [], [], RELAY_POLL_S)
            for sock in ready:
                try:
                    data = sock.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                other = upstream if sock is client else client
                try:
                    other.sendall(data)
                except OSError:
                    return


class _ProxyServer(socketserver.ThreadingTCPServer):
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True

    def __init__(self, owner: ConnectProxy) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: socket.socket | tuple[bytes, socket.socket],
                     client_address: tuple[str, int] | str) -> None:
        """Clients hanging up mid-tunnel are expected."""


class ConnectProxy(BackgroundServer[_ProxyServer]):
    """A threaded ``CONNECT`` proxy on 127.0.0.1:<free port>."""

    _kind = "loopback-connect-proxy"

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._tunnels: list[str] = []
        self._refused: list[str] = []

    def _make_server(self) -> _ProxyServer:
        return _ProxyServer(self)

    def record(self, *, tunnel: str = "", refused: str = "") -> None:
        with self._lock:
            if tunnel:
                self._tunnels.append(tunnel)
            if refused:
                self._refused.append(refused)

    @property
    def tunnels(self) -> list[str]:
        """``host:port`` of every tunnel opened, in order."""
        with self._lock:
            return list(self._tunnels)

    @property
    def refused(self) -> list[str]:
        """Request lines that were not served (not CONNECT, or not to loopback)."""
        with self._lock:
            return list(self._refused)

