"""Activation computed by mambaboot (bootstrap.activation, DESIGN 4, contract 4.1-4.4):
PATH order, cleaning of other environments, the CONDA_* variables, prefix variables."""

from __future__ import annotations

import json
from pathlib import Path, PurePath, PurePosixPath, PureWindowsPath

import pytest

from bootstrap import activation, environ
from bootstrap.platform import CURRENT, POSIX, WINDOWS

W = PureWindowsPath
P = PurePosixPath
WIN_PREFIX = W(r"C:\app\env")
WIN_PREFIX_DIRS = [
    r"C:\app\env",
    r"C:\app\env\Library\mingw-w64\bin",
    r"C:\app\env\Library\usr\bin",
    r"C:\app\env\Library\bin",
    r"C:\app\env\Scripts",
    r"C:\app\env\bin",
    r"C:\app\env\condabin",
]


def probe(*existing: PurePath) -> activation.Probe:
    """What exists on a fake disk."""
    present = set(existing)
    return lambda path: path in present


NOTHING = probe()


def win_vars(base_path: str, exists: activation.Probe = NOTHING,
             prefix: PureWindowsPath = WIN_PREFIX, **base: str) -> dict[str, str]:
    return activation.variables(prefix, WINDOWS, {"Path": base_path, **base}, {}, exists)


# -- PATH ------------------------------------------------------------------------------------

def test_windows_path_order_is_the_contracts_plus_condabin() -> None:
    got = win_vars(r"C:\Windows\system32")
    assert got["PATH"].split(";") == [*WIN_PREFIX_DIRS, r"C:\Windows\system32"]


def test_posix_path_order_matches_the_contract_example() -> None:
    got = activation.variables(P("/opt/app/env"), POSIX, {"PATH": "/usr/bin:/bin"}, {}, NOTHING)
    assert got["PATH"] == "/opt/app/env/bin:/opt/app/env/condabin:/usr/bin:/bin"


def test_windows_path_spelled_path_is_read() -> None:
    # cmd.exe and Explorer give children "Path", not "PATH"
    got = activation.variables(WIN_PREFIX, WINDOWS, {"Path": r"C:\Tools"}, {}, NOTHING)
    assert got["PATH"].split(";")[-1] == r"C:\Tools"


def test_windows_child_has_a_single_path_variable() -> None:
    base = {"Path": r"C:\Windows\system32;C:\Tools", "SystemRoot": r"C:\Windows"}
    applied = activation.variables(WIN_PREFIX, WINDOWS, base, {}, NOTHING)
    child = environ.child_env(base, WINDOWS, applied)
    spellings = [k for k in child if k.upper() == "PATH"]
    assert len(spellings) == 1
    assert child[spellings[0]].split(";") == [*WIN_PREFIX_DIRS, r"C:\Windows\system32",
                                              r"C:\Tools"]


def test_missing_base_path_falls_back_to_the_system_default() -> None:
    """``env -i``: no PATH at all still finds bash, cat and friends after the prefix."""
    got = activation.variables(P("/e"), POSIX, {}, {}, NOTHING)
    assert got["PATH"] == "/e/bin:/e/condabin:/usr/local/bin:/usr/bin:/bin"
    win = activation.variables(PureWindowsPath(r"C:\e"), WINDOWS, {"SystemRoot": r"D:\Win"},
                               {}, NOTHING)
    assert win["PATH"].split(";")[-4:] == [r"D:\Win\System32", r"D:\Win", r"D:\Win\System32\Wbem",
                                           r"D:\Win\System32\WindowsPowerShell\v1.0"]


def test_windows_cleaning_removes_other_environments() -> None:
    base_path = ";".join([
        r"C:\Windows\system32",
        r"C:\Windows",
        r"C:\Miniconda3",
        r"C:\Miniconda3\Library\mingw-w64\bin",
        r"C:\Miniconda3\Library\bin",
        r"C:\Miniconda3\Scripts",
        r"C:\Miniconda3\condabin",
        r"C:\Miniconda3\envs\old\Scripts",
        r"C:\Users\u\proj\.venv\Scripts",
        r"C:\Users\u\.pyenv\pyenv-win\shims",
        r"C:\Users\u\.pyenv\pyenv-win\versions\3.9.1",
        r"C:\Python312\\",
        r"C:\Python312\Scripts",
        r"C:\Program Files\Git\cmd",
        r"C:\Users\u\AppData\Local\Microsoft\WindowsApps",
    ])
    exists = probe(W(r"C:\Miniconda3\conda-meta"), W(r"C:\Miniconda3\envs\old\conda-meta"),
                   W(r"C:\Users\u\proj\.venv\pyvenv.cfg"), W(r"C:\Python312\python.exe"),
                   W(r"C:\Python312\Lib"),
                   # an App Execution Alias: python.exe without Lib is not an installation
                   W(r"C:\Users\u\AppData\Local\Microsoft\WindowsApps\python.exe"))
    got = win_vars(base_path, exists)
    assert got["PATH"].split(";")[len(WIN_PREFIX_DIRS):] == [
        r"C:\Windows\system32",
        r"C:\Windows",
        r"C:\Program Files\Git\cmd",
        r"C:\Users\u\AppData\Local\Microsoft\WindowsApps",
    ]


