"""Child-process environments (bootstrap.environ): one scrubber, Windows' case-insensitive
names, and the profile redirection for micromamba's own process (DESIGN 3.4)."""

from __future__ import annotations

from pathlib import PurePosixPath, PureWindowsPath

import pytest

from bootstrap import environ
from bootstrap.platform import POSIX, WINDOWS

DIRTY = {
    "CONDA_PREFIX": "/opt/conda",
    "CONDA_SHLVL": "1",
    "CONDA_DEFAULT_ENV": "base",
    "CONDA_EXE": "/opt/conda/bin/conda",
    "CONDA_PKGS_DIRS": "/pkgs",
    "_CE_M": "",
    "_CE_CONDA": "x",
    "__CONDA_SHLVL_0_FOO": "old",
    "MAMBA_ROOT_PREFIX": "/opt/mamba",
    "MAMBA_EXE": "/opt/mamba/bin/micromamba",
    "CONDARC": "/etc/condarc",
    "MAMBARC": "/etc/mambarc",
    "PYTHONHOME": "/usr",
    "PYTHONPATH": "/site",
    "PYTHONSTARTUP": "/x.py",
    "PYTHON_ENVS": "D:/envs",
    "VIRTUAL_ENV": "/venv",
    "VIRTUAL_ENV_PROMPT": "(venv)",
    "PYENV_VERSION": "3.9.1",
}
CLEAN = {
    "HOME": "/home/u",
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "HTTPS_PROXY": "http://proxy:3128",
    "MAMBABOOT_UNATTENDED": "1",
    "PY_ENVS": "/envs",
    "MY_PYTHON_TOOL": "keep",
}


def test_child_env_drops_every_python_and_conda_leftover() -> None:
    child = environ.child_env({**DIRTY, **CLEAN}, POSIX)
    assert child == CLEAN


def test_child_env_applies_values_after_scrubbing() -> None:
    child = environ.child_env({**DIRTY, **CLEAN}, POSIX,
                              {"CONDA_PREFIX": "/new", "PATH": "/new/bin:/usr/bin"})
    assert child["CONDA_PREFIX"] == "/new"
    assert child["PATH"] == "/new/bin:/usr/bin"
    assert "CONDA_SHLVL" not in child
    assert "PYTHONPATH" not in child


def test_child_env_does_not_change_the_base_mapping() -> None:
    base = {**DIRTY, **CLEAN}
    snapshot = dict(base)
    environ.child_env(base, WINDOWS, {"PATH": "x"})
    assert base == snapshot


def test_child_env_scrubs_names_in_any_case() -> None:
    child = environ.child_env({"conda_prefix": "x", "Virtual_Env": "y", "PythonPath": "z",
                               "Keep": "k"}, WINDOWS)
    assert child == {"Keep": "k"}


def test_child_env_removes_the_bundle_loader_variables() -> None:
    base = {"_PYI_APPLICATION_HOME_DIR": "/tmp/_MEI1", "_MEIPASS2": "/tmp/_MEI1",
            "LD_LIBRARY_PATH": "/tmp/_MEI1:/usr/lib/custom",
            "LD_LIBRARY_PATH_ORIG": "/usr/lib/custom", "HOME": "/h"}
    assert environ.child_env(base, POSIX) == {"LD_LIBRARY_PATH": "/usr/lib/custom", "HOME": "/h"}


def test_child_env_on_windows_keeps_one_spelling_of_path() -> None:
    child = environ.child_env({"Path": r"C:\Windows", "SystemRoot": r"C:\Windows"}, WINDOWS,
                              {"PATH": r"C:\env;C:\Windows"})
    assert [k for k in child if k.upper() == "PATH"] == ["PATH"]
    assert child["PATH"] == r"C:\env;C:\Windows"
    assert child["SystemRoot"] == r"C:\Windows"


def test_inherited_variables_lists_what_is_dropped_sorted_and_skips_empty_values() -> None:
    base = {**CLEAN, "PYTHONPATH": "/x", "CONDA_PREFIX": "/c", "VIRTUAL_ENV": "",
            "MAMBA_ROOT_PREFIX": "/m"}
    assert environ.inherited_variables(base) == ["CONDA_PREFIX", "MAMBA_ROOT_PREFIX",
                                                 "PYTHONPATH"]
    assert environ.inherited_variables(CLEAN) == []


def test_strict_offenders_are_the_reference_scripts_list_and_relatives() -> None:
    base = {**DIRTY, **CLEAN}
    assert environ.strict_offenders(base, POSIX) == [
        "CONDA_PREFIX", "CONDA_SHLVL", "CONDA_DEFAULT_ENV", "PYTHONHOME", "PYTHONPATH",
        "PYTHON_ENVS", "VIRTUAL_ENV", "CONDARC", "MAMBARC"]


def test_strict_offenders_ignore_harmless_and_empty_variables() -> None:
    base = {**CLEAN, "CONDA_PKGS_DIRS": "/pkgs", "MAMBA_ROOT_PREFIX": "/m", "PYTHONPATH": "",
            "PYTHONUTF8": "1"}
    assert environ.strict_offenders(base, POSIX) == []


