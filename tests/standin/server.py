"""A loopback HTTP server for tests: static folders, in-memory routes, Range, fault injection.

    with LoopbackServer() as server:
        server.add("/x.bin", b"data")
        server.fail("/x.bin", 503, retry_after=1)   # next GET/HEAD of /x.bin gets a 503
        requests.get(server.url_for("/x.bin"))

Faults are a per-path FIFO; each request to the path consumes one. Requests are logged in
``server.requests``. HTTP/1.0, one request per connection, so stopping never waits on idle
keep-alive sockets. Absolute request URIs (the server used as an HTTP proxy) are served by
their path, the raw target is kept in the log.
"""

from __future__ import annotations

import collections
import mimetypes
import re
import socket
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.standin.service import BackgroundServer


@dataclass(frozen=True)
class Fault:
    """One-shot misbehaviour for one request.

    kind: ``status`` (send ``status`` with ``headers``/``body``), ``redirect`` (302 to
    ``location``), ``truncate`` (declare the full length, send ``nbytes``, close), ``stall``
    (send headers, wait ``seconds``, then ``then`` = "send" the body or "close"), ``drop``
    (close the connection before any response).
    """

    kind: str
    status: int = 503
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    location: str = ""
    nbytes: int = 0
    seconds: float = 0.0
    then: str = "send"


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str  # decoded path, no query string
    headers: dict[str, str]
    target: str  # the raw request target (absolute URI when used as a proxy)
    fault: str = ""  # kind of the fault applied, "" if none


@dataclass
class Route:
    data: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10

    def log_message(self, format: str, *args: object) -> None:
        """Silence the default stderr access log."""

    def do_GET(self) -> None:
        self._serve(body=True)

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def _serve(self, *, body: bool) -> None:
        owner = self.server.owner
        path = owner.normalize(self.path)
        fault = owner.take_fault(path)
        owner.log_request(RequestRecord(self.command, path, dict(self.headers.items()),
                                        self.path, fault.kind if fault else ""))
        if fault is not None and fault.kind in ("status", "redirect", "drop"):
            self._early_fault(fault)
            return
        found = owner.lookup(path)
        if found is None:
            self._send_simple(404, b"not found\n")
            return
        self._send_content(path, found, body=body, fault=fault)

    def _early_fault(self, fault: Fault) -> None:
        if fault.kind == "drop":
            self.close_connection = True
            return
        if fault.kind == "redirect":
            self._send_simple(302, b"", (("Location", fault.location),))
            return
        self._send_simple(fault.status, fault.body, fault.headers)

    def _send_simple(self, status: int, data: bytes,
                     headers: tuple[tuple[str, str], ...] = ()) -> None:
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _byte_range(self, size: int, allow: bool) -> tuple[int, int] | None:
        header = self.headers.get("Range", "")
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", header.strip())
        if not (allow and match):
            return None
        start = int(match.group(1))
        end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
        return start, end

    def _send_content(self, path: str, route: Route, *, body: bool, fault: Fault | None) -> None:
        data = route.data
        span = self._byte_range(len(data), self.server.owner.range_allowed(path))
        if span is not None and span[0] >= len(data):
            self._send_simple(416, b"", (("Content-Range", f"bytes */{len(data)}"),))
            return
        self.send_response(206 if span else 200)
        if span:
            self.send_header("Content-Range", f"bytes {span[0]}-{span[1]}/{len(data)}")
            data = data[span[0]: span[1] + 1]
        self.send_header("Content-Type", route.content_type)
        self.send_header("Content-Length", str(len(data)))
        if self.server.owner.range_allowed(path):
            self.send_header("Accept-Ranges", "bytes")
        for key, value in route.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if body:
            self._write_body(data, fault)

    def _write_body(self, data: bytes, fault: Fault | None) -> None:
        if fault is not None and fault.kind == "truncate":
            self.wfile.write(data[: fault.nbytes])
            self.wfile.flush()
            self.close_connection = True
            return
        if fault is not None and fault.kind == "stall":
            self.wfile.flush()
            self.server.owner.stopping.wait(fault.seconds)
            if fault.then == "close":
                self.close_connection = True
                return
        self.wfile.write(data)


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins every handler thread
    block_on_close = True

    def __init__(self, owner: LoopbackServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: socket.socket | tuple[bytes, socket.socket],
                     client_address: tuple[str, int] | str) -> None:
        """Clients that hang up (expected with faults) are not errors worth printing."""


