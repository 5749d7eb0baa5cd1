"""The package cache: nested cache folders, download, validation and extraction
(contract Appendix D/E).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .channels import FetchError, aggregate, fetch_url
from .common import MambaError, log, quoted, say
from .config import Ctx
from .specs import archive_stem


def cache_folder(pkgs_dir: str, url: str) -> Path:
    """The nested package cache layout: <pkgs>/<scheme>/<host>_<port>/<url dirs>/."""
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "") + (f"_{parts.port}" if parts.port else "")
    dirs = [p for p in urllib.parse.unquote(parts.path).split("/") if p][:-1]
    base = Path(pkgs_dir) / parts.scheme
    return base.joinpath(host, *dirs) if host else base.joinpath(*dirs)


def file_digest(path: Path, algo: str) -> str:
    digest = hashlib.new(algo)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def validation_error(record: Mapping[str, Any], tarball: Path) -> str:
    """PackageFetcher::validate: size, then sha256 if known, else md5. "" when valid."""
    size = int(record.get("size") or 0)
    actual_size = tarball.stat().st_size
    if size and size != actual_size:
        log("error", f"File not valid: file size doesn't match expectation {quoted(str(tarball))}"
                     f"\nExpected: {size}\nActual: {actual_size}\n")
        return "size"
    for key, name in (("sha256", "SHA256"), ("md5", "MD5")):
        expected = str(record.get(key) or "")
        if expected:
            actual = file_digest(tarball, key)
            if actual != expected:
                log("error", f"File not valid: {name} doesn't match expectation "
                             f"{quoted(str(tarball))}\nExpected: {expected}\nActual: {actual}\n")
                return name
            return ""
    return ""


def extracted_is_valid(extracted: Path, record: Mapping[str, Any]) -> bool:
    meta = extracted / "info" / "repodata_record.json"
    if not meta.is_file():
        return False
    try:
        cached = json.loads(meta.read_text(encoding="utf-8"))
    except ValueError:
        return False
    for key in ("sha256", "md5"):
        if record.get(key):
            return cached.get(key) == record.get(key) and files_present(extracted)
    return cached.get("url") == record.get("url") and files_present(extracted)


def files_present(extracted: Path) -> bool:
    """libmamba's ``validate`` with the default safety checks (warn): every file of
    ``info/paths.json`` must be there; a wrong size is only a warning."""
    try:
        paths = json.loads((extracted / "info" / "paths.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True  # an old package without paths.json: nothing to check
    for entry in paths.get("paths", []):
        path = extracted / str(entry["_path"])
        if not path.is_symlink() and not path.exists():
            log("warning", f"Invalid package cache, file '{path}' is missing")
            return False
    return True


def needs_fetch(record: Mapping[str, Any], pkgs_dir: str) -> bool:
    """Whether the package would be downloaded (``--json``'s FETCH): neither a valid
    extracted folder nor a valid archive in the cache."""
    folder = cache_folder(pkgs_dir, str(record["url"]))
    tarball = folder / str(record["fn"])
    if extracted_is_valid(folder / archive_stem(str(record["fn"])), record):
        return False
    return not (tarball.is_file() and not checksum_mismatch(record, tarball))


def extract_package(tarball: Path, extracted: Path) -> None:
    if extracted.exists():
        shutil.rmtree(extracted)
    try:
        with tarfile.open(tarball, "r:bz2") as archive:
            if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4
                archive.extractall(extracted, filter="data")
            else:
                archive.extractall(extracted)  # noqa: S202 - test packages only
    except (tarfile.TarError, OSError, EOFError) as exc:
        say(f"{tarball.name} extraction failed")
        raise MambaError(f"Error when extracting package: {exc}") from None


def write_repodata_record(extracted: Path, record: Mapping[str, Any], tarball: Path) -> None:
    """info/repodata_record.json = the package record, completed by info/index.json."""
    merged = {k: v for k, v in record.items() if not k.startswith("_")}
    index = json.loads((extracted / "info" / "index.json").read_text(encoding="utf-8"))
    for key, value in index.items():
        merged.setdefault(key, value)
    merged["size"] = merged.get("size") or tarball.stat().st_size
    (extracted / "info" / "repodata_record.json").write_text(json.dumps(merged, indent=4),
                                                               encoding="utf-8")


def complete_record(record: dict[str, Any], extracted: Path) -> None:
    data = json.loads((extracted / "info" / "repodata_record.json").read_text(encoding="utf-8"))
    for key, value in data.items():
        record.setdefault(key, value)


def append_urls(paths: list[Path], url: str) -> None:
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(url + "\n")


def checksum_mismatch(record: Mapping[str, Any], tarball: Path) -> bool:
    for key in ("sha256", "md5"):
        if record.get(key):
            return file_digest(tarball, key) != record.get(key)
    return False


def download_package(ctx: Ctx, record: Mapping[str, Any], tarball: Path) -> bool:
    url = str(record["url"])  # downloaded even with --offline, as 2.8.1 does
    try:
        data = fetch_url(url, ctx)
    except FetchError as exc:
        raise MambaError(aggregate([exc.message])) from None
    tarball.parent.mkdir(parents=True, exist_ok=True)
    tarball.write_bytes(data)
    problem = validation_error(record, tarball)
    if problem:
        say(f"{record['fn']} tarball has incorrect {problem}")
        tarball.unlink()
        return False
    return True


def fetch_package(ctx: Ctx, record: dict[str, Any], pkgs_dir: str) -> bool:
    """Download (or reuse), validate and extract one package; False when invalid."""
    folder = cache_folder(pkgs_dir, str(record["url"]))
    tarball = folder / str(record["fn"])
    extracted = folder / archive_stem(str(record["fn"]))
    record["_tarball"], record["_extracted"] = str(tarball), str(extracted)
    if not extracted_is_valid(extracted, record):
        cached = tarball.is_file() and not checksum_mismatch(record, tarball)
        if not cached and not download_package(ctx, record, tarball):
            return False
        extract_package(tarball, extracted)
        write_repodata_record(extracted, record, tarball)
        append_urls([folder / "urls.txt", Path(pkgs_dir) / "urls.txt"], str(record["url"]))
    complete_record(record, extracted)
    return True
