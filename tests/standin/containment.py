"""Containment: what a mambaboot process may write, checked by snapshots.

    box = Containment(tmp_path, watched=[home, project.root],
                      allowed=[project.prefix, project.cache])
    mambaboot(*args, env=box.env, cwd=box.cwd)
    box.check()      # box.start() re-takes the snapshots after a test changed things itself

``box.cwd`` is an empty working directory and ``box.tmpdir`` the temp folder handed to
the process. After the scenario: every watched folder (HOME, the project) and the working
directory changed only inside an allowed path (the prefix, the cache, where the log goes),
and the temp folder is empty again: mambaboot removed its ``mambaboot-*`` folders and the
frozen bootloader its ``_MEI*`` unpack folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

Entry = tuple[str, int, int]  # kind ("d", "f", "l"), size, mtime_ns
# test node id -> every containment check of that test held; read by the reliability report
VERDICTS: dict[str, bool] = {}


def snapshot(root: Path) -> dict[str, Entry]:
    """Every entry under ``root`` with its kind, size and modification time."""
    if not root.exists():
        return {}
    out: dict[str, Entry] = {}
    for path in root.rglob("*"):
        info = path.lstat()
        kind = "l" if path.is_symlink() else "d" if path.is_dir() else "f"
        size, mtime = (0, 0) if kind == "d" else (info.st_size, info.st_mtime_ns)
        out[str(path.relative_to(root))] = (kind, size, mtime)
    return out


def changes(before: dict[str, Entry], after: dict[str, Entry]) -> list[str]:
    """Relative paths added, removed or modified between two snapshots."""
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


class Containment:
    """Snapshots of the places a scenario must leave alone, taken at construction."""

    def __init__(self, tmp_path: Path, *, watched: Sequence[Path],
                 allowed: Iterable[Path] = ()) -> None:
        self.cwd = tmp_path / "work"
        self.tmpdir = tmp_path / "tmp"
        self.cwd.mkdir(exist_ok=True)
        self.tmpdir.mkdir(exist_ok=True)
        self.allowed = [Path(p) for p in allowed]
        self.watched = [*watched, self.cwd]
        self.before: dict[Path, dict[str, Entry]] = {}
        self.start()

    def start(self) -> None:
        """Take the snapshots (again): what the test itself changed so far is accepted."""
        self.before = {root: snapshot(root) for root in self.watched}

    @property
    def env(self) -> dict[str, str]:
        """Variables to give every mambaboot process of the scenario: the temp folder
        (TMPDIR on POSIX, TEMP and TMP on Windows)."""
        return {name: str(self.tmpdir) for name in ("TMPDIR", "TEMP", "TMP")}

    def allow(self, *paths: Path) -> None:
        """Also accept writes to ``paths`` (files a test's own scripts write)."""
        self.allowed += [Path(p) for p in paths]

    def _permitted(self, path: Path, kind: str | None) -> bool:
        for allowed in self.allowed:
            if path == allowed or path.is_relative_to(allowed):
                return True
            if kind in ("d", None) and allowed.is_relative_to(path):
                return True  # a parent folder of an allowed place (envs/ for the prefix)
        return False

    def violations(self, temp_leftovers: tuple[str, ...] = ()) -> list[str]:
        """What was written where it should not have been; ``temp_leftovers`` names
        prefixes of temp entries a killed process could not remove."""
        found = []
        for root in self.watched:
            after = snapshot(root)
            for rel in changes(self.before[root], after):
                entry = after.get(rel) or self.before[root].get(rel)
                if not self._permitted(root / rel, entry[0] if entry else None):
                    found.append(str(root / rel))
        for left in sorted(self.tmpdir.iterdir()):
            if not left.name.startswith(temp_leftovers):
                found.append(f"{left} (left in the temp folder)")
        return found

    def check(self, temp_leftovers: tuple[str, ...] = ()) -> None:
        """Fail with the list of violations, if any."""
        found = self.violations(temp_leftovers)
        test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]
        VERDICTS[test] = VERDICTS.get(test, True) and not found
        assert not found, "written outside the prefix, cache and log:\n  " + "\n  ".join(found)
