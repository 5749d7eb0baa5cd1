"""HTTPS downloads that can be trusted: streamed sha256, verification before anything is
kept, atomic placement, retries with backoff, resume with Range, explicit timeouts, proxies
from the environment, and TLS through the operating system's trust store (truststore) with
a ``--ca-bundle`` override. Plain http only when the user allowed it."""

from __future__ import annotations

import hashlib
import os
import queue
import ssl
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

# The frozen build leaves out requests' charset detector: mambaboot never decodes text
# with it (Response.text), so the warning about its absence is noise.
warnings.filterwarnings("ignore", message="Unable to find acceptable character detection")
import requests  # noqa: E402
import truststore  # noqa: E402
import urllib3  # noqa: E402
from requests.adapters import HTTPAdapter  # noqa: E402

from bootstrap.errors import ChecksumError, ConfigError, DownloadError  # noqa: E402

Progress = Callable[[int, "int | None"], None]
MAX_REDIRECTS = 10
RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}
MAX_RETRY_AFTER_S = 30.0
_CHUNK = 512 * 1024


@dataclass(frozen=True)
class NetOptions:
    """How to reach the network; timeouts can be tuned through MAMBABOOT_* variables."""

    allow_http: bool = False
    ca_bundle: Path | None = None
    connect_timeout_s: float = 15.0
    read_timeout_s: float = 60.0
    retries: int = 4
    backoff_s: float = 0.5

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **kw: Any) -> NetOptions:
        """Tuning from MAMBABOOT_* variables; a value that is not a sensible number
        (negative, zero timeouts, infinite, NaN, text) falls back to the default."""
        def number(name: str, default: float, low: float, high: float) -> float:
            try:
                value = float(environ.get(name, default))
            except ValueError:
                return default
            return value if low <= value <= high else default

        return cls(connect_timeout_s=number("MAMBABOOT_CONNECT_TIMEOUT_S", 15.0, 0.01, 3600),
                   read_timeout_s=number("MAMBABOOT_READ_TIMEOUT_S", 60.0, 0.01, 3600),
                   retries=int(number("MAMBABOOT_RETRIES", 4, 0, 20)),
                   backoff_s=number("MAMBABOOT_BACKOFF_S", 0.5, 0, 60), **kw)


class _Retryable(Exception):
    def __init__(self, message: str, wait_s: float | None = None) -> None:
        super().__init__(message)
        self.wait_s = wait_s


def check_url(url: str, opts: NetOptions) -> None:
    scheme = urlsplit(url).scheme.lower()
    if scheme == "https" or (scheme == "http" and opts.allow_http):
        return
    if scheme == "http":
        raise DownloadError(f"Refusing plain http download: {url}",
                            hint="Use an https URL, or pass --allow-http for a trusted mirror.")
    raise DownloadError(f"Unsupported URL scheme {scheme!r}: {url}",
                        hint="Use an https:// URL.")


def fetch_text(url: str, opts: NetOptions, limit: int = 4096) -> str:
    """A small text resource (a ``.sha256`` file), with the same rules as ``download``."""
    with _session(opts) as session:
        response: requests.Response = _attempts(lambda: _get(session, url, opts, {}), url, opts)
        try:
            data = response.raw.read(limit + 1, decode_content=True)
        finally:
            response.close()
    if len(data) > limit:
        raise DownloadError(f"{url} is larger than expected for a checksum file.")
    return bytes(data).decode("utf-8", "replace")


def probe(url: str, opts: NetOptions) -> int:
    """Fetch the first bytes of ``url`` (proxy, TLS and HTTP all exercised); returns the
    status code, or raises DownloadError like a download would."""
    with _session(opts) as session:
        response: requests.Response = _attempts(lambda: _get(session, url, opts, {}), url, opts)
        response.close()
    return int(response.status_code)


