"""Text that lets an environment find itself (bootstrap.portable): the condabin rewrite the
reference script did with sed, and the ``activate.*`` launchers, activate.sh run for real
from a moved copy of a fake prefix."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bootstrap import activation, portable

PREFIX = r"C:\x\env"
ROOT_LINE = '@SET "MAMBA_ROOT_PREFIX=C:\\x\\env"'
EXE_LINE = '@SET "MAMBA_EXE=C:/x/env\\Library\\bin\\mamba.exe"'
PORTABLE_ROOT = '@FOR %%F IN ("%~dp0..") DO @SET "MAMBA_ROOT_PREFIX=%%~fF"'
PORTABLE_EXE = '@FOR %%F IN ("%~dp0..") DO @SET "MAMBA_EXE=%%~fF\\Library\\bin\\mamba.exe"'
MAMBA_BAT = "\r\n".join([
    "@REM Copyright (C) 2012 Anaconda, Inc",
    "@REM SPDX-License-Identifier: BSD-3-Clause",
    "",
    EXE_LINE,
    ROOT_LINE,
    '@IF [%1]==[activate]   "%~dp0_mamba_activate" %*',
    '@IF [%1]==[deactivate] "%~dp0_mamba_activate" %*',
    '@CALL "%MAMBA_EXE%" %*',
    "",
])


# -- condabin rewrite -----------------------------------------------------------------------

def test_condabin_bat_absolute_lines_become_relative_to_the_file() -> None:
    new = portable.portable_condabin_bat(MAMBA_BAT, PREFIX)
    assert new == MAMBA_BAT.replace(EXE_LINE, PORTABLE_EXE).replace(ROOT_LINE, PORTABLE_ROOT)
    # line endings and every other line are kept
    assert new is not None
    assert new.count("\r\n") == MAMBA_BAT.count("\r\n")
    assert '@CALL "%MAMBA_EXE%" %*' in new.splitlines()


def test_condabin_rewrite_ignores_case_and_separator_style() -> None:
    text = ('@set "mamba_root_prefix=c:/X/ENV/"\n'
            '@Set "Mamba_Exe=C:\\X\\Env\\Library\\bin\\mamba.exe"\n')
    assert portable.portable_condabin_bat(text, "C:/x/env") == (
        '@FOR %%F IN ("%~dp0..") DO @SET "MAMBA_ROOT_PREFIX=%%~fF"\n'
        '@FOR %%F IN ("%~dp0..") DO @SET "MAMBA_EXE=%%~fF\\Library\\bin\\mamba.exe"\n')


def test_condabin_rewrite_without_at_sign() -> None:
    text = 'SET "MAMBA_ROOT_PREFIX=C:\\x\\env"\r\n'
    assert portable.portable_condabin_bat(text, PREFIX + "\\") == \
        'FOR %%F IN ("%~dp0..") DO @SET "MAMBA_ROOT_PREFIX=%%~fF"\r\n'


def test_condabin_rewrite_of_a_prefix_with_spaces_and_non_ascii() -> None:
    prefix = r"D:\Zoë Q\envs\py 3"
    text = (f'@SET "MAMBA_ROOT_PREFIX={prefix}"\r\n'
            f'@SET "MAMBA_EXE={prefix}\\Library\\bin\\mamba.exe"\r\n')
    assert portable.portable_condabin_bat(text, prefix) == \
        f"{PORTABLE_ROOT}\r\n{PORTABLE_EXE}\r\n"


def test_condabin_rewrite_of_a_prefix_with_a_turkish_capital_i() -> None:
    # 'İ'.lower() is two characters long: the rest of the path must still be cut correctly
    prefix = r"C:\Users\İbrahim\envs\py"
    text = f'@SET "MAMBA_EXE={prefix}\\Library\\bin\\mamba.exe"\r\n'
    assert portable.portable_condabin_bat(text, prefix) == f"{PORTABLE_EXE}\r\n"


@pytest.mark.parametrize("text", [
    '@SET "MAMBA_ROOT_PREFIX=C:\\other"\r\n@SET "MAMBA_EXE=C:\\tools\\micromamba.exe"\r\n',
    '@SET "MAMBA_ROOT_PREFIX=C:\\x\\env2"\r\n@SET "MAMBA_EXE=C:\\x\\env2\\mamba.exe"\r\n',
    '@SET "MAMBA_EXE=C:\\x\\env"\r\n',
    '@SET "CONDA_PREFIX=C:\\x\\env"\r\n',
    '@REM SET "MAMBA_ROOT_PREFIX=C:\\x\\env"\r\n',
    PORTABLE_ROOT + "\r\n" + PORTABLE_EXE + "\r\n",
    "",
])
def test_condabin_files_without_our_absolute_paths_are_left_alone(text: str) -> None:
    assert portable.portable_condabin_bat(text, PREFIX) is None


def test_condabin_rewrite_is_idempotent() -> None:
    once = portable.portable_condabin_bat(MAMBA_BAT, PREFIX)
    assert once is not None
    assert portable.portable_condabin_bat(once, PREFIX) is None


def test_condabin_rewrite_leaves_unrelated_set_lines_alone() -> None:
    text = MAMBA_BAT + '@SET "MAMBA_ROOT_PREFIX=D:\\elsewhere"\r\n'
    new = portable.portable_condabin_bat(text, PREFIX)
    assert new is not None
    assert new.endswith('@SET "MAMBA_ROOT_PREFIX=D:\\elsewhere"\r\n')
    assert PORTABLE_ROOT in new


# -- activate.bat / activate.ps1 --------------------------------------------------------------

def test_activate_bat_is_crlf_and_finds_the_prefix_from_its_own_folder() -> None:
    text = portable.activate_bat({})
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")
    lines = text.split("\r\n")
    assert lines[0] == "@ECHO OFF"
    assert 'FOR %%F IN ("%~dp0.") DO SET "CONDA_PREFIX=%%~fF"' in lines
    assert 'SET "MAMBA_ROOT_PREFIX=%CONDA_PREFIX%"' in lines
    # the name as micromamba gives it: the folder name under an "envs" folder, else the path
    assert lines[lines.index('SET "CONDA_DEFAULT_ENV=%CONDA_PREFIX%"') + 1] == (
        'FOR %%F IN ("%CONDA_PREFIX%\\..") DO IF "%%~nxF"=="envs" '
        'FOR %%G IN ("%CONDA_PREFIX%") DO SET "CONDA_DEFAULT_ENV=%%~nxG"')
    assert 'SET "CONDA_SHLVL=1"' in lines
    assert 'SET "CONDA_PROMPT_MODIFIER=(%CONDA_DEFAULT_ENV%) "' in lines
    assert 'SET "PROMPT=%CONDA_PROMPT_MODIFIER%$P$G"' in lines
    assert 'SET "PYTHONNOUSERSITE=1"' in lines
    assert 'SET "PYTHONHOME="' in lines
    assert 'SET "PYTHONPATH="' in lines
    assert ('SET "PATH=%CONDA_PREFIX%;%CONDA_PREFIX%\\Library\\mingw-w64\\bin;'
            "%CONDA_PREFIX%\\Library\\usr\\bin;%CONDA_PREFIX%\\Library\\bin;"
            '%CONDA_PREFIX%\\Scripts;%CONDA_PREFIX%\\bin;%CONDA_PREFIX%\\condabin;%PATH%"'
            ) in lines
    # activate.d hooks by name (DIR /ON), each CALLed through a variable (test_windows runs it)
    loop = next(line for line in lines if "activate.d" in line)
    assert loop.startswith('FOR /F "eol=: delims=" %%F IN (\'DIR /B /A-D /ON ')
    assert '    CALL "%%_MB_HOOK%%"' in lines
    # no absolute path of the place it was written in
    assert ":\\" not in text


def test_activate_bat_sets_prefix_variables_after_path_with_percent_escaped() -> None:
    text = portable.activate_bat({"PROJ_LIB": "%CONDA_PREFIX%\\share\\proj",
                                  "RATE": "50%", "PLAIN": "a & b | c"})
    lines = text.split("\r\n")
    sets = [lines.index(x) for x in ('SET "PROJ_LIB=%%CONDA_PREFIX%%\\share\\proj"',
                                     'SET "RATE=50%%"', 'SET "PLAIN=a & b | c"')]
    path_line = next(i for i, line in enumerate(lines) if line.startswith('SET "PATH='))
    scripts_line = next(i for i, line in enumerate(lines) if "activate.d" in line)
    assert path_line < min(sets)
    assert max(sets) < scripts_line


def test_activate_ps1_quotes_values_and_uses_its_own_folder() -> None:
    text = portable.activate_ps1({"NOTE": "don't $expand"})
    assert text.endswith("\r\n")
    assert "\n" not in text.replace("\r\n", "")
    lines = text.split("\r\n")
    assert "$Env:CONDA_PREFIX = $PSScriptRoot" in lines
    assert lines[lines.index("$Env:CONDA_DEFAULT_ENV = $PSScriptRoot") + 1] == (
        "if ((Split-Path -Leaf (Split-Path -Parent $PSScriptRoot)) -ceq 'envs') "
        "{ $Env:CONDA_DEFAULT_ENV = Split-Path -Leaf $PSScriptRoot }")
    assert '$Env:CONDA_PROMPT_MODIFIER = "($Env:CONDA_DEFAULT_ENV) "' in lines
    assert "$Env:NOTE = 'don''t $expand'" in lines
    assert "$Env:PATH = ($mbDirs -join ';') + ';' + $Env:PATH" in lines


# -- activate.sh, sourced by bash ---------------------------------------------------------------

STATIC = {"FOO": "it's \"quoted\" $HOME `date` \\n", "GDAL_DATA": "/somewhere/gdal"}
REPORT = ("import json, os; print(json.dumps({k: os.environ.get(k) for k in ("
          "'CONDA_PREFIX', 'PATH', 'CONDA_DEFAULT_ENV', 'CONDA_SHLVL', "
          "'CONDA_PROMPT_MODIFIER', 'MAMBA_ROOT_PREFIX', 'PYTHONNOUSERSITE', 'PYTHONHOME', "
          "'PYTHONPATH', 'VIRTUAL_ENV', 'FOO', 'GDAL_DATA', 'SEEN_BY_HOOK', 'HOOKS')}))")
BASE_PATH = "/usr/bin:/bin"


def make_prefix(root: Path) -> Path:
    prefix = root / "orig" / "env"
    hooks = prefix / "etc" / "conda" / "activate.d"
    hooks.mkdir(parents=True)
    (prefix / "bin").mkdir()
    (prefix / "conda-meta").mkdir()
    (hooks / "b.sh").write_text('export HOOKS="${HOOKS:-}b"\n', encoding="utf-8")
    (hooks / "a.sh").write_text('export HOOKS="${HOOKS:-}a"\n'
                                'export SEEN_BY_HOOK="$CONDA_PREFIX|$FOO"\n', encoding="utf-8")
    (hooks / "c.bat").write_text("exit 1\r\n", encoding="utf-8")
    (prefix / "activate.sh").write_bytes(portable.activate_sh(STATIC).encode("utf-8"))
    return prefix


def source_and_report(script: str, cwd: Path, **extra_env: str) -> dict[str, str | None]:
    bash = shutil.which("bash")
    if bash is None or os.name == "nt":
        pytest.skip("needs a POSIX bash")
    env = {"PATH": BASE_PATH, "HOME": str(cwd), "PYTHONHOME": "/bad", "PYTHONPATH": "/bad",
           "VIRTUAL_ENV": "/venv", **extra_env}
    done = subprocess.run(
        [bash, "--noprofile", "--norc", "-c", 'set -eu; . "$1"; exec "$2" -c "$3"', "bash",
         script, sys.executable, REPORT],
        capture_output=True, cwd=cwd, env=env, check=False, timeout=30)
    assert done.returncode == 0, done.stderr
    result: dict[str, str | None] = json.loads(done.stdout)
    return result


@pytest.fixture
def moved_prefix(tmp_path: Path) -> Path:
    prefix = make_prefix(tmp_path)
    target = tmp_path / "moved to 'a' new \"place\"" / "env"
    target.parent.mkdir()
    shutil.move(prefix, target)
    assert not prefix.exists()
    return target.resolve()


@pytest.mark.posix
def test_activate_sh_from_a_moved_prefix(moved_prefix: Path) -> None:
    got = source_and_report(str(moved_prefix / "activate.sh"), moved_prefix.parent)
    assert got["CONDA_PREFIX"] == str(moved_prefix)
    assert got["MAMBA_ROOT_PREFIX"] == str(moved_prefix)
    assert got["PATH"] == f"{moved_prefix}/bin:{moved_prefix}/condabin:{BASE_PATH}"
    assert got["CONDA_DEFAULT_ENV"] == str(moved_prefix), "not in an envs folder: the path"
    assert got["CONDA_SHLVL"] == "1"
    assert got["CONDA_PROMPT_MODIFIER"] == f"({moved_prefix}) "
    assert got["PYTHONNOUSERSITE"] == "1"
    assert (got["PYTHONHOME"], got["PYTHONPATH"], got["VIRTUAL_ENV"]) == (None, None, None)
    assert got["FOO"] == STATIC["FOO"]
    assert got["GDAL_DATA"] == STATIC["GDAL_DATA"]
    # activate.d: .sh only, in name order, after the variables are exported
    assert got["HOOKS"] == "ab"
    assert got["SEEN_BY_HOOK"] == f"{moved_prefix}|{STATIC['FOO']}"


@pytest.mark.posix
@pytest.mark.parametrize("parent", ["envs", "Envs", "envs2"])
def test_activate_sh_names_the_environment_as_run_and_shell_do(tmp_path: Path,
                                                               parent: str) -> None:
    target = tmp_path / parent / "py_3.12"
    target.parent.mkdir()
    shutil.move(make_prefix(tmp_path), target)
    got = source_and_report(str(target / "activate.sh"), tmp_path)
    name = activation.default_env_name(target.resolve())
    assert name == ("py_3.12" if parent == "envs" else str(target.resolve()))
    assert got["CONDA_DEFAULT_ENV"] == name
    assert got["CONDA_PROMPT_MODIFIER"] == f"({name}) "


@pytest.mark.posix
def test_activate_sh_sourced_by_a_relative_path(moved_prefix: Path) -> None:
    got = source_and_report("env/activate.sh", moved_prefix.parent)
    assert got["CONDA_PREFIX"] == str(moved_prefix)


@pytest.mark.posix
def test_activate_sh_sourced_by_a_relative_path_with_cdpath_set(moved_prefix: Path) -> None:
    # many users export CDPATH; `cd` then prints the folder it changed to
    got = source_and_report("env/activate.sh", moved_prefix.parent,
                            CDPATH=f".:{moved_prefix.parent}")
    assert got["CONDA_PREFIX"] == str(moved_prefix)


@pytest.mark.posix
def test_activate_sh_through_a_symlinked_folder_gives_the_real_prefix(moved_prefix: Path,
                                                                      tmp_path: Path) -> None:
    link = tmp_path / "link"
    os.symlink(moved_prefix, link)
    got = source_and_report(str(link / "activate.sh"), tmp_path)
    assert got["CONDA_PREFIX"] == str(moved_prefix)
    assert str(got["PATH"]).startswith(f"{moved_prefix}/bin:")
