"""sha256 helpers used without the network stack (cache checks, bundles)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from bootstrap.errors import ChecksumError

_HEX = set("0123456789abcdef")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_sha256_text(text: str, what: str) -> str:
    """The hash in a ``.sha256`` file: 64 hex characters, possibly with surrounding
    whitespace or a file name after it (``sha256sum`` style); case-insensitive."""
    words = text.strip().split()
    value = words[0].lower().lstrip("\\") if words else ""
    if len(value) != 64 or not set(value) <= _HEX:
        raise ChecksumError(
            f"The checksum file for {what} does not hold a sha256 (got {text.strip()[:80]!r}).",
            hint="Check the mirror, or pin the hash with --micromamba-sha256.",
        )
    return value
