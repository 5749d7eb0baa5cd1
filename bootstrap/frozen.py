"""Everything specific to the PyInstaller build: where the executable is, and the loader
variables that must not leak into child processes."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

# Variables PyInstaller's bootloader sets for its own processes. A child that is itself a
# PyInstaller program (mambaboot run from a post-install script, say) would otherwise
# believe it is already unpacked. The LD_* / DYLD_* originals are restored below.
_LOADER_PREFIXES = ("_PYI_", "_MEIPASS")
_LIBRARY_PATH_VARS = ("LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH", "LIBPATH")


def is_frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def executable() -> Path | None:
    """The mambaboot executable when frozen, else None (running from source)."""
    return Path(sys.executable).resolve() if is_frozen() else None


def loader_free_env(env: Mapping[str, str], *, frozen: bool | None = None) -> dict[str, str]:
    """Return ``env`` without what PyInstaller's bootloader added.

    On Linux the bootloader prepends its unpack folder to ``LD_LIBRARY_PATH`` and keeps the
    user's value in ``LD_LIBRARY_PATH_ORIG``; children must get the original back, or they
    load our bundled libssl/libpython instead of their own.
    """
    frozen = is_frozen() if frozen is None else frozen
    out = {k: v for k, v in env.items() if not k.startswith(_LOADER_PREFIXES)}
    for var in _LIBRARY_PATH_VARS:
        original = out.pop(var + "_ORIG", None)
        if original is not None:
            out[var] = original
        elif frozen:
            out.pop(var, None)
    return out
