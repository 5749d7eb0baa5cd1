"""The life cycle shared by the loopback servers of the tests: a socketserver on
127.0.0.1:<free port>, served by a daemon thread, stopped cleanly (no ResourceWarning)."""

from __future__ import annotations

import socketserver
import threading
from types import TracebackType
from typing import Generic, Self, TypeVar

S = TypeVar("S", bound=socketserver.BaseServer)


class BackgroundServer(Generic[S]):
    """Subclasses say how to make the server (``_make_server``) and how to call it."""

    _kind = "loopback"

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self._server: S | None = None
        self._thread: threading.Thread | None = None

    def _make_server(self) -> S:
        raise NotImplementedError

    def start(self) -> Self:
        if self._server is None:
            self._server = self._make_server()
            self._thread = threading.Thread(target=self._server.serve_forever,
                                            kwargs={"poll_interval": 0.05},
                                            name=f"{self._kind}-{self.port}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server, self._thread = None, None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{self._kind} not started")
        address = self._server.server_address
        if not isinstance(address, tuple):
            raise RuntimeError(f"{self._kind} is not an IP server")
        return int(address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
