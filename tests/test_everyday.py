"""Everyday commands: list, remove, doctor, shell, and what the output looks like on a
terminal and in a pipe. The interactive shell runs on a pseudo-terminal on POSIX and with
piped commands in cmd.exe on Windows."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import IS_WINDOWS, Mambaboot, tree
from tests.project import PYTHON, Project, same_path
from tests.standin.server import LoopbackServer


def created(mambaboot: Mambaboot, project: Project) -> Project:
    result = mambaboot(*project.args())
    assert result.code == 0, result.text
    return project


def test_list_shows_name_python_state_and_size(mambaboot: Mambaboot, project: Project,
                                               tmp_path: Path) -> None:
    created(mambaboot, project)
    (project.envs / "foreign" / "conda-meta").mkdir(parents=True)
    out = tmp_path / "list.json"
    result = mambaboot("list", "--config", str(project.config), "--json", str(out))
    assert result.code == 0, result.text
    row = next(line for line in result.out.splitlines() if line.startswith("demo_"))
    assert PYTHON in row and "complete" in row and "MB" in row
    assert "not made by mambaboot" in result.out
    data = json.loads(out.read_text())
    names = [e["name"] for e in data["environments"]]
    assert names == ["demo_" + PYTHON.replace(".", "_"), "foreign"]
    assert data["environments"][0]["size"] > 0


@pytest.mark.conformance
def test_remove_only_what_mambaboot_made(mambaboot: Mambaboot, project: Project) -> None:
    created(mambaboot, project)
    foreign = project.envs / "foreign"
    (foreign / "conda-meta").mkdir(parents=True)
    (foreign / "keep.txt").write_text("mine")
    refused = mambaboot("remove", "--config", str(project.config), "foreign", "--yes")
    assert refused.code == 3, refused.text
    assert (foreign / "keep.txt").read_text() == "mine"
    unasked = mambaboot("remove", "--config", str(project.config), project.prefix.name)
    assert unasked.code == 2 and "--yes" in unasked.err
    assert project.prefix.exists()
    cache_before = tree(project.cache / "pkgs")
    listing = project.cache / "root" / "profile" / "home" / ".conda" / "environments.txt"
    assert listing.read_text().splitlines() == [str(project.prefix)]
    listing.write_text(f"{project.prefix}\n/somewhere/else\n")
    done = mambaboot("remove", "--config", str(project.config), project.prefix.name, "--yes")
    assert done.code == 0, done.text
    assert not project.prefix.exists()
    assert tree(project.cache / "pkgs") == cache_before, "the shared cache is untouched"
    assert listing.read_text().splitlines() == ["/somewhere/else"], \
        "dropped from mambaboot's private environments.txt"


def test_remove_refuses_a_foreign_folder_with_3_and_a_missing_one_with_2(
        mambaboot: Mambaboot, project: Project, tmp_path: Path) -> None:
    plain = project.envs / "plain"
    plain.mkdir(parents=True)
    (plain / "keep.txt").write_text("mine")
    common = ["--config", str(project.config), "--yes"]
    for target in ("plain", str(plain)):
        refused = mambaboot("remove", *common, target)
        assert refused.code == 3, refused.text
        assert "was not created by mambaboot" in refused.err
    assert (plain / "keep.txt").read_text() == "mine"
    out = tmp_path / "remove.json"
    missing = mambaboot("remove", *common, "nowhere", "--json", str(out))
    assert missing.code == 2, missing.text
    assert f"Nothing to remove: {project.envs / 'nowhere'} does not exist." in missing.err
    assert json.loads(out.read_text())["exit_code"] == 2


def test_doctor_reports_each_check_and_fails_on_a_broken_environment(
        mambaboot: Mambaboot, project: Project, http_server: LoopbackServer,
        tmp_path: Path) -> None:
    created(mambaboot, project)
    common = ["--config", str(project.config)]
    report = tmp_path / "doctor.json"
    healthy = mambaboot("doctor", *common, project.prefix.name, "--json", str(report))
    assert healthy.code == 0, healthy.text
    checks = {c["name"]: c for c in json.loads(report.read_text())["checks"]}
    assert checks[f"environment {project.prefix.name}"]["status"] == "ok"
    assert checks["temp folder"]["status"] == "ok"
    assert any(name.startswith("reach channel") and c["status"] == "ok"
               for name, c in checks.items())
    assert "[ok  ]" in healthy.out and "0 failed" in healthy.out
    project.python.unlink()
    http_server.stop()
    broken = mambaboot("doctor", *common, project.prefix.name)
    assert broken.code == 3, broken.text
    assert "[FAIL] environment" in broken.out
    assert "[FAIL] reach channel" in broken.out
    assert "fix:" in broken.out


def test_doctor_uses_the_network_settings_of_create(
        mambaboot: Mambaboot, project: Project, tmp_path: Path) -> None:
    created(mambaboot, project)
    project.config.write_text(project.config.read_text().replace("allow_http = true",
                                                                 "allow_http = false"))
    common = ["--config", str(project.config)]
    result = mambaboot("doctor", *common, "--json", "-")
    assert result.code == 0, result.text
    checks = {c["name"]: c for c in json.loads(result.out)["checks"]}
    assert checks["reach micromamba download"]["detail"].startswith("not needed: cache ")
    channel = checks[f"reach channel {project.channel_url}"]
    assert channel["status"] == "ok", "micromamba fetches http channels itself"
    assert "[ok  ]" in result.err and "0 failed" in result.err
    fresh = [*common, "--cache-dir", str(tmp_path / "fresh-cache"), "--json", "-"]
    refused = mambaboot("doctor", *fresh)
    assert refused.code == 3, refused.text
    download = next(c for c in json.loads(refused.out)["checks"]
                    if c["name"] == "reach micromamba download")
    assert download["status"] == "fail" and "http" in download["detail"]
    allowed = mambaboot("doctor", *fresh, "--allow-http")
    assert allowed.code == 0, allowed.text
    offline = mambaboot("doctor", *fresh, "--offline", "--ca-bundle", str(project.config))
    assert offline.code == 0, offline.text
    assert not any(c["name"].startswith("reach") for c in json.loads(offline.out)["checks"])


def read_until(fd: int, needle: bytes, timeout_s: float = 30) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout_s
    while needle not in data:
        if time.monotonic() > deadline:
            raise AssertionError(f"{needle!r} not seen in {data[-2000:]!r}")
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
    return data


class PtyChild:
    """mambaboot on a pseudo-terminal that is its controlling terminal, as in a console."""

    def __init__(self, mambaboot: Mambaboot, *args: str,
                 env: dict[str, str] | None = None) -> None:
        argv = [*mambaboot.argv, *args]
        full_env = {**mambaboot.base_env(), **(env or {})}
        import pty  # POSIX only

        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # pragma: no cover - the child
            os.execve(argv[0], argv, full_env)  # noqa: S606 - an argument list, no shell

    def wait(self, timeout_s: float = 60) -> int:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.05)
        os.kill(self.pid, 9)
        raise AssertionError("mambaboot did not exit")

    def close(self) -> None:
        os.close(self.fd)


def printed(out: str, text: str) -> bool:
    """cmd.exe printed the line ``text``: Wine's cmd puts its prompt before the first line a
    command prints, real cmd.exe on a line of its own."""
    return any(line.endswith(text) for line in out.splitlines())


def private_temp(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A temp folder of mambaboot's own (TMPDIR, TEMP, TMP), to see what it leaves there."""
    temp = tmp_path / "temp"
    temp.mkdir()
    return temp, {"TMPDIR": str(temp), "TEMP": str(temp), "TMP": str(temp)}


