"""Preflight (DESIGN section 3.2): what the shell brings in, and what is at the prefix.

mambaboot only ever deletes or overwrites a prefix it can prove it made: one holding its
receipt, or one it claimed in its private state folder right before micromamba started
(micromamba's own ``create`` needs an absent or empty folder, so the receipt cannot be
there yet).
"""

from __future__ import annotations

import enum
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bootstrap import environ, update
from bootstrap.errors import RefusedError
from bootstrap.log import timestamp
from bootstrap.paths import prefix_key
from bootstrap.platform import Platform
from bootstrap.receipt import DONE, Receipt, write_json_atomic

CLOCK_SLACK_S = 2.0
CLAIM_TTL_S = 7 * 24 * 3600  # an interrupted create is normally re-run soon


class PrefixState(enum.Enum):
    ABSENT = "absent"
    EMPTY = "empty"
    COMPLETE = "complete"  # our receipt, every stage done
    INCOMPLETE = "incomplete"  # our receipt, some stage unfinished
    INTERRUPTED_CREATE = "interrupted-create"  # our claim, no receipt: micromamba was cut off
    FOREIGN = "foreign"


@dataclass(frozen=True)
class Inspection:
    state: PrefixState
    receipt: Receipt | None = None
    sample: list[str] = field(default_factory=list)  # a few entries found at a foreign prefix


class Claims:
    """Prefixes mambaboot has started creating, kept in its private state folder."""

    def __init__(self, state_dir: Path) -> None:
        self.folder = state_dir / "claims"

    def _path(self, prefix: Path) -> Path:
        return self.folder / f"{prefix_key(prefix)}.json"

    def add(self, prefix: Path) -> None:
        write_json_atomic(self._path(prefix), {"prefix": str(prefix), "pid": os.getpid(),
                                               "started": timestamp(), "time": time.time()})

    def note_pid(self, prefix: Path, pid: int) -> None:
        """Remember micromamba's pid: if mambaboot is killed, the next run stops it."""
        data = self._read(prefix)
        if data is not None:
            data["micromamba_pid"] = pid
            write_json_atomic(self._path(prefix), data)

    def leftover_pid(self, prefix: Path) -> int | None:
        data = self._read(prefix)
        pid = data.get("micromamba_pid") if data else None
        return pid if isinstance(pid, int) and pid > 0 else None

    def _read(self, prefix: Path) -> dict[str, object] | None:
        try:
            data = json.loads(self._path(prefix).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and data.get("prefix") == str(prefix) else None

    def made(self, prefix: Path) -> bool:
        """True when a claim for ``prefix`` exists and everything at the top of the prefix
        appeared after it: a ``create`` that was cut off before the receipt was written."""
        data = self._read(prefix)
        try:
            claimed_at = float(data["time"]) if data else 0.0  # type: ignore[arg-type]
        except (ValueError, KeyError, TypeError):
            return False
        if not data or time.time() - claimed_at > CLAIM_TTL_S \
                or not (prefix / "conda-meta").is_dir():
            return False
        # Folders are made fresh by micromamba; files may be hard links keeping old times.
        folders = [e for e in prefix.iterdir() if e.is_dir() and not e.is_symlink()]
        return all(f.stat().st_mtime >= claimed_at - CLOCK_SLACK_S for f in folders)

    def release(self, prefix: Path) -> None:
        self._path(prefix).unlink(missing_ok=True)


def inspect_prefix(prefix: Path, claims: Claims) -> Inspection:
    """Classify what is at ``prefix``; never changes anything."""
    if not prefix.exists() and not prefix.is_symlink():
        return Inspection(PrefixState.ABSENT)
    if not prefix.is_dir():
        return Inspection(PrefixState.FOREIGN, sample=[prefix.name + " (a file)"])
    entries = sorted(p.name for p in prefix.iterdir())
    if not entries:
        return Inspection(PrefixState.EMPTY)
    receipt = Receipt.load(prefix)
    if receipt is not None:
        state = PrefixState.COMPLETE if receipt.complete else PrefixState.INCOMPLETE
        return Inspection(state, receipt)
    if claims.made(prefix):
        return Inspection(PrefixState.INTERRUPTED_CREATE)
    return Inspection(PrefixState.FOREIGN, sample=entries[:5])


def refuse_foreign(prefix: Path, sample: list[str]) -> RefusedError:
    listing = ", ".join(sample) + (", ..." if len(sample) >= 5 else "")
    return RefusedError(
        f"{prefix} already exists and was not created by mambaboot (it holds: {listing}).",
        hint="mambaboot never deletes what it did not create. Choose another name or "
             "--prefix, or move that folder away yourself and run again.",
    )


def check_inherited(env: Mapping[str, str], platform: Platform, strict: bool) -> list[str]:
    """Warnings about inherited Python/conda variables; with ``strict`` a refusal."""
    offenders = environ.strict_offenders(env, platform)
    if strict and offenders:
        raise RefusedError(
            "This shell has Python/conda variables set: " + ", ".join(offenders) + ".",
            hint="--strict refuses to run from an activated shell. Open a new, clean terminal "
                 "(or unset them), or drop --strict: mambaboot removes them from every child.",
        )
    inherited = environ.inherited_variables(env)
    if not inherited:
        return []
    return ["Ignoring inherited Python/conda variables (not passed to any child): "
            + ", ".join(inherited)]


def check_prefix_location(prefix: Path, cache_dir: Path, pkgs_dir: Path) -> None:
    """The prefix may not be, contain, or sit inside the cache."""
    for name, other in (("cache", cache_dir), ("package cache", pkgs_dir)):
        if prefix == other or other.is_relative_to(prefix) or prefix.is_relative_to(other):
            raise RefusedError(
                f"The environment folder {prefix} overlaps the {name} {other}.",
                hint="Put environments and the cache in separate folders (--prefix, "
                     "--envs-dir, --cache-dir).",
            )


def verdict(found: Inspection, inputs: dict[str, Any], force: bool) -> str:
    """Preflight's decision, as a pure function of what is at the prefix and the inputs:
    ``create``, ``rebuild``, ``resume``, ``update``, ``unchanged``, ``refuse-foreign`` or
    ``refuse-inputs``. mambaboot only removes a prefix it made (receipt or claim); a
    complete one only with --force."""
    state, receipt = found.state, found.receipt
    if state is PrefixState.FOREIGN:
        return "refuse-foreign"
    if state in (PrefixState.ABSENT, PrefixState.EMPTY):
        return "create"
    if state is PrefixState.INTERRUPTED_CREATE or receipt is None or force:
        return "rebuild"
    if receipt.stage_state("create") != DONE:
        return "rebuild"
    if receipt.key == Receipt(receipt.prefix, inputs).key:
        return "unchanged" if receipt.complete else "resume"
    if not update.blockers(receipt.inputs, inputs):
        return "update"
    return "refuse-inputs" if receipt.complete else "rebuild"


def different_inputs(prefix: Path, old: dict[str, Any], new: dict[str, Any]) -> RefusedError:
    """The refusal of a change that cannot be applied in place, saying what changed."""
    return RefusedError(
        f"{prefix} was created by mambaboot with inputs that cannot be changed in place: "
        f"{'; '.join(update.blockers(old, new))}.",
        hint=f"--force deletes {prefix} (files you added to it too) and creates it again "
             "from the new inputs; every post-install script then runs again. Or keep it "
             "and choose another name (or --prefix) for the new environment.",
    )

