"""Calling mambaboot's own functions on a test project, without starting a process."""

from __future__ import annotations

from pathlib import Path

from bootstrap import settings
from bootstrap.platform import CURRENT, host_subdir
from bootstrap.settings import Host, Overrides, Settings
from tests.project import Project


def project_settings(project: Project, tmp_path: Path, **over: str) -> Settings:
    """The settings ``mambaboot create --config PROJECT`` would use, resolved with a host
    that has an empty environment and a working directory of its own."""
    work = tmp_path / "work-in-process"
    work.mkdir(exist_ok=True)
    host = Host(CURRENT, work, None, {}, Path(tmp_path.anchor), tmp_path / "user-cache",
                host_subdir() or "unknown")
    overrides = Overrides(config=str(project.config), **over)  # type: ignore[arg-type]
    return settings.resolve(overrides, host, settings.load_config(overrides, host))
