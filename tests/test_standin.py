"""The stand-in micromamba follows the contract (micromamba-contract.md), and the fixtures
around it (channel, loopback server, release) do what they promise. Everything on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import IS_WINDOWS, REPO
from tests.standin.channel import ChannelFolder, Package, default_packages, write_channel
from tests.standin.fixtures import (
    CondaChannel,
    MicromambaRelease,
    StandinFactory,
    host_subdir,
    read_calls,
    standin_source,
    write_executable,
)
from tests.standin.server import LoopbackServer

# The tests marked posix check the POSIX stand-in's layout and text (bin/, bash, linux-64);
# test_standin_windows.py checks the Windows one. The rest hold on both.
posix = pytest.mark.posix

PYVER = "{}.{}.{}".format(*sys.version_info[:3])


def run(exe: Path, *args: str, env: dict[str, str], stdin: str = "",
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(exe), *args], env=env, input=stdin, capture_output=True,
                          text=True, cwd=cwd, timeout=60, check=False)


def base_env(home: Path, **extra: str) -> dict[str, str]:
    if IS_WINDOWS:  # USERPROFILE is the home there, and Windows needs SYSTEMROOT
        from tests.test_standin_windows import env_for

        return env_for(home, **extra)
    home.mkdir(parents=True, exist_ok=True)
    return {"HOME": str(home), "PATH": "/usr/bin:/bin", "TMPDIR": str(home.parent), **extra}


@dataclass
class Created:
    """One environment created once per module from the loopback channel."""

    tmp: Path
    mm: Path
    home: Path
    root: Path
    prefix: Path
    pkgs: Path
    server: LoopbackServer
    channel: ChannelFolder
    result: subprocess.CompletedProcess[str]
    record_file: Path

    @property
    def channel_url(self) -> str:
        return self.server.url_for("/conda-forge")

    def env(self, **extra: str) -> dict[str, str]:
        return base_env(self.home, **extra)

    def md5(self, name: str) -> str:
        subdir = "linux-64" if name == "python" else "noarch"
        return str(self.channel.records[(subdir, self.channel.archive(name, subdir).name)]["md5"])


@pytest.fixture(scope="module")
def created(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Created]:
    tmp = tmp_path_factory.mktemp("created")
    channel = write_channel(tmp / "channel" / "conda-forge", default_packages())
    record_file = tmp / "calls.jsonl"
    mm = write_executable(tmp / "bin" / "micromamba",
                          standin_source({"record_file": str(record_file)}))
    env_yml = tmp / "env.yml"
    env_yml.write_text("name: ignored\ndependencies:\n  - python=" + PYVER.rsplit(".", 1)[0]
                       + "\n  - conda\nvariables:\n  my_var: hello\n", encoding="utf-8")
    with LoopbackServer() as server:
        server.mount("/conda-forge/", channel.root)
        created = Created(tmp, mm, tmp / "home", tmp / "root", tmp / "env", tmp / "pkgs",
                          server, channel, subprocess.CompletedProcess([], 0), record_file)
        created.result = run(
            mm, "create", "-y", "-r", str(created.root), "-p", str(created.prefix), "--no-rc",
            "--override-channels", "-c", created.channel_url, "--strict-channel-priority",
            "--no-shortcuts", "mamba", "prefixdata", "-f", str(env_yml),
            env=created.env(CONDA_PKGS_DIRS=str(created.pkgs)))
        yield created


# --------------------------------------------------------------------------- CLI parsing


@posix
def test_the_standin_is_one_reproducible_zipapp(tmp_path: Path) -> None:
    """Published as a release with a .sha256: identical configs give identical bytes, also
    in another process (another hash seed)."""
    config = {"record_file": str(tmp_path / "calls.jsonl")}
    data = standin_source(config)
    code = ("import hashlib, json, sys; from tests.standin.fixtures import standin_source; "
            "sys.stdout.write(hashlib.sha256(standin_source(json.loads(sys.argv[1]))).hexdigest())")
    other = subprocess.run([sys.executable, "-c", code, json.dumps(config)], cwd=REPO,
                           capture_output=True, text=True, check=True)
    assert other.stdout == hashlib.sha256(data).hexdigest()
    assert data.startswith(f"#!{sys.executable} -I\n".encode())
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert names == sorted(names) and "__main__.py" in names
        assert not [name for name in names if "__pycache__" in name]
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        baked = json.loads(archive.read("micromamba/config.json"))
    assert baked["record_file"] == config["record_file"]


def test_version_prints_bare_version_and_ignores_later_args(standin_factory: StandinFactory,
                                                           tmp_path: Path) -> None:
    mm = standin_factory.install(tmp_path / "micromamba")
    result = run(mm, "--version", "--bogus", env=base_env(tmp_path / "home"))
    assert (result.returncode, result.stdout, result.stderr) == (0, "2.8.1\n", "")
    assert subprocess.run([str(mm), "--version"], env={}, capture_output=True, text=True,
                          check=False).stdout == "2.8.1\n"  # env -i: no PATH, no HOME
    bare = run(mm, env=base_env(tmp_path / "home"))
    assert bare.returncode == 0 and bare.stdout.startswith("Version: 2.8.1\n")


def test_unknown_arguments_exit_109(standin_factory: StandinFactory, tmp_path: Path) -> None:
    mm = standin_factory.install(tmp_path / "micromamba")
    env = base_env(tmp_path / "home")
    single = run(mm, "create", "-p", str(tmp_path / "p"), "--bogus-flag", env=env)
    assert (single.returncode, single.stdout) == (109, "")
    assert single.stderr == ("The following argument was not expected: --bogus-flag\n"
                             "Run with --help for more information.\n")
    several = run(mm, "frobnicate", "c", "b", env=env)
    assert several.returncode == 109
    assert several.stderr.startswith("The following arguments were not expected: b c frobnicate")


def test_option_without_value_exits_114(standin_factory: StandinFactory, tmp_path: Path) -> None:
    result = run(standin_factory.install(tmp_path / "mm"), "create", "-p",
                 env=base_env(tmp_path / "home"))
    assert result.returncode == 114
    assert result.stderr.startswith("--prefix: 1 required TEXT missing\n")


def test_name_with_prefix_and_no_rc_with_condarc_exit_1(standin_factory: StandinFactory,
                                                        tmp_path: Path) -> None:
    mm = standin_factory.install(tmp_path / "micromamba")
    env = base_env(tmp_path / "home")
    both = run(mm, "create", "-n", "x", "-p", str(tmp_path / "p"), env=env)
    assert both.returncode == 1
    assert both.stderr == ("error    libmamba Cannot set both prefix and env name\n"
                           "critical libmamba Aborting.\n")
    no_rc = run(mm, "create", "--no-rc", "-y", "-p", str(tmp_path / "p"),
                env={**env, "CONDARC": str(tmp_path / "condarc")})
    assert no_rc.returncode == 1
    assert no_rc.stderr == ("error    libmamba Configuration files disabled by 'no_rc'\n"
                            "critical libmamba Incompatible configuration. Aborting.\n")
    assert not (tmp_path / "p").exists()


def test_prefix_without_separator_is_an_env_name(standin_factory: StandinFactory,
                                                 tmp_path: Path) -> None:
    mm = standin_factory.install(tmp_path / "micromamba")
    result = run(mm, "create", "-y", "-r", str(tmp_path / "root"), "-p", "myenv",
                 env=base_env(tmp_path / "home"))
    target = tmp_path / "root" / "envs" / "myenv"
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("warning  libmamba 'myenv' does not contain any filesystem "
                                    "separator.\n")
    assert f"Empty environment created at prefix: {target}" in result.stdout
    assert (target / "conda-meta" / "history").is_file()


def test_activate_subcommand_is_not_initialized(standin_factory: StandinFactory,
                                                tmp_path: Path) -> None:
    result = run(standin_factory.install(tmp_path / "micromamba"), "activate", "base",
                 env=base_env(tmp_path / "home"))
    assert result.returncode == 1
    assert "running as a subprocess" in result.stdout
    assert result.stderr == "critical libmamba Shell not initialized\n"


# --------------------------------------------------------------------------- create


def test_create_succeeds_quietly_on_stderr(created: Created) -> None:
    result = created.result
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    for text in ("Transaction starting", f"Linking python-{PYVER}-", "Transaction finished",
                 "To activate this environment, use:", f"micromamba run -p {created.prefix}"):
        assert text in result.stdout


@posix
def test_create_writes_conda_meta_and_history(created: Created) -> None:
    meta = created.prefix / "conda-meta"
    names = sorted(p.name.split("-")[0] for p in meta.glob("*.json"))
    assert names == ["conda", "mamba", "pip", "prefixdata", "python"], "pip is implied"
    conda = json.loads(next(meta.glob("conda-25.1.1-*.json")).read_text(encoding="utf-8"))
    assert conda["url"] == f"{created.channel_url}/noarch/conda-25.1.1-pyhd8ed1ab_0.tar.bz2"
    assert conda["md5"] == created.md5("conda") and conda["requested_spec"] == "conda"
    entry = next(p for p in conda["paths_data"]["paths"] if p["_path"] == "bin/conda")
    assert entry == {"_path": "bin/conda", "path_type": "unix_python_entry_point"}
    site = f"lib/python{PYVER.rsplit('.', 1)[0]}/site-packages"
    assert f"{site}/conda/cli/main.py" in conda["files"], "noarch: python layout"
    assert any(p["path_type"] == "pyc_file" for p in conda["paths_data"]["paths"])
    prefixdata = json.loads(next(meta.glob("prefixdata-*.json")).read_text(encoding="utf-8"))
    where = next(p for p in prefixdata["paths_data"]["paths"]
                 if p["_path"] == "share/prefixdata/where.txt")
    assert "prefix_placeholder" not in where and "file_mode" not in where, "as 2.x writes"
    assert where["sha256_in_prefix"] != where["sha256"]
    history = (meta / "history").read_text(encoding="utf-8").splitlines()
    assert re.fullmatch(r"==> \d{4}-\d\d-\d\d \d\d:\d\d:\d\d <==", history[0])
    assert history[1].startswith(f"# cmd: {created.mm} create -y")
    assert f"+{created.channel_url}/linux-64::python-{PYVER}-h" in "\n".join(history)


@posix
def test_created_python_and_relocated_files_work(created: Created) -> None:
    python = created.prefix / "bin" / "python"
    out = subprocess.run([str(python), "-c", "import sys; print(sys.prefix)"],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(created.prefix)
    conda = subprocess.run([str(created.prefix / "bin" / "conda"), "--version"],
                           capture_output=True, text=True, check=True, env=created.env())
    assert conda.stdout == "conda 25.1.1\n"
    share = created.prefix / "share" / "prefixdata"
    assert (share / "where.txt").read_text(encoding="utf-8") == f"prefix={created.prefix}\n"
    original = created.channel.root / "noarch" / "prefixdata-1.0.0-0.tar.bz2"
    binary = (share / "where.bin").read_bytes()
    assert binary.startswith(b"WHERE\0" + str(created.prefix).encode() + b"/share/prefixdata\0")
    assert binary.endswith(b"\0TAIL\0") and original.exists()


@posix
def test_create_writes_state_and_only_environments_txt_in_home(created: Created) -> None:
    state = (created.prefix / "conda-meta" / "state").read_text(encoding="utf-8")
    assert json.loads(state) == {"env_vars": {"MY_VAR": "hello"}}
    assert sorted(p.name for p in created.home.iterdir()) == [".conda"]
    assert [p.name for p in (created.home / ".conda").iterdir()] == ["environments.txt"]
    lines = (created.home / ".conda" / "environments.txt").read_text(encoding="utf-8")
    assert lines.splitlines() == [str(created.prefix)]
    assert not created.root.exists()  # CONDA_PKGS_DIRS set: the root is never written


@posix
def test_create_uses_nested_package_cache_layout(created: Created) -> None:
    folder = created.pkgs / "http" / f"127.0.0.1_{created.server.port}" / "conda-forge"
    assert (folder / "noarch" / "conda-25.1.1-pyhd8ed1ab_0.tar.bz2").is_file()
    extracted = folder / "noarch" / "conda-25.1.1-pyhd8ed1ab_0"
    assert (extracted / "info" / "repodata_record.json").is_file()
    assert (folder / "linux-64" / "urls.txt").read_text(encoding="utf-8").startswith(
        created.channel_url + "/linux-64/python-")
    assert list((created.pkgs / "cache").glob("*.json"))


def test_existing_non_conda_folder_is_refused_untouched(created: Created, tmp_path: Path) -> None:
    target = tmp_path / "occupied"
    target.mkdir()
    (target / "keep.txt").write_text("mine", encoding="utf-8")
    result = run(created.mm, "create", "-y", "-p", str(target), "--no-rc", "-c",
                 created.channel_url, "conda", env=created.env())
    assert result.returncode == 1
    assert result.stderr == ("error    libmamba Non-conda folder exists at prefix - aborting.\n"
                             "critical libmamba Non-conda folder exists at prefix - "
                             "aborting.\n")
    assert [p.name for p in target.iterdir()] == ["keep.txt"]


def test_existing_conda_prefix_prompts_and_eof_means_no(created: Created, tmp_path: Path) -> None:
    target = tmp_path / "again"
    env = created.env(MAMBA_ROOT_PREFIX=str(tmp_path / "root"))
    assert run(created.mm, "create", "-y", "-p", str(target), env=env).returncode == 0
    refused = run(created.mm, "create", "-p", str(target), env=env)
    assert refused.returncode == 1
    assert f"Found conda-prefix at '{target}'. Overwrite?: [y/N] " in refused.stdout
    assert refused.stderr == "critical libmamba Aborting.\n"
    assert run(created.mm, "create", "-p", str(target), env=env, stdin="y\n").returncode == 0


@posix
def test_unsatisfiable_spec_prints_the_solver_block(created: Created, tmp_path: Path) -> None:
    result = run(created.mm, "create", "-y", "-p", str(tmp_path / "p"), "--no-rc",
                 "--override-channels", "-c", created.channel_url, "nonexistent-pkg",
                 env=created.env(CONDA_PKGS_DIRS=str(tmp_path / "pkgs")))
    assert result.returncode == 1
    assert result.stderr == (
        "error    libmamba Could not solve for environment specs\n"
        "    The following package could not be installed\n"
        "    └─ nonexistent-pkg =* * does not exist (perhaps a typo or a missing channel).\n"
        "critical libmamba Could not solve for environment specs\n")
    assert not (tmp_path / "p").exists()


def test_bare_channel_name_fails_like_a_network_error(created: Created, tmp_path: Path) -> None:
    result = run(created.mm, "create", "-y", "-p", str(tmp_path / "p"), "--no-rc", "conda",
                 env=created.env(CONDA_PKGS_DIRS=str(tmp_path / "pkgs")))
    assert result.returncode == 1
    assert result.stderr.startswith(
        "critical libmamba Multiple errors occurred:\n"
        "    Download error (6) Couldn't resolve host name "
        "[https://conda.anaconda.org/conda-forge/noarch/repodata.json]\n"  # text only
        "    Could not resolve host: conda.anaconda.org\n")


# --------------------------------------------------------------------------- explicit files


def explicit_lock(created: Created, folder: Path, alter: str = "") -> Path:
    """A lock whose URLs are file:// copies of the archives (``alter``: corrupt that one)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["# platform: linux-64", "@EXPLICIT"]
    for name in ("python", "conda", "prefixdata"):
        source = created.channel.archive(name, "linux-64" if name == "python" else None)
        copy = folder / source.name
        shutil.copyfile(source, copy)
        if name == alter:
            copy.write_bytes(copy.read_bytes() + b"tampered")
        lines.append(f"{copy.as_uri()}#{created.md5(name)}")
    lock = folder / "lock.txt"
    lock.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lock


