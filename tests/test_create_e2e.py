"""End to end: the real download -> verify -> create -> finish -> verify -> scripts path,
against a loopback channel, from source and frozen. Tests marked ``conformance`` run with
the stand-in micromamba and with the real one (tests/standin/realmm.py) alike."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IS_WINDOWS, Mambaboot, tree
from tests.project import PYTHON, Project, same_path
from tests.standin.containment import Containment

PROBE_PY = """import json, os, shutil, sys
json.dump({"cwd": os.getcwd(), "python": shutil.which("python"),
           "conda": shutil.which("conda"), "mamba": shutil.which("mamba"),
           "prefix": sys.prefix, "env": dict(os.environ)}, open(sys.argv[1], "w"))
"""
# a shell script of the platform that runs the probe with the python it finds on PATH
PROBE_SH = 'set -e\npython "$MAMBABOOT_CONFIG_DIR/probe.py" "$MAMBABOOT_CONFIG_DIR/probe-.json"\n'
PROBE_BAT = ('@python "%MAMBABOOT_CONFIG_DIR%\\probe.py" "%MAMBABOOT_CONFIG_DIR%\\probe-.json"\n'
             "@EXIT /B %ERRORLEVEL%\n")


def creates(release: Any) -> list[dict[str, Any]]:
    return [c for c in release.calls() if "create" in c["argv"]]


@pytest.mark.conformance(frozen=True)
def test_fresh_create_builds_a_complete_environment(
        mambaboot: Mambaboot, project: Project, micromamba_release: Any,
        isolated_home: Path) -> None:
    result = mambaboot(*project.args())
    assert result.code == 0, result.text
    receipt = project.receipt()
    assert receipt["complete"] is True
    assert receipt["micromamba"]["sha256"] == micromamba_release.sha256
    assert receipt["inputs"]["python"] == PYTHON
    prefix = project.prefix
    assert project.python.exists()
    launchers = ("activate.sh", "activate.bat", "activate.ps1") if IS_WINDOWS else \
        ("activate.sh",)
    assert all((prefix / name).is_file() for name in launchers)
    assert (prefix / ".condarc").read_text().count(project.channel_url) == 1
    if not IS_WINDOWS:  # the Windows junction: test_windows.py (junctions fail under Wine)
        assert (prefix / "pkgs").is_symlink()
        assert (prefix / "pkgs").resolve() == (project.cache / "pkgs").resolve()
    lock = (prefix / "conda-meta" / "mambaboot" / "lock.txt").read_text()
    assert "@EXPLICIT" in lock
    assert "Environment created." in result.out
    assert tree(isolated_home) == {}, "nothing may be written to the user's HOME"
    private_home = project.cache / "root" / "profile" / "home"
    registered = private_home / ".conda" / "environments.txt"
    assert registered.read_text().strip() == str(prefix), "micromamba's HOME is redirected"
    assert list((project.cache / "pkgs").rglob("python-*.tar.bz2")), "CACHE/pkgs is used"
    (argv,) = project.micromamba_runs("create")
    assert argv[argv.index("-r") + 1] == str(project.cache / "root")
    for flag in ("-y", "--no-rc", "--override-channels", "--strict-channel-priority",
                 "--no-shortcuts"):
        assert flag in argv


def test_micromamba_gets_a_private_profile_root_and_package_cache(
        mambaboot: Mambaboot, project: Project, micromamba_release: Any) -> None:
    assert mambaboot(*project.args()).code == 0
    (call,) = creates(micromamba_release)
    child_home = Path(call["env"]["HOME"])
    assert child_home == project.cache / "root" / "profile" / "home"
    assert call["env"]["MAMBA_ROOT_PREFIX"] == str(project.cache / "root")
    assert call["env"]["CONDA_PKGS_DIRS"] == f"'{project.cache / 'pkgs'}'", "one YAML item"


@pytest.mark.conformance(frozen=True)
def test_a_cache_folder_named_with_yaml_characters_is_one_package_cache(
        mambaboot: Mambaboot, project: Project, micromamba_release: Any, isolated_home: Path,
        tmp_path: Path) -> None:
    """micromamba reads CONDA_PKGS_DIRS as a YAML flow list: unquoted, this folder would be
    two package caches, the second relative to the working folder (or no parse at all)."""
    cache = tmp_path / "Smith, John's #1 [cache]"
    box = Containment(tmp_path, watched=[isolated_home, project.root],
                      allowed=[project.prefix, cache])
    result = mambaboot(*project.args("--cache-dir", str(cache)), env=box.env, cwd=box.cwd)
    assert result.code == 0, result.text
    assert list((cache / "pkgs").rglob("python-*.tar.bz2")), "the packages are in CACHE/pkgs"
    box.check()


@pytest.mark.conformance
def test_second_run_is_a_noop_that_starts_no_micromamba(
        mambaboot: Mambaboot, project: Project, micromamba_release: Any) -> None:
    assert mambaboot(*project.args()).code == 0
    runs_after_first = len(project.micromamba_runs())
    receipt_before = project.receipt()
    second = mambaboot(*project.args())
    assert second.code == 0, second.text
    assert "Nothing to do" in second.out
    assert len(project.micromamba_runs()) == runs_after_first
    assert project.receipt()["stages"] == receipt_before["stages"]


@pytest.mark.conformance
def test_scripts_run_inside_the_activated_environment(
        mambaboot: Mambaboot, project: Project, tmp_path: Path) -> None:
    env_yml = project.root / "environment.yml"
    env_yml.write_text("name: demo\ndependencies:\n  - prefixdata\n"
                       "variables:\n  state_var: from-state\n", encoding="utf-8")
    project.write_config(env_extra='file = "environment.yml"')
    (project.root / "probe.py").write_text(PROBE_PY, encoding="utf-8")
    project.shell_script("10-probe", PROBE_SH, PROBE_BAT)
    result = mambaboot(*project.args(), env={"PYTHONPATH": "/nowhere", "CONDA_PREFIX": "/x"})
    assert result.code == 0, result.text
    probe = json.loads((project.root / "probe-.json").read_text())
    env = probe["env"]
    prefix = str(project.prefix)
    assert env["CONDA_PREFIX"] == prefix
    assert same_path(probe["python"], project.python)
    assert probe["prefix"] == prefix
    assert probe["conda"].startswith(prefix) and probe["mamba"].startswith(prefix)
    assert env["STANDIN_ACTIVATE_D"] == "1", "activate.d scripts ran"
    assert env["STATE_VAR"] == "from-state", "conda-meta/state variables applied"
    assert env["STANDIN_ENV_VARS_D"] == "from-env-vars-d", "env_vars.d applied"
    assert env["MAMBABOOT_PREFIX"] == prefix
    assert env["MAMBABOOT_CONFIG_DIR"] == str(project.root)
    assert probe["cwd"] == str(project.root)
    assert "PYTHONPATH" not in env
    assert env["PYTHONNOUSERSITE"] == "1"
    assert env["HOME"] == str(mambaboot.home), "scripts keep the user's HOME"
    assert "Ignoring inherited Python/conda variables" in result.err


@pytest.mark.fault("integrity", "wrong sha256 pinned in the config",
                   expect="exit 5 `Checksum mismatch` with both hashes; nothing kept, nothing run")
def test_checksum_mismatch_exits_5_and_keeps_nothing(
        mambaboot: Mambaboot, project: Project, micromamba_release: Any) -> None:
    wrong = hashlib.sha256(b"something else").hexdigest()
    project.write_config(micromamba=f'sha256 = "{wrong}"')
    result = mambaboot(*project.args())
    assert result.code == 5, result.text
    assert "Checksum mismatch" in result.err
    assert wrong in result.err and micromamba_release.sha256 in result.err
    leftovers = [p for p in (project.cache / "micromamba").rglob("*") if p.is_file()]
    assert leftovers == []
    assert not project.prefix.exists()
    assert micromamba_release.calls() == [], "an unverified binary never runs"


@pytest.mark.conformance
def test_failing_script_exits_8_and_rerun_resumes_there(
        mambaboot: Mambaboot, project: Project, micromamba_release: Any) -> None:
    log, fixed = project.root / "ran.txt", project.root / "fixed"
    project.shell_script("10-first", f'echo first >> "{log}"\n', f'@echo first>> "{log}"\n')
    flaky = project.shell_script(
        "20-flaky", f'echo flaky >> "{log}"\n[ -f "{fixed}" ] || exit 3\n',
        f'@echo flaky>> "{log}"\n@IF NOT EXIST "{fixed}" EXIT /B 3\n')
    project.script("30-last.py", f'open({str(log)!r}, "a").write("last\\n")\n')
    first = mambaboot(*project.args())
    assert first.code == 8, first.text
    assert flaky.name in first.err and "exit code 3" in first.err
    assert log.read_text().split() == ["first", "flaky"]
    assert project.receipt()["complete"] is False
    (project.root / "fixed").touch()
    second = mambaboot(*project.args())
    assert second.code == 0, second.text
    assert log.read_text().split() == ["first", "flaky", "flaky", "last"]
    assert len(project.micromamba_runs("create")) == 1, "the environment was not re-created"
    assert project.receipt()["complete"] is True


def test_foreign_content_at_the_prefix_is_refused_and_untouched(
        mambaboot: Mambaboot, project: Project, micromamba_release: Any) -> None:
    project.prefix.mkdir(parents=True)
    (project.prefix / "python.exe").write_bytes(b"someone else's python")
    (project.prefix / "notes.txt").write_text("keep me")
    before = tree(project.prefix)
    result = mambaboot(*project.args())
    assert result.code == 3, result.text
    assert "not created by mambaboot" in result.err
    assert tree(project.prefix) == before
    assert (project.prefix / "notes.txt").read_text() == "keep me"
    assert creates(micromamba_release) == []


def test_strict_refuses_an_activated_shell(mambaboot: Mambaboot, project: Project) -> None:
    result = mambaboot(*project.args("--strict"), env={"PYTHONPATH": "/somewhere"})
    assert result.code == 3, result.text
    assert "PYTHONPATH" in result.err
    assert not project.prefix.exists()


@pytest.mark.conformance
def test_run_executes_inside_the_environment_and_passes_the_exit_code(
        mambaboot: Mambaboot, project: Project) -> None:
    assert mambaboot(*project.args()).code == 0
    common = ["--config", str(project.config)]
    ok = mambaboot("run", *common, project.prefix.name, "--", "python", "-c",
                   "import sys; print(sys.prefix)")
    assert ok.code == 0, ok.text
    assert ok.out.strip() == str(project.prefix)
    failing = mambaboot("run", str(project.prefix), "--", "python", "-c",
                        "raise SystemExit(7)")
    assert failing.code == 7
    as_json = mambaboot("run", *common, "--json", "-", project.prefix.name, "--", "python",
                        "-c", "print('from the command')")
    assert json.loads(as_json.out) == {"exit_code": 0, "ok": True, "command_exit_code": 0}
    assert "from the command" in as_json.err, "the command's output goes to stderr"
    missing = mambaboot("run", "no-such-env", *common, "--", "python")
    assert "run: ENV" not in missing.err
    assert missing.code == 2
    assert "No conda environment" in missing.err


@pytest.mark.conformance
def test_copy_makes_micromamba_copy_instead_of_link(
        mambaboot: Mambaboot, project: Project, micromamba_release: Any) -> None:
    result = mambaboot(*project.args("--copy"))
    assert result.code == 0, result.text
    (argv,) = project.micromamba_runs("create")
    assert "--always-copy" in argv
    uv = project.prefix / ("Scripts/uv.exe" if IS_WINDOWS else "bin/uv")
    assert uv.stat().st_nlink == 1, "copied, not hard-linked"
