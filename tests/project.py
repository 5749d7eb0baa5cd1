"""A throw-away mambaboot project wired to the loopback stand-ins: config, scripts folder,
envs and cache folders, all under tmp_path."""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


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
        return self.prefix / "bin" / "python"

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
                argv = shlex.split(text.split("    (in ", 1)[0]) if marker else []
                if argv and Path(argv[0]).name == "micromamba" and \
                        (not command or argv[1:2] == [command]):
                    runs.append(argv)
        return runs

    def args(self, *extra: str) -> list[str]:
        return ["create", "--config", str(self.config), "--no-pause", *extra]
