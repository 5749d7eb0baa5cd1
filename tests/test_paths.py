"""Pure path rules of bootstrap.paths: names, versions, prefix folders, ``{drive}`` and the
cache layout. Windows cases use PureWindowsPath so they run on any host."""

from __future__ import annotations

from pathlib import PurePath, PurePosixPath, PureWindowsPath

import pytest

from bootstrap import paths
from bootstrap.errors import ConfigError


def probe(*existing: PurePath) -> paths.Exists:
    """An ``exists`` function that answers from a fixed set of paths."""
    present = set(existing)
    return lambda path: path in present


@pytest.mark.parametrize("name", ["py", "my-env", "env_1.2", "a" * paths.MAX_NAME_LENGTH,
                                  "données", "COM10", "console", "lpt"])
def test_valid_names_are_returned_unchanged(name: str) -> None:
    assert paths.validate_name(name) == name


@pytest.mark.parametrize(("name", "reason"), [
    ("", "empty"),
    ("   ", "empty"),
    ("a" * (paths.MAX_NAME_LENGTH + 1), "longer than 64"),
    (".", "cannot be '.'"),
    ("..", "cannot be '.'"),
    ("env.", "end with a dot"),
    (" env", "surrounding spaces"),
    ("env ", "surrounding spaces"),
    ("a/b", "contains '/'"),
    ("a\\b", "contains '\\\\'"),
    ("a:b", "contains ':'"),
    ("a*b?", "contains '*' '?'"),
    ('a"b', "contains '\"'"),
    ("a|b<c>", "contains '<' '>' '|'"),
    ("a\tb", "contains '\\t'"),
    ("CON", "reserved device name"),
    ("nul", "reserved device name"),
    ("Com1", "reserved device name"),
    ("LPT9.txt", "reserved device name"),
    ("aux.env", "reserved device name"),
])
def test_invalid_names_are_config_errors_saying_why(name: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        paths.validate_name(name)
    assert info.value.exit_code == 2
    assert f"Invalid environment name {name!r}" in info.value.message
    assert reason in info.value.message
    assert "mambaboot create myenv 3.12" in info.value.hint


@pytest.mark.parametrize("version", ["3.12", "3.8", "3.12.4", "2.7", "3.13.10"])
def test_python_versions_accepted(version: str) -> None:
    assert paths.validate_python(version) == version


@pytest.mark.parametrize("version", ["3", "3.", "3.12.", "3.12.4.1", "4.0", "3.123", "py3.12",
                                     "3.12rc1", " 3.12", "3.12 ", "", "3.12\n", "3,12"])
def test_python_versions_rejected_with_exit_code_2(version: str) -> None:
    with pytest.raises(ConfigError) as info:
        paths.validate_python(version)
    assert info.value.exit_code == 2
    assert f"Invalid Python version {version!r}" in info.value.message
    assert "3.12" in info.value.hint


@pytest.mark.parametrize(("name", "python", "folder"), [
    ("py", "3.12", "py_3_12"),
    ("py", "3.11.9", "py_3_11_9"),
    ("py", None, "py"),
    ("work.env", "3.10", "work.env_3_10"),
])
def test_prefix_folder_name_follows_the_reference_script(name: str, python: str | None,
                                                          folder: str) -> None:
    assert paths.prefix_folder_name(name, python) == folder


def test_python_spec_pins_only_when_a_version_is_given() -> None:
    assert paths.python_spec("3.12") == "python=3.12"
    assert paths.python_spec(None) == "python"


def test_drive_anchor_on_windows_is_the_drive_root() -> None:
    never = probe()
    assert paths.drive_anchor(PureWindowsPath(r"E:\tools\mambaboot.exe"), never) \
        == PureWindowsPath("E:\\")
    assert paths.drive_anchor(PureWindowsPath(r"\\server\share\tools\mambaboot.exe"), never) \
        == PureWindowsPath("\\\\server\\share\\")


def test_drive_anchor_on_posix_is_the_nearest_mount_point() -> None:
    exe = PurePosixPath("/media/usb/tools/mambaboot")
    mounted = probe(PurePosixPath("/media/usb"), PurePosixPath("/"))
    assert paths.drive_anchor(exe, mounted) == PurePosixPath("/media/usb")
    assert paths.drive_anchor(PurePosixPath("/media/usb"), mounted) == PurePosixPath("/media/usb")
    assert paths.drive_anchor(exe, probe()) == PurePosixPath("/")


@pytest.mark.parametrize(("value", "drive", "expected"), [
    ("{drive}\\CACHE", PureWindowsPath("E:\\"), "E:\\CACHE"),
    ("{drive}\\dev\\Anaconda\\envs", PureWindowsPath("E:\\"), "E:\\dev\\Anaconda\\envs"),
    ("{drive}/CACHE", PurePosixPath("/"), "/CACHE"),
    ("{drive}/CACHE", PurePosixPath("/media/usb"), "/media/usb/CACHE"),
    ("D:\\CACHE", PureWindowsPath("E:\\"), "D:\\CACHE"),
])
def test_expand_drive(value: str, drive: PurePath, expected: str) -> None:
    assert paths.expand_drive(value, drive) == expected


def test_default_envs_dir_prefers_the_reference_layout_on_the_drive() -> None:
    drive, cwd = PureWindowsPath("E:\\"), PureWindowsPath(r"C:\Users\u\work")
    layout = PureWindowsPath(r"E:\dev\Anaconda\envs")
    assert paths.default_envs_dir(drive, cwd, probe(layout)) == layout
    assert paths.default_envs_dir(drive, cwd, probe()) == cwd
    # a similar folder elsewhere does not count
    assert paths.default_envs_dir(drive, cwd, probe(PureWindowsPath(r"C:\dev\Anaconda\envs"))) \
        == cwd


def test_default_cache_dir_uses_drive_cache_when_present() -> None:
    drive, user = PureWindowsPath("E:\\"), PureWindowsPath(r"C:\Users\u\AppData\Local\mambaboot")
    assert paths.default_cache_dir(drive, user, probe(PureWindowsPath(r"E:\CACHE"))) \
        == PureWindowsPath(r"E:\CACHE")
    assert paths.default_cache_dir(drive, user, probe()) == user


def test_pkgs_dir_keeps_the_legacy_layout_and_defaults_to_cache_pkgs() -> None:
    cache = PureWindowsPath(r"E:\CACHE")
    legacy = PureWindowsPath(r"E:\CACHE\Python\pkgs")
    assert paths.pkgs_dir(cache, probe(legacy)) == legacy
    assert paths.pkgs_dir(cache, probe()) == PureWindowsPath(r"E:\CACHE\pkgs")
    # an existing CACHE/pkgs does not hide a legacy folder
    assert paths.pkgs_dir(cache, probe(legacy, PureWindowsPath(r"E:\CACHE\pkgs"))) == legacy
    # only Python/pkgs counts, not Python alone
    assert paths.pkgs_dir(cache, probe(PureWindowsPath(r"E:\CACHE\Python"))) \
        == PureWindowsPath(r"E:\CACHE\pkgs")


def test_cache_layout_places_everything_inside_the_cache() -> None:
    layout = paths.CacheLayout(PureWindowsPath(r"E:\CACHE"))
    assert layout.root == PureWindowsPath(r"E:\CACHE\root")
    assert layout.profile == PureWindowsPath(r"E:\CACHE\root\profile")
    assert layout.state == PureWindowsPath(r"E:\CACHE\root\mambaboot")
    assert layout.logs == PureWindowsPath(r"E:\CACHE\logs")
    assert layout.micromamba_dir("2.3.0-1") == PureWindowsPath(r"E:\CACHE\micromamba\2.3.0-1")


@pytest.mark.parametrize(("system", "environ", "home", "expected"), [
    ("windows", {"LOCALAPPDATA": r"D:\Local"}, PureWindowsPath(r"C:\Users\u"),
     PureWindowsPath(r"D:\Local\mambaboot")),
    ("windows", {}, PureWindowsPath(r"C:\Users\u"),
     PureWindowsPath(r"C:\Users\u\AppData\Local\mambaboot")),
    ("darwin", {"XDG_CACHE_HOME": "/x"}, PurePosixPath("/Users/u"),
     PurePosixPath("/Users/u/Library/Caches/mambaboot")),
    ("linux", {"XDG_CACHE_HOME": "/xdg/cache"}, PurePosixPath("/home/u"),
     PurePosixPath("/xdg/cache/mambaboot")),
    ("linux", {"XDG_CACHE_HOME": ""}, PurePosixPath("/home/u"),
     PurePosixPath("/home/u/.cache/mambaboot")),
    ("linux", None, PurePosixPath("/home/u"), PurePosixPath("/home/u/.cache/mambaboot")),
    # no home folder known (Windows without USERPROFILE): only the variables can say
    ("windows", {"LOCALAPPDATA": r"D:\Local"}, None, PureWindowsPath(r"D:\Local\mambaboot")),
    ("windows", {}, None, None),
    ("linux", {"XDG_CACHE_HOME": "/xdg/cache"}, None, PurePosixPath("/xdg/cache/mambaboot")),
    ("linux", {}, None, None),
    ("darwin", {}, None, None),
])
def test_user_cache_dir(system: str, environ: dict[str, str] | None, home: PurePath | None,
                        expected: PurePath | None) -> None:
    assert paths.user_cache_dir(system, environ, home) == expected
