"""Computing an activation: PATH, variables, activate.d scripts and their rendering
per shell (contract 4.1-4.4).
"""

from __future__ import annotations

import json
import os
import random
import string
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .common import SHELLS, log, quoted
from .config import Ctx, explicit_root


def prefix_path_dirs(prefix: str) -> list[str]:
    if os.name == "nt":
        return [prefix] + [os.path.join(prefix, *p.split("/")) for p in (
            "Library/mingw-w64/bin", "Library/usr/bin", "Library/bin", "Scripts", "bin")]
    return [os.path.join(prefix, "bin")]


def prefix_env_vars(prefix: str) -> dict[str, str]:
    out: dict[str, str] = {}
    folder = Path(prefix, "etc", "conda", "env_vars.d")
    sources = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    state = Path(prefix, "conda-meta", "state")
    for path in [*sources, state] if state.is_file() else sources:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            data = data.get("env_vars", {}) if path == state else data
        except (ValueError, OSError):
            log("warning", f"Could not read JSON at {path}")
            continue
        if isinstance(data, dict):
            out.update({str(k).upper(): str(v) for k, v in data.items()})
    return {k: v for k, v in out.items() if v != "***unset***"}


def default_env_name(prefix: str, root: str) -> str:
    if prefix == root:
        return "base"
    if os.path.basename(os.path.dirname(prefix)) == "envs":
        return os.path.basename(prefix)
    return prefix


def dedupe_adjacent(items: list[str]) -> list[str]:
    return [item for i, item in enumerate(items) if i == 0 or items[i - 1] != item]


@dataclass
class Activation:
    exports: list[tuple[str, str]] = field(default_factory=list)
    unsets: list[str] = field(default_factory=list)
    ps1: str | None = None
    scripts: list[str] = field(default_factory=list)
    deactivate_scripts: list[str] = field(default_factory=list)


def scripts_in(prefix: str, kind: str, ext: str, reverse: bool = False) -> list[str]:
    folder = Path(prefix, "etc", "conda", kind)
    if not folder.is_dir():
        return []
    found = [str(p) for p in folder.iterdir() if p.suffix == ext]
    return sorted(found, reverse=reverse)


def activate(prefix: str, root: str, environ: Mapping[str, str], ext: str,
             stack: bool = False, changeps1: bool = True) -> Activation:
    act = Activation()
    old_shlvl = int(environ.get("CONDA_SHLVL") or 0)
    old_prefix = environ.get("CONDA_PREFIX", "") if old_shlvl > 0 else ""
    path = [p for p in environ.get("PATH", environ.get("Path", "")).split(os.pathsep) if p]
    for key, value in prefix_env_vars(prefix).items():
        if key in environ:
            act.exports.append((f"__CONDA_SHLVL_{old_shlvl}_{key}", environ[key]))
        act.exports.append((key, value))
    new_dirs, shlvl = prefix_path_dirs(prefix), old_shlvl + 1
    if old_prefix == prefix:
        shlvl = old_shlvl
        path = [p for p in path if p not in new_dirs]
    elif old_prefix and not stack:
        path = [p for p in path if p not in prefix_path_dirs(old_prefix)]
        act.deactivate_scripts = scripts_in(old_prefix, "deactivate.d", ext, reverse=True)
    if not any(p.endswith("condabin") for p in path):
        path.insert(0, os.path.join(root, "condabin") if root else os.sep + "condabin")
    act.exports.append(("PATH", os.pathsep.join(dedupe_adjacent(new_dirs + path))))
    if old_prefix and old_prefix != prefix:
        act.exports.append((f"CONDA_PREFIX_{old_shlvl}", old_prefix))
        if stack:
            act.exports.append((f"CONDA_STACKED_{shlvl}", "true"))
    name = default_env_name(prefix, root)
    act.exports += [("CONDA_PREFIX", prefix), ("CONDA_SHLVL", str(shlvl)),
                    ("CONDA_DEFAULT_ENV", name)]
    if changeps1:
        modifier = f"({name}) "
        act.exports.append(("CONDA_PROMPT_MODIFIER", modifier))
        old_ps1 = environ.get("PS1", "")
        old_ps1 = old_ps1.removeprefix(environ.get("CONDA_PROMPT_MODIFIER", "") or "\0")
        act.ps1 = None if "POWERLINE_COMMAND" in old_ps1 else modifier + old_ps1
    else:
        act.unsets.append("CONDA_PROMPT_MODIFIER")
    act.scripts = scripts_in(prefix, "activate.d", ext)
    return act


