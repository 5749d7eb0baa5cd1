"""The stand-in micromamba on Windows (tests/standin/winstandin.py): a real ``.exe`` made of
distlib's launcher and the zipapp, and the prefix it lays out the way conda does for win-64
packages. What the launcher must pass through (exit codes, arguments, the standard streams,
Ctrl+C, its job object) and what the prefix must hold. Marked ``windows``; the POSIX
stand-in's contract tests are test_standin.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.project import same_path
from tests.standin import procs
from tests.standin.channel import Package, default_packages, write_channel
from tests.standin.fixtures import StandinFactory, read_calls, standin_source, write_executable
from tests.standin.server import LoopbackServer
from tests.standin.winstandin import launcher

pytestmark = pytest.mark.windows
HOSTILE_ARGS = ["a b", '"q"', "%PATH%", "x&y", "^!()", "é中", "", "tail\\"]


def env_for(home: Path, **extra: str) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    system = {k: os.environ[k] for k in ("SYSTEMROOT", "COMSPEC", "PATH") if k in os.environ}
    return {**system, "USERPROFILE": str(home), "HOME": str(home), "TEMP": str(home.parent),
            "TMP": str(home.parent), **extra}


def run(exe: Path, *args: str, env: dict[str, str], stdin: str | None = None
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(exe), *args], env=env, input=stdin, capture_output=True,
                          encoding="utf-8", timeout=60, check=False,
                          stdin=subprocess.DEVNULL if stdin is None else None)


@dataclass
class Created:
    """One win-64 environment, created once per module by the stand-in."""

    tmp: Path
    mm: Path
    home: Path
    prefix: Path
    result: subprocess.CompletedProcess[str]
    record_file: Path


@pytest.fixture(scope="module")
def created(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Created]:
    tmp = tmp_path_factory.mktemp("created")
    channel = write_channel(tmp / "channel", default_packages())
    record_file = tmp / "calls.jsonl"
    mm = write_executable(tmp / "bin" / "micromamba.exe",
                          standin_source({"record_file": str(record_file)}))
    env_yml = tmp / "env.yml"
    env_yml.write_text("name: ignored\ndependencies:\n  - conda\n  - mamba\n  - uv\n"
                       "variables:\n  my_var: hello\n", encoding="utf-8")
    with LoopbackServer() as server:
        server.mount("/conda-forge/", channel.root)
        prefix, home = tmp / "env", tmp / "home"
        result = run(mm, "create", "-y", "-r", str(tmp / "root"), "-p", str(prefix),
                     "--no-rc", "--override-channels", "-c", server.url_for("/conda-forge"),
                     "python={}.{}".format(*sys.version_info[:2]), "-f", str(env_yml),
                     env=env_for(home, CONDA_PKGS_DIRS=str(tmp / "pkgs")))
        yield Created(tmp, mm, home, prefix, result, record_file)


def test_the_standin_is_a_launcher_exe_with_the_zipapp(created: Created) -> None:
    data = created.mm.read_bytes()
    assert data.startswith(launcher()) and data[:2] == b"MZ"
    shebang = data[len(launcher()):].split(b"\r\n", 1)[0].decode()
    assert shebang.startswith('#!"') and shebang.endswith('python.exe" -I')


def test_exit_codes_pass_through_the_launcher(standin_factory: StandinFactory,
                                              tmp_path: Path) -> None:
    mm = standin_factory.install(tmp_path / "micromamba.exe")
    env = env_for(tmp_path / "home")
    assert run(mm, "--version", env=env).returncode == 0
    assert run(mm, "create", "-p", str(tmp_path / "p"), "--bogus", env=env).returncode == 109
    assert run(mm, "create", "-p", env=env).returncode == 114
    both = run(mm, "create", "-n", "x", "-p", str(tmp_path / "p"), env=env)
    assert both.returncode == 1
    assert both.stderr == ("error    libmamba Cannot set both prefix and env name\n"
                           "critical libmamba Aborting.\n")


def test_arguments_reach_it_unchanged(standin_factory: StandinFactory, tmp_path: Path) -> None:
    mm = standin_factory.install(tmp_path / "micromamba.exe")
    result = run(mm, "run", "-p", str(tmp_path / "nope"), *HOSTILE_ARGS,
                 env=env_for(tmp_path / "home"))
    assert result.returncode == 1
    (call,) = standin_factory.calls()
    assert call["argv"][4:] == HOSTILE_ARGS
    assert same_path(call["argv"][0], mm), "sys.argv[0] is the .exe (MAMBA_EXE, hooks)"


def test_streams_are_utf8_and_stdin_answers_the_prompt(created: Created,
                                                       tmp_path: Path) -> None:
    target = tmp_path / "é中 again"
    env = env_for(created.home, MAMBA_ROOT_PREFIX=str(tmp_path / "root"))
    assert run(created.mm, "create", "-y", "-p", str(target), env=env).returncode == 0
    refused = run(created.mm, "create", "-p", str(target), env=env, stdin="")
    assert refused.returncode == 1
    assert f"Found conda-prefix at '{target}'. Overwrite?: [y/N] " in refused.stdout
    assert refused.stderr == "critical libmamba Aborting.\n"
    assert run(created.mm, "create", "-p", str(target), env=env, stdin="y\n").returncode == 0


def test_ctrl_c_reaches_it_through_the_launcher(http_server: LoopbackServer,
                                               tmp_path: Path) -> None:
    """micromamba rolls back on Ctrl+C and exits 0 (contract); the launcher waits for it."""
    http_server.mount("/ch/", write_channel(tmp_path / "ch", default_packages()).root)
    slow = write_executable(tmp_path / "slow" / "micromamba.exe",
                            standin_source({"delay_create_s": 30}))
    target = tmp_path / "interrupted"
    proc = subprocess.Popen(
        [str(slow), "create", "-y", "-p", str(target), "--no-rc", "-c",
         http_server.url_for("/ch"), "python={}.{}".format(*sys.version_info[:2]), "conda"],
        env=env_for(tmp_path / "home", CONDA_PKGS_DIRS=str(tmp_path / "pkgs")),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        encoding="utf-8", creationflags=procs.NEW_CONSOLE)
    procs.wait_for(lambda: any((target / "conda-meta").glob("python-*.json")), "python linked")
    started = time.monotonic()
    procs.interrupt(proc)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - started < 20
    assert proc.returncode == 0, out + err
    assert err == "warning  libmamba Interrupted by user\n"
    assert "Transaction interrupted, rollbacking" in out
    assert not list((target / "conda-meta").glob("*.json")), "linked packages rolled back"


def test_stopping_the_launcher_stops_the_python_it_started(standin_factory: StandinFactory,
                                                           tmp_path: Path) -> None:
    """distlib's launcher holds its Python in a kill-on-close job object."""
    slow = standin_factory.install(tmp_path / "micromamba.exe", delay_create_s=60)
    target = tmp_path / "killed"
    proc = subprocess.Popen([str(slow), "create", "-y", "-p", str(target)],
                            env=env_for(tmp_path / "home"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    procs.wait_for(lambda: bool(procs.children(proc.pid)), "the launcher's python")
    (child,) = procs.children(proc.pid)
    proc.kill()
    proc.wait(30)
    procs.wait_for(lambda: not procs.alive(child.pid), "the python to end with it", 10)


def test_the_prefix_is_laid_out_as_conda_does_on_windows(created: Created) -> None:
    assert created.result.returncode == 0, created.result.stderr
    prefix = created.prefix
    python = prefix / "python.exe"
    out = subprocess.run([str(python), "-c", "import sys, ssl; print(sys.prefix)"],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(prefix), "python.exe's own folder is sys.prefix"
    digits = "{}{}".format(*sys.version_info[:2])
    for rel in (f"python{digits}.dll", "DLLs", "Lib/os.py", "Lib/site-packages", "Scripts",
                "Library/bin/mamba.exe", "Scripts/conda.exe", "Scripts/uv.exe"):
        assert (prefix / rel).exists(), rel
    for exe, text in (("Scripts/conda.exe", "conda 25.1.1"), ("Library/bin/mamba.exe",
                                                              "mamba 2.1.1"),
                      ("Scripts/uv.exe", "uv 0.5.31")):
        done = subprocess.run([str(prefix / exe), "--version"], capture_output=True, text=True,
                              check=True)
        assert done.stdout.strip() == text
    hook = (prefix / "condabin" / "mamba_hook.bat").read_bytes()
    assert f'@SET "MAMBA_ROOT_PREFIX={prefix}"\r\n'.encode() in hook, "absolute, with CRLF"
    assert (prefix / "etc" / "conda" / "activate.d" / "standin-conda.bat").is_file()
    state = json.loads((prefix / "conda-meta" / "state").read_text(encoding="utf-8"))
    assert state == {"env_vars": {"MY_VAR": "hello"}}
    assert not (prefix / "bin" / "python").exists()


def test_env_export_names_the_win64_packages(created: Created) -> None:
    result = run(created.mm, "env", "export", "--explicit", "--md5", "-p", str(created.prefix),
                 env=env_for(created.home))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "# platform: win-64" in lines
    urls = [line for line in lines if "://" in line]
    assert len(urls) == 5, urls  # python, conda, mamba, uv and the pip python implies
    assert sorted(url.split("/")[-2] for url in urls) == ["noarch", *["win-64"] * 4], urls


def test_post_link_bat_runs_with_package_variables(standin_factory: StandinFactory,
                                                   http_server: LoopbackServer,
                                                   tmp_path: Path) -> None:
    script = (b'@echo %PKG_NAME% %PKG_VERSION% %PREFIX%> "%PREFIX%\\post-link.txt"\r\n'
              b'@echo hello says hi> "%PREFIX%\\.messages.txt"\r\n')
    pkg = Package("hello", "1.0", "0", files={"Scripts/.hello-post-link.bat": script})
    http_server.mount("/ch/", write_channel(tmp_path / "ch", [pkg]).root)
    target = tmp_path / "env"
    result = run(standin_factory.install(tmp_path / "micromamba.exe"), "create", "-y", "-p",
                 str(target), "--no-rc", "--override-channels", "-c", http_server.url_for("/ch"),
                 "hello", env=env_for(tmp_path / "home", CONDA_PKGS_DIRS=str(tmp_path / "p")))
    assert result.returncode == 0, result.stderr
    assert (target / "post-link.txt").read_text() == f"hello 1.0 {target}\n"
    assert "hello says hi" in result.stdout and (target / ".messages.txt").exists()


def test_invocations_are_recorded_with_the_python_pid(created: Created) -> None:
    call = next(c for c in read_calls(created.record_file) if c["argv"][1] == "create")
    assert call["exit_code"] == 0 and call["pid"] > 0
    assert call["env"]["USERPROFILE"] == str(created.home)