def test_posix_cleaning_removes_other_environments() -> None:
    base_path = ":".join(["/home/u/miniconda3/bin", "/home/u/miniconda3/condabin",
                          "/home/u/venv/bin", "/home/u/.pyenv/shims",
                          "/home/u/.pyenv/versions/3.9.1/bin", "/home/u/.asdf/shims",
                          "/home/u/.local/bin", "/usr/local/bin", "/usr/bin", "/bin"])
    exists = probe(P("/home/u/miniconda3/conda-meta"), P("/home/u/venv/pyvenv.cfg"))
    got = activation.variables(P("/e"), POSIX, {"PATH": base_path}, {}, exists)
    assert got["PATH"].split(":") == ["/e/bin", "/e/condabin", "/home/u/.local/bin",
                                      "/usr/local/bin", "/usr/bin", "/bin"]


def test_windows_system_folders_are_never_removed() -> None:
    # even when they look like a Python installation or sit under a conda-meta
    exists = probe(W(r"C:\Windows\System32\python.exe"), W(r"C:\Windows\System32\Lib"),
                   W(r"C:\Windows\conda-meta"), W(r"C:\Windows\pyvenv.cfg"))
    got = win_vars(r"C:\WINDOWS\system32;C:\Windows;C:\Windows\System32\Wbem", exists,
                   SystemRoot=r"C:\Windows")
    assert got["PATH"].split(";")[len(WIN_PREFIX_DIRS):] == [
        r"C:\WINDOWS\system32", r"C:\Windows", r"C:\Windows\System32\Wbem"]


def test_windows_system_root_comes_from_the_environment() -> None:
    exists = probe(W(r"D:\WINNT\System32\python.exe"), W(r"D:\WINNT\System32\Lib"))
    got = win_vars(r"D:\WINNT\System32", exists, SystemRoot=r"D:\WINNT")
    assert got["PATH"].split(";")[-1] == r"D:\WINNT\System32"


def test_posix_system_folders_are_never_removed() -> None:
    exists = probe(P("/usr/conda-meta"), P("/pyvenv.cfg"), P("/usr/pyvenv.cfg"))
    got = activation.variables(P("/e"), POSIX, {"PATH": "/usr/bin:/bin:/usr/sbin/"}, {}, exists)
    assert got["PATH"].split(":")[2:] == ["/usr/bin", "/bin", "/usr/sbin/"]


def test_windows_path_entries_are_unquoted_deduplicated_and_empties_dropped() -> None:
    got = win_vars(r'"C:\Program Files\Tool";;C:\Tools; C:\TOOLS ;C:\tools;')
    assert got["PATH"].split(";")[len(WIN_PREFIX_DIRS):] == [r"C:\Program Files\Tool",
                                                             r"C:\Tools"]


def test_posix_duplicates_are_removed_case_sensitively() -> None:
    got = activation.variables(P("/e"), POSIX, {"PATH": "/a::/a:/A:/e/bin"}, {}, NOTHING)
    assert got["PATH"] == "/e/bin:/e/condabin:/a:/A"


@pytest.mark.parametrize(("entry", "exists", "reason"), [
    (W(r"C:\Miniconda3\Library\mingw-w64\bin"), [W(r"C:\Miniconda3\conda-meta")],
     r"conda environment C:\Miniconda3"),
    (W(r"C:\Miniconda3"), [W(r"C:\Miniconda3\conda-meta")], r"conda environment C:\Miniconda3"),
    (W(r"C:\v\Scripts"), [W(r"C:\v\pyvenv.cfg")], r"virtualenv C:\v"),
    (W(r"C:\Python39\Scripts"), [W(r"C:\Python39\python.exe"), W(r"C:\Python39\Lib")],
     r"Python installation C:\Python39"),
    (W(r"C:\Users\U\.PYENV\PYENV-WIN\SHIMS"), [], "pyenv/asdf shims"),
    (W(r"C:\Python39"), [W(r"C:\Python39\python.exe")], None),
    (W(r"C:\a\b\c\d\e"), [W(r"C:\a\conda-meta")], None),
])
def test_foreign_env_dir_on_windows(entry: PureWindowsPath, exists: list[PurePath],
                                    reason: str | None) -> None:
    assert activation.foreign_env_dir(entry, WINDOWS, probe(*exists)) == reason


