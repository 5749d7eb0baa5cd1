"""Finishing an environment: the ``pkgs`` link to the shared cache, and what is left when
the file system cannot link (FAT32/exFAT, some shares, Wine)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bootstrap import finish, windows
from bootstrap.report import Recorder


@pytest.fixture
def prefix(tmp_path: Path) -> Path:
    path = tmp_path / "envs" / "py"
    path.mkdir(parents=True)
    return path


def warnings(recorder: Recorder) -> list[str]:
    return [text for kind, text in recorder.events if kind == "warn"]


def test_a_failed_junction_leaves_no_folder_and_warns_once(
        prefix: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[Path] = []

    def create_junction_like_cpython(target: Path, link: Path) -> None:
        attempts.append(link)
        link.mkdir()  # _winapi.CreateJunction makes the folder before it fails
        raise OSError(50, "The request is not supported")

    monkeypatch.setattr(windows, "create_junction", create_junction_like_cpython)
    recorder = Recorder()
    finish.link_pkgs(prefix, tmp_path / "cache" / "pkgs", finish.junction, recorder)
    assert not (prefix / "pkgs").exists()
    [warning] = warnings(recorder)
    assert warning.startswith(f"Could not link {prefix / 'pkgs'} to the package cache ")
    assert "through .condarc" in warning
    finish.link_pkgs(prefix, tmp_path / "cache" / "pkgs", finish.junction, Recorder())
    assert len(attempts) == 2, "a later run tries again instead of skipping silently"


def test_an_empty_pkgs_folder_left_by_an_earlier_failure_is_linked_now(
        prefix: Path, tmp_path: Path) -> None:
    (prefix / "pkgs").mkdir()
    made: list[tuple[Path, Path, bool]] = []
    cache = tmp_path / "cache" / "pkgs"
    finish.link_pkgs(prefix, cache,
                     lambda target, link: made.append((target, link, link.exists())), Recorder())
    assert made == [(cache, prefix / "pkgs", False)]


def test_a_real_pkgs_folder_with_content_is_left_alone(prefix: Path, tmp_path: Path) -> None:
    (prefix / "pkgs").mkdir()
    (prefix / "pkgs" / "mine.txt").write_text("keep", encoding="utf-8")
    made: list[Path] = []
    recorder = Recorder()
    finish.link_pkgs(prefix, tmp_path / "cache" / "pkgs",
                     lambda target, link: made.append(link), recorder)
    assert made == []
    assert (prefix / "pkgs" / "mine.txt").read_text(encoding="utf-8") == "keep"
    assert warnings(recorder) == []