@posix
def test_explicit_file_urls_work_offline_with_empty_cache(created: Created,
                                                          tmp_path: Path) -> None:
    lock = explicit_lock(created, tmp_path / "copies")
    target = tmp_path / "offline-env"
    result = run(created.mm, "create", "-y", "--offline", "-r", str(tmp_path / "root"), "-p",
                 str(target), "-f", str(lock),
                 env=created.env(CONDA_PKGS_DIRS=str(tmp_path / "empty-pkgs")))
    assert result.returncode == 0, result.stderr
    assert subprocess.run([str(target / "bin" / "conda"), "--version"], capture_output=True,
                          text=True, check=True).stdout == "conda 25.1.1\n"
    assert (tmp_path / "empty-pkgs" / "file").is_dir()


@posix
def test_altered_archive_fails_with_md5_message(created: Created, tmp_path: Path) -> None:
    lock = explicit_lock(created, tmp_path / "copies", alter="prefixdata")
    target, pkgs = tmp_path / "bad-env", tmp_path / "pkgs"
    result = run(created.mm, "create", "-y", "-p", str(target), "-f", str(lock),
                 env=created.env(CONDA_PKGS_DIRS=str(pkgs)))
    assert result.returncode == 1
    tarball = next(pkgs.glob("file/**/copies")) / "prefixdata-1.0.0-0.tar.bz2"
    actual = hashlib.md5((tmp_path / "copies" / tarball.name).read_bytes()).hexdigest()  # noqa: S324
    assert result.stderr == (
        f'error    libmamba File not valid: MD5 doesn\'t match expectation "{tarball}"\n'
        f"    Expected: {created.md5('prefixdata')}\n    Actual: {actual}\n    \n"
        "critical libmamba Found incorrect downloads. Aborting\n")
    assert "prefixdata-1.0.0-0.tar.bz2 tarball has incorrect MD5" in result.stdout
    assert (target / "conda-meta").is_dir()