@pytest.mark.posix
@pytest.mark.conformance
def test_shell_opens_an_activated_interactive_shell(mambaboot: Mambaboot, project: Project,
                                                    tmp_path: Path) -> None:
    created(mambaboot, project)
    temp, env = private_temp(tmp_path)
    child = PtyChild(mambaboot, "shell", "--config", str(project.config),
                     project.prefix.name, env={"SHELL": "/bin/bash", **env})
    try:
        read_until(child.fd, b"(demo_")
        os.write(child.fd, b'echo "IN=$CONDA_PREFIX PY=$(command -v python)"\n')
        seen = read_until(child.fd, b"PY=/")
        os.write(child.fd, b"exit 3\n")
        assert child.wait() == 3
    finally:
        child.close()
    text = seen.decode(errors="replace")
    assert f"IN={project.prefix}" in text
    assert f"PY={project.prefix}/bin/python" in text
    assert list(temp.iterdir()) == [], "the shell's wrapper folder is removed"


@pytest.mark.windows
def test_shell_opens_an_activated_cmd_shell(mambaboot: Mambaboot, project: Project,
                                            tmp_path: Path) -> None:
    """cmd.exe /K reads the commands from standard input (one line: Wine's cmd runs only
    the first line of what one read from a pipe gives it); its exit code is mambaboot's."""
    created(mambaboot, project)
    temp, env = private_temp(tmp_path)
    commands = "echo IN=%CONDA_PREFIX%& where python& echo PROMPT=%PROMPT%& exit 3\n"
    result = mambaboot("shell", "--config", str(project.config), project.prefix.name,
                       env=env, input=commands)
    assert result.code == 3, result.text
    assert printed(result.out, f"IN={project.prefix}"), result.out
    found = [line for line in result.out.splitlines() if line.lower().endswith("python.exe")]
    assert same_path(found[0], project.python), "python resolves inside the environment first"
    assert printed(result.out, f"PROMPT=({project.prefix.name}) $P$G")
    assert list(temp.iterdir()) == [], "the shell's wrapper folder is removed"


NAMES = 'echo "$CONDA_DEFAULT_ENV|$CONDA_PROMPT_MODIFIER"'
NAMES_BAT = "echo %CONDA_DEFAULT_ENV%^|%CONDA_PROMPT_MODIFIER%"
NAMES_PY = ("import os; print(os.environ['CONDA_DEFAULT_ENV'] + '|' + "
            "os.environ['CONDA_PROMPT_MODIFIER'])")


