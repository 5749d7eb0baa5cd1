"""Offline bundles and USB sticks (DESIGN 5): pack, install with no network at all, refuse
altered packages, and relocate a moved environment."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from tests.conftest import IS_WINDOWS, Mambaboot, tree
from tests.project import MICROMAMBA, Project
from tests.standin.fixtures import MicromambaRelease, host_subdir
from tests.standin.server import LoopbackServer
from tests.test_relocate import text_files_holding

HELLO_SH = 'echo "hello from $CONDA_PREFIX" > "$MAMBABOOT_CONFIG_DIR/hello.txt"\n'
HELLO_BAT = '@echo hello from %CONDA_PREFIX%> "%MAMBABOOT_CONFIG_DIR%\\hello.txt"\n'
# pack --platform for the other family of platforms than this machine's
OTHER_SUBDIR, OTHER_MICROMAMBA = ("linux-64", "micromamba") if IS_WINDOWS else \
    ("win-64", "micromamba.exe")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def no_network_env() -> dict[str, str]:
    """Any attempt to use the network goes to a closed port."""
    proxy = f"http://127.0.0.1:{closed_port()}"
    return {"HTTPS_PROXY": proxy, "HTTP_PROXY": proxy, "https_proxy": proxy,
            "http_proxy": proxy, "NO_PROXY": "", "no_proxy": ""}


def packages(prefix: Path) -> set[str]:
    return {p.name for p in (prefix / "conda-meta").glob("*.json")}


@pytest.fixture
def bundle(mambaboot: Mambaboot, project: Project, tmp_path: Path) -> Path:
    project.shell_script("10-hello", HELLO_SH, HELLO_BAT)
    out = tmp_path / "stick"
    result = mambaboot("pack", "--out", str(out), "--config", str(project.config))
    assert result.code == 0, result.text
    return out


@pytest.mark.conformance
def test_pack_writes_a_self_contained_bundle(mambaboot: Mambaboot, bundle: Path,
                                             micromamba_release: MicromambaRelease) -> None:
    manifest = json.loads((bundle / "bundle.json").read_text())
    assert manifest["subdir"] == host_subdir()
    names = {Path(p["file"]).name.split("-")[0] for p in manifest["packages"]}
    assert {"python", "conda", "mamba", "uv"} <= names
    for package in manifest["packages"]:
        assert (bundle / package["file"]).is_file()
        assert len(package["sha256"]) == 64
    lock = next((bundle / "CACHE" / "locks").glob("*.txt")).read_text()
    assert "@EXPLICIT" in lock
    assert lock.count("#sha256:") == len(manifest["packages"])
    mm = bundle / "CACHE" / "micromamba" / micromamba_release.version / MICROMAMBA
    assert mm.read_bytes() == micromamba_release.binary
    assert (mm.parent / "micromamba.sha256").read_text() == micromamba_release.sha256
    config = (bundle / "mambaboot.toml").read_text()
    assert f'sha256 = "{micromamba_release.sha256}"' in config and 'dir = "CACHE"' in config
    hello = "10-hello.bat" if IS_WINDOWS else "10-hello.sh"
    assert (bundle / "scripts" / hello).is_file()
    exe = "mambaboot.exe" if IS_WINDOWS else "mambaboot"
    assert (bundle / exe).is_file() == (mambaboot.kind == "frozen")
    assert not list((bundle / "CACHE" / "root").glob("pack-*")), "staging removed"


@pytest.mark.conformance(frozen=True)
def test_offline_create_from_the_bundle_with_no_network(
        mambaboot: Mambaboot, project: Project, bundle: Path, http_server: LoopbackServer,
        tmp_path: Path) -> None:
    online = mambaboot(*project.args())
    assert online.code == 0, online.text
    http_server.stop()
    envs = tmp_path / "offline-envs"
    result = mambaboot("create", "--config", str(bundle / "mambaboot.toml"), "--offline",
                       "--envs-dir", str(envs), "--no-pause", env=no_network_env())
    assert result.code == 0, result.text
    prefix = envs / project.prefix.name
    assert packages(prefix) == packages(project.prefix)
    assert "hello from" in (bundle / "hello.txt").read_text()
    receipt = json.loads((prefix / "conda-meta" / "mambaboot" / "receipt.json").read_text())
    assert receipt["complete"] is True


@pytest.mark.conformance
def test_bundle_is_used_automatically_when_the_network_is_down(
        mambaboot: Mambaboot, bundle: Path, http_server: LoopbackServer,
        tmp_path: Path) -> None:
    http_server.stop()
    envs = tmp_path / "auto-envs"
    result = mambaboot("create", "--config", str(bundle / "mambaboot.toml"),
                       "--envs-dir", str(envs), "--no-pause", env=no_network_env())
    assert result.code == 0, result.text
    assert "installing from the bundle" in result.out


@pytest.mark.conformance
def test_altered_package_is_refused_before_anything_is_linked(
        mambaboot: Mambaboot, bundle: Path, http_server: LoopbackServer,
        tmp_path: Path) -> None:
    manifest = json.loads((bundle / "bundle.json").read_text())
    victim = bundle / manifest["packages"][-1]["file"]
    victim.write_bytes(victim.read_bytes() + b"tampered")
    http_server.stop()
    envs = tmp_path / "envs"
    result = mambaboot("create", "--config", str(bundle / "mambaboot.toml"), "--offline",
                       "--envs-dir", str(envs), "--no-pause", env=no_network_env())
    assert result.code == 5, result.text
    assert manifest["packages"][-1]["file"] in result.err
    assert tree(envs) == {}, "nothing was created"


def test_pack_refuses_a_folder_with_other_files(mambaboot: Mambaboot, project: Project,
                                                tmp_path: Path) -> None:
    out = tmp_path / "busy"
    out.mkdir()
    (out / "thesis.docx").write_text("precious")
    result = mambaboot("pack", "--out", str(out), "--config", str(project.config))
    assert result.code == 3, result.text
    assert [p.name for p in out.iterdir()] == ["thesis.docx"]


def test_pack_for_another_platform(mambaboot: Mambaboot, project: Project,
                                   micromamba_release_factory: object, tmp_path: Path) -> None:
    release = micromamba_release_factory(  # type: ignore[operator]
        platforms=(host_subdir(), OTHER_SUBDIR), version="2.8.3")
    project.version = release.version
    project.write_config()
    out = tmp_path / "otherstick"
    result = mambaboot("pack", "--out", str(out), "--config", str(project.config),
                       "--platform", OTHER_SUBDIR)
    assert result.code == 0, result.text
    manifest = json.loads((out / "bundle.json").read_text())
    assert manifest["subdir"] == OTHER_SUBDIR
    assert (out / "CACHE" / "micromamba" / release.version / OTHER_MICROMAMBA).is_file()
    assert any(OTHER_SUBDIR in p["url"] for p in manifest["packages"])
    here = mambaboot("create", "--config", str(out / "mambaboot.toml"), "--offline",
                     "--envs-dir", str(tmp_path / "e"), "--no-pause")
    assert here.code == 2, here.text
    assert f"is for {OTHER_SUBDIR}" in here.err


@pytest.mark.conformance
def test_moved_environment_is_relocated(mambaboot: Mambaboot, project: Project,
                                        tmp_path: Path) -> None:
    project.write_config(env_extra='specs = ["conda", "mamba", "uv", "prefixdata"]')
    assert mambaboot(*project.args()).code == 0
    old = str(project.prefix)
    longer = tmp_path / "a-much-longer-folder-name-than-before" / "moved" / project.prefix.name
    longer.parent.mkdir(parents=True)
    shutil.move(old, longer)
    result = mambaboot("relocate", str(longer))
    assert result.code == 0, result.text
    assert (longer / "share/prefixdata/where.txt").read_text() == f"prefix={longer}\n"
    assert text_files_holding(longer, old) == []
    assert "where.bin" in result.err, "a binary that cannot take the longer path is reported"
    run = mambaboot("run", str(longer), "--", "conda", "--version")
    assert run.code == 0, run.text
    assert "conda 25.1.1" in run.out
    receipt = json.loads((longer / "conda-meta" / "mambaboot" / "receipt.json").read_text())
    assert receipt["prefix"] == str(longer)
    shorter = tmp_path / "s" / project.prefix.name
    shorter.parent.mkdir()
    shutil.move(str(longer), shorter)
    auto = mambaboot("run", str(shorter), "--", "python", "-c", "import sys; print(sys.prefix)")
    assert auto.code == 0, auto.text
    assert auto.out.strip() == str(shorter)
    assert "was moved from" in auto.err
    assert str(shorter).encode() in (shorter / "share/prefixdata/where.bin").read_bytes()
    assert python_after_activate(shorter) == str(shorter)


def python_after_activate(prefix: Path) -> str:
    """``sys.prefix`` of the python that the activate launcher puts first: activate.sh in
    bash, or activate.bat CALLed in cmd.exe (from a batch file, which expands ``%PATH%``
    after the CALL)."""
    if not IS_WINDOWS:
        line = f'. "{prefix}/activate.sh" && python -c "import sys; print(sys.prefix)"'
        done = subprocess.run(["bash", "--noprofile", "--norc", "-c", line],
                              capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"},
                              check=False)
        return done.stdout.strip() or done.stderr
    probe = prefix.parent / "probe.bat"
    probe.write_text(f'@CALL "{prefix / "activate.bat"}"\n'
                     '@python -c "import sys; print(sys.prefix)"\n', encoding="ascii")
    system = os.environ.get("SYSTEMROOT", r"C:\Windows")
    done = subprocess.run([os.environ.get("COMSPEC", "cmd.exe"), "/d", "/c", str(probe)],
                          capture_output=True, text=True, check=False,
                          env={"PATH": rf"{system}\system32;{system}", "SystemRoot": system})
    return done.stdout.strip() or done.stderr


def test_pack_keeps_files_of_a_foreign_bundle_json(mambaboot: Mambaboot, project: Project,
                                                   tmp_path: Path) -> None:
    out = tmp_path / "other-tool"
    (out / "scripts").mkdir(parents=True)
    (out / "bundle.json").write_text('{"packages": []}')
    (out / "scripts" / "deploy.sh").write_text("keep me")
    project.script("10-a.sh", "exit 0\n")
    result = mambaboot("pack", "--out", str(out), "--config", str(project.config))
    assert result.code == 3, result.text
    assert (out / "scripts" / "deploy.sh").read_text() == "keep me"
    online = mambaboot(*project.args(), cwd=out)
    assert online.code == 0, "a bundle.json that is not ours is ignored: " + online.text


def test_a_bundle_for_other_inputs_is_refused(mambaboot: Mambaboot, project: Project,
                                             tmp_path: Path) -> None:
    out = tmp_path / "stick"
    assert mambaboot("pack", "--out", str(out), "--config", str(project.config)).code == 0
    result = mambaboot("create", "--config", str(out / "mambaboot.toml"), "--offline",
                       "--envs-dir", str(tmp_path / "e"), "--spec", "prefixdata",
                       "--no-pause")
    assert result.code == 2, result.text
    assert "packed for another environment" in result.err and "prefixdata" in result.err


def test_pack_with_a_micromamba_url_stores_it_where_the_bundle_looks(
        mambaboot: Mambaboot, project: Project, tmp_path: Path) -> None:
    out = tmp_path / "stick"
    url = project.url_template.format(version=project.version, platform=host_subdir())
    result = mambaboot("pack", "--out", str(out), "--config", str(project.config),
                       "--micromamba", url)
    assert result.code == 0, result.text
    config = (out / "mambaboot.toml").read_text()
    version = next(line.split('"')[1] for line in config.splitlines()
                   if line.startswith("version"))
    assert (out / "CACHE" / "micromamba" / version / MICROMAMBA).is_file()
