"""The Windows calls themselves: junctions, registry reads, console and job objects, and
the generated batch files run by the real cmd.exe with hostile paths and arguments.
Marked ``windows``: skipped elsewhere, run on windows-latest by the CI workflow."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bootstrap import finish, fsutil, launch, windows
from bootstrap.activation import Activation
from bootstrap.log import RunLog
from bootstrap.platform import WINDOWS
from bootstrap.report import Recorder
from tests.conftest import NO_JUNCTIONS, PERCENT_IN_DP0

pytestmark = pytest.mark.windows

HOSTILE = "odd %PATH% ^&! (x) ;, é ü"
ECHO = ("import json, os, sys; print(json.dumps({'argv': sys.argv[1:], "
        "'prefix': os.environ.get('CONDA_PREFIX'), 'hook': os.environ.get('HOOK')})); "
        "sys.exit(7)")


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """A fake environment in a folder whose name cmd.exe would love to misparse."""
    prefix = tmp_path / HOSTILE
    hooks = prefix / "etc" / "conda" / "activate.d"
    hooks.mkdir(parents=True)
    (hooks / "a.bat").write_bytes(b'@SET "HOOK=from activate.d"\r\n')
    return prefix


def activation(prefix: Path) -> Activation:
    base = dict(os.environ)
    return Activation.load(prefix, WINDOWS, base)


@pytest.mark.wine_gap(NO_JUNCTIONS)
def test_junction_is_made_without_admin_and_never_followed_on_removal(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    (cache / "keep").mkdir(parents=True)
    (cache / "keep" / "file.txt").write_text("shared")
    prefix = tmp_path / "env"
    prefix.mkdir()
    finish.dir_linker(WINDOWS)(cache, prefix / "pkgs")
    assert fsutil.is_link_or_junction(prefix / "pkgs")
    assert (prefix / "pkgs" / "keep" / "file.txt").read_text() == "shared"
    fsutil.remove_tree(prefix)
    assert not prefix.exists()
    assert (cache / "keep" / "file.txt").read_text() == "shared"


def test_pkgs_is_linked_or_a_warning_says_why_and_nothing_is_left(tmp_path: Path) -> None:
    """On NTFS a junction; where junctions fail (FAT32/exFAT, Wine) no empty folder stays."""
    prefix, cache = tmp_path / "env", tmp_path / "cache" / "pkgs"
    prefix.mkdir()
    recorder = Recorder()
    finish.link_pkgs(prefix, cache, finish.dir_linker(WINDOWS), recorder)
    warned = [text for kind, text in recorder.events if kind == "warn"]
    if fsutil.is_link_or_junction(prefix / "pkgs"):
        assert warned == []
        (cache / "probe.txt").write_text("shared", encoding="utf-8")
        assert (prefix / "pkgs" / "probe.txt").read_text(encoding="utf-8") == "shared"
    else:
        assert not (prefix / "pkgs").exists()
        assert len(warned) == 1 and warned[0].startswith("Could not link ")


def test_registry_reads_answer_without_changing_anything() -> None:
    assert isinstance(windows.long_paths_enabled(), bool)
    assert all(k in ("HKLM", "HKCU") for k in windows.cmd_autorun())
    assert windows.read_registry("HKCU", r"Software\mambaboot-does-not-exist", "x") is None


def test_console_queries() -> None:
    assert windows.console_process_count() >= 0
    assert windows.console_code_page() >= 0
    assert windows.volume_filesystem(Path.cwd()) in ("NTFS", "ReFS", "FAT32", "exFAT", "")


def test_script_wrapper_calls_a_bat_from_a_hostile_folder(hostile: Path) -> None:
    """The script runs from a folder full of cmd syntax, after the activate.d hook, sees
    the environment, and its exit code comes back; what it prints arrives as UTF-8,
    although cmd.exe writes the console's (or the ANSI) code page. A bare ``%VAR%`` is
    expanded before cmd parses the line, so ``^&`` in its value prints as ``&``: cmd's
    rule, the same in any batch file; in quotes the value prints as it is."""
    script = hostile / "my script.bat"
    script.write_bytes(b'@ECHO "%CONDA_PREFIX%|%HOOK%"\r\n@ECHO %CONDA_PREFIX%\r\n'
                       b"@EXIT /B 5\r\n")
    act = activation(hostile)
    plan = launch.launcher_for(WINDOWS).plan_script(act.scripts, script,
                                                    WINDOWS.python_exe(hostile))
    done = launch.execute(act, plan, WINDOWS, log=RunLog(None), capture=True)
    assert done.returncode == 5, "CALL passes the script's errorlevel back"
    quoted, bare = done.output.decode("utf-8").strip().splitlines()[-2:]
    assert quoted == f'"{hostile}|from activate.d"'
    assert bare == str(hostile).replace("^&", "&")


def test_command_wrapper_passes_every_argument_unchanged(hostile: Path) -> None:
    args = ["plain", "with space", '"quoted"', "%PATH%", "^caret", "a&b", "x|y", "!bang!",
            "(paren)", "back\\slash\\", "é ü ß", ""]
    act = activation(hostile)
    plan = launch.launcher_for(WINDOWS).plan_command(act.scripts,
                                                     [sys.executable, "-c", ECHO, *args])
    done = launch.execute(act, plan, WINDOWS, log=RunLog(None), capture=True)
    assert done.returncode == 7
    data = json.loads(done.output.decode("utf-8", "replace").strip().splitlines()[-1])
    assert data["argv"] == args
    assert data["prefix"] == str(hostile)
    assert data["hook"] == "from activate.d"


def make_env(prefix: Path, variables: dict[str, str]) -> Path:
    """An environment with env_vars.d and the launchers mambaboot writes into it."""
    (prefix / "conda-meta").mkdir(parents=True)
    (prefix / "etc" / "conda" / "env_vars.d").mkdir(parents=True)
    (prefix / "etc" / "conda" / "activate.d").mkdir()
    (prefix / "etc" / "conda" / "env_vars.d" / "vars.json").write_text(json.dumps(variables))
    finish.write_launchers(prefix, WINDOWS)
    return prefix


def after_activation(tmp_path: Path, activate: Path, *names: str) -> dict[str, str | None]:
    """The variables ``call activate.bat`` leaves in cmd.exe, as the next command sees them.
    The path reaches CALL through a variable, so nothing in it is parsed as cmd syntax."""
    show = tmp_path / "show.py"
    show.write_text("import json, os, sys\n"
                    "print(json.dumps({k: os.environ.get(k) for k in sys.argv[1:]}))\n")
    check = tmp_path / "check.bat"
    check.write_bytes(b'@CALL "%%ACTIVATE%%"\r\n@"%PYTHON%" "%SHOW%" ' + " ".join(names).encode())
    env = {**os.environ, "ACTIVATE": str(activate), "PYTHON": sys.executable, "SHOW": str(show)}
    done = subprocess.run(["cmd.exe", "/D", "/C", str(check)], capture_output=True,
                          check=False, timeout=60, env=env)
    assert done.returncode == 0, done
    return dict(json.loads(done.stdout.decode("ascii").splitlines()[-1]))


def test_activate_bat_finds_a_moved_environment(tmp_path: Path) -> None:
    prefix = make_env(tmp_path / "first place" / "env", {"FOO": "50%"})
    moved = tmp_path / "second (place)" / "env"
    moved.parent.mkdir()
    prefix.rename(moved)
    got = after_activation(tmp_path, moved / "activate.bat", "CONDA_PREFIX", "FOO")
    assert got == {"CONDA_PREFIX": str(moved), "FOO": "50%"}


@pytest.mark.parametrize("folder", [
    "odd ^&! (x) ;, é ü",
    pytest.param("odd %PATH% x", marks=pytest.mark.wine_gap(PERCENT_IN_DP0)),
])
def test_activate_bat_runs_the_hooks_in_name_order_from_a_hostile_folder(
        tmp_path: Path, folder: str) -> None:
    prefix = make_env(tmp_path / folder / "env", {})
    hooks = prefix / "etc" / "conda" / "activate.d"
    for name, letter in (("b.bat", "b"), ("c %x% ^&.bat", "c"), ("a.bat", "a")):
        (hooks / name).write_bytes(f'@SET "ORDER=%ORDER%{letter}"\r\n'.encode())
    (hooks / "skipped.sh").write_text("ORDER=wrong\n")
    got = after_activation(tmp_path, prefix / "activate.bat", "CONDA_PREFIX", "ORDER",
                           "_MB_HOOK")
    assert got == {"CONDA_PREFIX": str(prefix), "ORDER": "abc", "_MB_HOOK": None}


def test_patched_condabin_bat_follows_the_environment(tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    (prefix / "condabin").mkdir(parents=True)
    (prefix / "condabin" / "mamba.bat").write_bytes(
        (f'@SET "MAMBA_EXE={prefix}\\Library\\bin\\mamba.exe"\r\n'
         f'@SET "MAMBA_ROOT_PREFIX={prefix}"\r\n'
         "@ECHO %MAMBA_ROOT_PREFIX%^|%MAMBA_EXE%\r\n").encode())
    assert finish.patch_condabin(prefix, WINDOWS)
    moved = tmp_path / "F drive" / "env"
    moved.parent.mkdir()
    prefix.rename(moved)
    done = subprocess.run(["cmd.exe", "/D", "/C", str(moved / "condabin" / "mamba.bat")],
                          capture_output=True, text=True, check=False, timeout=60)
    assert done.stdout.strip() == f"{moved}|{moved}\\Library\\bin\\mamba.exe"


def test_stopping_a_child_takes_its_children_down(tmp_path: Path) -> None:
    """The job object: a child that started its own child is stopped as a whole."""
    from bootstrap import process

    beat = tmp_path / "grandchild.txt"
    grandchild = ("import time\nwhile True:\n"
                  f"    open({str(beat)!r}, 'a').write('.')\n    time.sleep(0.1)\n")
    child = ("import subprocess, sys, time; "
             f"subprocess.Popen([sys.executable, '-c', {grandchild!r}]); time.sleep(60)")
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        process.run([sys.executable, "-c", child], env=dict(os.environ), log=RunLog(None),
                    capture=True, timeout_s=5)
    assert time.monotonic() - started < 30
    assert beat.exists(), "the grandchild never started, so this proves nothing"
    size = beat.stat().st_size
    time.sleep(1)
    assert beat.stat().st_size == size, "the grandchild outlived its stopped parent"