@pytest.mark.parametrize("layout", ["under envs", "elsewhere"])
def test_launcher_run_shell_and_scripts_agree_on_the_name(
        mambaboot: Mambaboot, project: Project, tmp_path: Path, layout: str) -> None:
    """CONDA_DEFAULT_ENV and the prompt, as micromamba names an environment: the folder
    name in an "envs" folder, else the full path."""
    prefix = project.prefix
    extra: tuple[str, ...] = ()
    if layout == "elsewhere":
        prefix = tmp_path / "tools place" / "demo"
        extra = ("--prefix", str(prefix))
    name = prefix.name if layout == "under envs" else str(prefix)
    expected = f"{name}|({name}) "
    script_txt = tmp_path / "script.txt"
    project.shell_script("10-names", f'{NAMES} > "{script_txt}"\n',
                         f'@{NAMES_BAT}> "{script_txt}"\n')
    assert mambaboot(*project.args(*extra)).code == 0
    assert script_txt.read_text().rstrip("\n") == expected
    ran = mambaboot("run", "--config", str(project.config), str(prefix), "--", "python", "-c",
                    NAMES_PY)
    assert ran.out.rstrip("\n") == expected, ran.text
    launcher_and_shell = agree_on_windows if IS_WINDOWS else agree_on_posix
    launcher_and_shell(mambaboot, project, prefix, name, tmp_path)


def agree_on_posix(mambaboot: Mambaboot, project: Project, prefix: Path, name: str,
                   tmp_path: Path) -> None:
    """activate.sh sourced in bash, and ``mambaboot shell`` on a pseudo-terminal."""
    expected = f"{name}|({name}) "
    sourced = subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", f'. "$1"; {NAMES}; echo "$PS1"', "bash",
         str(prefix / "activate.sh")], capture_output=True, text=True, check=True,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)})
    assert sourced.stdout.splitlines() == [expected, f"({name}) "]
    child = PtyChild(mambaboot, "shell", "--config", str(project.config), str(prefix),
                     env={"SHELL": "/bin/bash"})
    try:
        read_until(child.fd, b"New shell in")
        os.write(child.fd, f'echo "P=$PS1"; {NAMES}; exit\n'.encode())
        seen = read_until(child.fd, f"\n{expected}".encode())
        assert child.wait() == 0
    finally:
        child.close()
    assert f"\nP=({name}) ".encode() in seen, "the shell's prompt starts with the name"


def agree_on_windows(mambaboot: Mambaboot, project: Project, prefix: Path, name: str,
                     tmp_path: Path) -> None:
    """activate.bat CALLed from a batch file, and ``mambaboot shell`` (cmd.exe /K) with the
    commands on its standard input."""
    expected = f"{name}|({name}) "
    probe = tmp_path / "probe.bat"
    probe.write_text(f'@CALL "{prefix / "activate.bat"}"\n@{NAMES_BAT}\n@echo %PROMPT%\n',
                     encoding="ascii")
    sourced = subprocess.run([os.environ.get("COMSPEC", "cmd.exe"), "/d", "/c", str(probe)],
                             capture_output=True, text=True, check=True)
    assert sourced.stdout.splitlines() == [expected, f"({name}) $P$G"]
    shell = mambaboot("shell", "--config", str(project.config), str(prefix),  # one line:
                      input=f"{NAMES_BAT}& echo P=%PROMPT%& exit\n")  # see above
    assert shell.code == 0, shell.text
    assert printed(shell.out, expected), shell.out
    assert printed(shell.out, f"P=({name}) $P$G"), "the shell's prompt starts with the name"


@pytest.mark.posix  # a pseudo-terminal; Windows' console cannot be made under Wine's pipes
def test_progress_is_a_bar_on_a_terminal_and_lines_in_a_pipe(mambaboot: Mambaboot,
                                                             project: Project) -> None:
    child = PtyChild(mambaboot, *project.args("--no-color"))
    try:
        output = read_until(child.fd, b"Environment created", 120)
        assert child.wait() == 0
    finally:
        child.close()
    download = output.split(b"==> create")[0]
    assert b"\r" in download, "the download bar is redrawn in place"
    assert b"100%" in download and b"/s" in download
    shutil.rmtree(project.cache / "micromamba")
    piped = mambaboot(*project.args("other"))
    assert piped.code == 0
    assert "100%" in piped.out and "\r" not in piped.out


def test_quiet_prints_errors_only_and_verbose_every_command(mambaboot: Mambaboot,
                                                            project: Project) -> None:
    quiet = mambaboot(*project.args("-q"))
    assert quiet.code == 0
    assert quiet.out == "" and quiet.err == ""
    verbose = mambaboot(*project.args("-v", "--force"))
    assert verbose.code == 0
    assert "$ " in verbose.out and "micromamba" in verbose.out and " create -y -r " in verbose.out
