"""Where micromamba comes from (DESIGN 3.3): path, cache, download of the raw binary or of
the conda package, and what happens when the cache was tampered with."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import IS_WINDOWS, Mambaboot
from tests.project import MICROMAMBA, SHELL_EXT, Project
from tests.standin.fixtures import MicromambaRelease, StandinFactory, host_subdir
from tests.standin.server import LoopbackServer

ASSET = f"micromamba-{host_subdir()}"


def cached_binary(project: Project, release: MicromambaRelease) -> Path:
    return project.cache / "micromamba" / release.version / MICROMAMBA


def test_conda_package_url_is_accepted(mambaboot: Mambaboot, project: Project,
                                       micromamba_release: MicromambaRelease) -> None:
    """The binary is taken from bin/micromamba (Library/bin/micromamba.exe); the published
    .tar.bz2.sha256 holds the hash of the raw binary (micromamba-releases#37) and is
    accepted for it."""
    project.write_config(url=micromamba_release.url_template + ".tar.bz2")
    result = mambaboot(*project.args())
    assert result.code == 0, result.text
    binary = cached_binary(project, micromamba_release)
    assert binary.read_bytes() == micromamba_release.binary
    assert not list(binary.parent.glob("*.tar.bz2*")), "the archive is not kept"


def test_cached_micromamba_is_reused_without_network(
        mambaboot: Mambaboot, project: Project, micromamba_release: MicromambaRelease,
        http_server: LoopbackServer) -> None:
    assert mambaboot(*project.args()).code == 0
    asset = micromamba_release.asset_path(ASSET)
    assert len(http_server.requests_for(asset)) == 1
    second = mambaboot(*project.args("other"))
    assert second.code == 0, second.text
    assert len(http_server.requests_for(asset)) == 1, "no second download"
    assert "from cache" in second.out


@pytest.mark.fault("integrity", "cached micromamba altered on disk",
                   expect="detected on next use (warning `altered`), fetched again, exit 0")
def test_altered_cached_micromamba_is_detected_and_fetched_again(
        mambaboot: Mambaboot, project: Project, micromamba_release: MicromambaRelease,
        http_server: LoopbackServer) -> None:
    assert mambaboot(*project.args()).code == 0
    binary = cached_binary(project, micromamba_release)
    binary.write_bytes(binary.read_bytes() + b"\n# tampered\n")
    second = mambaboot(*project.args("other"))
    assert second.code == 0, second.text
    assert "altered" in second.err
    assert binary.read_bytes() == micromamba_release.binary
    asset = micromamba_release.asset_path(ASSET)
    assert len(http_server.requests_for(asset)) == 2


def test_given_path_is_used_as_is(mambaboot: Mambaboot, project: Project,
                                  standin_factory: StandinFactory,
                                  http_server: LoopbackServer, tmp_path: Path) -> None:
    local = standin_factory.install(tmp_path / "tools" / MICROMAMBA)
    result = mambaboot(*project.args("--micromamba", str(local)))
    assert result.code == 0, result.text
    assert project.receipt()["micromamba"]["source"] == "path"
    assert not any("/releases/" in r.path for r in http_server.requests)


def test_binary_that_does_not_start_is_a_clear_error(
        mambaboot: Mambaboot, project: Project, tmp_path: Path) -> None:
    broken = tmp_path / MICROMAMBA
    broken.write_bytes(b"\x7fELF not really a program")
    broken.chmod(0o755)
    result = mambaboot(*project.args("--micromamba", str(broken)))
    assert result.code == 6, result.text
    assert "does not start" in result.err
    assert "antivirus" in result.err


def test_dry_run_prints_the_plan_and_changes_nothing(
        mambaboot: Mambaboot, project: Project, micromamba_release: MicromambaRelease,
        http_server: LoopbackServer) -> None:
    project.shell_script("10-a", "exit 0\n", "@EXIT /B 0\n")
    result = mambaboot(*project.args("--dry-run"))
    assert result.code == 0, result.text
    assert "dry run" in result.out
    assert "micromamba create -y -r" in result.out
    assert str(project.prefix) in result.out
    assert f"10-a{SHELL_EXT}" in result.out
    assert "download " + micromamba_release.url() in result.out
    assert not project.prefix.exists()
    assert not project.cache.exists()
    assert http_server.requests == []


def test_json_summary_on_success_and_failure(mambaboot: Mambaboot, project: Project,
                                             tmp_path: Path) -> None:
    out = tmp_path / "summary.json"
    assert mambaboot(*project.args("--json", str(out))).code == 0
    data = json.loads(out.read_text())
    assert data["exit_code"] == 0 and data["ok"] is True
    assert data["prefix"] == str(project.prefix)
    assert data["outcome"] == "created"
    assert [s["stage"] for s in data["stages"]] == ["micromamba", "create", "finish",
                                                      "verify", "scripts"]
    assert Path(data["log"]).is_file()
    bad = mambaboot(*project.args("--json", str(out), "--micromamba-sha256", "00" * 32,
                                  "--force"))
    assert bad.code == 5
    data = json.loads(out.read_text())
    assert data["exit_code"] == 5 and data["ok"] is False
    assert "Checksum mismatch" in data["error"]


def test_mambaboot_alone_uses_the_config_next_to_the_executable(
        frozen: Mambaboot, project: Project, tmp_path: Path) -> None:
    exe = project.root / ("mambaboot.exe" if IS_WINDOWS else "mambaboot")
    shutil.copy2(frozen.argv[0], exe)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = Mambaboot("frozen", [str(exe)], frozen.home)("--no-pause", cwd=elsewhere)
    assert result.code == 0, result.text
    assert project.receipt()["complete"] is True
    assert list(elsewhere.iterdir()) == []
