"""Run the same micromamba command with the stand-in and with the real binary, each in a
sandbox of its own (HOME, package cache, root prefix, prefixes), against one loopback
server, and describe what each did in terms that can be compared: exit code, output,
files written, records, requests (tests/test_contract.py)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.standin.server import LoopbackServer

TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@dataclass
class Sandbox:
    """One binary (``kind`` standin or real) with its own folders under ``base``."""

    kind: str
    exe: Path
    base: Path
    server: LoopbackServer

    @property
    def home(self) -> Path:
        return self.base / "home"

    @property
    def pkgs(self) -> Path:
        return self.base / "pkgs"

    @property
    def root(self) -> Path:
        return self.base / "root"

    def prefix(self, name: str = "env") -> Path:
        return self.base / name

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        self.home.mkdir(parents=True, exist_ok=True)
        system = {"USERPROFILE": str(self.home), **{k: os.environ[k] for k in (
            "SYSTEMROOT", "COMSPEC") if k in os.environ}} if os.name == "nt" else {}
        return {"HOME": str(self.home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
                "CONDA_PKGS_DIRS": str(self.pkgs), "MAMBA_ROOT_PREFIX": str(self.root),
                **system, **(extra or {})}

    def __call__(self, *args: str | Path, env: dict[str, str] | None = None) -> Outcome:
        done = subprocess.run([str(self.exe), *map(str, args)], env=self.env(env),
                              capture_output=True, text=True, errors="replace",
                              timeout=TIMEOUT_S, check=False, stdin=subprocess.DEVNULL)
        return Outcome(done.returncode, self.plain(done.stdout), self.plain(done.stderr))

    def plain(self, text: str) -> str:
        """Output with this sandbox's folder written as ``<base>``, so both compare."""
        return text.replace(str(self.base), "<base>")

    def requests_during(self, before: int) -> list[tuple[str, str]]:
        """Distinct (method, path) of the server's requests since ``before``, sorted."""
        return sorted({(r.method, r.path) for r in self.server.requests[before:]})


def create_args(sandbox: Sandbox, channel: str, prefix: Path, *specs: str) -> list[str]:
    """``create`` as mambaboot runs it (DESIGN 3.4)."""
    return ["create", "-y", "-r", str(sandbox.root), "-p", str(prefix), "--no-rc",
            "--override-channels", "-c", channel, "--strict-channel-priority",
            "--no-shortcuts", *specs]


def files(folder: Path, skip: Iterable[str] = ()) -> set[str]:
    """Relative paths of files and links under ``folder``, byte code aside."""
    skipped = tuple(skip)
    out = set()
    for path in folder.rglob("*"):
        rel = path.relative_to(folder).as_posix()
        if "__pycache__" in rel or rel.endswith(".pyc") or rel.startswith(skipped):
            continue
        if path.is_symlink() or path.is_file():
            out.add(rel)
    return out


def records(prefix: Path) -> dict[str, dict[str, Any]]:
    """``conda-meta/*.json`` by package name."""
    out = {}
    for meta in (prefix / "conda-meta").glob("*.json"):
        data = json.loads(meta.read_text(encoding="utf-8"))
        out[str(data["name"])] = data
    return out


def record_shape(record: dict[str, Any]) -> dict[str, Any]:
    """What a record holds, without values that differ between runs: its keys, and per
    path type the keys of the path entries."""
    by_type: dict[str, set[str]] = {}
    for entry in record["paths_data"]["paths"]:
        by_type.setdefault(str(entry["path_type"]), set()).update(entry)
    return {"keys": sorted(record), "paths": {k: sorted(v) for k, v in by_type.items()}}


def cache_layout(pkgs: Path) -> set[str]:
    """The package cache's folders and archives (repodata cache names are hashes)."""
    return {p for p in files(pkgs) if not p.startswith("cache/") and "/info/" not in p
            and p.count("/") <= 5}


def interrupt_extraction(pkgs: Path, name: str) -> str:
    """What an interrupted run leaves: ``name``'s archive gone and half its extracted
    folder; returns the archive's file name."""
    archive = next(p for p in pkgs.rglob(f"{name}-*.tar.bz2"))
    archive.unlink()
    extracted = archive.with_name(archive.name.removesuffix(".tar.bz2"))
    victims = sorted(p for p in extracted.rglob("*.py") if p.is_file())
    for victim in victims[: max(1, len(victims) // 2)]:
        victim.unlink()
    return archive.name