# --------------------------------------------------------------------------- export, shell, run


@posix
def test_env_export_explicit(created: Created) -> None:
    result = run(created.mm, "env", "export", "--explicit", "--md5", "-r", str(created.root),
                 "-p", str(created.prefix), env=created.env())
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:4] == ["# This file may be used to create an environment using:",
                         "# $ conda create --name <env> --file <this file>",
                         "# platform: linux-64", "@EXPLICIT"]
    python = created.channel.archive("python", "linux-64").name
    assert lines[4:] == [  # PrefixData::sorted_records: by name, dependencies first
        f"{created.channel_url}/linux-64/{python}#{created.md5('python')}",
        f"{created.channel_url}/noarch/conda-25.1.1-pyhd8ed1ab_0.tar.bz2#{created.md5('conda')}",
        f"{created.channel_url}/noarch/mamba-2.1.1-0.tar.bz2#{created.md5('mamba')}",
        f"{created.channel_url}/noarch/pip-23.2.1-pyhd8ed1ab_0.tar.bz2#{created.md5('pip')}",
        f"{created.channel_url}/noarch/prefixdata-1.0.0-0.tar.bz2#{created.md5('prefixdata')}",
    ]


@posix
def test_shell_activate_bash_text(created: Created) -> None:
    p, root = created.prefix, created.root
    result = run(created.mm, "shell", "activate", "-s", "bash", "-p", str(p),
                 env=created.env(MAMBA_ROOT_PREFIX=str(root)))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"PS1='({p}) '",
        "export STANDIN_ENV_VARS_D='from-env-vars-d'",
        "export PREFIXDATA_FROM_ENV_VARS_D='yes'",
        "export MY_VAR='hello'",
        f"export PATH='{p}/bin:{root}/condabin:/usr/bin:/bin'",
        f"export CONDA_PREFIX='{p}'",
        "export CONDA_SHLVL='1'",
        f"export CONDA_DEFAULT_ENV='{p}'",
        f"export CONDA_PROMPT_MODIFIER='({p}) '",
        f'. "{p}/etc/conda/activate.d/prefixdata.sh"',
        f'. "{p}/etc/conda/activate.d/standin-conda.sh"',
    ]


