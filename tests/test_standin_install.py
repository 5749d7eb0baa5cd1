"""The stand-in's ``install`` and ``remove`` against the real micromamba 2.8.1: the same
commands on the same channel give the same exit codes, the same packages in conda-meta, the
same history entries and the same key lines of output (skipped for the real binary where it
cannot run; on Windows the stand-in is its .exe, with the win-64 packages)."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.project import IS_WINDOWS, MICROMAMBA
from tests.standin import real_release, realmm
from tests.standin.channel import Package, default_packages, host_subdir, write_channel
from tests.standin.fixtures import StandinFactory, write_executable

EXTRA = [Package("extra", "1.0", "0", files={"share/extra/v.txt": b"1\n"}),
         Package("extra", "2.0", "0", files={"share/extra/v.txt": b"2\n"}),
         Package("withdep", "1.0", "0", depends=["extra"], files={"share/withdep/w": b"w\n"}),
         Package("needsconda", "1.0", "0", depends=["conda"], files={"share/nc": b"n\n"})]


@dataclass
class Micromamba:
    exe: Path
    root: Path
    prefix: Path
    channel: str
    home: Path
    conda: str  # the conda a solve picks here (win-64 has its own build)

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {"HOME": str(self.home), "PATH": "/usr/bin:/bin",
               "CONDA_PKGS_DIRS": str(self.root / "pkgs"), "MAMBA_ROOT_PREFIX": str(self.root)}
        if IS_WINDOWS:
            env.update({k: os.environ[k] for k in ("SYSTEMROOT", "PATH") if k in os.environ},
                       USERPROFILE=str(self.home))
        return subprocess.run([str(self.exe), *args], env=env, capture_output=True,
                              encoding="utf-8", timeout=120, check=False)

    def where(self, prefix: Path | None = None) -> list[str]:
        return ["-y", "-r", str(self.root), "-p", str(prefix or self.prefix), "--no-rc"]

    def channels(self) -> list[str]:
        return ["--override-channels", "-c", self.channel, "--strict-channel-priority"]

    def installed(self) -> set[str]:
        return {p.stem for p in (self.prefix / "conda-meta").glob("*.json")}

    def history(self) -> list[str]:
        """The history without dates and command lines (they differ by nature)."""
        lines = (self.prefix / "conda-meta" / "history").read_text().splitlines()
        return [re.sub(r"^[+-]\S*::", lambda m: m.group(0)[0], line) for line in lines
                if not line.startswith(("==>", "# cmd:"))]


@pytest.fixture(params=["standin", "real"])
def micromamba(request: pytest.FixtureRequest, tmp_path: Path,
               standin_factory: StandinFactory) -> Micromamba:
    """An environment of python, conda and extra=1.0, made by the stand-in or the real
    binary (saved as ``micromamba``: the real one insists on its file name)."""
    if request.param == "real":
        reason = real_release.unavailable()
        if reason:
            pytest.skip(reason)
        exe = write_executable(tmp_path / "bin" / "micromamba",
                               realmm.real_bytes())
        packages = real_release.real_packages(EXTRA)
    else:
        exe = standin_factory.install(tmp_path / "bin" / MICROMAMBA)
        packages = [*default_packages(), *EXTRA]
    write_channel(tmp_path / "channel", packages)
    home = tmp_path / "mm-home"
    home.mkdir()
    conda = max((p for p in packages if p.name == "conda"
                 and p.subdir in ("noarch", host_subdir())), key=lambda p: p.build_number)
    mm = Micromamba(exe, tmp_path / "root", tmp_path / "env",
                    (tmp_path / "channel").as_uri(), home, conda.dist)
    python = next(p for p in packages if p.name == "python").version
    made = mm("create", *mm.where(), *mm.channels(), f"python={python}", "conda", "extra=1.0")
    assert made.returncode == 0, made.stdout + made.stderr
    return mm


def test_install_adds_packages_and_their_dependencies(micromamba: Micromamba) -> None:
    done = micromamba("install", *micromamba.where(), *micromamba.channels(), "withdep")
    assert done.returncode == 0, done.stderr
    assert "withdep-1.0-0" in micromamba.installed()
    assert "extra-1.0-0" in micromamba.installed(), "the installed extra satisfies withdep"
    assert re.search(r"Install:\n─+\n\n  \+ withdep", done.stdout)
    assert "Linking withdep-1.0-0" in done.stdout and "activate" not in done.stdout
    assert micromamba.history()[-3:] == ["# conda version: 3.8.0", "+withdep-1.0-0",
                                         '# update specs: ["withdep"]']


def test_install_of_what_is_there_changes_nothing_but_the_history(
        micromamba: Micromamba) -> None:
    before = micromamba.installed()
    done = micromamba("install", *micromamba.where(), *micromamba.channels(), "extra")
    assert done.returncode == 0
    assert "All requested packages already installed" in done.stdout
    assert "Pinned packages:\n\n  - python=" in done.stdout
    assert micromamba.installed() == before
    assert micromamba.history()[-1] == '# update specs: ["extra"]'


def test_install_of_another_version_upgrades(micromamba: Micromamba) -> None:
    done = micromamba("install", *micromamba.where(), *micromamba.channels(), "extra>=2")
    assert done.returncode == 0, done.stderr
    assert re.search(r"Upgrade:\n─+\n\n  - extra +1\.0.*\n  \+ extra +2\.0", done.stdout)
    assert "Unlinking extra-1.0-0\nLinking extra-2.0-0" in done.stdout
    assert (micromamba.prefix / "share" / "extra" / "v.txt").read_text() == "2\n"
    assert micromamba.history()[-3:] == ["-extra-1.0-0", "+extra-2.0-0",
                                         '# update specs: ["extra>=2"]']


def test_install_of_an_unknown_package_exits_1(micromamba: Micromamba) -> None:
    done = micromamba("install", *micromamba.where(), *micromamba.channels(), "nope")
    assert done.returncode == 1
    assert "nope =* * does not exist" in done.stderr


def test_remove_prunes_dependencies_and_takes_dependents(micromamba: Micromamba) -> None:
    micromamba("install", *micromamba.where(), *micromamba.channels(), "withdep", "needsconda")
    done = micromamba("remove", *micromamba.where(), "withdep", "conda")
    assert done.returncode == 0, done.stderr
    assert "Removing specs:\n\n   - withdep\n   - conda" in done.stdout
    assert not micromamba.installed() & {"withdep-1.0-0", micromamba.conda,
                                         "needsconda-1.0-0"}
    assert "extra-1.0-0" in micromamba.installed(), "requested at create: kept"
    assert not (micromamba.prefix / "share" / "withdep").exists()
    assert micromamba.history()[-1] == '# remove specs: ["withdep", "conda"]'


def test_remove_force_takes_only_the_named_package(micromamba: Micromamba) -> None:
    done = micromamba("remove", *micromamba.where(), "--force", "conda")
    assert done.returncode == 0, done.stderr
    build = micromamba.conda.rpartition("-")[2]
    assert f"   - conda==25.1.1={build}" in done.stdout
    assert f"Unlinking {micromamba.conda}" in done.stdout
    assert not any(n.startswith("conda-") for n in micromamba.installed())
    assert any(n.startswith("python-") for n in micromamba.installed())
    assert micromamba.history()[-2:] == [f"-{micromamba.conda}",
                                         f'# remove specs: ["conda==25.1.1={build}"]']


def test_remove_of_what_is_not_installed_changes_nothing(micromamba: Micromamba) -> None:
    before = micromamba.installed()
    done = micromamba("remove", *micromamba.where(), "ghost")
    assert done.returncode == 0
    assert "Failure: packages to remove not found in the environment:\n\n  - ghost" \
        in done.stdout
    assert micromamba.installed() == before
    assert micromamba.history()[-1] == '# remove specs: ["ghost"]'


def test_remove_takes_no_channel_options(micromamba: Micromamba) -> None:
    done = micromamba("remove", *micromamba.where(), "-c", "x", "extra")
    assert done.returncode == 109
    assert "The following argument" in done.stderr


@pytest.mark.parametrize("command", ["install", "remove"])
def test_install_and_remove_need_an_existing_environment(
        micromamba: Micromamba, tmp_path: Path, command: str) -> None:
    missing = micromamba(command, *micromamba.where(tmp_path / "nowhere"), "extra")
    assert missing.returncode == 1
    assert f"No prefix found at: {tmp_path / 'nowhere'}" in missing.stderr
    assert "Environment must first be created with" in missing.stderr
    assert "critical libmamba Aborting." in missing.stderr
    (tmp_path / "plain").mkdir()
    plain = micromamba(command, *micromamba.where(tmp_path / "plain"), "extra")
    assert plain.returncode == 1
    assert f"Expected environment not found at prefix: {tmp_path / 'plain'}" in plain.stderr
