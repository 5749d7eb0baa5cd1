"""A throw-away mambaboot project wired to the loopback stand-ins: config, scripts folder,
envs and cache folders, all under tmp_path."""

from __future__ import annotations

import json
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
IS_WINDOWS = os.name == "nt"
SHELL_EXT = ".bat" if IS_WINDOWS else ".sh"  # the shell scripts of this platform
MICROMAMBA = "micromamba.exe" if IS_WINDOWS else "micromamba"  # its name in the cache


def python_in(prefix: Path) -> Path:
    """The interpreter of a conda prefix: ``python.exe`` on Windows, ``bin/python`` else."""
    return prefix / "python.exe" if IS_WINDOWS else prefix / "bin" / "python"


def split_logged(line: str) -> list[str]:
    """A command line as mambaboot logs it: shell-quoted on POSIX, in the C runtime's rules
    on Windows (``subprocess.list2cmdline``)."""
    if IS_WINDOWS:
        from tests.winargv import parse_crt

        return parse_crt(line)
    return shlex.split(line)


def same_path(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """One file named alike: Windows compares case-insensitively (``shutil.which`` gives
    ``python.EXE``)."""
    return os.path.normcase(os.fspath(a)) == os.path.normcase(os.fspath(b))


@dataclass
class Project:
    root: Path
    channel_url: str
    url_template: str
    version: str

    @property
    def config(self) -> Path:
        return self.root / "mambaboot.toml"

    @property
    def envs(self) -> Path:
        return self.root / "envs"

    @property
    def cache(self) -> Path:
        return self.root / "cache"

    @property
    def scripts(self) -> Path:
        return self.root / "scripts"

    @property
    def prefix(self) -> Path:
        return self.envs / f"demo_{PYTHON.replace('.', '_')}"

    @property
    def python(self) -> Path:
        return python_in(self.prefix)

    def write_config(self, extra: str = "", env_extra: str = "", micromamba: str = "",
                     url: str | None = None) -> None:
        self.config.write_text(f"""
[env]
name = "demo"
python = "{PYTHON}"
channels = ["{self.channel_url}"]
envs_dir = "envs"
{env_extra}

[micromamba]
version = "{self.version}"
url = "{url or self.url_template}"
{micromamba}

[cache]
dir = "cache"

[network]
allow_http = true
{extra}
""", encoding="utf-8")

    def script(self, name: str, text: str) -> Path:
        self.scripts.mkdir(exist_ok=True)
        path = self.scripts / name
        path.write_text(text, encoding="utf-8")
        return path

    def shell_script(self, stem: str, posix: str, windows: str) -> Path:
        """``STEM.sh`` with the ``posix`` text, or on Windows ``STEM.bat`` with the
        ``windows`` text (``write_text`` makes its line ends CRLF there)."""
        if IS_WINDOWS:
            return self.script(stem + ".bat", windows)
        return self.script(stem + ".sh", posix)

    def receipt(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(
            (self.prefix / "conda-meta" / "mambaboot" / "receipt.json").read_text(encoding="utf-8"))
        return data

    def micromamba_runs(self, command: str = "") -> list[list[str]]:
        """The micromamba command lines mambaboot started with this project's cache, read
        from its logs (the same for the stand-in and the real binary); ``command`` keeps
        those whose first argument it is (``create``, ``env``, ...)."""
        runs = []
        logs = (self.cache / "logs").glob("*.log")  # mambaboot-COMMAND-DATE-TIME-PID.log
        for log in sorted(logs, key=lambda p: p.name.split("-")[2:]):
            for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
                _, marker, text = line.partition("] $ ")
                argv = split_logged(text.split("    (in ", 1)[0]) if marker else []
                if argv and Path(argv[0]).stem == "micromamba" and \
                        (not command or argv[1:2] == [command]):
                    runs.append(argv)
        return runs

    def args(self, *extra: str) -> list[str]:
        return ["create", "--config", str(self.config), "--no-pause", *extra]