def download(url: str, dest: Path, opts: NetOptions, *, expected_sha256: str | None,
             what: str, progress: Progress | None = None) -> str:
    """Fetch ``url`` to ``dest``: a temporary file beside it, sha256 streamed, verified,
    then renamed into place. Returns the sha256. Nothing is kept on a mismatch."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(f"{dest.name}.{hashlib.sha256(url.encode()).hexdigest()[:8]}.part")
    with _session(opts) as session:
        digest: str = _attempts(lambda: _fetch_to(session, url, part, opts, progress), url,
                                opts)
    if expected_sha256 and digest != expected_sha256.lower():
        part.unlink(missing_ok=True)
        raise ChecksumError(
            f"Checksum mismatch for {what}: expected {expected_sha256.lower()}, got {digest}.",
            hint="The download was discarded; check your mirror or proxy, or the pinned hash.",
        )
    part.replace(dest)
    return digest


def _attempts(action: Callable[[], Any], url: str, opts: NetOptions) -> Any:
    for attempt in range(opts.retries + 1):
        try:
            return action()
        except _Retryable as err:
            if attempt == opts.retries:
                raise _final_error(url, str(err)) from err
            time.sleep(err.wait_s if err.wait_s is not None else opts.backoff_s * 2 ** attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _final_error(url: str, reason: str) -> DownloadError:
    host = urlsplit(url).hostname or url
    proxy = {k: v for k in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy",
                            "NO_PROXY", "no_proxy") if (v := os.environ.get(k))}
    shown = ", ".join(f"{k}={v}" for k, v in proxy.items()) or "no proxy variables are set"
    return DownloadError(
        f"Download from {host} failed: {reason} ({url})",
        hint=f"Check the network connection; behind a proxy set HTTPS_PROXY and NO_PROXY "
             f"({shown}). Without network, use a prepared bundle with --offline.",
    )


def _fetch_to(session: requests.Session, url: str, part: Path, opts: NetOptions,
              progress: Progress | None) -> str:
    """One attempt: resume ``part`` when the server allows it, return the full sha256."""
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    response = _get(session, url, opts, headers)
    digest = _StreamHasher()
    with response, digest:
        if have and response.status_code == 206:
            digest.update(part.read_bytes())
            mode = "ab"
        else:
            have, mode = 0, "wb"
        length = response.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else None
        done = have
        with part.open(mode) as out:  # a disk error here is the file system's, not the net's
            # raw.read in large blocks: iter_content costs a third more time here; a
            # broken connection loses at most the block in flight before the resume
            while block := _read(response, url):
                out.write(block)
                digest.update(block)
                done += len(block)
                if progress:
                    progress(done, total)
        if total is not None and done < total:
            raise _Retryable(f"connection closed after {done} of {total} bytes")
        return digest.hexdigest()


def _read(response: requests.Response, url: str) -> bytes:
    try:
        return bytes(response.raw.read(_CHUNK, decode_content=True))
    except Exception as err:
        raise _classify(err, url) from err


class _StreamHasher:
    """sha256 on a thread of its own while the download goes on: hashlib releases the GIL
    for large blocks, so hashing overlaps the network and disk instead of adding to them."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self._blocks: queue.Queue[bytes | None] = queue.Queue(maxsize=64)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (block := self._blocks.get()) is not None:
            self._digest.update(block)

    def update(self, block: bytes) -> None:
        self._blocks.put(block)

    def hexdigest(self) -> str:
        self._finish()
        return self._digest.hexdigest()

    def _finish(self) -> None:
        if self._thread.is_alive():
            self._blocks.put(None)
            self._thread.join()

    def __enter__(self) -> _StreamHasher:
        return self

    def __exit__(self, *exc: object) -> None:
        self._finish()


def _get(session: requests.Session, url: str, opts: NetOptions,
         headers: dict[str, str]) -> requests.Response:
    """GET with redirects followed by hand, so an https -> http downgrade is refused."""
    for _hop in range(MAX_REDIRECTS + 1):
        check_url(url, opts)
        try:
            response = session.get(url, headers=headers, stream=True, allow_redirects=False,
                                   timeout=(opts.connect_timeout_s, opts.read_timeout_s))
        except Exception as err:
            raise _classify(err, url) from err
        if response.is_redirect:
            target = urljoin(url, response.headers.get("Location", ""))
            response.close()
            if urlsplit(url).scheme == "https" and urlsplit(target).scheme != "https":
                raise DownloadError(f"Refusing redirect from https to {target}",
                                    hint="The server tried to downgrade the connection; "
                                         "use another mirror.")
            url = target
            continue
        if response.status_code in (200, 206):
            return response
        response.close()
        if response.status_code == 416 and "Range" in headers:  # stale partial file
            raise _Retryable("the server rejected resuming; restarting")
        if response.status_code in RETRY_STATUSES:
            raise _Retryable(f"HTTP {response.status_code}", _retry_after(response))
        raise DownloadError(f"HTTP {response.status_code} for {url}",
                            hint=_status_hint(response.status_code))
    raise DownloadError(f"Too many redirects for {url}")


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return min(float(value), MAX_RETRY_AFTER_S) if value.isdigit() else None


