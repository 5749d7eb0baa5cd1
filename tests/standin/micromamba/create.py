"""``micromamba create``: the transaction, its output and the files written
(contract 2.2, 3.4, 6.4).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .channels import configured_channels, load_channels
from .common import CONDA_VERSION, MambaError, cfg, log, prompt, quoted, say
from .config import (
    Ctx,
    channel_priority,
    home_dir,
    host_platform,
    load_config,
    pkgs_dirs,
    root_prefix,
    target_prefix,
)
from .link import link_package, unlink_package
from .pkgcache import fetch_package, needs_fetch
from .solve import Pool, explain_unsat, solve
from .specs import MatchSpec, SpecFiles, dist_name, explicit_record, read_spec_files


def check_existing_prefix(ctx: Ctx, prefix: str, root: str) -> None:
    if not os.path.lexists(prefix):
        return
    if prefix == root:
        raise MambaError("Aborting.", "Overwriting root prefix is not permitted - aborting.")
    if not os.path.isdir(prefix):
        raise MambaError("Aborting.", "Target prefix already exists and is not a folder - "
                                      "aborting.")
    if os.path.isdir(os.path.join(prefix, "conda-meta")):
        if ctx.flag("yes") or prompt(f"Found conda-prefix at '{prefix}'. Overwrite?", "n"):
            shutil.rmtree(prefix)
            return
        raise MambaError("Aborting.")
    if not os.listdir(prefix):
        log("warning", "Using existing empty folder as target prefix")
        return
    raise MambaError("Non-conda folder exists at prefix - aborting.",
                     "Non-conda folder exists at prefix - aborting.")


def register_env(prefix: str) -> None:
    env_file = Path(home_dir(), ".conda", "environments.txt")
    env_file.parent.mkdir(parents=True, exist_ok=True)
    lines = env_file.read_text(encoding="utf-8").splitlines() if env_file.exists() else []
    if prefix not in lines:
        with env_file.open("a", encoding="utf-8") as handle:
            handle.write(prefix + "\n")


def create_target_directory(prefix: str) -> None:
    Path(prefix, "conda-meta").mkdir(parents=True, exist_ok=True)
    Path(prefix, "conda-meta", "history").touch()
    register_env(prefix)


def human_size(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.1f}{unit}"
        size /= 1000
    return f"{size}B"


def print_transaction(prefix: str, specs: list[str], records: list[dict[str, Any]]) -> None:
    say("\nTransaction\n")
    say(f"  Prefix: {prefix}\n")
    say("  Updating specs:\n")
    for spec in specs:
        say(f"   - {spec}")
    say("\n")
    rows = [(f"+ {r['name']}", str(r["version"]), str(r["build"]),
             r["fn"] if r.get("_explicit") else str(r["channel"]).rsplit("/", 1)[-1],
             human_size(int(r.get("size") or 0))) for r in sorted(records, key=lambda r: r["name"])]
    header = ("Package", "Version", "Build", "Channel", "Size")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(5)]
    line = "─" * (sum(widths) + 14)
    say("  " + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    say(line + "\n  Install:\n" + line + "\n")
    for row in rows:
        say("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    total = sum(int(r.get("size") or 0) for r in records)
    say(f"\n  Summary:\n\n  Install: {len(records)} packages\n\n  Total download: "
        f"{human_size(total)}\n\n{line}\n")


def activation_message(prefix: str, root: str) -> None:
    envs = os.path.join(root, "envs")
    named = os.path.dirname(prefix) == envs
    shown = os.path.basename(prefix) if named else prefix
    say(f"\nTo activate this environment, use:\n\n    micromamba activate {shown}\n\n"
        "Or to execute a single command in this environment, use:\n\n"
        f"    micromamba run {'-n' if named else '-p'} {shown} mycommand\n")


def history_entry(prefix: str, records: list[dict[str, Any]], specs: list[str]) -> None:
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    lines = [f"==> {now} <==", f"# cmd: {' '.join(sys.argv)}", f"# conda version: {CONDA_VERSION}"]
    lines += [f"+{r['channel']}/{r['subdir']}::{dist_name(r)}" for r in records]
    if specs:
        lines.append("# update specs: [" + ", ".join(quoted(s) for s in specs) + "]")
    with Path(prefix, "conda-meta", "history").open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def fetch_all(ctx: Ctx, records: list[dict[str, Any]], pkgs_dir: str) -> None:
    valid = [fetch_package(ctx, record, pkgs_dir) for record in records]
    if not all(valid):
        raise MambaError("Found incorrect downloads. Aborting")


def interruptible_delay() -> None:
    delay = float(cfg("delay_create_s"))
    if delay > 0:
        time.sleep(delay)


def execute(ctx: Ctx, plan: Plan) -> None:
    say("\nTransaction starting")
    fetch_all(ctx, plan.records, plan.pkgs[0])
    if ctx.flag("download_only"):
        say("Download only - packages are downloaded and extracted. Skipping the linking phase.")
        return
    linked: list[dict[str, Any]] = []
    try:
        if not plan.records:
            interruptible_delay()
        for index, record in enumerate(plan.records):
            say(f"Linking {dist_name(record)}")
            link_package(ctx, record, plan.prefix, plan.root, plan.native, plan.platform)
            linked.append(record)
            if index == 0:
                interruptible_delay()
    except KeyboardInterrupt:
        say("Transaction interrupted, rollbacking")
        for record in reversed(linked):
            unlink_package(record, plan.prefix)
        raise
    history_entry(plan.prefix, plan.records, plan.specs)
    say("\nTransaction finished\n")


@dataclass
class Plan:
    prefix: str
    root: str
    pkgs: list[str]
    platform: str
    specs: list[str]
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def native(self) -> bool:
        return self.platform == host_platform()


def solve_specs(ctx: Ctx, plan: Plan, channels: list[str]) -> None:
    priority = channel_priority(ctx)
    records = load_channels(ctx, configured_channels(ctx, channels), plan.platform, plan.pkgs)
    pool = Pool(records, priority)
    specs = [MatchSpec.parse(s) for s in plan.specs]
    say("Resolving Environment\n")
    solution = solve(pool, specs)
    if solution is None:
        explanation = explain_unsat(pool, specs)
        if ctx.flag("json"):
            print_json({"success": False, "solver_problems": explanation.splitlines()[1:]})
        raise MambaError("Could not solve for environment specs",
                         "Could not solve for environment specs\n" + explanation)
    requested = {s.name: s.raw for s in specs}
    if "python" in requested:  # the implied pip is recorded as requested, as 2.8.1 does
        requested.setdefault("pip", "pip")
    for record in solution:
        record["_requested"] = requested.get(record["name"], "")
    plan.records = solution


def print_json(data: Mapping[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, indent=4) + "\n")
    sys.stdout.flush()


def json_report(plan: Plan, dry_run: bool, fetch: list[dict[str, Any]]) -> dict[str, Any]:
    """FETCH: what had to be (or would be) downloaded; LINK: everything linked."""
    def clean(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if not k.startswith("_")} for r in records]

    return {"actions": {"FETCH": clean(fetch), "LINK": clean(plan.records),
                        "PREFIX": plan.prefix},
            "dry_run": dry_run, "prefix": plan.prefix, "success": True}


def write_state(ctx: Ctx, prefix: str, variables: Mapping[str, str]) -> None:
    if not variables:
        return
    if ctx.no_env:
        log("warning", "Using `no-env`. Variables from yaml file are not considered.")
        return
    path = Path(prefix, "conda-meta", "state")
    state: dict[str, Any] = {}
    if path.is_file():
        with contextlib.suppress(ValueError):
            state = dict(json.loads(path.read_text(encoding="utf-8")))
    env_vars = dict(state.get("env_vars", {}))
    env_vars.update({k.upper(): v for k, v in variables.items()})
    state["env_vars"] = env_vars
    path.write_text(json.dumps(state, indent=4), encoding="utf-8")


def install_pip(ctx: Ctx, prefix: str, pip: list[str]) -> None:
    if not pip:
        return
    python = os.path.join(prefix, "bin", "python")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("\n".join(pip) + "\n")
    command = ["uv", "pip", "install", "-r", handle.name] if ctx.flag("use_uv") else \
        [python, "-m", "pip", "install", "-r", handle.name, "--no-input"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError:
        result = subprocess.CompletedProcess(command, 1, "", "")
    finally:
        os.unlink(handle.name)
    if result.returncode != 0:
        raise MambaError("pip failed to install packages", result.stderr.strip() or
                         "pip failed to install packages")


def prepare_create(ctx: Ctx) -> tuple[Plan, SpecFiles]:
    root = root_prefix(ctx)
    load_config(ctx, root)
    files = read_spec_files(ctx.many("file"))
    prefix = target_prefix(ctx, root, files.name)
    if not prefix:
        raise MambaError("Aborting.", "No target prefix specified")
    platform = ctx.value("platform") or files.platform or host_platform()
    plan = Plan(prefix, root, pkgs_dirs(ctx, root), platform,
                ctx.positionals("specs") + files.specs + files.explicit)
    return plan, files


def cmd_create(ctx: Ctx) -> int:
    plan, files = prepare_create(ctx)
    dry_run = ctx.flag("dry_run")
    if not dry_run:
        check_existing_prefix(ctx, plan.prefix, plan.root)
        if not plan.specs:
            create_target_directory(plan.prefix)
        if ctx.values.get("platform") or ctx.env("CONDA_SUBDIR") or ctx.env("MAMBA_PLATFORM"):
            Path(plan.prefix).mkdir(parents=True, exist_ok=True)
            Path(plan.prefix, ".mambarc").write_text(f"platform: {plan.platform}",
                                                     encoding="utf-8")
    if not plan.specs:
        say(f"Empty environment created at prefix: {plan.prefix}")
        return 0
    if files.explicit:
        plan.records = [explicit_record(line) for line in files.explicit]
    else:
        solve_specs(ctx, plan, files.channels)
    if cfg("fail_create"):
        raise MambaError(str(cfg("fail_create")))
    fetch = [r for r in plan.records if needs_fetch(r, plan.pkgs[0])]
    print_transaction(plan.prefix, plan.specs, plan.records)
    if dry_run:
        say("Dry run. Not executing the transaction.")
    elif ctx.flag("yes") or prompt("Confirm changes", "y"):
        create_target_directory(plan.prefix)
        execute(ctx, plan)
        if not ctx.flag("download_only"):
            write_state(ctx, plan.prefix, files.variables)
            install_pip(ctx, plan.prefix, files.pip)
            activation_message(plan.prefix, plan.root)
    if ctx.flag("json"):
        print_json(json_report(plan, dry_run, fetch))
    return 0
