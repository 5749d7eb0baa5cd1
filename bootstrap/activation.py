"""Activation computed by mambaboot (DESIGN section 4), following micromamba's rules
(contract section 4) without ``shell init``, ``shell hook`` or ``activate``.

``variables`` is a pure function of (prefix, platform, base environment, prefix variables,
a probe for what exists on disk); ``Activation.load`` does the reading around it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath, PureWindowsPath

from bootstrap import environ
from bootstrap.platform import Platform

Probe = Callable[[PurePath], bool]
UNSET = "***unset***"
_POSIX_SYSTEM_DIRS = {"/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin",
                      "/usr/local/sbin"}
_SHIM_MARKERS = (".pyenv/shims", ".pyenv/versions", ".asdf/shims", "pyenv-win/shims",
                 "pyenv-win/versions")


def default_env_name(prefix: PurePath) -> str:
    """``CONDA_DEFAULT_ENV``: the folder name under an ``envs`` folder, else the full path."""
    return prefix.name if prefix.parent.name == "envs" else str(prefix)


def is_system_dir(entry: PurePath, platform: Platform, base: Mapping[str, str]) -> bool:
    """Folders of the operating system stay on PATH even when they hold a python."""
    if platform.is_windows:
        system_root = PureWindowsPath(environ.get(base, "SystemRoot", platform) or r"C:\Windows")
        return entry == system_root or system_root in entry.parents
    return str(entry) in _POSIX_SYSTEM_DIRS


def foreign_env_dir(entry: PurePath, platform: Platform, exists: Probe) -> str | None:
    """Why ``entry`` belongs to another Python environment, or None if it does not."""
    text = entry.as_posix().lower() if platform.is_windows else entry.as_posix()
    if any(marker in text for marker in _SHIM_MARKERS):
        return "pyenv/asdf shims"
    for folder in (entry, *list(entry.parents)[:3]):
        if exists(folder / "conda-meta"):
            return f"conda environment {folder}"
    if exists(entry.parent / "pyvenv.cfg"):
        return f"virtualenv {entry.parent}"
    if platform.is_windows:
        for folder in (entry, entry.parent):
            if exists(folder / "python.exe") and exists(folder / "Lib"):
                return f"Python installation {folder}"
    return None


def clean_path(value: str, platform: Platform, base: Mapping[str, str],
               exists: Probe) -> list[str]:
    """The baseline PATH without entries of other environments, empties or duplicates."""
    kept: list[str] = []
    for raw in value.split(platform.pathsep):
        text = raw.strip().strip('"') if platform.is_windows else raw
        if not text:
            continue
        entry = platform.path(text)
        if not is_system_dir(entry, platform, base) and foreign_env_dir(entry, platform, exists):
            continue
        key = text.lower() if platform.is_windows else text
        if key not in {k.lower() if platform.is_windows else k for k in kept}:
            kept.append(text)
    return kept


def default_path(platform: Platform, base: Mapping[str, str]) -> str:
    """The PATH a shell would assume when none is set (``env -i``, a stripped service)."""
    if platform.is_windows:
        root = environ.get(base, "SystemRoot", platform) or r"C:\Windows"
        return ";".join([rf"{root}\System32", root, rf"{root}\System32\Wbem",
                         rf"{root}\System32\WindowsPowerShell\v1.0"])
    return "/usr/local/bin:/usr/bin:/bin"


def variables(prefix: PurePath, platform: Platform, base: Mapping[str, str],
              prefix_vars: Mapping[str, str], exists: Probe) -> dict[str, str]:
    """The variables an activated child gets on top of its scrubbed base environment."""
    base_path = environ.get(base, "PATH", platform) or default_path(platform, base)
    path = [str(p) for p in platform.prefix_path_dirs(prefix)]
    path += [e for e in clean_path(base_path, platform, base, exists) if e not in path]
    name = default_env_name(prefix)
    out = {k.upper(): v for k, v in prefix_vars.items() if v != UNSET}
    out.update({
        "PATH": platform.pathsep.join(path),
        "CONDA_PREFIX": str(prefix),
        "CONDA_SHLVL": "1",
        "CONDA_DEFAULT_ENV": name,
        "CONDA_PROMPT_MODIFIER": f"({name}) ",
        "MAMBA_ROOT_PREFIX": str(prefix),
        "PYTHONNOUSERSITE": "1",
    })
    if platform.is_windows:  # as micromamba's own `run` does (contract 4.2)
        out.update({"PYTHONUTF8": "1", "PYTHONIOENCODING": "utf-8"})
    return out


def read_prefix_vars(prefix: Path) -> tuple[dict[str, str], list[str]]:
    """``etc/conda/env_vars.d/*`` in name order, then ``conda-meta/state`` (contract 4.3).

    Returns the variables (keys upper-cased, later files win) and warnings for files
    that could not be read, which are skipped as micromamba skips them.
    """
    found: dict[str, str] = {}
    warnings: list[str] = []
    folder = prefix / "etc" / "conda" / "env_vars.d"
    files = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    for path in files:
        found.update(_json_vars(path, None, warnings))
    state = prefix / "conda-meta" / "state"
    if state.is_file():
        found.update(_json_vars(state, "env_vars", warnings))
    return found, warnings


def _json_vars(path: Path, key: str | None, warnings: list[str]) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if key is not None:
            data = data.get(key, {}) if isinstance(data, dict) else None
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as err:
        warnings.append(f"Could not read JSON at {path}: {err}; its variables are skipped.")
        return {}
    return {str(k).upper(): str(v) for k, v in data.items()}


def activate_scripts(prefix: Path, platform: Platform) -> list[Path]:
    """``etc/conda/activate.d/*<ext>`` for this platform's shell, sorted by path."""
    folder = prefix / "etc" / "conda" / "activate.d"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix == platform.activate_d_suffix)


@dataclass(frozen=True)
class Activation:
    """A computed activation: the child environment and the activate.d scripts to run."""

    prefix: Path
    env: dict[str, str]
    scripts: list[Path]
    warnings: list[str]

    @classmethod
    def load(cls, prefix: Path, platform: Platform, base: Mapping[str, str]) -> Activation:
        prefix_vars, warnings = read_prefix_vars(prefix)
        applied = variables(prefix, platform, base, prefix_vars, _disk_probe)
        env = environ.child_env(base, platform, applied)
        return cls(prefix, env, activate_scripts(prefix, platform), warnings)


def _disk_probe(path: PurePath) -> bool:
    return Path(path).exists()

