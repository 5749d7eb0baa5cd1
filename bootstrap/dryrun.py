"""``create --dry-run``: what a run would do — create, rebuild, update in place, resume or
nothing — with the packages it would install and remove, the scripts it would run and the
micromamba commands, decided exactly as the real run decides. It only reads: nothing is
written and no micromamba is started."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from bootstrap import preflight, update
from bootstrap.inputs import inputs_of
from bootstrap.micromamba import create_args, describe_source
from bootstrap.process import describe
from bootstrap.receipt import DONE, Receipt

if TYPE_CHECKING:
    from bootstrap.create import Pipeline

LOCK_PLACEHOLDER = Path("<temporary @EXPLICIT list>")


def plan(pipe: Pipeline) -> dict[str, Any]:
    """The plan of ``pipe``'s run; a refusal is raised as the real run would raise it."""
    s = pipe.s
    found = preflight.inspect_prefix(s.prefix, pipe.claims)
    new = inputs_of(s)
    action = preflight.verdict(found, new, pipe.o.force)
    if action == "refuse-foreign":
        raise preflight.refuse_foreign(s.prefix, found.sample)
    if action == "refuse-inputs" and found.receipt is not None:
        raise preflight.different_inputs(s.prefix, found.receipt.inputs, new)
    receipt = found.receipt if action in ("update", "resume", "unchanged") else None
    out: dict[str, Any] = {"action": action, "prefix": str(s.prefix),
                           "prefix_state": found.state.value}
    if action == "rebuild":
        out["rebuild"] = f"delete {s.prefix} (made by mambaboot) and create it again"
    commands: list[list[str]] = []
    if receipt is None:
        commands.append(create_args(s, s.root_dir, specs=pipe.create_specs()))
        stages = ["micromamba", "create", "finish", "verify"]
    elif action == "update":
        out.update(_update(pipe, receipt, new, commands))
        stages = ["micromamba", "update", "finish", "verify"]
    else:
        stages = [st for st in receipt.order()
                  if receipt.stage_state(st) != DONE and st != "scripts"]
    to_run = [] if pipe.o.no_scripts else [x.name for x in pipe.scripts_to_run(receipt)]
    if to_run:
        stages.append("scripts")
    out.update({
        "stages": stages,
        "commands": [describe(["micromamba", *args]) for args in commands],
        "scripts": to_run,
        "micromamba": describe_source(s) if commands or "finish" in stages else "not needed",
        "envs_dir": str(s.envs_dir), "cache_dir": str(s.cache_dir),
        "pkgs_dir": str(s.pkgs_dir), "root_dir": str(s.root_dir),
        "config": str(s.config_file) if s.config_file else None,
    })
    return out


def _update(pipe: Pipeline, receipt: Receipt, new: dict[str, Any],
            commands: list[list[str]]) -> dict[str, Any]:
    """The packages and commands of an update in place (appended to ``commands``)."""
    installed = update.read_installed(pipe.s.prefix)
    the_plan = pipe.update_plan(receipt.inputs, new, installed)
    install = update.install_command(the_plan, pipe.s, LOCK_PLACEHOLDER)
    removals = update.removal_commands(the_plan, pipe.s)
    lock = bool(the_plan.lock_install or the_plan.lock_remove)
    commands += [*removals, *([install] if install else [])] if lock \
        else [*([install] if install else []), *removals]
    return {
        "changes": update.changes(receipt.inputs, new),
        "install": [*the_plan.install, *(update.dist_of_url(x) for x in the_plan.lock_install),
                    *([str(new.get("file"))] if the_plan.with_file else [])],
        "remove": [*the_plan.remove, *the_plan.lock_remove],
        "kept": list(the_plan.kept),
    }
