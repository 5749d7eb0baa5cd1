"""micromamba: where it comes from (DESIGN 3.3), and the one function that runs it.

First found wins: ``--micromamba PATH``; a binary in the bundle next to the executable;
the cache ``CACHE/micromamba/<version>/``; a download. A downloaded binary is verified
before it is renamed into place and made executable; a cached one is checked against the
sha256 recorded beside it on every use, and fetched again when it was altered.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import stat
import subprocess
import tarfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bootstrap import checksum, environ, locks
from bootstrap.errors import ChecksumError, DownloadError, MicromambaError
from bootstrap.log import RunLog
from bootstrap.process import Echo, run
from bootstrap.report import ProgressFn, Reporter
from bootstrap.settings import MicromambaRequest, Settings

if TYPE_CHECKING:
    from bootstrap.download import NetOptions

SHA_NAME = "micromamba.sha256"
CACHE_LOCK_TIMEOUT_S = 600.0
SOURCE_NAME = "source.json"
LATEST_TTL_S = 7 * 24 * 3600
VERSION_TIMEOUT_S = 60.0
_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+\S*$")
_EXPLICIT_LINE = re.compile(r"^(#.*|@EXPLICIT\s*|[A-Za-z][A-Za-z0-9+.-]*://\S+)$")


@dataclass(frozen=True)
class Micromamba:
    """A verified micromamba binary that starts."""

    path: Path
    version: str
    sha256: str
    source: str  # "path", "bundle", "cache" or "download"

    def as_json(self) -> dict[str, str]:
        return {"path": str(self.path), "version": self.version, "sha256": self.sha256,
                "source": self.source}


def micromamba_env(settings: Settings, base: Mapping[str, str]) -> dict[str, str]:
    """micromamba's own environment: scrubbed, private root, shared package cache, and a
    private profile so nothing lands in the user's home (DESIGN 3.4)."""
    layout = settings.layout
    redirect = environ.profile_redirect(layout.profile, settings.platform)
    for folder in {redirect[k] for k in ("HOME", "TMPDIR", "XDG_CACHE_HOME")}:
        Path(folder).mkdir(parents=True, exist_ok=True)
    return environ.child_env(base, settings.platform, {
        **redirect,
        "MAMBA_ROOT_PREFIX": str(layout.root),
        "CONDA_PKGS_DIRS": environ.yaml_quoted(str(settings.pkgs_dir)),
    })


def obtain(settings: Settings, base_env: Mapping[str, str], reporter: Reporter,
           log: RunLog) -> Micromamba:
    """Find or fetch micromamba, verify it, and check that it starts. Runs sharing a cache
    take turns (one lock per cached version), so none sees another's half-done download."""
    request = settings.micromamba
    env = micromamba_env(settings, base_env)
    if request.path is not None:
        digest = checksum.sha256_file(request.path)
        _check_pin(request, digest, str(request.path))
        return _started(request.path, digest, "path", env, log)
    folder = Path(settings.layout.micromamba_dir(request.cache_key))
    with locks.prefix_lock(Path(settings.layout.state), folder, CACHE_LOCK_TIMEOUT_S,
                           reporter.warn):
        return _obtain_cached(settings, env, reporter, log)


def _obtain_cached(settings: Settings, env: dict[str, str], reporter: Reporter,
                   log: RunLog) -> Micromamba:
    request = settings.micromamba
    stale: tuple[Path, str] | None = None
    for candidate, source in _local_candidates(settings):
        found = _verified_local(candidate, request, reporter, source)
        if found is None:
            continue
        if source == "cache" and request.version == "latest" and request.sha256 is None \
                and request.url is None and _stale(candidate) and not settings.offline:
            stale = (candidate, found)
            continue
        return _started(candidate, found, source, env, log)
    if settings.offline:
        raise MicromambaError(
            "No micromamba in the bundle or the cache, and --offline forbids downloading.",
            hint=f"Prepare a bundle with 'mambaboot pack' on a machine with network, or put "
                 f"micromamba into {settings.layout.micromamba_dir(request.cache_key)}.",
        )
    try:
        target, digest = fetch_into_cache(settings, reporter)
    except DownloadError as err:
        if stale is None:
            raise
        reporter.warn(f"Could not refresh the cached micromamba ({err.message}); using it.")
        return _started(stale[0], stale[1], "cache", env, log)
    return _started(target, digest, "download", env, log)