def deactivate(environ: Mapping[str, str], ext: str) -> Activation:
    act = Activation()
    shlvl = int(environ.get("CONDA_SHLVL") or 0)
    prefix = environ.get("CONDA_PREFIX", "")
    if shlvl <= 0 or not prefix:
        return act
    path = [p for p in environ.get("PATH", "").split(os.pathsep)
            if p and p not in prefix_path_dirs(prefix)]
    act.deactivate_scripts = scripts_in(prefix, "deactivate.d", ext, reverse=True)
    act.unsets = list(prefix_env_vars(prefix))
    previous = environ.get(f"CONDA_PREFIX_{shlvl - 1}", "")
    act.exports.append(("PATH", os.pathsep.join(path)))
    if previous:
        act.exports += [("CONDA_PREFIX", previous), ("CONDA_SHLVL", str(shlvl - 1))]
        act.unsets.append(f"CONDA_PREFIX_{shlvl - 1}")
    else:
        act.unsets += ["CONDA_PREFIX", "CONDA_DEFAULT_ENV", "CONDA_PROMPT_MODIFIER"]
        act.exports.append(("CONDA_SHLVL", "0"))
    act.ps1 = environ.get("PS1", "").removeprefix(environ.get("CONDA_PROMPT_MODIFIER", "") or
                                                  "\0")
    return act


SCRIPT_EXT = {"bash": ".sh", "zsh": ".sh", "posix": ".sh", "dash": ".sh", "xonsh": ".sh",
              "cmd.exe": ".bat", "powershell": ".ps1", "fish": ".fish", "tcsh": ".csh",
              "nu": ".nu"}


def render(shell: str, act: Activation) -> str:
    lines: list[str] = []
    if shell in ("bash", "zsh", "posix", "dash"):
        lines += [f". {quoted(s)}" for s in act.deactivate_scripts]
        lines += [f"unset {v}" for v in act.unsets]
        lines += [f"PS1='{act.ps1}'"] if act.ps1 is not None else []
        lines += [f"export {k}='{v}'" for k, v in act.exports]
        lines += [f". {quoted(s)}" for s in act.scripts]
    elif shell == "cmd.exe":
        lines += [f"@CALL {quoted(s)}" for s in act.deactivate_scripts]
        lines += [f"@SET {v}=" for v in act.unsets]
        lines += [f'@SET "{k}={v}"' for k, v in act.exports]
        lines += [f"@CALL {quoted(s)}" for s in act.scripts]
    elif shell == "powershell":
        lines += [f". {quoted(s)}" for s in act.deactivate_scripts]
        lines += [f'$Env:{v} = ""' for v in act.unsets]
        lines += [f'$Env:{k} = "{v}"' for k, v in act.exports]
        lines += [f". {quoted(s)}" for s in act.scripts]
    elif shell == "fish":
        lines += [f"set -e {v}" for v in act.unsets]
        lines += [f'set -gx {k} "{v}"' for k, v in act.exports]
        lines += [f"source {quoted(s)}" for s in act.scripts]
    elif shell == "tcsh":
        lines += [f"unsetenv {v};" for v in act.unsets]
        lines += [f"set prompt='{act.ps1}';"] if act.ps1 is not None else []
        lines += [f'setenv {k} "{v}";' for k, v in act.exports]
        lines += [f"source {quoted(s)};" for s in act.scripts]
    elif shell == "xonsh":
        lines += [f"del ${v}" for v in act.unsets]
        lines += [f'${k} = "{v}"' for k, v in act.exports]
        lines += [f"source-bash --suppress-skip-message -n {quoted(s)}" for s in act.scripts]
    else:  # nu
        lines += [f"hide-env {v}" for v in act.unsets]
        lines += [f'$env.{k} = "{v}"' for k, v in act.exports]
    return "\n".join(lines) + ("\n" if lines else "")


def emit_activation(shell: str, act: Activation) -> None:
    text = render(shell, act)
    if shell != "cmd.exe":
        sys.stdout.write(text)
        return
    suffix = "".join(random.choice(string.ascii_letters + string.digits) for _ in range(10))
    path = os.path.join(tempfile.gettempdir(), f"mamba_act{suffix}.bat")
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
    sys.stdout.write(path)


def detect_shell() -> str:
    name = os.path.basename(os.environ.get("SHELL", "bash"))
    return name if name in SHELLS else "bash"


def activation_root(ctx: Ctx) -> str:
    return explicit_root(ctx)


def changeps1(ctx: Ctx) -> bool:
    return ctx.flag("changeps1", default=True)
