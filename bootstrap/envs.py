"""Environments under the envs root: what they are (list) and removing the ones mambaboot
made (remove). Removal never touches a folder without mambaboot's receipt or claim."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from bootstrap import environ, fsutil, preflight
from bootstrap.errors import RefusedError
from bootstrap.receipt import Receipt
from bootstrap.relocate import same_place

_PYTHON_RECORD = re.compile(r"^python-(\d+\.\d+(?:\.\d+)?)-")


@dataclass(frozen=True)
class EnvInfo:
    name: str
    prefix: Path
    python: str
    state: str  # complete, incomplete (stage), moved, not made by mambaboot
    size: int

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "prefix": str(self.prefix), "python": self.python,
                "state": self.state, "size": self.size}


def python_version(prefix: Path) -> str:
    """The python package's version from conda-meta, or '-'."""
    for record in sorted((prefix / "conda-meta").glob("python-*.json")):
        match = _PYTHON_RECORD.match(record.name)
        if match:
            return match.group(1)
    return "-"


def state_of(prefix: Path, claims: preflight.Claims | None = None) -> str:
    receipt = Receipt.load(prefix)
    if receipt is None and claims is not None and claims.made(prefix):
        return "incomplete (create was interrupted)"
    if receipt is None:
        return "not made by mambaboot"
    if receipt.recorded_prefix and not same_place(receipt.recorded_prefix, prefix):
        return "moved (relocated on next use)"
    if receipt.complete:
        return "complete"
    return f"incomplete (next: {receipt.first_unfinished()})"


def describe(prefix: Path, claims: preflight.Claims | None = None) -> EnvInfo:
    return EnvInfo(prefix.name, prefix, python_version(prefix), state_of(prefix, claims),
                   fsutil.dir_size(prefix))


def list_envs(envs_dir: Path, claims: preflight.Claims | None = None) -> list[EnvInfo]:
    """Every conda environment directly under ``envs_dir``, by name."""
    if not envs_dir.is_dir():
        return []
    return [describe(p, claims) for p in sorted(envs_dir.iterdir(), key=lambda p: p.name)
            if p.is_dir() and (p / "conda-meta").is_dir()]


def check_removable(prefix: Path, claims: preflight.Claims) -> EnvInfo:
    """The environment when mambaboot made it (receipt, or its claim of an interrupted
    create); anything else is refused with exit 3."""
    if Receipt.load(prefix) is None and not claims.made(prefix):
        raise RefusedError(
            f"{prefix} was not created by mambaboot (no receipt in conda-meta/mambaboot/).",
            hint="mambaboot only removes environments it made. Delete it yourself if you "
                 "are sure.")
    return describe(prefix, claims)


def remove(prefix: Path, claims: preflight.Claims, profile: Path) -> None:
    """Delete ``prefix`` (made by mambaboot) and forget it: its claim, and its line in the
    ``environments.txt`` micromamba wrote into mambaboot's private ``profile``."""
    check_removable(prefix, claims)
    fsutil.remove_tree(prefix)
    claims.release(prefix)
    unregister(Path(environ.environments_txt(profile)), prefix)


def unregister(listing: Path, prefix: Path) -> None:
    """Drop ``prefix`` from an ``environments.txt`` (one prefix per line), if listed."""
    try:
        lines = listing.read_text(encoding="utf-8").splitlines()
    except OSError:
        return
    kept = [line for line in lines if line.strip() and not same_place(line.strip(), prefix)]
    if len(kept) != len(lines):
        partial = listing.with_name(listing.name + ".mambaboot-new")
        partial.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
        partial.replace(listing)


def size_text(size: int) -> str:
    return json.dumps(round(size / 1e6, 1)) + " MB"