def fetch_into_cache(settings: Settings, reporter: Reporter) -> tuple[Path, str]:
    """Download micromamba for ``settings.subdir`` into ``CACHE/micromamba/<version>/``."""
    target = Path(settings.layout.micromamba_dir(settings.micromamba.cache_key)) / \
        settings.platform.micromamba_name()
    return target, _download(settings, target, reporter)


def describe_source(settings: Settings) -> str:
    """Where ``obtain`` would take micromamba from, without fetching or running anything."""
    request = settings.micromamba
    if request.path is not None:
        return f"given path {request.path}"
    for candidate, source in _local_candidates(settings):
        if candidate.is_file():
            return f"{source} {candidate}"
    return f"download {request.download_url(settings.subdir)}"


def _local_candidates(settings: Settings) -> list[tuple[Path, str]]:
    name = settings.platform.micromamba_name()
    key = settings.micromamba.cache_key
    out: list[tuple[Path, str]] = []
    if settings.app_dir is not None and settings.micromamba.url is None:
        out.append((settings.app_dir / name, "bundle"))
        out.append((settings.app_dir / "CACHE" / "micromamba" / key / name, "bundle"))
    out.append((Path(settings.layout.micromamba_dir(key)) / name, "cache"))
    return out


def _verified_local(path: Path, request: MicromambaRequest, reporter: Reporter,
                    source: str) -> str | None:
    """The sha256 of a usable local binary, or None to look further (and re-download).
    A cached binary must match the sha256 recorded beside it when it was downloaded; a
    binary placed next to the executable by hand is used with a warning."""
    if not path.is_file():
        return None
    recorded_file = path.with_name(SHA_NAME)
    digest = checksum.sha256_file(path)
    recorded = recorded_file.read_text(encoding="ascii", errors="replace").strip() \
        if recorded_file.is_file() else None
    if request.sha256 and digest != request.sha256:
        reporter.warn(f"{path} does not match the pinned sha256; not using it.")
        return None
    if recorded is not None and recorded != digest:
        reporter.warn(f"The cached micromamba {path} was altered on disk (sha256 {digest}, "
                      f"recorded {recorded}); fetching it again.")
        if _is_our_cache_file(path):
            path.unlink()
        return None
    if recorded is None and request.sha256 is None:
        if source == "cache":
            reporter.warn(f"The cached micromamba {path} has no recorded sha256; fetching it "
                          "again.")
            return None
        reporter.warn(f"{path} has no recorded sha256 beside it; using it as found.")
    return digest


def _is_our_cache_file(path: Path) -> bool:
    return (path.parent / SHA_NAME).is_file() and path.parent.parent.name == "micromamba"


