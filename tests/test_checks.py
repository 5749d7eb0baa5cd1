"""The decisions behind preflight's Windows warnings and doctor (bootstrap.checks)."""

from __future__ import annotations

from pathlib import PureWindowsPath as W

import pytest

from bootstrap import checks
from bootstrap.checks import FAIL, OK, WARN, WindowsFacts


def test_cache_layout_follows_micromamba_2_nesting() -> None:
    assert checks.cache_layout("conda-forge", "win-64") == \
        "https/conda.anaconda.org/conda-forge/win-64"
    assert checks.cache_layout("http://127.0.0.1:8080/my/chan", "noarch") == \
        "http/127.0.0.1_8080/my/chan/noarch"


def test_short_paths_fit_the_budget() -> None:
    check = checks.path_budget(W(r"C:\envs\py_3_12"), W(r"C:\mb\pkgs"), ("conda-forge",),
                               "win-64", long_paths_enabled=False)
    assert check.status == OK


def test_deep_folders_without_long_paths_warn_with_a_fix() -> None:
    deep = W(r"C:\Users\someone\Documents\Projects\2026\customer-analysis\tools\envs\py_3_12")
    cache = W(r"C:\Users\someone\AppData\Local\mambaboot\cache\pkgs")
    longest = checks.projected_longest(deep, cache, ("conda-forge",), "win-64")
    assert longest >= checks.MAX_PATH
    check = checks.path_budget(deep, cache, ("conda-forge",), "win-64",
                               long_paths_enabled=False)
    assert check.status == WARN
    assert str(longest) in check.detail
    assert "LongPathsEnabled" in check.fix and "--cache-dir" in check.fix


def test_long_paths_enabled_turns_the_warning_into_advice() -> None:
    deep = W("C:\\" + "x" * 200)
    check = checks.path_budget(deep, deep / "pkgs", ("conda-forge",), "win-64",
                               long_paths_enabled=True)
    assert check.status == OK
    assert "cmd.exe" in check.fix


def test_projected_length_counts_the_longest_channel() -> None:
    short = checks.projected_longest(W(r"C:\e"), W(r"C:\p"), ("conda-forge",), "win-64")
    long = checks.projected_longest(W(r"C:\e"), W(r"C:\p"),
                                    ("conda-forge", "https://mirror.example.com/artifactory/api/conda/cf"),
                                    "win-64")
    assert long - short == len("mirror.example.com/artifactory/api/conda/cf") - len(
        "conda.anaconda.org/conda-forge")


@pytest.mark.parametrize(("path", "words"), [
    (r"C:\envs\py", []),
    (r"C:\My Envs\py", ["spaces"]),
    (r"C:\Users\Zoë\envs", ["non-ASCII"]),
    (r"C:\a&b\py", ["cmd metacharacters &"]),
    (r"C:\100%\x!y^z", ["cmd metacharacters ! % ^"]),
    (r"C:\(x86) tools", ["spaces", "cmd metacharacters ( )"]),
])
def test_path_hazards(path: str, words: list[str]) -> None:
    check = checks.path_hazards("environment", path)
    assert check.status == (WARN if words else OK)
    for word in words:
        assert word in check.detail


def test_autorun_is_reported_never_fixed_by_us() -> None:
    assert checks.autorun({}).status == OK
    check = checks.autorun({"HKCU": r'if exist "C:\old\condabin\conda_hook.bat" ...'})
    assert check.status == WARN
    assert "HKCU" in check.detail and "/D" in check.fix


def test_leftover_appdata_mamba_names_the_known_issue() -> None:
    assert checks.appdata_mamba(r"C:\Users\u\AppData\Roaming\mamba", False).status == OK
    check = checks.appdata_mamba(r"C:\Users\u\AppData\Roaming\mamba", True)
    assert check.status == WARN and "mamba#4077" in check.fix


@pytest.mark.parametrize(("fs", "status"), [("exFAT", WARN), ("vfat", WARN), ("FAT32", WARN),
                                            ("NTFS", OK), ("ext4", OK)])
def test_filesystems_without_links(fs: str, status: str) -> None:
    assert checks.filesystem("cache", fs).status == status


def test_windows_preflight_lists_every_check() -> None:
    facts = WindowsFacts(long_paths_enabled=False, autorun={"HKLM": "x"},
                         appdata_mamba=r"C:\a\mamba", appdata_mamba_exists=True)
    found = checks.windows_preflight(W(r"C:\e\py"), W(r"C:\p"), ("conda-forge",), "win-64",
                                     facts)
    assert [c.name for c in found] == ["path length", "environment path",
                                       "package cache path", "cmd AutoRun",
                                       "%APPDATA%\\mamba"]
    assert [c.status for c in found] == [OK, OK, OK, WARN, WARN]
    assert all(c.status != FAIL for c in found)