def test_strict_offenders_ignore_case_on_windows_only() -> None:
    base = {"Conda_Prefix": r"C:\conda", "PythonHome": r"C:\Python"}
    assert environ.strict_offenders(base, WINDOWS) == ["Conda_Prefix", "PythonHome"]
    assert environ.strict_offenders(base, POSIX) == []


@pytest.mark.parametrize(("env", "name", "windows", "posix"), [
    ({"PATH": "a"}, "PATH", "a", "a"),
    ({"Path": "b"}, "PATH", "b", None),
    ({"path": "c"}, "Path", "c", None),
    ({"PATH": "exact", "Path": "other"}, "Path", "other", "other"),
    ({}, "PATH", None, None),
])
def test_get_ignores_case_on_windows(env: dict[str, str], name: str, windows: str | None,
                                     posix: str | None) -> None:
    assert environ.get(env, name, WINDOWS) == windows
    assert environ.get(env, name, POSIX) == posix


def test_put_replaces_every_spelling_on_windows() -> None:
    env = {"Path": "old", "PATH": "older", "path": "oldest", "X": "1"}
    environ.put(env, "PATH", "new", WINDOWS)
    assert env == {"PATH": "new", "X": "1"}


def test_put_on_posix_keeps_other_spellings() -> None:
    env = {"Path": "old"}
    environ.put(env, "PATH", "new", POSIX)
    assert env == {"Path": "old", "PATH": "new"}


def test_profile_redirect_on_posix_points_home_and_xdg_into_the_profile() -> None:
    profile = PurePosixPath("/cache/root/profile")
    assert environ.profile_redirect(profile, POSIX) == {
        "HOME": "/cache/root/profile/home",
        "XDG_CONFIG_HOME": "/cache/root/profile/xdg/config",
        "XDG_DATA_HOME": "/cache/root/profile/xdg/data",
        "XDG_CACHE_HOME": "/cache/root/profile/xdg/cache",
        "XDG_STATE_HOME": "/cache/root/profile/xdg/state",
        "TMPDIR": "/cache/root/profile/tmp",
    }


def test_profile_redirect_on_windows_covers_userprofile_appdata_and_temp() -> None:
    profile = PureWindowsPath(r"E:\CACHE\root\profile")
    got = environ.profile_redirect(profile, WINDOWS)
    assert got["USERPROFILE"] == r"E:\CACHE\root\profile\home"
    assert got["HOME"] == r"E:\CACHE\root\profile\home"
    assert got["APPDATA"] == r"E:\CACHE\root\profile\home\AppData\Roaming"
    assert got["LOCALAPPDATA"] == r"E:\CACHE\root\profile\home\AppData\Local"
    assert got["TEMP"] == got["TMP"] == r"E:\CACHE\root\profile\tmp"
    assert (got["HOMEDRIVE"], got["HOMEPATH"]) == ("E:", r"\CACHE\root\profile\home")
    folders = {k: v for k, v in got.items() if k not in ("HOMEDRIVE", "HOMEPATH")}
    assert all(PureWindowsPath(v).is_relative_to(profile) for v in folders.values())


def test_profile_redirect_on_a_network_share_splits_home_at_the_share() -> None:
    got = environ.profile_redirect(PureWindowsPath(r"\\srv\share\CACHE\root\profile"), WINDOWS)
    assert got["HOMEDRIVE"] + got["HOMEPATH"] == got["USERPROFILE"]
    assert got["HOMEDRIVE"] == r"\\srv\share"


def test_micromamba_sees_no_trace_of_the_users_home_on_windows() -> None:
    base = {"USERPROFILE": r"C:\Users\me", "HOMEDRIVE": "C:", "HomePath": r"\Users\me",
            "APPDATA": r"C:\Users\me\AppData\Roaming", "SystemRoot": r"C:\Windows"}
    profile = PureWindowsPath(r"E:\CACHE\root\profile")
    env = environ.child_env(base, WINDOWS, environ.profile_redirect(profile, WINDOWS))
    assert not [v for v in env.values() if r"\Users\me" in v]
    assert env["HOMEDRIVE"] + env["HOMEPATH"] == env["USERPROFILE"]
    assert env["SystemRoot"] == r"C:\Windows"


@pytest.mark.parametrize(("value", "items"), [
    ("/a, b", ["/a", "b"]),
    ("'/x, y/pkgs', /q", ["/x, y/pkgs", "/q"]),
    (environ.yaml_quoted("C:\\Smith, John's #1 [c]\\pkgs"), ["C:\\Smith, John's #1 [c]\\pkgs"]),
    ('"a\\\\b, c", d', ["a\\b, c", "d"]),
    (" , /a ,", ["/a"]),
    ("", []),
])
def test_list_variables_read_as_micromamba_reads_them(value: str, items: list[str]) -> None:
    assert environ.yaml_list(value) == items