def _status_hint(status: int) -> str:
    if status == 404:
        return "Check the version or tag, and the mirror URL template."
    if status in (401, 403, 407):
        return "The server or a proxy refused access; check proxy credentials (HTTPS_PROXY)."
    return "Try again later, or use another mirror."


def _classify(err: Exception, url: str) -> Exception:
    host = urlsplit(url).hostname or url
    # a certificate refused anywhere in the chain: a failure while cleaning up after it
    # (Wine's crypt32 does so) must not turn it into a retried connection error
    refused = any(isinstance(e, ssl.SSLCertVerificationError) for e in _chain(err))
    if isinstance(err, requests.exceptions.SSLError) or refused:
        return DownloadError(
            f"TLS certificate of {host} is not trusted: {_root_cause(err)}",
            hint="On a corporate network that inspects HTTPS, add your company's root CA to "
                 "the operating system's certificate store, or pass --ca-bundle FILE.PEM.",
        )
    if isinstance(err, urllib3.exceptions.ReadTimeoutError):
        return _Retryable(f"{host} stopped sending ({_root_cause(err)})")
    if isinstance(err, urllib3.exceptions.HTTPError):
        return _Retryable(f"the connection to {host} broke: {_root_cause(err)}")
    if isinstance(err, requests.exceptions.ProxyError):
        return _Retryable(f"proxy error: {_root_cause(err)}")
    if isinstance(err, requests.exceptions.Timeout):
        return _Retryable(f"{host} did not answer in time ({_root_cause(err)})")
    if isinstance(err, (requests.exceptions.ConnectionError,
                        requests.exceptions.ChunkedEncodingError, OSError)):
        return _Retryable(f"cannot connect to {host}: {_root_cause(err)}")
    if isinstance(err, requests.exceptions.RequestException):
        return DownloadError(f"Download of {url} failed: {_root_cause(err)}")
    return err


def _chain(err: BaseException) -> Iterator[BaseException]:
    """``err`` and what caused it, down to the first exception."""
    seen: BaseException | None = err
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def _root_cause(err: BaseException) -> str:
    *_, first = _chain(err)
    one = first.args[0] if len(first.args) == 1 else None
    text = one if isinstance(one, str) else str(first)  # ssl.SSLError("x") reads "('x',)"
    return text.split("] ", 1)[-1] if text.startswith("[") else text


class _TrustStoreAdapter(HTTPAdapter):
    """Verifies TLS against the operating system's trust store (truststore): the Windows
    and macOS stores, OpenSSL's default paths on Linux (so SSL_CERT_FILE works); a
    ``--ca-bundle`` adds its CAs to that store rather than replacing it."""

    def __init__(self, extra_ca: Path | None = None) -> None:
        self._context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if extra_ca is not None:
            try:
                self._context.load_verify_locations(cafile=str(extra_ca))
            except (OSError, ssl.SSLError) as err:
                raise ConfigError(f"Cannot use the CA bundle {extra_ca}: {err}",
                                  hint="Give a PEM file with one or more CA certificates "
                                       "(--ca-bundle, [network] ca_bundle).") from err
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["ssl_context"] = self._context
        return super().proxy_manager_for(*args, **kwargs)


@contextmanager
def _session(opts: NetOptions) -> Iterator[requests.Session]:
    session = requests.Session()
    session.mount("https://", _TrustStoreAdapter(opts.ca_bundle))
    try:
        yield session
    finally:
        session.close()
