"""What each command does, in domain terms: settings in, results out. ``cli`` turns
arguments into these calls and their results into text and exit codes."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bootstrap import errors, launch
from bootstrap.activation import Activation
from bootstrap.create import Options, Pipeline, Summary
from bootstrap.log import RunLog
from bootstrap.report import Reporter
from bootstrap.settings import Host, Overrides, Settings, load_config, resolve

KEEP_LOGS = 30


@dataclass(frozen=True)
class Context:
    """Settings of one invocation plus the log it writes."""

    settings: Settings
    log: RunLog


def settings_for(over: Overrides, host: Host | None = None) -> Settings:
    host = host or Host.current()
    return resolve(over, host, load_config(over, host))


@contextmanager
def opened_log(settings: Settings, command: str, log_file: str | None,
               write_default: bool = True) -> Iterator[RunLog]:
    """The run's log (default ``CACHE/logs``; none when ``write_default`` is False, as for a
    dry run that must change nothing); errors raised inside carry its path."""
    logs_dir = Path(settings.layout.logs)
    path: Path | None = Path(log_file).resolve() if log_file \
        else RunLog.default_path(logs_dir, command)
    if not log_file and not write_default:
        path = None
    try:
        log = RunLog(path)
    except OSError:
        log = RunLog(None)
    if path is not None and not log_file:
        _prune(logs_dir)
    try:
        yield log
    except errors.BootstrapError as err:
        log.line(f"error: {err}")
        err.log_path = log.path  # type: ignore[attr-defined]
        raise
    except BaseException as err:
        log.line(f"stopped: {type(err).__name__}: {err}")
        raise
    finally:
        log.close()


def _prune(logs_dir: Path) -> None:
    """Keep the newest KEEP_LOGS logs mambaboot wrote there."""
    try:
        logs = sorted(logs_dir.glob("mambaboot-*.log"), key=lambda p: p.stat().st_mtime)
    except OSError:
        return
    for old in logs[:-KEEP_LOGS]:
        old.unlink(missing_ok=True)


def create(settings: Settings, options: Options, reporter: Reporter, log: RunLog,
           env: Mapping[str, str] | None = None) -> Summary:
    log.line(f"mambaboot create {settings.prefix}")
    return Pipeline(settings, options, reporter, log, env or os.environ).run()


def find_env(value: str, settings: Settings) -> Path:
    """ENV is a path (has a separator, or starts with '.') or a name under the envs root."""
    is_path = any(sep in value for sep in ("/", "\\")) or value.startswith(".")
    prefix = Path(value).resolve() if is_path else settings.envs_dir / value
    if not (prefix / "conda-meta").is_dir():
        where = prefix if is_path else f"{value} under {settings.envs_dir}"
        raise errors.ConfigError(
            f"No conda environment at {where}.",
            hint="Give a folder created by 'mambaboot create', or a name under the envs "
                 "folder (--envs-dir).",
        )
    return prefix


def run_command(settings: Settings, env_arg: str, command: list[str], log: RunLog,
                reporter: Reporter, env: Mapping[str, str] | None = None) -> int:
    """Run ``command`` inside the activated environment; its exit code is returned."""
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise errors.ConfigError("No command given to run.",
                                 hint="Example: mambaboot run py_3_12 -- python --version")
    prefix = find_env(env_arg, settings)
    act = Activation.load(prefix, settings.platform, env or os.environ)
    for text in act.warnings:
        reporter.warn(text)
    plan = launch.launcher_for(settings.platform).plan_command(act.scripts, command)
    done = launch.execute(act, plan, settings.platform, log=log, interactive=True)
    return done.returncode
