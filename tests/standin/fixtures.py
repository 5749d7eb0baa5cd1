"""pytest fixtures around the stand-in micromamba, the conda channel builder and the server.

tests/conftest.py does ``from tests.standin.fixtures import *``; ``__all__`` lists what that
brings in (fixtures and helpers).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import io
import itertools
import json
import marshal
import os
import shutil
import sys
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.standin import realmm, realpkgs, winstandin
from tests.standin.channel import (
    ChannelFolder,
    Package,
    build_micromamba_package,
    default_packages,
    host_subdir,
    write_channel,
)
from tests.standin.realmm import REAL, STANDIN
from tests.standin.server import LoopbackServer

__all__ = [
    "STANDIN_PATH",
    "CondaChannel",
    "MicromambaRelease",
    "StandinFactory",
    "conda_channel",
    "default_standin_config",
    "host_subdir",
    "http_server",
    "micromamba_kind",
    "micromamba_release",
    "micromamba_release_factory",
    "publish_release",
    "read_calls",
    "real_channel_folder",
    "standin_factory",
    "standin_source",
    "write_executable",
]

STANDIN_PATH = Path(__file__).with_name("micromamba")  # the package zipped into the stand-in
RELEASE_VERSION = "2.8.1"
RELEASE_TAG = f"{RELEASE_VERSION}-0"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member times: identical configs, identical bytes
IS_WINDOWS = os.name == "nt"
ZIP_MAIN = "import sys\n\nfrom micromamba.main import main\n\nsys.exit(main(sys.argv[1:]))\n"


def default_standin_config() -> dict[str, Any]:
    major_minor = "{}.{}".format(*sys.version_info[:2])
    config = {
        "version": RELEASE_VERSION,
        "pythons": {major_minor: sys.executable},
        "record_file": "",
        "bash": shutil.which("bash") or "/bin/bash",
    }
    if IS_WINDOWS:
        config["pythons"] = {major_minor: winstandin.interpreter()}
    return config


@functools.cache
def _package_members() -> tuple[tuple[str, bytes], ...]:
    """``micromamba/<module>.py`` of every module of the package, each with a ``.pyc``
    beside it, sorted. Compiling once here saves each stand-in run compiling ~2,700 lines
    (zipimport cannot cache bytecode); an interpreter of another version ignores the
    ``.pyc`` (other magic number) and compiles the ``.py``."""
    members = []
    for path in sorted(STANDIN_PATH.glob("*.py")):
        name = f"micromamba/{path.name}"
        source = path.read_bytes()
        members += [(name, source), (name + "c", _unchecked_pyc(source, name))]
    return tuple(members)


def _unchecked_pyc(source: bytes, name: str) -> bytes:
    """A PEP 552 hash-based, unchecked .pyc: no timestamp, so the bytes depend on the
    source alone. Marshal format 2 has no back-references, whose flags in later formats
    depend on reference counts, i.e. on what else the building process has loaded."""
    code = compile(source, name, "exec", dont_inherit=True)
    flags = (0b01).to_bytes(4, "little")
    header = importlib.util.MAGIC_NUMBER + flags + importlib.util.source_hash(source)
    return header + marshal.dumps(code, 2)


def standin_zip(config: Mapping[str, Any]) -> bytes:
    """The zip payload of the stand-in: the package, a top-level ``__main__.py`` and
    ``micromamba/config.json`` holding ``config`` as given. Reproducible: sorted members,
    fixed times and modes, no ``__pycache__``."""
    members = [*_package_members(), ("__main__.py", ZIP_MAIN.encode()),
               ("micromamba/config.json", json.dumps(dict(config), sort_keys=True).encode())]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in sorted(members):
            info = zipfile.ZipInfo(name, ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def posix_header(python: str = sys.executable) -> bytes:
    """``#!<python> -I``: ``-I`` keeps PYTHON* variables of the caller's environment from
    changing the stand-in (a real binary ignores them)."""
    return f"#!{python} -I\n".encode()


def with_header(payload: bytes, header: bytes) -> bytes:
    """One executable file: ``header`` then the zip. Python finds a zip's directory from its
    end, so any header works: POSIX :func:`posix_header`, or on Windows a launcher .exe
    followed by ``#!"C:\\...\\python.exe" -I\\r\\n`` (as pip's console-script .exe files)."""
    return header + payload


def standin_source(config: Mapping[str, Any]) -> bytes:
    """The stand-in as one executable file: a zipapp with ``#!<python> -I`` (on Windows a
    launcher .exe before it, tests/standin/winstandin.py) and ``config`` baked in. Missing
    keys take :func:`default_standin_config` values."""
    merged = {**default_standin_config(), **config}
    header = winstandin.windows_header(winstandin.interpreter()) if IS_WINDOWS \
        else posix_header()
    return with_header(standin_zip(merged), header)


