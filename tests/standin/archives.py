"""Hand-made conda ``.tar.bz2`` archives, including hostile ones, for extraction tests.

    data = tar_bz2([file_member("bin/micromamba", b"..."),
                    link_member("bin/evil", "../../etc/passwd")])
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Member:
    info: tarfile.TarInfo
    data: bytes | None = None


def file_member(name: str, data: bytes, mode: int = 0o755) -> Member:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    return Member(info, data)


def link_member(name: str, target: str, *, hard: bool = False) -> Member:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return Member(info)


def special_member(name: str, kind: bytes = tarfile.CHRTYPE) -> Member:
    """A device or FIFO entry: metadata only, nothing is created by building it."""
    info = tarfile.TarInfo(name)
    info.type = kind
    return Member(info)


def tar_bz2(members: Sequence[Member]) -> bytes:
    """The bytes of a ``.tar.bz2`` holding ``members`` in order."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:bz2") as tar:
        for member in members:
            tar.addfile(member.info, io.BytesIO(member.data) if member.data is not None
                        else None)
    return buffer.getvalue()
