"""What each command does, in domain terms: settings in, results out. ``cli`` turns
arguments into these calls and their results into text and exit codes."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from bootstrap import bundle, checks, envs, errors, fsutil, launch, locks, preflight, relocate
from bootstrap.activation import Activation
from bootstrap.create import Options, Pipeline, Summary
from bootstrap.log import RunLog
from bootstrap.receipt import Receipt
from bootstrap.report import Reporter
from bootstrap.settings import Host, Overrides, Settings, load_config, resolve

KEEP_LOGS = 30
_STDERR_FD = 2
SHORT_LOCK_TIMEOUT_S = 60.0


def settings_for(over: Overrides, host: Host | None = None) -> Settings:
    host = host or Host.current()
    return resolve(over, host, load_config(over, host))


@contextmanager
def opened_log(settings: Settings, command: str, log_file: str | None,
               write_default: bool = True,
               on_command: Callable[[str], None] | None = None) -> Iterator[RunLog]:
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
    log.on_command = on_command
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
    if not options.dry_run:
        settings = adapt_to_machine(settings, reporter)
    return Pipeline(settings, options, reporter, log, env or os.environ).run()


def adapt_to_machine(settings: Settings, reporter: Reporter) -> Settings:
    """Offline when a bundle is here and the network is not; copies instead of links on
    file systems without links (FAT32/exFAT sticks)."""
    if not settings.offline and bundle.find(settings) is not None \
            and not bundle.network_reachable(settings.channels, os.environ):
        reporter.info("No network, and a bundle is here: installing from the bundle (offline).")
        settings = dataclasses.replace(settings, offline=True)
    if not settings.always_copy:
        for label, folder in (("environment", settings.prefix), ("cache", settings.cache_dir)):
            kind = fsutil.filesystem_type(folder)
            check = checks.filesystem(label, kind)
            if check.status != checks.OK:
                reporter.warn(f"{check.detail} under {folder}. {check.fix}")
                settings = dataclasses.replace(settings, always_copy=True)
                break
    return settings


def relocate_env(settings: Settings, env_arg: str, reporter: Reporter) -> relocate.Report | None:
    """``mambaboot relocate ENV``: only for an environment mambaboot made (exit 3 else)."""
    prefix = find_env(env_arg, settings)
    if Receipt.load(prefix) is None:
        raise errors.RefusedError(
            f"{prefix} has no mambaboot receipt, so its original location is unknown.",
            hint="mambaboot relocates only environments it created; recreate this one "
                 "where it is now.")
    return auto_relocate(prefix, settings, reporter)


def auto_relocate(prefix: Path, settings: Settings,
                  reporter: Reporter) -> relocate.Report | None:
    """Before every use: relocate when the receipt says the environment has moved (under
    the prefix lock: two runs must not rewrite the same files at once)."""
    if relocate.moved_from(prefix) is None:
        return None
    with locks.prefix_lock(Path(settings.layout.state), prefix, SHORT_LOCK_TIMEOUT_S,
                           reporter.warn):
        report = relocate.ensure(prefix, settings.platform)
    if report is not None:
        reporter.warn(f"{prefix} was moved from {report.old}: rewrote "
                      f"{len(report.rewritten) + len(report.binary_patched)} files.")
        for path in report.binary_skipped:
            reporter.warn(f"Binary file {path} still holds the old prefix (the new one is "
                          "longer); it may not work until the environment is recreated.")
        for path in report.left_alone:
            reporter.warn(f"Binary file {path} holds the old prefix but was not written by "
                          "the package manager; it was left as it is.")
    return report


def pack(settings: Settings, out: Path, subdir: str | None, reporter: Reporter, log: RunLog,
         env: Mapping[str, str] | None = None) -> bundle.PackResult:
    log.line(f"mambaboot pack {out}")
    return bundle.pack(settings, out.resolve(), subdir or settings.subdir, reporter, log,
                       env or os.environ)


def env_path(value: str, settings: Settings) -> Path:
    """Where ENV points: a path (has a separator, or starts with '.') or a name under the
    envs root; nothing is checked."""
    # abspath, not resolve: a symlinked spelling stays what the user (and create) used
    return Path(os.path.abspath(value)) if _is_path(value) else settings.envs_dir / value


def _is_path(value: str) -> bool:
    return any(sep in value for sep in ("/", "\\")) or value.startswith(".")


def find_env(value: str, settings: Settings) -> Path:
    """ENV is a path (has a separator, or starts with '.') or a name under the envs root."""
    prefix = env_path(value, settings)
    if not (prefix / "conda-meta").is_dir():
        where = prefix if _is_path(value) else f"{value} under {settings.envs_dir}"
        raise errors.ConfigError(
            f"No conda environment at {where}.",
            hint="Give a folder created by 'mambaboot create', or a name under the envs "
                 "folder (--envs-dir).",
        )
    return prefix


def run_command(settings: Settings, env_arg: str, command: list[str], log: RunLog,
                reporter: Reporter, env: Mapping[str, str] | None = None,
                stdout_to_stderr: bool = False) -> int:
    """Run ``command`` inside the activated environment; its exit code is returned.
    ``stdout_to_stderr`` keeps standard output free for ``--json -``."""
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise errors.ConfigError("No command given to run.",
                                 hint="Example: mambaboot run py_3_12 -- python --version")
    prefix = find_env(env_arg, settings)
    auto_relocate(prefix, settings, reporter)
    act = Activation.load(prefix, settings.platform, env or os.environ)
    for text in act.warnings:
        reporter.warn(text)
    plan = launch.plan_command(act, command, settings.platform)
    done = launch.execute(act, plan, settings.platform, log=log, interactive=True,
                          stdout=_STDERR_FD if stdout_to_stderr else None)
    return done.returncode


def shell(settings: Settings, env_arg: str, log: RunLog, reporter: Reporter,
          env: Mapping[str, str] | None = None, stdout_to_stderr: bool = False) -> int:
    """A new interactive shell with ENV activated; nothing persists after it exits."""
    base = env or os.environ
    prefix = find_env(env_arg, settings)
    auto_relocate(prefix, settings, reporter)
    act = Activation.load(prefix, settings.platform, base)
    name = act.env.get("CONDA_DEFAULT_ENV", prefix.name)
    user_shell = base.get("SHELL") or "/bin/bash"
    comspec = base.get("COMSPEC") or base.get("ComSpec") or "cmd.exe"
    plan = launch.launcher_for(settings.platform).plan_shell(
        act.scripts, comspec if settings.platform.is_windows else user_shell, name)
    reporter.info(f"New shell in {prefix}; type 'exit' to leave it.")
    return launch.execute(act, plan, settings.platform, log=log, interactive=True,
                          stdout=_STDERR_FD if stdout_to_stderr else None).returncode


def doctor(settings: Settings, env_arg: str | None, log: RunLog,
           env: Mapping[str, str] | None = None) -> list[checks.Check]:
    from bootstrap import doctor as doctor_mod

    prefix = find_env(env_arg, settings) if env_arg else None
    return doctor_mod.run_checks(settings, env or os.environ, prefix, log, settings.offline)


def list_envs(settings: Settings) -> list[envs.EnvInfo]:
    return envs.list_envs(settings.envs_dir, preflight.Claims(Path(settings.layout.state)))


def removable(settings: Settings, env_arg: str) -> envs.EnvInfo:
    """What ``remove`` would delete, after checking mambaboot made it: a folder that is not
    there is exit 2, one that mambaboot did not make exit 3."""
    prefix = env_path(env_arg, settings)
    if not prefix.exists() and not prefix.is_symlink():
        raise errors.ConfigError(
            f"Nothing to remove: {prefix} does not exist.",
            hint="Give a folder created by 'mambaboot create', or a name under the envs "
                 "folder (--envs-dir); 'mambaboot list' shows them.")
    return envs.check_removable(prefix, preflight.Claims(Path(settings.layout.state)))


def remove(settings: Settings, info: envs.EnvInfo, reporter: Reporter, log: RunLog) -> None:
    """Delete an environment mambaboot made, never while another mambaboot works on it."""
    log.line(f"mambaboot remove {info.prefix}")
    with locks.prefix_lock(Path(settings.layout.state), info.prefix, SHORT_LOCK_TIMEOUT_S,
                           reporter.warn):
        envs.remove(info.prefix, preflight.Claims(Path(settings.layout.state)),
                    Path(settings.layout.profile))