def test_python_install_folders_are_a_windows_rule_only() -> None:
    exists = probe(P("/opt/py/python.exe"), P("/opt/py/Lib"))
    assert activation.foreign_env_dir(P("/opt/py"), POSIX, exists) is None
    assert activation.foreign_env_dir(P("/home/u/.PYENV/shims"), POSIX, NOTHING) is None


# -- variables -------------------------------------------------------------------------------

def test_first_activation_variables_on_windows() -> None:
    got = win_vars(r"C:\Windows", prefix=W(r"D:\dev\Anaconda\envs\py_3_12"))
    assert {k: v for k, v in got.items() if k != "PATH"} == {
        "CONDA_PREFIX": r"D:\dev\Anaconda\envs\py_3_12",
        "CONDA_SHLVL": "1",
        "CONDA_DEFAULT_ENV": "py_3_12",
        "CONDA_PROMPT_MODIFIER": "(py_3_12) ",
        "MAMBA_ROOT_PREFIX": r"D:\dev\Anaconda\envs\py_3_12",
        "PYTHONNOUSERSITE": "1",
        "PYTHONUTF8": "1",
        "PYTHONIOENCODING": "utf-8",
    }


def test_first_activation_variables_on_posix() -> None:
    got = activation.variables(P("/opt/app/env"), POSIX, {"PATH": "/usr/bin"}, {}, NOTHING)
    assert {k: v for k, v in got.items() if k != "PATH"} == {
        "CONDA_PREFIX": "/opt/app/env",
        "CONDA_SHLVL": "1",
        "CONDA_DEFAULT_ENV": "/opt/app/env",
        "CONDA_PROMPT_MODIFIER": "(/opt/app/env) ",
        "MAMBA_ROOT_PREFIX": "/opt/app/env",
        "PYTHONNOUSERSITE": "1",
    }


@pytest.mark.parametrize(("prefix", "name"), [
    (W(r"D:\dev\Anaconda\envs\py_3_12"), "py_3_12"),
    (W(r"C:\app\env"), r"C:\app\env"),
    (W(r"C:\envs"), "C:\\envs"),
    (P("/x/envs/my.env"), "my.env"),
    (P("/x/envs2/work"), "/x/envs2/work"),
    (P("/x/envs/work/sub"), "/x/envs/work/sub"),
])
def test_default_env_name(prefix: PurePath, name: str) -> None:
    assert activation.default_env_name(prefix) == name


def test_activated_child_drops_inherited_python_and_conda_but_keeps_the_profile() -> None:
    base = {"Path": r"C:\Windows", "PYTHONHOME": r"C:\Py", "PYTHONPATH": r"C:\lib",
            "CONDA_PREFIX": r"C:\Miniconda3", "CONDA_SHLVL": "2", "VIRTUAL_ENV": r"C:\v",
            "CONDA_PREFIX_1": r"C:\Miniconda3", "USERPROFILE": r"C:\Users\u",
            "APPDATA": r"C:\Users\u\AppData\Roaming", "HOME": r"C:\Users\u"}
    child = environ.child_env(base, WINDOWS,
                              activation.variables(WIN_PREFIX, WINDOWS, base, {}, NOTHING))
    for gone in ("PYTHONHOME", "PYTHONPATH", "VIRTUAL_ENV", "CONDA_PREFIX_1"):
        assert gone not in child
    assert child["CONDA_PREFIX"] == str(WIN_PREFIX)
    assert child["CONDA_SHLVL"] == "1"
    assert child["USERPROFILE"] == r"C:\Users\u"
    assert child["APPDATA"] == r"C:\Users\u\AppData\Roaming"
    assert child["HOME"] == r"C:\Users\u"


def test_prefix_variables_are_uppercased_and_unset_values_dropped() -> None:
    got = activation.variables(P("/e"), POSIX, {}, {"foo": "bar", "Gone": "***unset***"},
                               NOTHING)
    assert got["FOO"] == "bar"
    assert "GONE" not in got
    assert "Gone" not in got


def test_prefix_variables_cannot_override_the_activation_itself() -> None:
    got = activation.variables(P("/e"), POSIX, {"PATH": "/usr/bin"},
                               {"PATH": "/evil", "CONDA_PREFIX": "/other"}, NOTHING)
    assert got["PATH"] == "/e/bin:/e/condabin:/usr/bin"
    assert got["CONDA_PREFIX"] == "/e"


# -- prefix variables from disk ----------------------------------------------------------------

def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


def env_vars_d(prefix: Path) -> Path:
    return prefix / "etc" / "conda" / "env_vars.d"