class LoopbackServer(BackgroundServer["_Server"]):
    """``ThreadingHTTPServer`` on 127.0.0.1:<free port>, in a thread, with fault injection."""

    _kind = "loopback-http"

    def __init__(self, root: Path | None = None) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._routes: dict[str, Route] = {}
        self._mounts: list[tuple[str, Path]] = [("/", root)] if root else []
        self._faults: dict[str, collections.deque[Fault]] = {}
        self._no_range: set[str] = set()
        self._log: list[RequestRecord] = []

    def _make_server(self) -> _Server:
        return _Server(self)

    def url_for(self, path: str) -> str:
        return self.url + "/" + path.lstrip("/")

    # ---------------------------------------------------------------- content
    def add(self, path: str, data: bytes, content_type: str | None = None, *,
            range_ok: bool = True, headers: dict[str, str] | None = None) -> str:
        """Serve ``data`` at ``path``; returns the full URL."""
        path = self.normalize(path)
        guessed = mimetypes.guess_type(path)[0] or "application/octet-stream"
        with self._lock:
            self._routes[path] = Route(data, content_type or guessed, dict(headers or {}))
            if not range_ok:
                self._no_range.add(path)
        return self.url_for(path) if self._server else path

    def remove(self, path: str) -> None:
        with self._lock:
            self._routes.pop(self.normalize(path), None)

    def mount(self, url_prefix: str, folder: Path) -> None:
        """Serve the files under ``folder`` at ``url_prefix`` (e.g. "/conda-forge/")."""
        with self._lock:
            self._mounts.append(("/" + url_prefix.strip("/") + "/", folder))

    def disable_range(self, path: str, disabled: bool = True) -> None:
        with self._lock:
            (self._no_range.add if disabled else self._no_range.discard)(self.normalize(path))

    # ---------------------------------------------------------------- faults
    def fault(self, path: str, *faults: Fault) -> None:
        with self._lock:
            self._faults.setdefault(self.normalize(path), collections.deque()).extend(faults)

    def fail(self, path: str, status: int = 503, *, times: int = 1,
             retry_after: float | None = None, body: bytes = b"") -> None:
        headers = (("Retry-After", f"{retry_after:g}"),) if retry_after is not None else ()
        self.fault(path, *[Fault("status", status, headers, body)] * times)

    def redirect(self, path: str, location: str) -> None:
        self.fault(path, Fault("redirect", location=location))

    def truncate(self, path: str, nbytes: int) -> None:
        self.fault(path, Fault("truncate", nbytes=nbytes))

    def stall(self, path: str, seconds: float, then: str = "send") -> None:
        self.fault(path, Fault("stall", seconds=seconds, then=then))

    def drop(self, path: str, times: int = 1) -> None:
        self.fault(path, *[Fault("drop")] * times)

    def pending_faults(self, path: str) -> int:
        with self._lock:
            return len(self._faults.get(self.normalize(path), ()))

    # ---------------------------------------------------------------- request log
    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._log)

    def requests_for(self, path: str) -> list[RequestRecord]:
        path = self.normalize(path)
        return [r for r in self.requests if r.path == path]

    def clear_log(self) -> None:
        with self._lock:
            self._log.clear()

    # ---------------------------------------------------------------- used by the handler
    @staticmethod
    def normalize(target: str) -> str:
        parts = urllib.parse.urlsplit(target)
        path = urllib.parse.unquote(parts.path or "/")
        return "/" + path.lstrip("/")

    def take_fault(self, path: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(path)
            return queue.popleft() if queue else None

    def log_request(self, record: RequestRecord) -> None:
        with self._lock:
            self._log.append(record)

    def range_allowed(self, path: str) -> bool:
        with self._lock:
            return path not in self._no_range

    def lookup(self, path: str) -> Route | None:
        with self._lock:
            route = self._routes.get(path)
            mounts = list(self._mounts)
        if route is not None:
            return route
        for prefix, folder in sorted(mounts, key=lambda m: -len(m[0])):
            if not path.startswith(prefix) and path + "/" != prefix:
                continue
            candidate = (folder / path[len(prefix):]).resolve()
            if candidate.is_file() and candidate.is_relative_to(folder.resolve()):
                content_type = mimetypes.guess_type(candidate.name)[0]
                return Route(candidate.read_bytes(), content_type or "application/octet-stream")
        return None