@posix
def test_shell_activate_cmd_exe_writes_temp_bat(created: Created, tmp_path: Path) -> None:
    result = run(created.mm, "shell", "activate", "-s", "cmd.exe", "-p", str(created.prefix),
                 env=created.env(TMPDIR=str(tmp_path)))
    assert result.returncode == 0 and not result.stdout.endswith("\n")
    bat = Path(result.stdout)
    assert bat.parent == tmp_path and re.fullmatch(r"mamba_act[A-Za-z0-9]{10}\.bat", bat.name)
    lines = bat.read_text(encoding="utf-8").splitlines()
    assert f'@SET "CONDA_PREFIX={created.prefix}"' in lines
    assert lines[-1] == f'@CALL "{created.prefix}/etc/conda/activate.d/standin-conda.bat"'


def test_shell_activate_errors(created: Created, tmp_path: Path) -> None:
    missing = run(created.mm, "shell", "activate", "-s", "bash", "-p", str(tmp_path / "nope"),
                  env=created.env())
    assert missing.returncode == 1
    assert missing.stderr == ("critical libmamba Cannot activate, prefix does not exist at: "
                              f"'{tmp_path / 'nope'}'\n")
    late_root = run(created.mm, "shell", "activate", "-s", "bash", "-p", str(created.prefix),
                    "-r", str(created.root), env=created.env())
    assert late_root.returncode == 108


