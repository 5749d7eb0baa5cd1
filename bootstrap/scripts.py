"""Post-install scripts (DESIGN 3.7): from the configured folder only, in name order, each
inside the activated environment, resumable from the first one that failed."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bootstrap import checksum, launch
from bootstrap.activation import Activation
from bootstrap.errors import ScriptError
from bootstrap.log import RunLog
from bootstrap.platform import Platform
from bootstrap.process import Echo
from bootstrap.receipt import DONE, FAILED, Receipt
from bootstrap.report import Reporter


@dataclass(frozen=True)
class Script:
    path: Path
    sha256: str

    @property
    def name(self) -> str:
        return self.path.name


def discover(folder: Path | None, platform: Platform) -> list[Script]:
    """Regular files of the kinds this platform runs, sorted by name; hidden files and
    anything outside the folder (links pointing elsewhere) are skipped."""
    if folder is None or not folder.is_dir():
        return []
    suffixes = {s.lower() for s in platform.script_suffixes}
    root = folder.resolve()
    found = []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if path.name.startswith((".", "_")) or path.suffix.lower() not in suffixes:
            continue
        if not path.is_file() or path.resolve().parent != root:
            continue
        found.append(Script(path, checksum.sha256_file(path)))
    return found


def pending(scripts: list[Script], receipt: Receipt) -> list[Script]:
    """Scripts still to run: those without a successful record for the same content."""
    out = []
    for script in scripts:
        record = receipt.scripts.get(script.name, {})
        if record.get("state") != DONE or record.get("sha256") != script.sha256:
            out.append(script)
    return out


def run_all(scripts: list[Script], receipt: Receipt, act: Activation, platform: Platform, *,
            python: Path, cwd: Path, extra_env: dict[str, str], log: RunLog,
            reporter: Reporter, echo: Echo | None,
            save: Callable[[], None]) -> list[str]:
    """Run ``scripts`` in order, recording each result in the receipt; the first failure
    raises ScriptError naming the script and its exit code."""
    launcher = launch.launcher_for(platform)
    ran = []
    for script in scripts:
        reporter.info(f"running {script.name}")
        started = time.monotonic()
        plan = launcher.plan_script(act.scripts, script.path, python)
        try:
            done = launch.execute(act, plan, platform, log=log, echo=echo, cwd=cwd,
                                  extra_env=extra_env)
            code = done.returncode
        except OSError as err:
            code = 127
            log.line(f"cannot start {script.path}: {err}")
        seconds = round(time.monotonic() - started, 3)
        state = DONE if code == 0 else FAILED
        receipt.scripts[script.name] = {"state": state, "exit_code": code,
                                        "sha256": script.sha256, "seconds": seconds}
        save()
        if code != 0:
            raise ScriptError(
                f"Post-install script {script.name} failed with exit code {code} "
                f"({script.path}).",
                hint="Fix the script (its output is above and in the log), then run the same "
                     "command again: finished scripts are skipped and it resumes here.",
            )
        ran.append(script.name)
    return ran