def test_env_vars_d_in_name_order_then_state_wins(tmp_path: Path) -> None:
    write_json(env_vars_d(tmp_path) / "002-pkg-two.json", {"shared": "two", "b": "2"})
    write_json(env_vars_d(tmp_path) / "001-pkg-one.json", {"shared": "one", "a": "1"})
    write_json(env_vars_d(tmp_path) / "003-no-extension", {"c": "3"})
    write_json(tmp_path / "conda-meta" / "state",
               {"env_vars": {"b": "from-state", "zeta": "z", "alpha": "a"}})
    found, warnings = activation.read_prefix_vars(tmp_path)
    assert found == {"SHARED": "two", "A": "1", "B": "from-state", "C": "3", "ZETA": "z",
                     "ALPHA": "a"}
    assert list(found)[-2:] == ["ZETA", "ALPHA"]  # state keeps its own order
    assert warnings == []


def test_state_can_unset_a_variable_from_env_vars_d(tmp_path: Path) -> None:
    write_json(env_vars_d(tmp_path) / "pkg.json", {"proj_lib": "/share/proj", "keep": "k"})
    write_json(tmp_path / "conda-meta" / "state", {"env_vars": {"PROJ_LIB": "***unset***"}})
    found, _ = activation.read_prefix_vars(tmp_path)
    got = activation.variables(P("/e"), POSIX, {}, found, NOTHING)
    assert "PROJ_LIB" not in got
    assert got["KEEP"] == "k"


def test_unreadable_json_is_skipped_with_a_warning(tmp_path: Path) -> None:
    bad = env_vars_d(tmp_path) / "001-bad.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{not json", encoding="utf-8")
    write_json(env_vars_d(tmp_path) / "002-list.json", ["not", "an", "object"])
    write_json(env_vars_d(tmp_path) / "003-good.json", {"good": "yes"})
    (env_vars_d(tmp_path) / "004-folder").mkdir()
    found, warnings = activation.read_prefix_vars(tmp_path)
    assert found == {"GOOD": "yes"}
    assert len(warnings) == 2
    assert warnings[0].startswith(f"Could not read JSON at {bad}")
    assert str(env_vars_d(tmp_path) / "002-list.json") in warnings[1]


def test_state_without_env_vars_and_a_bare_prefix_give_nothing(tmp_path: Path) -> None:
    assert activation.read_prefix_vars(tmp_path) == ({}, [])
    write_json(tmp_path / "conda-meta" / "state", {"other": 1})
    assert activation.read_prefix_vars(tmp_path) == ({}, [])


def test_activate_scripts_match_the_platform_suffix_case_sensitively(tmp_path: Path) -> None:
    folder = tmp_path / "etc" / "conda" / "activate.d"
    folder.mkdir(parents=True)
    for name in ("b.sh", "a.sh", "c.bat", "d.SH", "e.BAT", "f.ps1", "g.sh.txt"):
        (folder / name).write_text("", encoding="utf-8")
    assert activation.activate_scripts(tmp_path, POSIX) == [folder / "a.sh", folder / "b.sh"]
    assert activation.activate_scripts(tmp_path, WINDOWS) == [folder / "c.bat"]
    assert activation.activate_scripts(tmp_path / "none", POSIX) == []


def test_load_reads_the_prefix_and_cleans_path_against_the_disk(tmp_path: Path) -> None:
    prefix = tmp_path / "envs" / "demo"
    (prefix / "conda-meta").mkdir(parents=True)
    write_json(env_vars_d(prefix) / "x.json", {"demo_var": "1"})
    hook = prefix / "etc" / "conda" / "activate.d" / f"z{CURRENT.activate_d_suffix}"
    hook.parent.mkdir()
    hook.write_text("", encoding="utf-8")
    other = tmp_path / "miniconda3"
    (other / "conda-meta").mkdir(parents=True)
    (other / "bin").mkdir()
    system = r"C:\Windows\System32" if CURRENT.is_windows else "/usr/bin"
    sep = CURRENT.pathsep
    base = {"PATH": sep.join([str(other / "bin"), str(prefix / "bin"), system]),
            "PYTHONPATH": "/x", "HOME": "/home/u"}
    act = activation.Activation.load(prefix, CURRENT, base)
    assert act.prefix == prefix
    assert act.env["PATH"] == sep.join([*map(str, CURRENT.prefix_path_dirs(prefix)), system])
    assert act.env["DEMO_VAR"] == "1"
    assert act.env["CONDA_DEFAULT_ENV"] == "demo"
    assert act.env["HOME"] == "/home/u"
    assert "PYTHONPATH" not in act.env
    assert act.scripts == [hook]
    assert act.warnings == []
