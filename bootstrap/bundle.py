"""Offline bundles (DESIGN section 5): ``pack`` writes everything an environment needs onto
a folder or USB stick; an offline create checks every package against the bundle's sha256
before micromamba links anything, then installs from ``file://`` URLs pointing at where the
bundle is now (so another drive letter does not matter)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import socket
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from bootstrap import __version__, checks, checksum, frozen, fsutil
from bootstrap.errors import ChecksumError, ConfigError, MicromambaError, RefusedError
from bootstrap.inputs import differences, inputs_of
from bootstrap.log import RunLog, timestamp
from bootstrap.micromamba import (
    Micromamba,
    create_args,
    export_explicit,
    fetch_into_cache,
    micromamba_env,
    obtain,
    run_micromamba,
)
from bootstrap.platform import platform_for_subdir
from bootstrap.receipt import write_json_atomic
from bootstrap.report import Reporter
from bootstrap.settings import Settings

MANIFEST = "bundle.json"
FORMAT = 1
PROBE_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Package:
    url: str
    file: str  # archive path relative to the bundle root, with "/" separators
    sha256: str
    md5: str
    size: int


@dataclass(frozen=True)
class Bundle:
    root: Path
    subdir: str
    name: str
    packages: tuple[Package, ...]
    micromamba: dict[str, str]
    inputs: dict[str, Any]
    written: tuple[str, ...]  # what pack wrote besides CACHE (so a refresh may replace it)

    @classmethod
    def load(cls, root: Path) -> Bundle | None:
        """The bundle described by ``root/bundle.json``; None when there is none, or when
        that file is not mambaboot's (a ``bundle.json`` of some other tool)."""
        data = _manifest(root)
        if data is None:
            return None
        try:
            packages = tuple(Package(**p) for p in data["packages"])
            return cls(root, str(data["subdir"]), str(data["name"]), packages,
                       dict(data.get("micromamba") or {}), dict(data.get("inputs") or {}),
                       tuple(str(w) for w in data.get("written") or ()))
        except (ValueError, KeyError, TypeError) as err:
            raise ConfigError(f"The bundle manifest {root / MANIFEST} is damaged: {err}",
                              hint="Pack the bundle again with 'mambaboot pack'.") from err

    def check_inputs(self, wanted: dict[str, Any]) -> None:
        """The bundle must hold the environment asked for, not an older one."""
        changed = differences(self.inputs, wanted)
        if changed:
            raise ConfigError(
                f"The bundle in {self.root} was packed for another environment "
                f"({'; '.join(changed)}).",
                hint="Use the bundle's own mambaboot.toml, or pack again with these settings "
                     "on a machine with network.")

    def archive(self, package: Package) -> Path:
        return self.root.joinpath(*package.file.split("/"))

    def verify(self) -> None:
        """Every package present, with its recorded size and sha256: else exit 5, before
        anything is linked (micromamba's own md5 check comes after it made conda-meta)."""
        for package in self.packages:
            path = self.archive(package)
            if not path.is_file():
                raise ChecksumError(f"The bundle is missing {package.file} ({path}).",
                                    hint="Copy the whole bundle again, or re-run "
                                         "'mambaboot pack' on a machine with network.")
            digest = checksum.sha256_file(path)
            if digest != package.sha256 or path.stat().st_size != package.size:
                raise ChecksumError(
                    f"Bundled package {package.file} was altered: sha256 {digest}, "
                    f"expected {package.sha256}.",
                    hint="Nothing was installed. Copy the bundle again from its source, or "
                         "re-run 'mambaboot pack'.")

    def explicit_text(self) -> str:
        """An ``@EXPLICIT`` list pointing at the archives where the bundle is now."""
        lines = [f"# platform: {self.subdir}", "@EXPLICIT"]
        lines += [f"{self.archive(p).resolve().as_uri()}#{p.md5}" for p in self.packages]
        return "\n".join(lines) + "\n"