def write_executable(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` (parents created) with mode 0o755."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o755)
    return path


def read_calls(record_file: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The invocation records a stand-in appended to ``record_file`` (one JSON per line)."""
    path = Path(record_file)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


class StandinFactory:
    """``factory(**config) -> bytes``: stand-in program text; ``install()`` writes it.

    Default ``record_file`` is :attr:`record_file` (one per test); pass
    ``record_file=...`` to use another one.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.record_file = folder / "calls.jsonl"
        self._counter = itertools.count(1)

    def __call__(self, **config: Any) -> bytes:
        config.setdefault("record_file", str(self.record_file))
        return standin_source(config)

    def new_record_file(self) -> Path:
        return self.folder / f"calls-{next(self._counter)}.jsonl"

    def install(self, dest: Path, **config: Any) -> Path:
        """Write an executable stand-in at ``dest`` (e.g. ``tmp/bin/micromamba``)."""
        return write_executable(dest, self(**config))

    def calls(self) -> list[dict[str, Any]]:
        return read_calls(self.record_file)


@dataclass
class CondaChannel:
    """The default test channel, served at ``<server>/conda-forge``."""

    url: str
    root: Path
    packages: list[Package]
    folder: ChannelFolder
    server: LoopbackServer

    def archive(self, name: str, subdir: str | None = None) -> Path:
        """Path of a package archive in :attr:`root` (python: give ``subdir``)."""
        return self.folder.archive(name, subdir or ("linux-64" if name == "python" else None))

    def archive_url(self, name: str, subdir: str | None = None) -> str:
        path = self.archive(name, subdir)
        return f"{self.url}/{path.parent.name}/{path.name}"

    def record(self, name: str, subdir: str | None = None) -> dict[str, Any]:
        path = self.archive(name, subdir)
        return self.folder.records[(path.parent.name, path.name)]


@dataclass
class MicromambaRelease:
    """A stand-in published like mamba-org/micromamba-releases (contract 1.1)."""

    server: LoopbackServer
    version: str  # the release tag, e.g. "2.8.1-0"
    platforms: tuple[str, ...]
    binary: bytes
    archive: bytes
    record_file: Path
    config: dict[str, Any] = field(default_factory=dict)
    kind: str = STANDIN  # or REAL: the real micromamba, which records no calls

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.binary).hexdigest()

    @property
    def base_url(self) -> str:
        return self.server.url + "/releases"

    @property
    def url_template(self) -> str:
        return f"{self.base_url}/download/{{version}}/micromamba-{{platform}}"

    @property
    def latest_url_template(self) -> str:
        return f"{self.base_url}/latest/download/micromamba-{{platform}}"

    def url(self, platform: str | None = None, *, latest: bool = False) -> str:
        template = self.latest_url_template if latest else self.url_template
        return template.format(version=self.version, platform=platform or self.platforms[0])

    def asset_path(self, name: str, *, latest: bool = False) -> str:
        where = "latest/download" if latest else f"download/{self.version}"
        return f"/releases/{where}/{name}"

    def calls(self) -> list[dict[str, Any]]:
        """The stand-in's invocation records. The real binary keeps none: a test that runs
        both reads mambaboot's log instead (``Project.micromamba_runs``)."""
        if self.kind == REAL:
            raise AssertionError("the real micromamba records no calls; use the log "
                                 "(Project.micromamba_runs) in a conformance test")
        return read_calls(self.record_file)


def publish_release(server: LoopbackServer, binary: bytes, *, tag: str = RELEASE_TAG,
                    platforms: tuple[str, ...] = ("linux-64",)) -> bytes:
    """Serve the release assets of ``binary`` for ``platforms``; returns the linux archive.

    Like the real releases, ``micromamba-S.tar.bz2.sha256`` holds the sha256 of the raw
    binary, not of the archive (micromamba-releases#37).
    """
    digest = hashlib.sha256(binary).hexdigest().encode()
    archive = b""
    for subdir in platforms:
        archive = build_micromamba_package(binary, subdir, tag.partition("-")[0],
                                           int(tag.rpartition("-")[2] or 0))
        assets = {f"micromamba-{subdir}": binary, f"micromamba-{subdir}.sha256": digest,
                  f"micromamba-{subdir}.tar.bz2": archive,
                  f"micromamba-{subdir}.tar.bz2.sha256": digest}
        if subdir.startswith("win"):
            assets[f"micromamba-{subdir}.exe"] = binary
        for where in (f"download/{tag}", "latest/download"):
            for name, data in assets.items():
                kind = "text/plain" if name.endswith(".sha256") else "application/octet-stream"
                server.add(f"/releases/{where}/{name}", data, kind)
    return archive


@pytest.fixture
def http_server() -> Iterator[LoopbackServer]:
    """A running loopback server (function scope), stopped at teardown."""
    with LoopbackServer() as server:
        yield server


@pytest.fixture
def standin_factory(tmp_path_factory: pytest.TempPathFactory) -> StandinFactory:
    """``standin_factory(**config) -> bytes``; see :class:`StandinFactory`."""
    return StandinFactory(tmp_path_factory.mktemp("standin"))


@pytest.fixture
def micromamba_kind(request: pytest.FixtureRequest) -> str:
    """Which micromamba a test runs: ``standin``, or ``real`` for tests marked
    ``conformance`` (tests/conftest.py parametrises those with both)."""
    return str(getattr(request, "param", STANDIN))


@pytest.fixture(scope="session")
def real_channel_folder(tmp_path_factory: pytest.TempPathFactory) -> ChannelFolder:
    """The channel of real packages (tests/standin/realpkgs.py), built once per session."""
    interpreter = realpkgs.find_interpreter()
    if interpreter is None:
        pytest.skip("no CPython tree of the running version to package (set "
                    "MAMBABOOT_TEST_PYTHON_ROOT)")
    return realpkgs.build_channel(tmp_path_factory.mktemp("real-channel") / "conda-forge",
                                  interpreter)


@pytest.fixture
def conda_channel(http_server: LoopbackServer, tmp_path_factory: pytest.TempPathFactory,
                  micromamba_kind: str, request: pytest.FixtureRequest) -> CondaChannel:
    """The default packages (running Python's version) served at ``/conda-forge``; for the
    real micromamba, a copy of the channel of real packages."""
    root = tmp_path_factory.mktemp("channel") / "conda-forge"
    if micromamba_kind == REAL:
        built: ChannelFolder = request.getfixturevalue("real_channel_folder")
        shutil.copytree(built.root, root)
        folder = ChannelFolder(root, built.packages, built.records)
    else:
        folder = write_channel(root, default_packages())
    http_server.mount("/conda-forge/", root)
    return CondaChannel(http_server.url_for("/conda-forge"), root, folder.packages, folder,
                        http_server)


ReleaseFactory = Callable[..., MicromambaRelease]


@pytest.fixture
def micromamba_release_factory(http_server: LoopbackServer,
                               standin_factory: StandinFactory) -> ReleaseFactory:
    """``make(*, tag=None, platforms=("linux-64",), **config) -> MicromambaRelease``.

    Publishes a stand-in built with ``config`` (e.g. ``delay_create_s=30``,
    ``fail_create="boom"``, ``version="2.7.0"``); each release has its own record file.
    """

    def make(*, tag: str | None = None, platforms: tuple[str, ...] | None = None,
             **config: Any) -> MicromambaRelease:
        config.setdefault("record_file", str(standin_factory.new_record_file()))
        version = str(config.get("version", RELEASE_VERSION))
        tag = tag or f"{version}-0"
        platforms = platforms or (host_subdir(),)
        binary = standin_factory(**config)
        archive = publish_release(http_server, binary, tag=tag, platforms=platforms)
        return MicromambaRelease(http_server, tag, platforms, binary, archive,
                                 Path(config["record_file"]), dict(config))

    return make


@pytest.fixture
def micromamba_release(request: pytest.FixtureRequest,
                       micromamba_release_factory: ReleaseFactory) -> MicromambaRelease:
    """The default release (2.8.1-0); stand-in config via indirect parametrisation::

        @pytest.mark.parametrize("micromamba_release", [{"fail_create": "x"}], indirect=True)
    """
    config = dict(getattr(request, "param", None) or {})
    if request.getfixturevalue("micromamba_kind") == REAL:
        if config:
            raise AssertionError(f"the real micromamba takes no stand-in config: {config}")
        return real_release(request.getfixturevalue("http_server"))
    return micromamba_release_factory(**config)


def real_release(server: LoopbackServer) -> MicromambaRelease:
    """The real micromamba published like a release (skips when there is none)."""
    if realmm.real_binary() is None:
        pytest.skip(realmm.skip_reason())
    return publish_real_release(server)


def publish_real_release(server: LoopbackServer) -> MicromambaRelease:
    """Serve the real binary's release assets (raw binary, .sha256, .tar.bz2) on
    ``server``; the caller has checked that there is one (``realmm.real_binary()``)."""
    binary = realmm.real_bytes()
    platforms = (host_subdir(),)
    archive = publish_release(server, binary, platforms=platforms)
    return MicromambaRelease(server, RELEASE_TAG, platforms, binary, archive,
                             Path(os.devnull), kind=REAL)
