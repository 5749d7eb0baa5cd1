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

from bootstrap import finish, fsutil, launch, portable, windows
from bootstrap.activation import Activation
from bootstrap.log import RunLog
from bootstrap.platform import WINDOWS

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


def test_registry_reads_answer_without_changing_anything() -> None:
    assert isinstance(windows.long_paths_enabled(), bool)
    assert all(k in ("HKLM", "HKCU") for k in windows.cmd_autorun())
    assert windows.read_registry("HKCU", r"Software\mambaboot-does-not-exist", "x") is None


def test_console_queries() -> None:
    assert windows.console_process_count() >= 0
    assert windows.console_code_page() >= 0
    assert windows.volume_filesystem(Path.cwd()) in ("NTFS", "ReFS", "FAT32", "exFAT", "")


def test_script_wrapper_calls_a_bat_from_a_hostile_folder(hostile: Path) -> None:
    script = hostile / "my script.bat"
    script.write_bytes(b'@ECHO %CONDA_PREFIX%^|%HOOK%\r\n@EXIT /B 5\r\n')
    act = activation(hostile)
    plan = launch.launcher_for(WINDOWS).plan_script(act.scripts, script,
                                                    WINDOWS.python_exe(hostile))
    done = launch.execute(act, plan, WINDOWS, log=RunLog(None), capture=True)
    assert done.returncode == 5, "CALL passes the script's errorlevel back"
    out = done.output.decode("utf-8", "replace").strip().splitlines()[-1]
    assert out == f"{hostile}|from activate.d"


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


def test_activate_bat_finds_a_moved_environment(tmp_path: Path) -> None:
    prefix = tmp_path / "first place" / "env"
    (prefix / "etc" / "conda" / "activate.d").mkdir(parents=True)
    (prefix / "activate.bat").write_bytes(portable.activate_bat({"FOO": "50%"}).encode())
    moved = tmp_path / "second (place)" / "env"
    moved.parent.mkdir()
    prefix.rename(moved)
    done = subprocess.run(["cmd.exe", "/D", "/C", f'call "{moved / "activate.bat"}" && '
                           "echo %CONDA_PREFIX%^|%FOO%"], capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == f"{moved}|50%"


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

    marker = tmp_path / "grandchild.txt"
    code = ("import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
            f"'import time; time.sleep(60); open(r\"{marker}\", \"w\")']); time.sleep(60)")
    started = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        process.run([sys.executable, "-c", code], env=dict(os.environ), log=RunLog(None),
                    capture=True, timeout_s=2)
    assert time.monotonic() - started < 30
    time.sleep(2)
    assert not marker.exists()