def _stale(path: Path) -> bool:
    """A cached 'latest' is refreshed after a week (when the network allows)."""
    source = path.with_name(SOURCE_NAME)
    try:
        fetched = float(json.loads(source.read_text(encoding="utf-8"))["fetched"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return time.time() - fetched > LATEST_TTL_S


def _check_pin(request: MicromambaRequest, digest: str, what: str) -> None:
    if request.sha256 and digest != request.sha256:
        raise ChecksumError(
            f"Checksum mismatch for {what}: expected {request.sha256}, got {digest}.",
            hint="Use the binary the pin was made for, or update --micromamba-sha256.",
        )


def _download(settings: Settings, target: Path, reporter: Reporter) -> str:
    from bootstrap import download

    request = settings.micromamba
    url = request.download_url(settings.subdir)
    opts = download.NetOptions.from_env(dict(os.environ), allow_http=settings.allow_http,
                                        ca_bundle=settings.ca_bundle)
    what = f"micromamba {request.version} ({settings.subdir})"
    expected = request.sha256
    if expected is None:
        expected = checksum.parse_sha256_text(download.fetch_text(url + ".sha256", opts), what)
    reporter.detail(f"downloading {url}")
    progress = reporter.progress(what)
    if url.endswith(".tar.bz2"):
        digest = _download_package(url, target, opts, expected, what, progress, settings)
    else:
        digest = download.download(url, target, opts, expected_sha256=expected, what=what,
                                   progress=progress)
    target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    target.with_name(SHA_NAME).write_text(digest, encoding="ascii")
    target.with_name(SOURCE_NAME).write_text(json.dumps(
        {"url": url, "sha256": digest, "fetched": time.time()}), encoding="utf-8")
    return digest


def _download_package(url: str, target: Path, opts: NetOptions, expected: str, what: str,
                      progress: ProgressFn, settings: Settings) -> str:
    """A conda package of micromamba: the binary is taken from ``bin/micromamba`` or
    ``Library/bin/micromamba.exe``. The published ``.tar.bz2.sha256`` holds the hash of the
    raw binary, not of the archive (micromamba-releases#37), so either is accepted."""
    from bootstrap import download

    archive = target.with_name(target.name + ".tar.bz2")
    archive_digest = download.download(url, archive, opts, expected_sha256=None, what=what,
                                       progress=progress)
    try:
        member = "Library/bin/micromamba.exe" if settings.platform.is_windows \
            else "bin/micromamba"
        data = extract_member(archive, member)
    finally:
        archive.unlink(missing_ok=True)
    digest = checksum.sha256_bytes(data)
    if expected not in (digest, archive_digest):
        raise ChecksumError(
            f"Checksum mismatch for {what}: expected {expected}, got {archive_digest} "
            f"(archive) and {digest} (binary).",
            hint="The download was discarded; check your mirror or proxy.",
        )
    partial = target.with_name(target.name + ".new")
    partial.write_bytes(data)
    partial.replace(target)
    return digest


def unsafe_member(info: tarfile.TarInfo) -> str | None:
    """Why a member could not be extracted safely, the rules of tarfile's ``data`` filter
    (which Python 3.11 before 3.11.4, e.g. Debian 12's, does not have): a path that leaves
    the archive root once a leading ``/`` is dropped, a link pointing out of it or at an
    absolute path, a device or FIFO. None when it is safe."""
    name = info.name.replace("\\", "/").lstrip("/")
    if _escapes(name):
        return f"its path {info.name!r} leaves the archive root"
    if not (info.isfile() or info.isdir() or info.issym() or info.islnk()):
        return "it is a device or FIFO"
    target = info.linkname.replace("\\", "/")
    if info.issym() and (target.startswith("/") or _escapes(
            posixpath.join(posixpath.dirname(name), target))):
        return f"it links to {info.linkname!r}, outside the archive"
    if info.islnk() and _escapes(target.lstrip("/")):
        return f"it is a hard link to {info.linkname!r}, outside the archive"
    return None


def _escapes(path: str) -> bool:
    norm = posixpath.normpath(path or ".")
    return norm == ".." or norm.startswith("../") or re.match(r"^[A-Za-z]:", norm) is not None


def extract_member(archive: Path, member: str) -> bytes:
    """Read one file out of a conda ``.tar.bz2`` without extracting anything else; members
    whose paths escape the archive root (``..``, links out, devices) are rejected."""
    try:
        with tarfile.open(archive, "r:bz2") as tar:
            for info in tar:
                reason = unsafe_member(info)
                if reason is not None:
                    raise ChecksumError(f"Rejected archive {archive.name}: member "
                                        f"{info.name!r} is unsafe ({reason}).")
                if info.name.lstrip("./") == member and info.isfile():
                    handle = tar.extractfile(info)
                    if handle is not None:
                        return handle.read()
    except (tarfile.TarError, OSError, EOFError) as err:
        raise DownloadError(f"Cannot read the package {archive.name}: {err}",
                            hint="The download is damaged; run again to fetch it anew.") from err
    raise MicromambaError(f"The package {archive.name} holds no {member}.",
                          hint="Point --micromamba at a micromamba package or binary.")


def _started(path: Path, digest: str, source: str, env: dict[str, str],
             log: RunLog) -> Micromamba:
    """Run ``micromamba --version``: a binary that does not start fails here, clearly."""
    try:
        done = run([str(path), "--version"], env=env, log=log, capture=True,
                   timeout_s=VERSION_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise _not_starting(path, str(err)) from err
    text = done.output.decode("utf-8", "replace").strip()
    version = text.splitlines()[-1].strip() if text else ""
    if done.returncode != 0 or not _VERSION_RE.fullmatch(version):
        raise _not_starting(path, f"exit code {done.returncode}, output {text[:200]!r}")
    return Micromamba(path, version, digest, source)


def _not_starting(path: Path, detail: str) -> MicromambaError:
    return MicromambaError(
        f"micromamba at {path} does not start: {detail}.",
        hint="It may be built for another platform, or blocked by antivirus or an "
             "application-control policy (WDAC/AppLocker). Check the security log, or use "
             "--micromamba with a binary for this machine.",
    )


def run_micromamba(mm: Micromamba, args: list[str], env: dict[str, str], log: RunLog,
                   echo: Echo | None, *, capture: bool = False,
                   on_start: Callable[[int], None] | None = None) -> tuple[int, bytes]:
    """The one function that runs micromamba: an argument list, output streamed and logged."""
    argv = [str(mm.path), *args]
    try:
        done = run(argv, env=env, log=log, echo=echo, capture=capture, on_start=on_start)
    except OSError as err:
        raise _not_starting(mm.path, str(err)) from err
    return done.returncode, done.output


def export_explicit(mm: Micromamba, root: Path, prefix: Path, env: dict[str, str],
                    log: RunLog) -> str | None:
    """``env export --explicit --md5``: the installed packages as an ``@EXPLICIT`` list
    (contract 2.5), or None when micromamba fails (its output is in the log)."""
    code, out = run_micromamba(
        mm, ["env", "export", "--explicit", "--md5", "-r", str(root), "-p", str(prefix)],
        env, log, None, capture=True)
    if code != 0:
        return None
    # stderr comes in the same pipe: micromamba 2.8.1 lets `python -m pip inspect` print
    # there while it looks for pip-installed packages; only the list's own lines are kept
    lines = out.decode("utf-8", "replace").splitlines()
    return "".join(f"{line}\n" for line in lines if _EXPLICIT_LINE.match(line))


def create_args(settings: Settings, root: Path, *, explicit_file: Path | None = None,
                specs: tuple[str, ...] | None = None, platform: str | None = None) -> list[str]:
    """``micromamba create`` exactly as DESIGN 3.4 (and contract Appendix B) say;
    ``platform`` resolves for another subdir (``pack --platform``)."""
    args = _transaction_args("create", settings, root)
    if platform is not None:
        args += ["--platform", platform]
    env_file = explicit_file or settings.env_file
    if env_file is not None:
        args += ["-f", str(env_file)]
    if explicit_file is None:
        args += list(specs if specs is not None else settings.specs)
    return args


def install_args(settings: Settings, root: Path, specs: tuple[str, ...],
                 env_file: Path | None = None) -> list[str]:
    """``micromamba install`` into the existing prefix, with create's channels and
    options (an update in place, DESIGN 3.2)."""
    args = _transaction_args("install", settings, root)
    if env_file is not None:
        args += ["-f", str(env_file)]
    return args + list(specs)


def remove_args(settings: Settings, root: Path, names: tuple[str, ...],
                force: bool = False) -> list[str]:
    """``micromamba remove``: with ``force`` only the named packages go (a lock's exact
    set); without it, what depends on them goes too and orphaned dependencies are pruned.
    remove takes no channel or network options (micromamba 2.8.1)."""
    args = ["remove", "-y", "-r", str(root), "-p", str(settings.prefix), "--no-rc"]
    return args + (["--force"] if force else []) + list(names)


def _transaction_args(verb: str, settings: Settings, root: Path) -> list[str]:
    args = [verb, "-y", "-r", str(root), "-p", str(settings.prefix), "--no-rc",
            "--override-channels"]
    for channel in settings.channels:
        args += ["-c", channel]
    args += ["--strict-channel-priority", "--no-shortcuts"]
    if settings.offline:
        args.append("--offline")
    if settings.ca_bundle is not None:
        args += ["--cacert-path", str(settings.ca_bundle)]
    if settings.always_copy:
        args.append("--always-copy")
    return args
