"""Preflight (bootstrap.preflight, DESIGN 3.2): what is at the prefix, claims of prefixes
being created, inherited variables and --strict, and where the prefix may be."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from bootstrap import preflight
from bootstrap.errors import RefusedError
from bootstrap.platform import POSIX, WINDOWS
from bootstrap.preflight import Claims, PrefixState
from bootstrap.receipt import DONE, RUNNING, STAGES, Receipt, receipt_path
from tests.conftest import NO_SYMLINKS, Mambaboot, tree
from tests.project import Project

INPUTS = {"python": "3.12", "specs": ["python=3.12"], "channels": ["conda-forge"]}


@pytest.fixture
def claims(tmp_path: Path) -> Claims:
    return Claims(tmp_path / "cache" / "root" / "mambaboot")


@pytest.fixture
def prefix(tmp_path: Path) -> Path:
    return tmp_path / "envs" / "py_3_12"


def save_receipt(prefix: Path, *done: str) -> Receipt:
    r = Receipt(prefix, dict(INPUTS))
    for stage in done:
        r.mark(stage, RUNNING)
        r.mark(stage, DONE)
    r.save()
    return r


def age(path: Path, seconds: float) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


# -- inspect_prefix ------------------------------------------------------------------------

def test_absent_prefix(prefix: Path, claims: Claims) -> None:
    assert preflight.inspect_prefix(prefix, claims).state is PrefixState.ABSENT


def test_empty_prefix(prefix: Path, claims: Claims) -> None:
    prefix.mkdir(parents=True)
    assert preflight.inspect_prefix(prefix, claims).state is PrefixState.EMPTY


def test_a_file_at_the_prefix_is_foreign(prefix: Path, claims: Claims) -> None:
    prefix.parent.mkdir(parents=True)
    prefix.write_text("x", encoding="utf-8")
    found = preflight.inspect_prefix(prefix, claims)
    assert found.state is PrefixState.FOREIGN
    assert found.sample == ["py_3_12 (a file)"]


@pytest.mark.wine_gap(NO_SYMLINKS)
def test_a_dangling_link_at_the_prefix_is_foreign(prefix: Path, claims: Claims,
                                                  tmp_path: Path) -> None:
    prefix.parent.mkdir(parents=True)
    os.symlink(tmp_path / "gone", prefix)
    assert preflight.inspect_prefix(prefix, claims).state is PrefixState.FOREIGN


def test_a_python_without_our_receipt_is_foreign(prefix: Path, claims: Claims) -> None:
    prefix.mkdir(parents=True)
    for name in ("Lib", "DLLs", "Scripts", "conda-meta", "tcl"):
        (prefix / name).mkdir()
    for name in ("python.exe", "python312.dll"):
        (prefix / name).write_bytes(b"MZ")
    found = preflight.inspect_prefix(prefix, claims)
    assert found.state is PrefixState.FOREIGN
    assert found.receipt is None
    assert found.sample == ["DLLs", "Lib", "Scripts", "conda-meta", "python.exe"]


def test_one_stray_file_is_foreign(prefix: Path, claims: Claims) -> None:
    prefix.mkdir(parents=True)
    (prefix / "notes.txt").write_text("mine", encoding="utf-8")
    found = preflight.inspect_prefix(prefix, claims)
    assert found.state is PrefixState.FOREIGN
    assert found.sample == ["notes.txt"]


def test_incomplete_receipt(prefix: Path, claims: Claims) -> None:
    save_receipt(prefix, "create", "finish")
    found = preflight.inspect_prefix(prefix, claims)
    assert found.state is PrefixState.INCOMPLETE
    assert found.receipt is not None
    assert found.receipt.first_unfinished() == "verify"


def test_complete_receipt(prefix: Path, claims: Claims) -> None:
    save_receipt(prefix, *STAGES)
    found = preflight.inspect_prefix(prefix, claims)
    assert found.state is PrefixState.COMPLETE
    assert found.receipt is not None
    assert found.receipt.inputs == INPUTS


def test_unreadable_receipt_without_claim_is_foreign(prefix: Path, claims: Claims) -> None:
    receipt_path(prefix).parent.mkdir(parents=True)
    receipt_path(prefix).write_text("{", encoding="utf-8")
    assert preflight.inspect_prefix(prefix, claims).state is PrefixState.FOREIGN


def test_interrupted_create_is_recognised_from_our_claim(prefix: Path, claims: Claims) -> None:
    claims.add(prefix)
    (prefix / "conda-meta").mkdir(parents=True)
    (prefix / "pkgs").mkdir()
    (prefix / "python.exe").write_bytes(b"")
    age(prefix / "python.exe", 3600)  # hard-linked files keep old times
    found = preflight.inspect_prefix(prefix, claims)
    assert found.state is PrefixState.INTERRUPTED_CREATE


def test_inspect_never_changes_anything(prefix: Path, claims: Claims) -> None:
    prefix.mkdir(parents=True)
    (prefix / "python.exe").write_bytes(b"MZ")
    before = sorted(p.name for p in prefix.iterdir())
    preflight.inspect_prefix(prefix, claims)
    assert sorted(p.name for p in prefix.iterdir()) == before
    assert (prefix / "python.exe").read_bytes() == b"MZ"


# -- Claims --------------------------------------------------------------------------------

def test_claim_is_kept_in_the_private_state_folder(prefix: Path, claims: Claims,
                                                   tmp_path: Path) -> None:
    claims.add(prefix)
    files = list((tmp_path / "cache" / "root" / "mambaboot" / "claims").iterdir())
    assert len(files) == 1
    assert files[0].suffix == ".json"
    assert not prefix.exists()


def test_claim_needs_conda_meta(prefix: Path, claims: Claims) -> None:
    claims.add(prefix)
    prefix.mkdir(parents=True)
    (prefix / "pkgs").mkdir()
    assert not claims.made(prefix)
    (prefix / "conda-meta").mkdir()
    assert claims.made(prefix)


def test_folders_older_than_the_claim_are_not_ours(prefix: Path, claims: Claims) -> None:
    (prefix / "old").mkdir(parents=True)
    age(prefix / "old", 3600)
    claims.add(prefix)
    (prefix / "conda-meta").mkdir()
    assert not claims.made(prefix)
    assert preflight.inspect_prefix(prefix, claims).state is PrefixState.FOREIGN


def test_claim_released_is_gone(prefix: Path, claims: Claims) -> None:
    claims.add(prefix)
    (prefix / "conda-meta").mkdir(parents=True)
    claims.release(prefix)
    assert not claims.made(prefix)
    claims.release(prefix)  # releasing twice is harmless


def test_claim_is_per_prefix(prefix: Path, claims: Claims) -> None:
    other = prefix.parent / "other"
    claims.add(other)
    (prefix / "conda-meta").mkdir(parents=True)
    assert not claims.made(prefix)


def test_corrupt_claim_is_not_a_claim(prefix: Path, claims: Claims) -> None:
    claims.add(prefix)
    (prefix / "conda-meta").mkdir(parents=True)
    claim_file = next(claims.folder.iterdir())
    claim_file.write_text('{"prefix": "x"', encoding="utf-8")
    assert not claims.made(prefix)
    claim_file.write_text(json.dumps({"prefix": str(prefix)}), encoding="utf-8")
    assert not claims.made(prefix)


# -- inherited variables ---------------------------------------------------------------------

def test_clean_shell_gives_no_warning() -> None:
    assert preflight.check_inherited({"PATH": "/usr/bin", "HOME": "/h"}, POSIX, strict=True) \
        == []


def test_inherited_variables_are_a_warning_without_strict() -> None:
    env = {"CONDA_PREFIX": "/c", "PYTHONPATH": "/p", "MAMBA_ROOT_PREFIX": "/m", "PATH": "/b"}
    assert preflight.check_inherited(env, POSIX, strict=False) == [
        "Ignoring inherited Python/conda variables (not passed to any child): "
        "CONDA_PREFIX, MAMBA_ROOT_PREFIX, PYTHONPATH"]


@pytest.mark.parametrize("name", ["CONDA_PREFIX", "CONDA_SHLVL", "PYTHONHOME", "PYTHONPATH",
                                  "PYTHON_ENVS"])
def test_strict_refuses_what_the_reference_script_refused(name: str) -> None:
    with pytest.raises(RefusedError) as info:
        preflight.check_inherited({name: "x", "PATH": "/b"}, POSIX, strict=True)
    assert info.value.exit_code == 3
    assert info.value.message == f"This shell has Python/conda variables set: {name}."
    assert "--strict" in info.value.hint


def test_strict_lists_every_offender_in_windows_spelling() -> None:
    env = {"Conda_Prefix": r"C:\c", "PythonHome": r"C:\p", "Path": r"C:\Windows"}
    with pytest.raises(RefusedError) as info:
        preflight.check_inherited(env, WINDOWS, strict=True)
    assert info.value.message == \
        "This shell has Python/conda variables set: Conda_Prefix, PythonHome."


def test_strict_only_warns_about_harmless_leftovers() -> None:
    """CONDA_PKGS_DIRS is not "ignored": it is the reference script's package cache."""
    env = {"MAMBA_ROOT_PREFIX": "/m", "CONDA_PKGS_DIRS": "/p", "CONDA_PREFIX": ""}
    assert preflight.check_inherited(env, POSIX, strict=True) == [
        "Ignoring inherited Python/conda variables (not passed to any child): "
        "MAMBA_ROOT_PREFIX"]


