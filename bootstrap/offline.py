"""``--offline`` means no network at all (docs/usage.md), which micromamba's own
``--offline`` does not guarantee: 2.8.1 downloads again a cached package whose archive is
missing and whose extracted folder is incomplete, as an interrupted run leaves it (contract
Appendix E). So an offline create here

1. asks micromamba first what it would download (``create --dry-run --json``, its FETCH
   list) and stops, naming those packages, when anything is missing from the cache; and
2. runs micromamba with every proxy variable pointing at a loopback port that is bound
   but never listens, and ``NO_PROXY`` removed: libcurl sends every http(s) request to
   that proxy and fails at once ("Failed to connect to 127.0.0.1 port N", verified with
   2.8.1), while ``file://`` URLs (a bundle) still work.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from bootstrap import environ
from bootstrap.errors import DownloadError
from bootstrap.log import RunLog
from bootstrap.micromamba import Micromamba, run_micromamba
from bootstrap.platform import Platform

# libcurl reads http_proxy in lower case only, the others in either case.
PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                   "ALL_PROXY")
_JSON_START = re.compile(r"^\{", re.MULTILINE)


@contextlib.contextmanager
def network_closed(env: Mapping[str, str], platform: Platform) -> Iterator[dict[str, str]]:
    """``env`` with every request of a child sent to a proxy that refuses connections;
    the port stays bound (so nothing else can listen on it) until the block ends."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        proxy = f"http://127.0.0.1:{sock.getsockname()[1]}"
        closed = {k: v for k, v in env.items() if k.upper() != "NO_PROXY"}
        for name in PROXY_VARIABLES:
            if platform.env_case_insensitive and name.islower():
                continue  # one variable per name on Windows: the upper-case spelling
            environ.put(closed, name, proxy, platform)
        yield closed


def guarded(env: dict[str, str], offline: bool,
            platform: Platform) -> AbstractContextManager[dict[str, str]]:
    """micromamba's environment: as it is, or offline with the network made unreachable."""
    return network_closed(env, platform) if offline else contextlib.nullcontext(env)


def to_download(output: bytes) -> list[str] | None:
    """The packages a ``create --dry-run --json`` would download (FETCH), by file name,
    leaving out ``file://`` ones (a bundle: no network); None when the output holds no
    such report."""
    report = _json_object(output)
    if report is None:
        return None
    fetch = (report.get("actions") or {}).get("FETCH")
    if not isinstance(fetch, list):
        return None
    return [str(p.get("fn") or p.get("url") or p) for p in fetch
            if isinstance(p, dict) and not str(p.get("url", "")).startswith("file:")]


def _json_object(output: bytes) -> dict[str, Any] | None:
    """The first JSON object that starts a line (stderr lines may come before it)."""
    text = output.decode("utf-8", "replace")
    decoder = json.JSONDecoder()
    for match in _JSON_START.finditer(text):
        try:
            found, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        if isinstance(found, dict):
            return found
    return None


def check_cache(mm: Micromamba, create_args: list[str], env: dict[str, str], log: RunLog,
                pkgs_dir: Path, platform: Platform) -> None:
    """Stop before anything is created when the offline create would need a download."""
    with network_closed(env, platform) as closed:
        code, output = run_micromamba(mm, [*create_args, "--dry-run", "--json"], closed,
                                      log, None, capture=True)
    missing = to_download(output) if code == 0 else None
    if missing:  # no report (a failed plan): the create itself fails and says why
        raise DownloadError(
            f"--offline: {len(missing)} package(s) are not in the package cache {pkgs_dir} "
            f"and would have to be downloaded: {', '.join(missing)}.",
            hint="An interrupted run may have left them incomplete. Run once with network "
                 "to fill the cache, or create from a bundle made by 'mambaboot pack' "
                 "(docs/usb.md).")
