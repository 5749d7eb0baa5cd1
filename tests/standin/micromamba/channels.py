"""Network access (proxies, TLS, retries, curl-like errors) and channels/repodata
(contract 6.3, Appendix D/E).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import re
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .common import BUG_REPORT, MambaError, cfg, log, say
from .config import Ctx, expand


class FetchError(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def is_loopback(host: str | None) -> bool:
    return bool(host) and (host in ("localhost", "::1") or str(host).startswith("127."))


def proxy_for(url: str) -> str | None:
    parts = urllib.parse.urlsplit(url)
    proxies = urllib.request.getproxies()
    if not proxies.get(parts.scheme) or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return proxies[parts.scheme]


def ssl_context(ctx: Ctx | None) -> ssl.SSLContext | None:
    if ctx is None:
        return None
    verify = (ctx.value("ssl_verify") or "").strip()
    if verify.lower() in ("false", "<false>", "0", "no"):
        return ssl._create_unverified_context()  # noqa: S323
    cafile = ctx.value("cacert_path") or (verify if verify and verify != "true" else None)
    return ssl.create_default_context(cafile=cafile) if cafile else None


def curl_error(url: str, exc: BaseException) -> FetchError:
    text = str(exc).lower()
    host = urllib.parse.urlsplit(url).hostname or ""
    port = urllib.parse.urlsplit(url).port or 80
    if isinstance(exc, TimeoutError) or "timed out" in text:
        return FetchError(f"Download error (28) Timeout was reached [{url}]\n"
                          "Operation timed out")
    if isinstance(exc, ConnectionRefusedError) or "refused" in text:
        return FetchError(f"Download error (7) Couldn't connect to server [{url}]\n"
                          f"Failed to connect to {host} port {port} after 0 ms: "
                          "Couldn't connect to server")
    if "incompleteread" in type(exc).__name__.lower() or "incomplete" in text:
        return FetchError(f"Download error (18) Transferred a partial file [{url}]\n"
                          "end of response with bytes missing")
    return FetchError(f"Download error (52) Server returned nothing (no headers, no status "
                      f"code) [{url}]\nEmpty reply from server")


def _http_once(url: str, ctx: Ctx | None) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": f"mamba/{cfg('version')}"})
    timeout = float(cfg("http_timeout_s"))
    with urllib.request.urlopen(request, timeout=timeout, context=ssl_context(ctx)) as resp:
        return bytes(resp.read())


def probe_head(url: str, ctx: Ctx | None) -> int | None:
    """One HEAD request, no retries; the status, or None when nothing answered."""
    request = urllib.request.Request(url, method="HEAD",
                                     headers={"User-Agent": f"mamba/{cfg('version')}"})
    try:
        with urllib.request.urlopen(request, timeout=float(cfg("http_timeout_s")),
                                    context=ssl_context(ctx)) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        return int(exc.code)
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException):
        return None


def fetch_url(url: str, ctx: Ctx | None = None) -> bytes:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        path = urllib.request.url2pathname(parts.path)
        try:
            return Path(path).read_bytes()
        except OSError as exc:
            raise FetchError(f"Download error (37) Couldn't read a file:// file [{url}]\n"
                             f"Couldn't open file {path}") from exc
    if parts.scheme not in ("http", "https"):
        raise FetchError(f"Download error (1) Unsupported protocol [{url}]")
    proxy = proxy_for(url)
    proxy_host = urllib.parse.urlsplit(proxy).hostname if proxy else None
    if proxy and not is_loopback(proxy_host):  # never leave the machine, not even via a proxy
        raise FetchError(f"Download error (5) Couldn't resolve proxy name [{url}]\n"
                         f"Could not resolve proxy: {proxy_host}")
    if not is_loopback(parts.hostname) and (parts.scheme == "https" or not proxy):
        raise FetchError(f"Download error (6) Couldn't resolve host name [{url}]\n"
                         f"Could not resolve host: {parts.hostname}")
    return _fetch_with_retries(url, ctx)


def _fetch_with_retries(url: str, ctx: Ctx | None) -> bytes:
    attempts, wait = 4, float(cfg("retry_wait_s"))
    for attempt in range(attempts):
        retry = attempt < attempts - 1
        try:
            return _http_once(url, ctx)
        except urllib.error.HTTPError as exc:
            body = exc.read()
            exc.close()
            if not (retry and exc.code in (408, 429, 500, 502, 503, 504)):
                raise FetchError(f"Transfer finalized, status: {exc.code} [{url}] "
                                 f"{len(body)} bytes", exc.code) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            error = curl_error(url, reason if isinstance(reason, BaseException) else exc)
            if not retry:
                raise error from None
        except http.client.HTTPException as exc:  # IncompleteRead and friends
            if not retry:
                raise curl_error(url, exc) from None
        log("warning", f"Retrying in {wait:g} seconds")
        time.sleep(wait)
        wait *= 2
    raise FetchError(f"Download error [{url}]")


def aggregate(errors: list[str], bug_report: bool = True) -> str:
    text = ("Multiple errors occurred:\n" if len(errors) > 1 else "") + "".join(
        e + "\n" for e in errors)
    return (text + BUG_REPORT) if bug_report else text.rstrip("\n")


# --------------------------------------------------------------------------- channels, repodata


@dataclass(frozen=True)
class Channel:
    spec: str
    url: str


def resolve_channel(spec: str, alias: str) -> list[Channel]:
    spec = spec.strip()
    if spec in ("nodefaults", ""):
        return []
    if spec == "defaults":
        return [Channel("pkgs/main", "https://repo.anaconda.com/pkgs/main"),
                Channel("pkgs/r", "https://repo.anaconda.com/pkgs/r")]
    if "://" in spec:
        return [Channel(spec, spec.rstrip("/"))]
    if spec.startswith(("/", "./", "../", "~")) or re.match(r"^[A-Za-z]:[\\/]", spec):
        return [Channel(spec, Path(expand(spec)).as_uri())]
    return [Channel(spec, f"{alias.rstrip('/')}/{spec.strip('/')}")]


def expand_vars(text: str) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)",
                  lambda m: os.environ.get(m.group(1) or m.group(2), m.group(0)), text)


def configured_channels(ctx: Ctx, from_file: list[str]) -> list[Channel]:
    names = ctx.many("channels") + [expand_vars(c) for c in from_file]
    if not ctx.flag("override_channels"):
        env_channels = [c for c in (ctx.env("CONDA_CHANNELS") or "").split(",") if c.strip()]
        rc_channels = ctx.rc.get("channels") if isinstance(ctx.rc.get("channels"), list) else []
        names += env_channels + [str(c) for c in rc_channels or []]
    if not names:
        names = ["conda-forge"]
    alias = ctx.value("channel_alias") or "https://conda.anaconda.org"  # never fetched
    out: list[Channel] = []
    for name in names:
        out += [c for c in resolve_channel(name, alias) if c.url not in {o.url for o in out}]
    return out


def cache_key(subdir_url: str) -> str:
    return hashlib.md5(subdir_url.rstrip("/").encode() + b"/").hexdigest()[:8]  # noqa: S324


def get_repodata(ctx: Ctx, url: str, cache_dir: Path) -> dict[str, Any] | None:
    key = cache_key(url.rsplit("/", 1)[0])
    cached = cache_dir / f"{key}.json"
    if ctx.flag("offline"):
        return json.loads(cached.read_text(encoding="utf-8")) if cached.is_file() else None
    data = fetch_url(url, ctx)
    cache_dir.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(data)
    state = {"url": url, "mod": "", "etag": "", "cache_control": "", "size": len(data),
             "mtime_ns": cached.stat().st_mtime_ns, "has_zst": {"value": False}}
    (cache_dir / f"{key}.state.json").write_text(json.dumps(state, indent=4), encoding="utf-8")
    try:
        return dict(json.loads(data))
    except ValueError as exc:
        raise FetchError(f"Could not parse repodata at {url}: {exc}") from None


def records_from_repodata(data: Mapping[str, Any], channel: Channel, subdir: str,
                          index: int) -> list[dict[str, Any]]:
    records = []
    for fn, raw in dict(data.get("packages", {})).items():
        record = dict(raw)
        record.update(fn=fn, url=f"{channel.url}/{subdir}/{fn}", channel=channel.url,
                      _channel_index=index)
        record.setdefault("subdir", subdir)
        record.setdefault("build_number", 0)
        record.setdefault("depends", [])
        records.append(record)
    return records


def probe_sharded(ctx: Ctx, subdir_url: str) -> bool:
    """2.8.1 asks for a shard index and a zstd repodata first (HEAD, 404 on plain
    channels; contract Appendix D/E). True when it then falls back to flat repodata."""
    if ctx.flag("offline") or not subdir_url.startswith(("http://", "https://")):
        return False
    probe_head(f"{subdir_url}/repodata.json.zst", ctx)
    return probe_head(f"{subdir_url}/repodata_shards.msgpack.zst", ctx) != 200


def without_token(url: str) -> str:
    return re.sub(r"/t/[^/]+", "", url)


def load_channels(ctx: Ctx, channels: list[Channel], platform: str,
                  pkgs: list[str]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    cache_dir = Path(pkgs[0]) / "cache"
    for index, channel in enumerate(channels):
        for subdir in ("noarch", platform):
            subdir_url = f"{channel.url}/{subdir}"
            flat = probe_sharded(ctx, subdir_url)
            try:
                data = get_repodata(ctx, f"{subdir_url}/repodata.json", cache_dir)
            except FetchError as exc:  # 2.8.1 stops at the first subdir that fails
                raise MambaError(aggregate([exc.message, f"Subdir {without_token(subdir_url)}"
                                                         " not loaded!"])) from None
            if flat:  # said on stdout once the subdir loaded
                say(f"⚠ Shard Index for {subdir_url} not available, falling back to flat "
                    "repodata")
            status = "Using cache" if ctx.flag("offline") else "✔ Done"
            say(f"{'Using Flat Repodata for ' + subdir_url:<90}"
                f"{status if data is not None else 'Missing'}")
            if data is not None:
                records += records_from_repodata(data, channel, subdir, index)
    if ctx.flag("offline"):
        records += cached_package_records(pkgs, len(channels))
    return records


def cached_package_records(pkgs: list[str], index: int) -> list[dict[str, Any]]:
    records = []
    for folder in pkgs:
        for path in sorted(Path(folder).glob("**/info/repodata_record.json")):
            with contextlib.suppress(OSError, ValueError):
                record = dict(json.loads(path.read_text(encoding="utf-8")))
                record["_channel_index"] = index
                records.append(record)
    return records
