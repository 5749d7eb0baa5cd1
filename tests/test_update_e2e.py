"""An environment follows its config: after a create, a changed package list is applied in
place with micromamba install/remove, new and changed scripts run once, a further run has
nothing to do, and --dry-run shows each step first. End to end, from source and frozen,
against the stand-in micromamba and against the real micromamba 2.8.1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IS_WINDOWS, Mambaboot, tree
from tests.project import PYTHON, SHELL_EXT, Project
from tests.standin import real_release
from tests.standin.channel import Package, default_packages, write_channel
from tests.standin.fixtures import MicromambaRelease, ReleaseFactory, publish_real_release
from tests.standin.procs import NEW_CONSOLE, STOPS, interrupt, mentioning, stop_param, wait_for
from tests.standin.server import LoopbackServer

BASE_SPECS = ["conda", "mamba", "uv"]


def extra_packages(tmp: Path) -> list[Package]:
    """``extra`` in two versions, ``withdep`` needing it, and ``slowlink`` whose post-link
    script (POSIX and Windows) waits while a flag file exists (to interrupt an update in
    the middle), in a process whose command line names the prefix."""
    flag, started = tmp / "slow", tmp / "slowlink-started"
    slow = f'if [ -f "{flag}" ]; then touch "{started}"; sleep 120; fi\n'
    slow_bat = (f'@IF NOT EXIST "{flag}" EXIT /B 0\r\n@type nul > "{started}"\r\n'
                '@"%PREFIX%\\python.exe" -c "import time; time.sleep(120)"\r\n')
    return [
        Package("extra", "1.0", "0", files={"share/extra/version.txt": b"1.0\n"}),
        Package("extra", "2.0", "0", files={"share/extra/version.txt": b"2.0\n"}),
        Package("withdep", "1.0", "0", depends=["extra"],
                files={"share/withdep/withdep.txt": b"withdep\n"}),
        Package("slowlink", "1.0", "0", files={"share/slowlink.txt": b"slow\n",
                                               "Scripts/.slowlink-post-link.bat":
                                               slow_bat.encode()}, post_link=slow),
    ]


@pytest.fixture(params=["standin", "real"])
def backend(request: pytest.FixtureRequest, http_server: LoopbackServer, tmp_path: Path,
            micromamba_release_factory: ReleaseFactory) -> MicromambaRelease:
    """The micromamba a project uses: the stand-in, or the real binary (skipped where it
    cannot run), with a channel of the test packages served at /conda-forge."""
    extra = extra_packages(tmp_path)
    if request.param == "real":
        reason = real_release.unavailable()
        if reason:
            pytest.skip(reason)
        release = publish_real_release(http_server)
        packages = real_release.real_packages(extra)
    else:
        release = micromamba_release_factory()
        packages = [*default_packages(), *extra]
    write_channel(tmp_path / "channel", packages)
    http_server.mount("/conda-forge/", tmp_path / "channel")
    return release


@pytest.fixture
def proj(tmp_path: Path, http_server: LoopbackServer, backend: MicromambaRelease) -> Project:
    project = Project(tmp_path / "project", http_server.url_for("/conda-forge"),
                      backend.url_template, backend.version)
    project.root.mkdir()
    configure(project, BASE_SPECS)
    return project


def configure(project: Project, specs: list[str], env_extra: str = "") -> None:
    listing = ", ".join(f'"{s}"' for s in specs)
    project.write_config(env_extra=f"specs = [{listing}]\n{env_extra}")


def transactions(project: Project) -> list[str]:
    """What micromamba did to the prefix, from its own ``conda-meta/history``: one verb
    (create, install, remove) per transaction."""
    history = project.prefix / "conda-meta" / "history"
    lines = history.read_text(encoding="utf-8").splitlines() if history.exists() else []
    return [line.split()[3] for line in lines if line.startswith("# cmd:")]


def installed(project: Project) -> set[str]:
    return {p.stem for p in (project.prefix / "conda-meta").glob("*.json")}


def run_json(mambaboot: Mambaboot, project: Project, *extra: str) -> tuple[Any, str]:
    """``create --json -``: the JSON from standard output, the text from standard error."""
    result = mambaboot(*project.args("--json", "-", *extra))
    assert result.code == 0, result.text
    return json.loads(result.out), result.err


def created(mambaboot: Mambaboot, project: Project) -> None:
    result = mambaboot(*project.args())
    assert result.code == 0, result.text
    assert transactions(project) == ["create"]


def test_an_added_package_is_installed_in_place_and_a_further_run_does_nothing(
        mambaboot: Mambaboot, proj: Project) -> None:
    created(mambaboot, proj)
    mine = proj.prefix / "my-notes.txt"
    mine.write_text("keep me", encoding="utf-8")
    configure(proj, [*BASE_SPECS, "withdep"])
    data, text = run_json(mambaboot, proj)
    assert data["outcome"] == "updated"
    assert sorted(data["added"]) == ["extra-2.0-0", "withdep-1.0-0"]
    assert data["removed"] == []
    assert "Environment updated in place." in text
    assert transactions(proj) == ["create", "install"], "no second create"
    assert {"withdep-1.0-0", "extra-2.0-0"} <= installed(proj)
    assert mine.read_text(encoding="utf-8") == "keep me"
    receipt = proj.receipt()
    assert receipt["complete"] is True and "withdep" in receipt["inputs"]["specs"]
    assert receipt["stages"]["update"]["added"] == data["added"]
    lock = (proj.prefix / "conda-meta" / "mambaboot" / "lock.txt").read_text(encoding="utf-8")
    assert "withdep-1.0-0" in lock, "the @EXPLICIT lock is exported again"
    again = mambaboot(*proj.args())
    assert again.code == 0, again.text
    assert "Nothing to do" in again.out
    assert transactions(proj) == ["create", "install"]


def test_a_removed_spec_is_removed_with_what_only_it_needed(
        mambaboot: Mambaboot, proj: Project) -> None:
    configure(proj, [*BASE_SPECS, "withdep"])
    created(mambaboot, proj)
    configure(proj, BASE_SPECS)
    data, _ = run_json(mambaboot, proj)
    assert data["outcome"] == "updated"
    assert sorted(data["removed"]) == ["extra-2.0-0", "withdep-1.0-0"]
    assert transactions(proj) == ["create", "remove"]
    assert not installed(proj) & {"withdep-1.0-0", "extra-2.0-0"}
    assert not (proj.prefix / "share" / "withdep").exists()
    assert proj.receipt()["inputs"]["specs"] == [f"python={PYTHON}", *BASE_SPECS]


def test_a_dropped_spec_that_another_package_needs_is_kept(
        mambaboot: Mambaboot, proj: Project) -> None:
    configure(proj, [*BASE_SPECS, "extra", "withdep"])
    created(mambaboot, proj)
    configure(proj, [*BASE_SPECS, "withdep"])
    result = mambaboot(*proj.args())
    assert result.code == 0, result.text
    assert "extra is no longer asked for, but other packages need it: kept." in result.out
    assert {"withdep-1.0-0", "extra-2.0-0"} <= installed(proj)
    assert transactions(proj) == ["create"]


def test_a_spec_replaced_by_one_that_needs_it_is_kept_not_reinstalled(
        mambaboot: Mambaboot, proj: Project) -> None:
    configure(proj, [*BASE_SPECS, "extra"])
    created(mambaboot, proj)
    configure(proj, [*BASE_SPECS, "withdep"])
    data, text = run_json(mambaboot, proj)
    assert "extra is no longer asked for, but the packages just installed need it" in text
    assert (data["added"], data["removed"]) == (["withdep-1.0-0"], [])
    assert transactions(proj) == ["create", "install"]


def test_a_changed_spec_is_installed_in_its_new_version(
        mambaboot: Mambaboot, proj: Project) -> None:
    configure(proj, [*BASE_SPECS, "extra=1.0"])
    created(mambaboot, proj)
    configure(proj, [*BASE_SPECS, "extra>=2"])
    data, _ = run_json(mambaboot, proj)
    assert (data["added"], data["removed"]) == (["extra-2.0-0"], ["extra-1.0-0"])
    assert (proj.prefix / "share" / "extra" / "version.txt").read_text() == "2.0\n"


def test_only_new_and_changed_scripts_run(mambaboot: Mambaboot, proj: Project) -> None:
    ran = proj.root / "ran.txt"
    first = proj.shell_script("10-first", f'echo first >> "{ran}"\n', f'@echo first>> "{ran}"\n')
    created(mambaboot, proj)
    second = proj.shell_script("20-second", f'echo second >> "{ran}"\n',
                               f'@echo second>> "{ran}"\n')
    data, text = run_json(mambaboot, proj)
    assert data["outcome"] == "updated" and data["scripts_run"] == [second.name]
    assert "Environment updated in place." in text and second.name in text
    assert ran.read_text().split() == ["first", "second"]
    assert mambaboot(*proj.args()).out.count("Nothing to do") == 1
    changed = first.read_text(encoding="utf-8").replace("first", "first-changed")
    first.write_text(changed, encoding="utf-8")
    assert mambaboot(*proj.args()).code == 0
    assert ran.read_text().split() == ["first", "second", "first-changed"]
    again = mambaboot(*proj.args("--rerun-scripts"))
    assert again.code == 0, again.text
    assert ran.read_text().split()[3:] == ["first-changed", "second"]
    assert transactions(proj) == ["create"]


def test_dry_run_shows_each_step_and_changes_nothing(
        mambaboot: Mambaboot, proj: Project) -> None:
    created(mambaboot, proj)
    runs = len(proj.micromamba_runs())
    assert runs > 0, "the log shows the create's micromamba runs"
    configure(proj, [*BASE_SPECS, "withdep"])
    proj.shell_script("10-new", "true\n", "@EXIT /B 0\n")
    before = tree(proj.prefix), proj.receipt()
    data, _ = run_json(mambaboot, proj, "--dry-run")
    plan = data["plan"]
    assert plan["action"] == "update" and plan["install"] == ["withdep"]
    assert plan["scripts"] == [f"10-new{SHELL_EXT}"]
    assert plan["stages"] == ["micromamba", "update", "finish", "verify", "scripts"]
    (command,) = plan["commands"]
    assert command.startswith("micromamba install -y") and command.endswith(" withdep")
    text = mambaboot(*proj.args("--dry-run"))
    assert "micromamba install -y" in text.out and f"10-new{SHELL_EXT}" in text.out
    configure(proj, ["conda", "mamba"])
    removing = mambaboot(*proj.args("--dry-run", "--json", "-"))
    assert json.loads(removing.out)["plan"]["remove"] == ["uv"]
    assert "micromamba remove -y" in removing.out
    proj.channel_url += "-mirror"
    configure(proj, BASE_SPECS)
    refused = mambaboot(*proj.args("--dry-run"))
    assert refused.code == 3 and "the channels" in refused.err
    forced = mambaboot(*proj.args("--dry-run", "--force"))
    assert "delete" in forced.out and "micromamba create -y" in forced.out
    assert (tree(proj.prefix), proj.receipt()) == before
    assert transactions(proj) == ["create"]
    assert len(proj.micromamba_runs()) == runs, "a dry run starts no micromamba"


def test_a_channel_change_is_refused_with_what_force_does(
        mambaboot: Mambaboot, proj: Project) -> None:
    created(mambaboot, proj)
    (proj.prefix / "my-notes.txt").write_text("mine", encoding="utf-8")
    proj.channel_url += "-mirror"
    configure(proj, BASE_SPECS)
    refused = mambaboot(*proj.args())
    assert refused.code == 3, refused.text
    assert "cannot be changed in place: the channels:" in refused.err
    assert "--force deletes" in refused.err and "every post-install script" in refused.err
    assert (proj.prefix / "my-notes.txt").exists()
    assert transactions(proj) == ["create"]


@pytest.mark.fault("interruption", "micromamba install fails during an update in place",
                   expect="exit 6; the receipt keeps the old inputs (`incomplete (next: "
                          "update)`); the next run plans from them and completes")
def test_a_failed_update_is_taken_up_by_the_next_run(
        mambaboot: Mambaboot, proj: Project) -> None:
    created(mambaboot, proj)
    configure(proj, [*BASE_SPECS, "no-such-package"])
    failed = mambaboot(*proj.args())
    assert failed.code == 6, failed.text
    assert "micromamba install failed" in failed.err
    receipt = proj.receipt()
    assert receipt["complete"] is False and receipt["stages"]["update"]["state"] == "running"
    assert "no-such-package" not in receipt["inputs"]["specs"], "the old inputs stay"
    listing = mambaboot("list", "--config", str(proj.config))
    assert "incomplete (next: update)" in listing.out
    configure(proj, [*BASE_SPECS, "withdep"])
    data, _ = run_json(mambaboot, proj)
    assert data["outcome"] == "updated" and "withdep-1.0-0" in data["added"]
    assert proj.receipt()["complete"] is True


@pytest.mark.slow
@pytest.mark.fault("interruption", "SIGTERM (Windows: Ctrl+C) during an update's micromamba "
                   "install (a post-link script)", expect="exit 143 (Windows: 130); "
                   "micromamba's tree stopped; receipt incomplete; the next run completes the "
                   "update, no new create")
@pytest.mark.parametrize(("how", "code"), [stop_param(*STOPS[0 if IS_WINDOWS else 1])])
def test_an_interrupted_update_resumes(mambaboot: Mambaboot, proj: Project,
                                       tmp_path: Path, how: str, code: int) -> None:
    created(mambaboot, proj)
    configure(proj, [*BASE_SPECS, "slowlink", "withdep"])
    (tmp_path / "slow").touch()
    proc = mambaboot.popen(*proj.args(), creationflags=NEW_CONSOLE)
    wait_for((tmp_path / "slowlink-started").exists, "the update's post-link script")
    interrupt(proc, how)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, out + err
    wait_for(lambda: not mentioning(str(proj.prefix)), "micromamba and its post-link", 10)
    assert proj.receipt()["complete"] is False
    (tmp_path / "slow").unlink()
    again = mambaboot(*proj.args())
    assert again.code == 0, again.text
    assert {"slowlink-1.0-0", "withdep-1.0-0"} <= installed(proj)
    assert proj.receipt()["complete"] is True
    assert transactions(proj)[0] == "create" and "create" not in transactions(proj)[1:]


def test_an_environment_file_change_is_installed_in_place(
        mambaboot: Mambaboot, proj: Project) -> None:
    env_yml = proj.root / "environment.yml"
    env_yml.write_text("dependencies:\n  - extra=1.0\n  - withdep\n", encoding="utf-8")
    configure(proj, BASE_SPECS, env_extra='file = "environment.yml"')
    created(mambaboot, proj)
    env_yml.write_text("name: demo\ndependencies:\n- extra>=2\n", encoding="utf-8")
    data, _ = run_json(mambaboot, proj)
    assert data["outcome"] == "updated"
    assert set(data["removed"]) == {"withdep-1.0-0", "extra-1.0-0"}
    assert data["added"] == ["extra-2.0-0"]
    assert transactions(proj) == ["create", "install", "remove"]


def test_an_explicit_lock_is_followed_exactly(mambaboot: Mambaboot, proj: Project) -> None:
    configure(proj, [*BASE_SPECS, "extra=1.0"])
    created(mambaboot, proj)
    exported = (proj.prefix / "conda-meta" / "mambaboot" / "lock.txt").read_text()
    lock = proj.root / "lock.txt"
    lock.write_text(exported, encoding="utf-8")
    configure(proj, BASE_SPECS, env_extra='file = "lock.txt"')
    proj.prefix.rename(proj.root / "old-env")
    assert mambaboot(*proj.args()).code == 0
    lines = [x.split("#")[0].replace("extra-1.0-0", "extra-2.0-0") if "/extra-" in x else x
             for x in exported.splitlines() if "/uv-" not in x]
    lock.write_text("\n".join(lines) + "\n", encoding="utf-8")
    uv = next(name for name in installed(proj) if name.startswith("uv-"))  # the build differs
    data, _ = run_json(mambaboot, proj)
    assert data["outcome"] == "updated"
    assert sorted(data["removed"]) == ["extra-1.0-0", uv]
    assert data["added"] == ["extra-2.0-0"]
    assert transactions(proj) == ["create", "remove", "install"]