# -- prefix location ---------------------------------------------------------------------------

@pytest.mark.parametrize(("prefix", "cache", "pkgs", "what"), [
    ("/x/cache", "/x/cache", "/x/cache/pkgs", "cache"),
    ("/x/cache/envs/py", "/x/cache", "/x/cache/pkgs", "cache"),
    ("/x/envs/py", "/x/envs/py/cache", "/x/envs/py/cache/pkgs", "cache"),
    ("/x/envs/py", "/x/cache", "/x/envs/py/pkgs", "package cache"),
    ("/x/pkgs/py", "/x/cache", "/x/pkgs", "package cache"),
])
def test_prefix_may_not_overlap_the_caches(prefix: str, cache: str, pkgs: str,
                                           what: str) -> None:
    with pytest.raises(RefusedError) as info:
        preflight.check_prefix_location(Path(prefix), Path(cache), Path(pkgs))
    assert info.value.exit_code == 3
    assert info.value.message == f"The environment folder {Path(prefix)} overlaps the {what} " \
        f"{Path(cache if what == 'cache' else pkgs)}."


@pytest.mark.parametrize(("prefix", "cache", "pkgs"), [
    ("/x/envs/py", "/x/cache", "/x/cache/pkgs"),
    ("/x/cache2", "/x/cache", "/x/cache/pkgs"),
    ("/x/cache", "/x/cache2", "/x/cache2/pkgs"),
    ("/d/envs/py", "/e/CACHE", "/e/CACHE/Python/pkgs"),
])
def test_separate_prefix_and_caches_pass(prefix: str, cache: str, pkgs: str) -> None:
    preflight.check_prefix_location(Path(prefix), Path(cache), Path(pkgs))


def test_refuse_foreign_names_the_prefix_and_what_is_there(prefix: Path) -> None:
    err = preflight.refuse_foreign(prefix, ["Lib", "python.exe"])
    assert err.exit_code == 3
    assert err.message == (f"{prefix} already exists and was not created by mambaboot "
                           "(it holds: Lib, python.exe).")
    assert "never deletes" in err.hint


@pytest.mark.posix
def test_a_failed_create_leaves_no_claim_on_the_folder(mambaboot: Mambaboot,
                                                       project: Project) -> None:
    failed = mambaboot(*project.args("--spec", "no-such-package"))
    assert failed.code == 6, failed.text
    assert not project.prefix.exists()
    (project.prefix / "conda-meta").mkdir(parents=True)
    (project.prefix / "data").mkdir()
    (project.prefix / "data" / "thesis.txt").write_text("years of work")
    before = tree(project.prefix)
    listed = mambaboot("list", "--config", str(project.config))
    assert "not made by mambaboot" in listed.out
    again = mambaboot(*project.args())
    assert again.code == 3, again.text
    assert tree(project.prefix) == before
