"""The receipt, ``PREFIX/conda-meta/mambaboot/receipt.json``: proof that mambaboot made a
prefix, what it was asked for, and how far each stage got (DESIGN section 3).

It sits in a folder of its own inside ``conda-meta`` rather than at
``conda-meta/mambaboot.json``: conda and micromamba read every ``conda-meta/*.json`` as a
package record, and conda's ``PrefixData._load_single_record`` fails on one that is not (so
``conda list`` would break inside every environment); a subfolder is not globbed."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bootstrap import __version__
from bootstrap.log import timestamp

STATE_DIR = "mambaboot"  # PREFIX/conda-meta/mambaboot/
RECEIPT_NAME = "receipt.json"
FORMAT = 1
STAGES = ("create", "finish", "verify", "scripts")
UPDATE = "update"  # between create and finish, only while (or since) an update runs
DONE, RUNNING, FAILED = "done", "running", "failed"


def receipt_path(prefix: Path) -> Path:
    return prefix / "conda-meta" / STATE_DIR / RECEIPT_NAME


def inputs_key(inputs: dict[str, Any]) -> str:
    """A stable digest of what decides the environment's content."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


@dataclass
class Receipt:
    """In-memory receipt; ``save`` writes it atomically."""

    prefix: Path
    inputs: dict[str, Any]
    micromamba: dict[str, Any] = field(default_factory=dict)
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    scripts: dict[str, dict[str, Any]] = field(default_factory=dict)
    created: str = field(default_factory=timestamp)
    mambaboot: str = __version__
    recorded_prefix: str = ""
    # binary files still holding an older prefix (relative path -> that prefix)
    binary_pending: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return inputs_key(self.inputs)

    @property
    def complete(self) -> bool:
        return all(self.stage_state(s) == DONE for s in self.order())

    def order(self) -> tuple[str, ...]:
        """The stages in the order they run: an update comes after create."""
        return (*STAGES[:1], UPDATE, *STAGES[1:]) if UPDATE in self.stages else STAGES

    def stage_state(self, stage: str) -> str | None:
        return self.stages.get(stage, {}).get("state")

    def first_unfinished(self) -> str | None:
        return next((s for s in self.order() if self.stage_state(s) != DONE), None)

    def mark(self, stage: str, state: str, **extra: Any) -> None:
        entry = self.stages.setdefault(stage, {})
        if state == RUNNING:
            entry.clear()
            entry["started"] = timestamp()
        else:
            entry["finished"] = timestamp()
        entry["state"] = state
        entry.update(extra)

    def start_update(self) -> None:
        """An update in place begins: it runs after create, then finish and verify again."""
        self.stages[UPDATE] = {}
        for stage in ("finish", "verify"):
            self.reopen(stage)

    def reopen(self, stage: str) -> None:
        """Mark ``stage`` as to be run again (its records, such as scripts, are kept)."""
        self.stages.pop(stage, None)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "mambaboot": self.mambaboot,
            "prefix": str(self.prefix),
            "complete": self.complete,
            "created": self.created,
            "updated": timestamp(),
            "inputs": self.inputs,
            "inputs_key": self.key,
            "micromamba": self.micromamba,
            "stages": self.stages,
            "scripts": self.scripts,
            "binary_pending": self.binary_pending,
        }

    def save(self) -> None:
        write_json_atomic(receipt_path(self.prefix), self.to_json())

    @classmethod
    def load(cls, prefix: Path) -> Receipt | None:
        """The receipt at ``prefix``, or None when there is none or it is unreadable."""
        path = receipt_path(prefix)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return None
        return cls(
            prefix=prefix,
            inputs=dict(data.get("inputs") or {}),
            micromamba=dict(data.get("micromamba") or {}),
            stages=dict(data.get("stages") or {}),
            scripts=dict(data.get("scripts") or {}),
            created=str(data.get("created") or timestamp()),
            mambaboot=str(data.get("mambaboot") or ""),
            recorded_prefix=str(data.get("prefix") or ""),
            binary_pending=dict(data.get("binary_pending") or {}),
        )


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON next to ``path`` and rename it into place, so readers never see half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=False)
            handle.write("\n")
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
