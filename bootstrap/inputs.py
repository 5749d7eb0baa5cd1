"""What decides an environment's content (its "inputs"): recorded in the receipt and in a
bundle, compared to tell a re-run from a different environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bootstrap import checksum
from bootstrap.settings import Settings


def inputs_of(settings: Settings) -> dict[str, Any]:
    """The inputs of ``settings``; a change means a different environment."""
    env_file = settings.env_file
    return {
        "python": settings.python,
        "specs": list(settings.specs) if not is_explicit(env_file) else [],
        "channels": list(settings.channels),
        # the name, not the path: a stick under another drive letter is the same input
        "file": env_file.name if env_file else None,
        "file_sha256": checksum.sha256_file(env_file) if env_file and env_file.is_file()
        else None,
        "subdir": settings.subdir,
    }


def is_explicit(path: Path | None) -> bool:
    """An ``@EXPLICIT`` list or a lock file: micromamba takes no extra specs with it."""
    if path is None or not path.is_file():
        return False
    if path.name.endswith(("-lock.yml", "-lock.yaml")):
        return True
    if path.suffix in (".yml", ".yaml"):
        return False
    with path.open(encoding="utf-8", errors="replace") as handle:
        return any(line.strip() == "@EXPLICIT" for line in handle)


def spec_name(spec: str) -> str:
    """``numpy>=2`` -> ``numpy``."""
    for i, char in enumerate(spec):
        if char in "=<>!~ [":
            return spec[:i]
    return spec


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(new)
            if old.get(k) != new.get(k)]