@posix
def test_run_passes_exit_code_and_activates(created: Created) -> None:
    env = created.env()
    code = run(created.mm, "run", "-p", str(created.prefix), "bash", "-c",
               'echo "$STANDIN_ACTIVATE_D $MY_VAR $CONDA_PREFIX"; exit 3', env=env)
    assert code.returncode == 3
    assert code.stdout == f"1 hello {created.prefix}\n"
    missing_cmd = run(created.mm, "run", "-p", str(created.prefix), "no-such-command-xyz", env=env)
    assert missing_cmd.returncode == 127
    missing_prefix = run(created.mm, "run", "-p", str(created.tmp / "nope"), "true", env=env)
    assert missing_prefix.returncode == 1
    assert missing_prefix.stderr == ("critical libmamba The given prefix does not exist: "
                                     f'"{created.tmp / "nope"}"\n')
    cache = created.tmp / "xdg-cache"
    proc = run(created.mm, "run", "-p", str(created.prefix), "bash", "-c",
               'ls "$XDG_CACHE_HOME/mamba/proc"', env={**env, "XDG_CACHE_HOME": str(cache)})
    assert re.fullmatch(r"\d+\.json\n", proc.stdout)
    assert list((cache / "mamba" / "proc").iterdir()) == []
    no_cmd = run(created.mm, "run", "-p", str(created.prefix), env=env)
    assert no_cmd.returncode == 1
    assert "Did not receive any command to run inside environment" in no_cmd.stderr


