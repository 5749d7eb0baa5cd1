"""The create pipeline (DESIGN section 3): preflight, micromamba, create, finish, verify,
scripts, summary. Each stage is recorded in the receipt so a re-run resumes at the first
unfinished one, and a complete environment with the same inputs is left alone."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bootstrap import (
    bundle,
    checks,
    finish,
    fsutil,
    locks,
    offline,
    preflight,
    relocate,
    scripts,
    update,
)
from bootstrap.activation import Activation
from bootstrap.errors import ConfigError, MicromambaError
from bootstrap.inputs import inputs_of, is_explicit, spec_name
from bootstrap.log import RunLog
from bootstrap.micromamba import (
    Micromamba,
    create_args,
    export_explicit,
    micromamba_env,
    obtain,
    run_micromamba,
)
from bootstrap.platform import Platform
from bootstrap.preflight import PrefixState
from bootstrap.process import stop_orphan
from bootstrap.receipt import DONE, RUNNING, UPDATE, Receipt
from bootstrap.report import Reporter
from bootstrap.settings import Settings
from bootstrap.verify import verify

LOCK_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Options:
    force: bool = False
    strict: bool = False
    no_scripts: bool = False
    dry_run: bool = False
    unattended: bool = False
    rerun_scripts: bool = False


@dataclass
class Summary:
    """What a run did, for the console summary and ``--json``."""

    prefix: Path
    outcome: str  # created, resumed, rebuilt, updated, unchanged, planned
    stages: list[dict[str, Any]] = field(default_factory=list)
    micromamba: dict[str, str] = field(default_factory=dict)
    python: str = ""
    scripts_run: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    plan: dict[str, Any] = field(default_factory=dict)
    added: list[str] = field(default_factory=list)  # packages, name-version-build
    removed: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"prefix": str(self.prefix), "outcome": self.outcome, "stages": self.stages,
                "micromamba": self.micromamba, "python": self.python,
                "added": self.added, "removed": self.removed,
                "scripts_run": self.scripts_run, "warnings": self.warnings,
                **({"plan": self.plan} if self.plan else {})}


class Pipeline:
    """One ``create`` run. ``run()`` returns the summary or raises a BootstrapError."""

    def __init__(self, settings: Settings, options: Options, reporter: Reporter, log: RunLog,
                 base_env: Mapping[str, str]) -> None:
        self.s, self.o, self.r, self.log = settings, options, reporter, log
        self.base_env = dict(base_env)
        self.platform: Platform = settings.platform
        self.claims = preflight.Claims(Path(settings.layout.state))
        self.bundle = bundle.find(settings) if settings.offline else None
        self.summary = Summary(settings.prefix, "created")
        self._mm: Micromamba | None = None

    # -- orchestration -------------------------------------------------------------------
    def run(self) -> Summary:
        self.summary.warnings += preflight.check_inherited(self.base_env, self.platform,
                                                           self.o.strict)
        if self.platform.is_windows:
            self.summary.warnings += self._windows_warnings()
        for text in self.summary.warnings:
            self.r.warn(text)
        preflight.check_prefix_location(self.s.prefix, self.s.cache_dir, self.s.pkgs_dir)
        preflight.check_prefix_separator(self.s.prefix, self.platform)
        if self.bundle is not None and self.bundle.subdir != self.s.subdir:
            raise ConfigError(f"The bundle in {self.bundle.root} is for {self.bundle.subdir}; "
                              f"this machine is {self.s.subdir}.",
                              hint=f"Pack one with 'mambaboot pack --platform {self.s.subdir}'.")
        if self.bundle is not None:
            self.bundle.check_inputs(inputs_of(self.s))
        if self.o.dry_run:
            from bootstrap import dryrun

            self.summary.outcome = "planned"
            self.summary.plan = dryrun.plan(self)
            return self.summary
        timeout = _seconds(self.base_env, "MAMBABOOT_LOCK_TIMEOUT_S", LOCK_TIMEOUT_S)
        with locks.prefix_lock(Path(self.s.layout.state), self.s.prefix, timeout, self.r.warn):
            return self._run_locked()

    def _windows_warnings(self) -> list[str]:
        facts = checks.WindowsFacts.read(self.base_env, self.platform)
        found = checks.windows_preflight(self.s.prefix, self.s.pkgs_dir, self.s.channels,
                                         self.s.subdir, facts)
        return [f"{c.detail}. {c.fix}" for c in found if c.status != checks.OK]

    def _run_locked(self) -> Summary:
        moved = relocate.ensure(self.s.prefix, self.platform)
        if moved is not None:
            self.r.warn(f"{self.s.prefix} was moved from {moved.old}; relocated it.")
        found = preflight.inspect_prefix(self.s.prefix, self.claims)
        receipt = self._apply(preflight.verdict(found, inputs_of(self.s), self.o.force), found)
        if receipt is not None and receipt.complete:
            self.summary.outcome = "unchanged"
            self.r.info(f"{self.s.prefix} is complete and up to date; nothing to do.")
            return self.summary
        if receipt is None:
            self._micromamba()
            receipt = self._stage("create", None)
        for stage in receipt.order()[1:]:
            if stage == "scripts" and self.o.no_scripts:
                self.r.info("Post-install scripts skipped (--no-scripts).")
                continue
            if receipt.stage_state(stage) != DONE:
                self._stage(stage, receipt)
        return self.summary

    def _apply(self, action: str, found: preflight.Inspection) -> Receipt | None:
        """Carry out preflight's verdict: a receipt to resume, or None to create anew."""
        self.r.detail(f"prefix {self.s.prefix}: {found.state.value} -> {action}")
        if action == "refuse-foreign":
            raise preflight.refuse_foreign(self.s.prefix, found.sample)
        if action == "refuse-inputs":
            assert found.receipt is not None  # noqa: S101 - verdict checked it
            raise preflight.different_inputs(self.s.prefix, found.receipt.inputs, inputs_of(self.s))
        if action == "create":
            return None
        if action == "rebuild":
            if found.state is PrefixState.INTERRUPTED_CREATE:
                self.r.warn(f"{self.s.prefix} was left half-made by an interrupted run; "
                            "rebuilding it.")
                self._stop_leftover()
            self.summary.outcome = "rebuilt"
            self.r.detail(f"removing {self.s.prefix} (made by mambaboot)")
            fsutil.remove_tree(self.s.prefix)
            return None
        assert found.receipt is not None  # noqa: S101 - "resume" needs a receipt
        if action == "update":
            self.summary.outcome = "updated"
            self.r.info(f"Updating {self.s.prefix} in place: "
                        f"{'; '.join(update.changes(found.receipt.inputs, inputs_of(self.s)))}.")
            found.receipt.start_update()
        return self._resume(found.receipt)

    def _stop_leftover(self) -> None:
        """A killed mambaboot cannot stop its micromamba; stop it before rebuilding."""
        pid = self.claims.leftover_pid(self.s.prefix)
        marker = f"-p {self.s.prefix} "  # as create_args puts it, so another program with
        if pid is not None and stop_orphan(pid, marker):  # that path in its line is spared
            self.r.warn(f"Stopped micromamba (pid {pid}) left running by that run.")

    def _resume(self, receipt: Receipt) -> Receipt:
        """Reopen the scripts stage when a script is new, changed or to be run again."""
        if receipt.complete and not self.o.no_scripts and self.scripts_to_run(receipt):
            receipt.reopen("scripts")
            self.summary.outcome = "updated"
            self.r.info(f"Scripts to run in {self.s.prefix}: "
                        f"{', '.join(s.name for s in self.scripts_to_run(receipt))}.")
        elif not receipt.complete and self.summary.outcome != "updated":
            self.summary.outcome = "resumed"
            self.r.info(f"Resuming {self.s.prefix} at stage {receipt.first_unfinished()}.")
        return receipt

    def scripts_to_run(self, receipt: Receipt | None) -> list[scripts.Script]:
        """New and changed scripts; all of them after a (re)build or --rerun-scripts."""
        found = self._scripts_found()
        if receipt is None or self.o.rerun_scripts:
            return found
        return scripts.pending(found, receipt)

    def _stage(self, name: str, receipt: Receipt | None) -> Receipt:
        self.r.stage(name)
        started = time.monotonic()
        if receipt is not None:
            receipt.mark(name, RUNNING)
            receipt.save()
        action = {"create": self._create, UPDATE: self._update, "finish": self._finish,
                  "verify": self._verify, "scripts": self._scripts}[name]
        result = action(receipt)
        seconds = round(time.monotonic() - started, 3)
        result.mark(name, DONE, seconds=seconds)
        result.save()
        self.summary.stages.append({"stage": name, "seconds": seconds})
        self.r.stage_done(name, seconds)
        return result

    # -- stages ----------------------------------------------------------------------------
    def _micromamba(self) -> Micromamba:
        if self._mm is None:
            self.r.stage("micromamba")
            started = time.monotonic()
            self._mm = obtain(self.s, self.base_env, self.r, self.log)
            seconds = round(time.monotonic() - started, 3)
            self.summary.micromamba = self._mm.as_json()
            self.summary.stages.append({"stage": "micromamba", "seconds": seconds})
            self.r.stage_done("micromamba", seconds,
                              f"{self._mm.version} from {self._mm.source}")
            self.r.detail(f"micromamba: {self._mm.path}")
        return self._mm

    def _create(self, _receipt: Receipt | None) -> Receipt:
        mm = self._micromamba()
        env = micromamba_env(self.s, self.base_env)
        with tempfile.TemporaryDirectory(prefix="mambaboot-") as tmp:
            explicit = self._bundle_explicit(Path(tmp))
            args = create_args(self.s, self.s.root_dir, specs=self.create_specs(),
                               explicit_file=explicit)
            if self.s.offline:
                offline.check_cache(mm, args, env, self.log, self.s.pkgs_dir, self.platform)
            self.claims.add(self.s.prefix)
            with offline.guarded(env, self.s.offline, self.platform) as child_env:
                code, _ = run_micromamba(
                    mm, args, child_env, self.log, self.r.output,
                    on_start=lambda pid: self.claims.note_pid(self.s.prefix, pid))
        if code != 0 and preflight.inspect_prefix(self.s.prefix, self.claims).state in (
                PrefixState.ABSENT, PrefixState.EMPTY):
            self.claims.release(self.s.prefix)  # nothing made: nothing to claim later
        if code != 0 or not (self.s.prefix / "conda-meta").is_dir():
            raise MicromambaError(
                f"micromamba could not create {self.s.prefix} (exit code {code}).",
                hint=f"Its messages are above and in the log {self.log.path}. Usual causes: "
                     "a misspelt package or version, a channel that is unreachable (proxy: "
                     "HTTPS_PROXY), or a full disk.",
            )
        receipt = Receipt(self.s.prefix, inputs_of(self.s), micromamba=mm.as_json())
        receipt.mark("create", RUNNING)
        receipt.save()
        self.claims.release(self.s.prefix)
        return receipt

    def _update(self, receipt: Receipt | None) -> Receipt:
        """``micromamba remove``/``install`` in place, then the receipt takes the new
        inputs. Interrupted, the receipt keeps the old ones and a re-run plans again."""
        assert receipt is not None  # noqa: S101
        new = inputs_of(self.s)
        before = update.read_installed(self.s.prefix)
        plan = self.update_plan(receipt.inputs, new, before)
        for name in plan.kept:
            self.r.info(f"{name} is no longer asked for, but other packages need it: kept.")
        if self.bundle is not None and plan.lock_install:
            self.bundle.verify()
        mm = self._micromamba()
        env = micromamba_env(self.s, self.base_env)

        def run(args: list[str]) -> None:
            with offline.guarded(env, self.s.offline, self.platform) as child_env:
                code, _ = run_micromamba(mm, args, child_env, self.log, self.r.output)
            if code != 0:
                raise MicromambaError(
                    f"micromamba {args[0]} failed in {self.s.prefix} (exit code {code}).",
                    hint=f"Its messages are above and in the log {self.log.path}. The "
                         "environment is as micromamba left it; run again to retry the "
                         "update, or use --force to rebuild it.")

        with tempfile.TemporaryDirectory(prefix="mambaboot-") as tmp:
            for name in update.apply(plan, self.s, new, Path(tmp), run):
                self.r.info(f"{name} is no longer asked for, but the packages just "
                            "installed need it: kept.")
        done = update.Outcome.between(before, update.read_installed(self.s.prefix))
        self.summary.added, self.summary.removed = done.added, done.removed
        receipt.inputs = new
        receipt.stages[UPDATE].update(added=done.added, removed=done.removed)
        return receipt

    def update_plan(self, old: dict[str, Any], new: dict[str, Any],
                    installed: dict[str, update.Package]) -> update.Plan:
        """From a bundle or an @EXPLICIT file, the lock's exact set; else the specs."""
        if self.bundle is not None:
            return update.lock_plan(update.explicit_lines(self.bundle.explicit_text()),
                                    installed)
        if new.get("file_kind") == "explicit" and self.s.env_file is not None:
            text = self.s.env_file.read_text(encoding="utf-8", errors="replace")
            return update.lock_plan(update.explicit_lines(text), installed)
        return update.plan(old, new, installed)

    def _bundle_explicit(self, tmp: Path) -> Path | None:
        """Offline from a bundle: verify every package first, then point micromamba at the
        archives where the bundle is now."""
        if self.bundle is None:
            return None
        self.r.info(f"Checking {len(self.bundle.packages)} bundled packages (sha256)")
        self.bundle.verify()
        path = tmp / "bundle-explicit.txt"
        path.write_text(self.bundle.explicit_text(), encoding="utf-8")
        return path

    def create_specs(self) -> tuple[str, ...]:
        return () if is_explicit(self.s.env_file) else self.s.specs

    def _finish(self, receipt: Receipt | None) -> Receipt:
        assert receipt is not None  # noqa: S101
        prefix = self.s.prefix
        finish.write_condarc(self.s)
        finish.link_pkgs(prefix, self.s.pkgs_dir, finish.dir_linker(self.platform), self.r)
        for path in finish.patch_condabin(prefix, self.platform):
            self.r.detail(f"made {path} portable")
        finish.write_launchers(prefix, self.platform)
        finish.copy_templates(prefix, self.s.copy_dirs, self.r)
        mm = self._micromamba()
        lock = export_explicit(mm, self.s.root_dir, prefix,
                               micromamba_env(self.s, self.base_env), self.log)
        if lock is not None:
            finish.write_lock(prefix, lock)
        else:
            self.r.warn(f"Could not export the package list of {prefix}; see the log "
                        f"{self.log.path}. The environment itself is fine.")
        return receipt

    def _verify(self, receipt: Receipt | None) -> Receipt:
        assert receipt is not None  # noqa: S101
        act = Activation.load(self.s.prefix, self.platform, self.base_env)
        for text in act.warnings:
            self.r.warn(text)
        checked = verify(act, self.platform, self.s.python, self._tools(), self.log)
        self.summary.python = checked.version
        receipt.stages.setdefault("verify", {})["python"] = checked.version
        return receipt

    def _tools(self) -> tuple[str, ...]:
        """conda and mamba when they were asked for or got installed (a lock file)."""
        names = {spec_name(s) for s in self.create_specs()}
        meta = self.s.prefix / "conda-meta"
        return tuple(t for t in ("conda", "mamba")
                     if t in names or any(meta.glob(f"{t}-[0-9]*.json")))

    def _scripts_found(self) -> list[scripts.Script]:
        return scripts.discover(self.s.scripts_dir, self.platform)

    def _scripts(self, receipt: Receipt | None) -> Receipt:
        assert receipt is not None  # noqa: S101
        todo = self.scripts_to_run(receipt)
        if not todo:
            return receipt
        act = Activation.load(self.s.prefix, self.platform, self.base_env)
        self.summary.scripts_run = scripts.run_all(
            todo, receipt, act, self.platform,
            python=Path(self.platform.python_exe(self.s.prefix)), cwd=self.s.config_dir,
            extra_env=self.script_env(), log=self.log, reporter=self.r, echo=self.r.output,
            save=receipt.save)
        return receipt

    def script_env(self) -> dict[str, str]:
        return {
            "MAMBABOOT_PREFIX": str(self.s.prefix),
            "MAMBABOOT_ENV_NAME": self._env_name(),
            "MAMBABOOT_CACHE": str(self.s.cache_dir),
            "MAMBABOOT_CONFIG_DIR": str(self.s.config_dir),
            "MAMBABOOT_UNATTENDED": "1" if self.o.unattended else "0",
        }

    def _env_name(self) -> str:
        return self.s.prefix.name

def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value < 0:
        raise ConfigError(f"{name}={raw!r} is not a number of seconds.",
                          hint=f"Set it to a number such as {default:.0f}, or unset it.")
    return value