def _manifest(root: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or "mambaboot" not in data:
        return None
    return data


def find(settings: Settings) -> Bundle | None:
    """A bundle beside the config file or the executable."""
    for folder in dict.fromkeys(f for f in (settings.config_dir, settings.app_dir) if f):
        found = Bundle.load(folder)
        if found is not None:
            return found
    return None


def network_reachable(channels: tuple[str, ...], env: Mapping[str, str],
                      timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """Can the first channel's host, or the proxy that would carry the request, be reached
    at all (a TCP connect, no data)?"""
    url = checks.channel_url(channels[0] if channels else "conda-forge")
    parts = urlsplit(url)
    if parts.scheme == "file":
        return True
    target = _proxy_for(parts.scheme, parts.hostname or "", env) or url
    where = urlsplit(target)
    port = where.port or (443 if where.scheme == "https" else 80)
    try:
        with socket.create_connection((where.hostname or "", port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _proxy_for(scheme: str, host: str, env: Mapping[str, str]) -> str | None:
    """The proxy URL the environment's HTTP(S)_PROXY/NO_PROXY give for ``host``."""
    lowered = {k.lower(): v for k, v in env.items() if v}
    proxy = lowered.get(f"{scheme}_proxy")
    if not proxy:
        return None
    bypass = [h.strip().lstrip(".") for h in lowered.get("no_proxy", "").split(",") if h.strip()]
    if "*" in bypass or any(host == h or host.endswith("." + h) for h in bypass):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def parse_explicit(text: str) -> list[tuple[str, str]]:
    """``(url, md5)`` for each package line of an ``@EXPLICIT`` export."""
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if "://" not in line or line.startswith("#"):
            continue
        url, _, fragment = line.partition("#")
        out.append((url, fragment if len(fragment) == 32 else ""))
    return out


def locate_archive(pkgs_dir: Path, url: str) -> Path | None:
    """Where micromamba put ``url`` in its package cache: the 2.x nested layout
    ``<scheme>/<host>[_<port>]/<channel path>/<subdir>/<file>`` (contract Appendix D), the
    flat 1.x layout ``<file>``, or anywhere below as a last resort."""
    parts = urlsplit(url)
    name = unquote(parts.path.rsplit("/", 1)[-1])
    host = (parts.hostname or "") + (f"_{parts.port}" if parts.port else "")
    candidates = [pkgs_dir.joinpath(parts.scheme, host, *unquote(parts.path).strip("/").split("/")),
                  pkgs_dir / name]
    for path in candidates:
        if path.is_file():
            return path
    return next((p for p in pkgs_dir.rglob(name) if p.is_file()), None)


@dataclass
class PackResult:
    out: Path
    subdir: str
    packages: int
    bytes: int
    executable: Path | None
    warnings: list[str]

    def as_json(self) -> dict[str, Any]:
        return {"out": str(self.out), "subdir": self.subdir, "packages": self.packages,
                "bytes": self.bytes, "executable": str(self.executable or ""),
                "warnings": self.warnings}


def check_out_dir(out: Path) -> tuple[str, ...]:
    """Pack only into an empty folder or over an earlier bundle, never over other files;
    returns what the earlier bundle wrote (and a refresh may therefore replace)."""
    if out.exists() and not out.is_dir():
        raise RefusedError(f"{out} exists and is not a folder.", hint="Choose another --out.")
    if not out.is_dir() or not any(out.iterdir()):
        return ()
    earlier = _manifest(out)
    if earlier is None:
        raise RefusedError(f"{out} is not empty and holds no mambaboot bundle.",
                           hint="Pack into an empty folder (or an earlier bundle to refresh "
                                "it); mambaboot never overwrites other files.")
    return tuple(str(w) for w in earlier.get("written") or ())


def pack(settings: Settings, out: Path, subdir: str, reporter: Reporter, log: RunLog,
         base_env: Mapping[str, str]) -> PackResult:
    """Write a self-contained bundle for ``subdir`` into ``out``."""
    earlier = check_out_dir(out)
    cache = out / "CACHE"
    bundle_settings = dataclasses.replace(settings, cache_dir=cache, pkgs_dir=cache / "pkgs")
    reporter.stage("micromamba")
    host_mm = obtain(settings, base_env, reporter, log)
    target_mm = _bundle_micromamba(settings, bundle_settings, host_mm, subdir, reporter, log,
                                   base_env)
    reporter.stage("packages", f"solving and downloading for {subdir}")
    lines = _download_packages(bundle_settings, host_mm, subdir, reporter, log, base_env)
    packages = [_package(out, bundle_settings.pkgs_dir, url, md5) for url, md5 in lines]
    reporter.stage("bundle", str(out))
    result = PackResult(out, subdir, len(packages), sum(p.size for p in packages), None, [])
    written = _copy_inputs(settings, out, result, earlier)
    _write_lock(out, settings, subdir, packages)
    (out / "mambaboot.toml").write_text(bundle_config(settings, target_mm, subdir),
                                        encoding="utf-8")
    target = dataclasses.replace(settings, subdir=subdir)
    write_json_atomic(out / MANIFEST, {
        "format": FORMAT, "created": timestamp(), "mambaboot": __version__, "subdir": subdir,
        "name": settings.prefix.name, "micromamba": target_mm, "inputs": inputs_of(target),
        "written": written, "packages": [dataclasses.asdict(p) for p in packages]})
    return result


def _bundle_micromamba(settings: Settings, bundle_settings: Settings, host_mm: Micromamba,
                       subdir: str, reporter: Reporter, log: RunLog,
                       base_env: Mapping[str, str]) -> dict[str, str]:
    """micromamba for the target platform, in the bundle's cache with its sha256."""
    if subdir == settings.subdir:
        # where the bundle's config (version, no url) makes the target machine look
        target = Path(bundle_settings.layout.micromamba_dir(settings.micromamba.version)) / \
            settings.platform.micromamba_name()
        if host_mm.path.resolve() != target.resolve():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(host_mm.path, target)
        target.with_name("micromamba.sha256").write_text(host_mm.sha256, encoding="ascii")
        return {"version": settings.micromamba.version, "sha256": host_mm.sha256,
                "file": target.relative_to(bundle_settings.cache_dir.parent).as_posix()}
    other = dataclasses.replace(bundle_settings, subdir=subdir,
                                platform=platform_for_subdir(subdir), offline=False)
    reporter.info(f"fetching micromamba for {subdir}")
    path, digest = fetch_into_cache(other, reporter)
    final = Path(bundle_settings.layout.micromamba_dir(settings.micromamba.version)) / \
        other.platform.micromamba_name()
    if path != final:  # a --micromamba URL is cached under its own key; the bundle's
        final.parent.mkdir(parents=True, exist_ok=True)  # config looks up the version
        shutil.copy2(path, final)
        final.with_name("micromamba.sha256").write_text(digest, encoding="ascii")
        path = final
    return {"version": settings.micromamba.version, "sha256": digest,
            "file": path.relative_to(bundle_settings.cache_dir.parent).as_posix()}


def _download_packages(settings: Settings, mm: Micromamba, subdir: str, reporter: Reporter,
                       log: RunLog, base_env: Mapping[str, str]) -> list[tuple[str, str]]:
    """Create a throw-away environment (for ``subdir``) with the bundle's cache as package
    cache, export its ``@EXPLICIT`` list, then remove it (DESIGN 5, contract Appendix D)."""
    staging_root = settings.cache_dir / "root"
    staging_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="pack-", dir=staging_root)) / "env"
    staged = dataclasses.replace(settings, prefix=staging)
    env = micromamba_env(staged, base_env)
    try:
        args = create_args(staged, staged.root_dir,
                           platform=subdir if subdir != settings.subdir else None)
        code, _ = run_micromamba(mm, args, env, log, reporter.output)
        if code != 0:
            raise MicromambaError(f"micromamba could not resolve the environment for {subdir} "
                                  f"(exit code {code}).",
                                  hint="Its messages are above and in the log; check the "
                                       "specs and that the channels offer that platform.")
        text = export_explicit(mm, staged.root_dir, staging, env, log)
        if text is None:
            raise MicromambaError("micromamba could not export the package list.",
                                  hint=f"Its messages are in the log {log.path}.")
    finally:
        fsutil.remove_tree(staging.parent)
    return parse_explicit(text)


def _package(out: Path, pkgs_dir: Path, url: str, md5: str) -> Package:
    path = locate_archive(pkgs_dir, url)
    if path is None:
        raise MicromambaError(f"micromamba reported {url} but its archive is not in {pkgs_dir}.",
                              hint="Run pack again; if it persists, report it with the log.")
    if not md5:
        with path.open("rb") as handle:
            md5 = hashlib.file_digest(handle, lambda: hashlib.md5(usedforsecurity=False)
                                      ).hexdigest()
    return Package(url, path.relative_to(out).as_posix(), checksum.sha256_file(path), md5,
                   path.stat().st_size)


def _write_lock(out: Path, settings: Settings, subdir: str, packages: list[Package]) -> None:
    lines = ["# Written by mambaboot pack: the packages of this bundle, with their sha256.",
             f"# platform: {subdir}", "@EXPLICIT",
             *(f"{p.url}#sha256:{p.sha256}" for p in packages)]
    lock = out / "CACHE" / "locks" / f"{settings.prefix.name}-{subdir}.txt"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _copy_inputs(settings: Settings, out: Path, result: PackResult,
                 earlier: tuple[str, ...]) -> list[str]:
    """The executable itself, the scripts, the environment file and template folders;
    returns the names written (only those an earlier pack wrote are ever replaced)."""
    written: list[str] = []
    exe = frozen.executable()
    if exe is None:
        result.warnings.append("Running from source: no mambaboot executable was copied; put "
                               "mambaboot(.exe) for the target machine into the bundle.")
    else:
        if platform_for_subdir(result.subdir) != settings.platform or \
                result.subdir != settings.subdir:
            result.warnings.append(f"The copied executable is for {settings.subdir}; put the "
                                   f"{result.subdir} build of mambaboot next to it.")
        result.executable = out / exe.name
        if exe.resolve() != result.executable.resolve():
            _place(out, exe.name, earlier, lambda t: shutil.copy2(exe, t))
            written.append(exe.name)
    if settings.scripts_dir is not None:
        source = settings.scripts_dir
        _place(out, "scripts", earlier, lambda t: shutil.copytree(source, t, symlinks=True))
        written.append("scripts")
    if settings.env_file is not None:
        env_file = settings.env_file
        _place(out, env_file.name, earlier, lambda t: shutil.copy2(env_file, t))
        written.append(env_file.name)
    for folder, _dest in settings.copy_dirs:
        if folder.is_dir():
            _place(out, folder.name, earlier,
                   lambda t, f=folder: shutil.copytree(f, t, symlinks=True))
            written.append(folder.name)
    return written


def _place(out: Path, name: str, earlier: tuple[str, ...], copy: Any) -> None:
    """Copy into ``out/name``: replacing only what an earlier pack wrote, refusing else."""
    target = out / name
    if target.exists() or target.is_symlink():
        if name not in earlier:
            raise RefusedError(f"{target} already exists and was not written by pack.",
                               hint="Move it away or pack into another folder; mambaboot "
                                    "never overwrites other files.")
        if target.is_dir() and not target.is_symlink():
            fsutil.remove_tree(target)
        else:
            target.unlink()
    copy(target)


def _toml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def bundle_config(settings: Settings, mm: dict[str, str], subdir: str) -> str:
    """The bundle's own ``mambaboot.toml``: the same environment, the bundle's CACHE, the
    micromamba in it pinned by sha256."""
    specs = [s for s in settings.specs if s.split("=")[0].split(" ")[0] != "python"]
    lines = [f"# Written by 'mambaboot pack' on {timestamp()} for {subdir}.",
             "# The packages in CACHE match these settings; pack again after changing them.",
             "", "[env]", f"name = {_toml_str(settings.name)}"]
    if settings.python:
        lines.append(f"python = {_toml_str(settings.python)}")
    lines += [f"specs = [{', '.join(_toml_str(s) for s in specs)}]",
              f"channels = [{', '.join(_toml_str(c) for c in settings.channels)}]"]
    if settings.env_file is not None:
        lines.append(f"file = {_toml_str(settings.env_file.name)}")
    if settings.always_copy:
        lines.append("always_copy = true")
    lines += ["", "[micromamba]", f"version = {_toml_str(mm['version'])}",
              f"sha256 = {_toml_str(mm['sha256'])}"]
    if settings.micromamba.url_template:
        lines.append(f"url = {_toml_str(settings.micromamba.url_template)}")
    lines += ["", "[cache]", 'dir = "CACHE"', "", "[scripts]", 'dir = "scripts"']
    if settings.allow_http:
        lines += ["", "[network]", "allow_http = true"]
    copies = [(s, d) for s, d in settings.copy_dirs if s.is_dir()]
    if copies:
        lines += ["", "[copy]", *(f"{_toml_str(s.name)} = {_toml_str(d)}" for s, d in copies)]
    return "\n".join(lines) + "\n"