@posix
def test_shell_init_writes_bashrc(standin_factory: StandinFactory, tmp_path: Path) -> None:
    mm = standin_factory.install(tmp_path / "bin" / "micromamba")
    home = tmp_path / "home"
    result = run(mm, "shell", "init", "-s", "bash", "-r", str(tmp_path / "root"),
                 env=base_env(home))
    assert result.returncode == 0, result.stderr
    bashrc = (home / ".bashrc").read_text(encoding="utf-8")
    assert "# >>> mamba initialize >>>" in bashrc
    assert f"export MAMBA_ROOT_PREFIX='{tmp_path / 'root'}';" in bashrc


def test_invocations_are_recorded(created: Created) -> None:
    calls = read_calls(created.record_file)
    assert calls[0]["argv"][1] == "create" and calls[0]["exit_code"] == 0
    assert calls[0]["env"]["HOME"] == str(created.home)
    assert calls[0]["start"] <= calls[0]["end"] and calls[0]["pid"] > 0


@posix
def test_ctrl_c_during_create_leaves_partial_prefix(created: Created, tmp_path: Path) -> None:
    proc, target = start_slow_create(created, tmp_path)
    with proc:
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=15)
    assert time.monotonic() - started < 10
    assert proc.returncode == 0
    assert stderr == "warning  libmamba Interrupted by user\n"
    assert "Transaction interrupted, rollbacking" in stdout
    assert (target / "conda-meta" / "history").is_file()
    assert not list((target / "conda-meta").glob("*.json")), "linked packages rolled back"


