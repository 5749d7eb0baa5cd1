"""Integrity faults (issue 5): a published sha256 that does not match, ``.sha256`` files in
their real-world shapes, and a micromamba package with members escaping the target.

A wrong pinned sha256 (test_create_e2e) and a cached micromamba altered on disk
(test_micromamba_sources) are covered where they were first written."""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bootstrap import checksum, micromamba
from bootstrap.errors import EXIT_CHECKSUM, ChecksumError
from bootstrap.report import Recorder
from tests.conftest import Mambaboot
from tests.project import Project
from tests.standin.archives import file_member, link_member, tar_bz2
from tests.standin.containment import Containment
from tests.standin.fixtures import MicromambaRelease, host_subdir
from tests.standin.inprocess import project_settings
from tests.standin.server import LoopbackServer

fault = pytest.mark.fault
HEX = hashlib.sha256(b"micromamba").hexdigest()
ASSET = f"micromamba-{host_subdir()}"


# -- .sha256 files as mirrors publish them --------------------------------------------------

@fault("integrity", ".sha256 with surrounding whitespace or a file name",
       expect="the 64 hex digits are taken (sha256sum style, any case, CRLF)")
@pytest.mark.parametrize("text", [
    HEX, f"{HEX}\n", f"  {HEX}  \r\n", f"\n\n{HEX}\n\n", f"{HEX}  {ASSET}\n",
    f"{HEX} *{ASSET}\r\n", f"{HEX}\t{ASSET}", f"\\{HEX}  dir\\\\{ASSET}\n", HEX.upper() + "\n",
])
def test_sha256_file_shapes_are_parsed(text: str) -> None:
    assert checksum.parse_sha256_text(text, "micromamba") == HEX


@fault("integrity", ".sha256 that holds no hash (an HTML error page, a truncated value)",
       expect="exit 5: `does not hold a sha256`, hint to pin --micromamba-sha256")
@pytest.mark.parametrize("text", [
    "", "   \n", "<html><body>Rate limit exceeded</body></html>", HEX[:63], HEX + "0",
    f"{ASSET}  {HEX}", "g" * 64, f"SHA256 ({ASSET}) = {HEX}",
])
def test_sha256_file_without_a_hash_is_a_checksum_error(text: str) -> None:
    with pytest.raises(ChecksumError) as caught:
        checksum.parse_sha256_text(text, "micromamba")
    assert caught.value.exit_code == EXIT_CHECKSUM
    assert "does not hold a sha256" in caught.value.message
    assert "--micromamba-sha256" in caught.value.hint


_NAME = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Z", "Cc"]),
                min_size=1, max_size=20)
_SPACE = st.text(alphabet=" \t\r\n", max_size=4)


@fault("integrity", ".sha256 shapes, generated (hypothesis)",
       expect="every digest with any whitespace, case and file name is parsed exactly")
@settings(max_examples=300, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(digest=st.binary(min_size=32, max_size=32), upper=st.booleans(), lead=_SPACE,
       trail=_SPACE, sep=st.sampled_from(["  ", " *", "\t", " "]),
       name=st.one_of(st.just(""), _NAME))
def test_generated_sha256_files_are_parsed(fault_count: Callable[[int], None], digest: bytes,
                                           upper: bool, lead: str, trail: str, sep: str,
                                           name: str) -> None:
    fault_count(1)
    value = digest.hex().upper() if upper else digest.hex()
    text = lead + value + (sep + name if name else "") + trail
    assert checksum.parse_sha256_text(text, "micromamba") == digest.hex()


@fault("integrity", "published .sha256 in sha256sum format, fetched for real",
       expect="accepted; micromamba verified, executable, its sha256 recorded beside it")
def test_sha256sum_style_file_is_accepted_on_download(
        project: Project, micromamba_release: MicromambaRelease, http_server: LoopbackServer,
        tmp_path: Path) -> None:
    asset = micromamba_release.asset_path(ASSET)
    http_server.add(asset + ".sha256",
                    f" {micromamba_release.sha256.upper()} *{ASSET}\r\n".encode(), "text/plain")
    target, digest = micromamba.fetch_into_cache(project_settings(project, tmp_path),
                                                 Recorder())
    assert digest == micromamba_release.sha256
    assert target.read_bytes() == micromamba_release.binary
    assert target.stat().st_mode & stat.S_IXUSR
    assert target.with_name(micromamba.SHA_NAME).read_text() == digest


# -- what the user sees ---------------------------------------------------------------------

def assert_nothing_kept(project: Project, release: MicromambaRelease) -> None:
    kept = [p for p in (project.cache / "micromamba").rglob("*") if p.is_file()]
    assert kept == [], "nothing of the download is kept"
    assert not project.prefix.exists()
    assert release.calls() == [], "an unverified binary never runs"


@fault("integrity", "published .sha256 does not match the download",
       expect="exit 5 `Checksum mismatch` with both hashes; nothing kept, nothing run")
def test_wrong_published_sha256_exits_5_keeps_and_runs_nothing(
        mambaboot: Mambaboot, project: Project, micromamba_release: MicromambaRelease,
        http_server: LoopbackServer, isolated_home: Path, tmp_path: Path) -> None:
    wrong = hashlib.sha256(b"another build").hexdigest()
    http_server.add(micromamba_release.asset_path(ASSET) + ".sha256", wrong.encode())
    box = Containment(tmp_path, watched=[isolated_home, project.root],
                      allowed=[project.cache])
    result = mambaboot(*project.args(), env=box.env, cwd=box.cwd)
    assert result.code == EXIT_CHECKSUM, result.text
    assert "Checksum mismatch" in result.err
    assert wrong in result.err and micromamba_release.sha256 in result.err
    assert_nothing_kept(project, micromamba_release)
    box.check()


@fault("integrity", "micromamba package with a member escaping the target",
       expect="exit 5 `Rejected archive ... unsafe`; nothing extracted, kept or run")
def test_package_with_an_escaping_member_is_rejected(
        mambaboot: Mambaboot, project: Project, micromamba_release: MicromambaRelease,
        http_server: LoopbackServer, isolated_home: Path, tmp_path: Path) -> None:
    archive = tar_bz2([
        file_member("../../../../escaped-by-dots", b"#!/bin/sh\necho pwned\n"),
        link_member("bin/escaped-link", "../../../../../.."),
        file_member("bin/micromamba", micromamba_release.binary),
    ])
    template = "/evil/{version}/micromamba-{platform}.tar.bz2"
    path = template.format(version=micromamba_release.version, platform=host_subdir())
    http_server.add(path, archive)
    http_server.add(path + ".sha256", hashlib.sha256(archive).hexdigest().encode())
    project.write_config(url=http_server.url + template)
    box = Containment(tmp_path, watched=[isolated_home, project.root],
                      allowed=[project.cache])
    result = mambaboot(*project.args(), env=box.env, cwd=box.cwd)
    assert result.code == EXIT_CHECKSUM, result.text
    assert "Rejected archive" in result.err and "escaped-by-dots" in result.err
    assert not [p for p in tmp_path.rglob("escaped*")], "nothing was extracted"
    assert_nothing_kept(project, micromamba_release)
    box.check()
