"""The real micromamba, for the conformance tests (marker ``conformance``) and the contract
probes (tests/test_contract.py).

Where it comes from: ``MAMBABOOT_REAL_MICROMAMBA`` (a path; empty to switch the real runs
off), else ``shared/tools/micromamba/micromamba-<subdir>`` in a folder above the repository
(on the project's machines: ``/work/shared/tools/micromamba/``). It is used where it lies:
the tests read its bytes and publish them from the loopback server as a release download
with its ``.sha256``, exactly like the stand-in, so mambaboot downloads, verifies and caches
it as it would for a user. Without one, the real runs are skipped with the reason.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

from tests.standin.channel import host_subdir

REAL_ENV = "MAMBABOOT_REAL_MICROMAMBA"
STANDIN, REAL = "standin", "real"
REPO = Path(__file__).resolve().parents[2]


def _search() -> Path | None:
    name = f"micromamba-{host_subdir()}" + (".exe" if os.name == "nt" else "")
    for folder in REPO.parents:
        candidate = folder / "shared" / "tools" / "micromamba" / name
        if candidate.is_file():
            return candidate
    return None


def real_binary() -> Path | None:
    """The real micromamba of this machine, or None."""
    given = os.environ.get(REAL_ENV)
    if given is None:
        return _search()
    return Path(given) if given and Path(given).is_file() else None


def skip_reason() -> str:
    """Why the real runs are skipped (``""`` when they are not)."""
    given = os.environ.get(REAL_ENV)
    if real_binary() is not None:
        return ""
    if given == "":
        return f"real micromamba switched off ({REAL_ENV} is empty)"
    if given:
        return f"{REAL_ENV}={given} is not a file"
    return (f"no real micromamba: set {REAL_ENV} to a micromamba 2.x binary, or put one at "
            f"shared/tools/micromamba/micromamba-{host_subdir()} above the repository")


@functools.cache
def real_bytes() -> bytes:
    """The binary's bytes (read once per session; 7.7 MB for 2.8.1)."""
    path = real_binary()
    if path is None:
        raise FileNotFoundError(skip_reason())
    return path.read_bytes()


@functools.cache
def real_version() -> str:
    """What the real binary's ``--version`` says ("" when there is none)."""
    path = real_binary()
    if path is None:
        return ""
    done = subprocess.run([str(path), "--version"], capture_output=True, text=True,
                          timeout=60, check=False)
    return done.stdout.strip() if done.returncode == 0 else ""