def start_slow_create(created: Created, tmp_path: Path,
                      record_file: str = "") -> tuple[subprocess.Popen[str], Path]:
    """A create that sleeps after linking python (delay_create_s), once python is linked."""
    mm = write_executable(tmp_path / "slow" / "micromamba",
                          standin_source({"delay_create_s": 20, "record_file": record_file}))
    target = tmp_path / "interrupted"
    proc = subprocess.Popen(
        [str(mm), "create", "-y", "-p", str(target), "--no-rc", "--override-channels", "-c",
         created.channel_url, "conda"], env=created.env(CONDA_PKGS_DIRS=str(tmp_path / "pkgs")),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while not list((target / "conda-meta").glob("python-*.json")):
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            proc.communicate()
            pytest.fail("the slow create never linked python")
        time.sleep(0.05)
    time.sleep(0.2)
    return proc, target


@posix
def test_sigterm_kills_the_create_and_is_recorded(created: Created, tmp_path: Path) -> None:
    record = tmp_path / "calls.jsonl"
    proc, target = start_slow_create(created, tmp_path, str(record))
    with proc:
        proc.terminate()
        proc.communicate(timeout=15)
    assert proc.returncode == -signal.SIGTERM
    assert [c["exit_code"] for c in read_calls(record)] == [-signal.SIGTERM]
    assert list((target / "conda-meta").glob("python-*.json")), "left as it was"


@posix
def test_post_link_script_runs_with_package_variables(standin_factory: StandinFactory,
                                                      http_server: LoopbackServer,
                                                      tmp_path: Path) -> None:
    script = ('echo "$PKG_NAME $PKG_VERSION $PREFIX" > "$PREFIX/post-link.txt"\n'
              'echo "hello says hi" > "$PREFIX/.messages.txt"\n')
    pkg = Package("hello", "1.0", "0", files={"share/hello.txt": b"hi\n"}, post_link=script)
    http_server.mount("/ch/", write_channel(tmp_path / "ch", [pkg]).root)
    target = tmp_path / "env"
    result = run(standin_factory.install(tmp_path / "micromamba"), "create", "-y", "-p",
                 str(target), "--no-rc", "--override-channels", "-c", http_server.url_for("/ch"),
                 "hello", env=base_env(tmp_path / "home", CONDA_PKGS_DIRS=str(tmp_path / "p")))
    assert result.returncode == 0, result.stderr
    assert (target / "post-link.txt").read_text(encoding="utf-8") == f"hello 1.0 {target}\n"
    assert "hello says hi" in result.stdout
    assert (target / ".messages.txt").exists(), "2.8.1 leaves it in the prefix"


@posix
def test_platform_dry_run_and_download_only(created: Created, tmp_path: Path) -> None:
    pkgs = tmp_path / "pkgs"
    env = created.env(CONDA_PKGS_DIRS=str(pkgs))
    common = ["-y", "--no-rc", "--override-channels", "-c", created.channel_url]
    win = run(created.mm, "create", *common, "--platform", "win-64", "-p", str(tmp_path / "win"),
              "python", env=env)
    assert win.returncode == 0, win.stderr
    assert (tmp_path / "win" / ".mambarc").read_text(encoding="utf-8") == "platform: win-64"
    assert (tmp_path / "win" / "python.exe").is_file()
    assert not (tmp_path / "win" / "bin").exists()
    dry = run(created.mm, "create", *common, "--dry-run", "-p", str(tmp_path / "dry"), "mamba",
              env=env)
    assert dry.returncode == 0 and "Dry run. Not executing the transaction." in dry.stdout
    assert not (tmp_path / "dry").exists() and not list(pkgs.glob("http/**/mamba-*"))
    only = run(created.mm, "create", *common, "--download-only", "-p", str(tmp_path / "dl"),
               "mamba", env=env)
    assert only.returncode == 0, only.stderr
    assert list(pkgs.glob("http/**/noarch/mamba-2.1.1-0.tar.bz2"))
    assert not (tmp_path / "dl" / "bin").exists()


def test_info_json(created: Created) -> None:
    result = run(created.mm, "info", "--json", "-r", str(created.root), env=created.env())
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["base environment"] == str(created.root)
    assert info["micromamba version"] == "2.8.1" and info["platform"] == host_subdir()


# --------------------------------------------------------------------------- release fixture


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return bytes(response.read())


def test_micromamba_release_assets(micromamba_release: MicromambaRelease, tmp_path: Path) -> None:
    release = micromamba_release
    assert release.version == "2.8.1-0"
    url = release.url_template.format(version=release.version, platform=host_subdir())
    binary = fetch(url)
    digest = fetch(url + ".sha256").decode()
    assert binary == release.binary and re.fullmatch(r"[0-9a-f]{64}", digest)
    assert digest == hashlib.sha256(binary).hexdigest() == release.sha256
    assert fetch(url + ".tar.bz2.sha256").decode() == digest  # releases#37
    assert fetch(release.url(latest=True)) == binary
    assert release.calls() == []
    mm = write_executable(tmp_path / "micromamba", binary)
    assert run(mm, "--version", env=base_env(tmp_path / "home")).stdout == "2.8.1\n"
    assert [c["argv"][1:] for c in release.calls()] == [["--version"]]


@pytest.mark.parametrize("micromamba_release", [{"version": "2.7.0"}], indirect=True)
def test_micromamba_release_indirect_config(micromamba_release: MicromambaRelease,
                                            tmp_path: Path) -> None:
    assert micromamba_release.version == "2.7.0-0"
    mm = write_executable(tmp_path / "micromamba", fetch(micromamba_release.url()))
    assert run(mm, "--version", env=base_env(tmp_path / "home")).stdout == "2.7.0\n"


# --------------------------------------------------------------------------- loopback server


def test_server_faults_are_consumed_in_order(http_server: LoopbackServer) -> None:
    url = http_server.add("/data.bin", b"0123456789")
    http_server.fail("/data.bin", 503, retry_after=2)
    http_server.redirect("/data.bin", "/other.bin")
    http_server.add("/other.bin", b"other")
    with pytest.raises(urllib.error.HTTPError) as error:
        fetch(url)
    assert error.value.code == 503 and error.value.headers["Retry-After"] == "2"
    error.value.close()
    assert fetch(url) == b"other"  # 302 followed
    assert fetch(url) == b"0123456789"
    assert [r.fault for r in http_server.requests_for("/data.bin")] == ["status", "redirect", ""]


def test_server_truncate_stall_and_drop(http_server: LoopbackServer) -> None:
    url = http_server.add("/data.bin", b"x" * 1000)
    http_server.truncate("/data.bin", 10)
    with pytest.raises(http.client.IncompleteRead):
        fetch(url)
    http_server.stall("/data.bin", 0.3)
    started = time.monotonic()
    assert fetch(url) == b"x" * 1000 and time.monotonic() - started >= 0.3
    http_server.drop("/data.bin")
    with pytest.raises((urllib.error.URLError, ConnectionError)):  # RemoteDisconnected
        fetch(url)
    assert http_server.pending_faults("/data.bin") == 0


def test_server_range_head_and_log(http_server: LoopbackServer) -> None:
    url = http_server.add("/r.bin", b"0123456789")
    request = urllib.request.Request(url, headers={"Range": "bytes=3-"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 206 and response.read() == b"3456789"
        assert response.headers["Content-Range"] == "bytes 3-9/10"
    http_server.disable_range("/r.bin")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200 and response.read() == b"0123456789"
    head = urllib.request.Request(url, method="HEAD")
    with urllib.request.urlopen(head, timeout=10) as response:
        assert response.headers["Content-Length"] == "10" and response.read() == b""
    log = http_server.requests_for("/r.bin")
    assert [r.method for r in log] == ["GET", "GET", "HEAD"]
    assert log[0].headers["Range"] == "bytes=3-"


def test_server_works_as_http_proxy(http_server: LoopbackServer) -> None:
    http_server.add("/ch/noarch/repodata.json", b"{}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": http_server.url}))
    with opener.open("http://conda.example.invalid/ch/noarch/repodata.json", timeout=10) as resp:
        assert resp.read() == b"{}"
    assert http_server.requests[-1].target.startswith("http://conda.example.invalid/")


def test_conda_channel_fixture(conda_channel: CondaChannel) -> None:
    repodata = json.loads(fetch(conda_channel.url + "/noarch/repodata.json"))
    assert "conda-25.1.1-pyhd8ed1ab_0.tar.bz2" in repodata["packages"]
    assert json.loads(fetch(conda_channel.url + "/linux-64/repodata.json"))["packages"]
    python = conda_channel.archive("python")
    assert fetch(conda_channel.archive_url("python")) == python.read_bytes()
    assert os.path.isfile(conda_channel.root / "win-64" / "repodata.json")
