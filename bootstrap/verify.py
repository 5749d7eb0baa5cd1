"""Verify an activation (DESIGN 3.6): inside the activated environment ``python`` must be
the prefix's own, ``sys.prefix`` the prefix, the version the requested one, and ``conda``
and ``mamba`` must resolve inside the prefix. Otherwise stop: never fall back."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bootstrap import launch
from bootstrap.activation import Activation
from bootstrap.errors import ActivationError
from bootstrap.log import RunLog
from bootstrap.platform import Platform

MARKER = "MAMBABOOT-VERIFY "
# Run by the environment's python, found through PATH as a user's `python` would be.
PROBE = (
    "import json, shutil, sys; sys.stdout.write(" + repr(MARKER) + " + json.dumps({"
    "'executable': sys.executable, 'prefix': sys.prefix, "
    "'version': '.'.join(map(str, sys.version_info[:3])), "
    "'which': {n: shutil.which(n) for n in ('python', 'conda', 'mamba')}}) + '\\n')"
)


@dataclass(frozen=True)
class Verified:
    python: str
    version: str
    tools: dict[str, str]


def parse_probe(output: str) -> dict[str, Any] | None:
    for line in reversed(output.splitlines()):
        if line.startswith(MARKER):
            try:
                data = json.loads(line[len(MARKER):])
            except ValueError:
                return None
            return data if isinstance(data, dict) else None
    return None


def _inside(path: str | None, prefix: Path) -> bool:
    if not path:
        return False
    candidate = os.path.normcase(os.path.abspath(path))
    for base in {os.path.normcase(str(prefix)), os.path.normcase(os.path.realpath(prefix))}:
        if candidate == base or candidate.startswith(base.rstrip("\\/") + os.sep):
            return True
    return False


def _same(a: str, prefix: Path) -> bool:
    norm = os.path.normcase
    return norm(os.path.realpath(a)) == norm(os.path.realpath(prefix))


def check(data: dict[str, Any], prefix: Path, python: str | None,
          tools: tuple[str, ...]) -> Verified:
    """Compare what the probe saw with what was asked for; raise ActivationError if not."""
    problems = []
    if not _inside(data.get("executable"), prefix):
        problems.append(f"python resolves to {data.get('executable')}, outside the prefix")
    if not _same(str(data.get("prefix", "")), prefix):
        problems.append(f"sys.prefix is {data.get('prefix')}")
    version = str(data.get("version", ""))
    if python and not (version == python or version.startswith(python + ".")):
        problems.append(f"python is version {version}, not {python}")
    which = data.get("which") or {}
    found = {}
    for tool in tools:
        if not _inside(which.get(tool), prefix):
            problems.append(f"{tool} resolves to {which.get(tool) or 'nothing'}")
        else:
            found[tool] = str(which.get(tool))
    if problems:
        raise ActivationError(
            f"The activated environment {prefix} is not self-contained: "
            + "; ".join(problems) + ".",
            hint="mambaboot never falls back to another Python. Check the environment's "
                 "activate.d scripts and env_vars.d for PATH changes, or rebuild it with "
                 "--force.",
        )
    return Verified(str(data.get("executable")), version, found)


def verify(act: Activation, platform: Platform, python: str | None, tools: tuple[str, ...],
           log: RunLog) -> Verified:
    """Run the probe through the activation wrapper and check its answer."""
    plan = launch.plan_command(act, ["python", "-c", PROBE], platform)
    try:
        done = launch.execute(act, plan, platform, log=log, capture=True)
    except OSError as err:
        raise ActivationError(f"Cannot start the environment's shell: {err}") from err
    output = done.output.decode("utf-8", "replace")
    data = parse_probe(output)
    if done.returncode != 0 or data is None:
        tail = "\n".join(output.strip().splitlines()[-5:])
        raise ActivationError(
            f"python did not run in the activated environment {act.prefix} "
            f"(exit code {done.returncode}): {tail or 'no output'}",
            hint="The environment may be incomplete; run again with --force to rebuild it.",
        )
    return check(data, act.prefix, python, tools)
