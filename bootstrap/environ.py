"""Child-process environments: one scrubber, then what the caller applies.

Nothing here reads or writes ``os.environ``; the base mapping is always passed in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePath, PureWindowsPath

from bootstrap import frozen
from bootstrap.platform import Platform

# Inherited settings that would steer a child to another Python or conda (DESIGN 3.4, 4).
_SCRUB_PREFIXES = ("CONDA_", "MAMBA_", "PYTHON", "_CE_", "__CONDA_SHLVL_")
_SCRUB_NAMES = ("CONDARC", "MAMBARC", "VIRTUAL_ENV", "VIRTUAL_ENV_PROMPT", "PYENV_VERSION")
# What the reference script refuses to start with, plus the obvious relatives: --strict.
STRICT_VARIABLES = ("CONDA_PREFIX", "CONDA_SHLVL", "CONDA_DEFAULT_ENV", "PYTHONHOME",
                    "PYTHONPATH", "PYTHON_ENVS", "VIRTUAL_ENV", "CONDARC", "MAMBARC")


def _scrubbed(name: str) -> bool:
    upper = name.upper()
    return upper.startswith(_SCRUB_PREFIXES) or upper in _SCRUB_NAMES


# Read by mambaboot itself (the reference script's package cache), so not "ignored".
USED_VARIABLES = ("CONDA_PKGS_DIRS",)


def yaml_quoted(value: str) -> str:
    """``value`` as one single-quoted YAML scalar. micromamba reads its list variables as a
    YAML flow list (``CONDA_PKGS_DIRS``: ``YAML::Load("[" + value + "]")``), so a bare
    folder name with ``,`` splits in two and one with `` #`` or ``[`` breaks it."""
    return "'" + value.replace("'", "''") + "'"


# one item of a YAML flow list: 'single' ('' for a quote), "double" (backslash escapes), or
# plain up to the next comma
_LIST_ITEM = re.compile(r"""\s*('(?:[^']|'')*'|"(?:[^"\\]|\\.)*"|[^,]*)\s*(?:,|$)""")


def yaml_list(value: str) -> list[str]:
    """The entries of a list variable as micromamba reads it (see ``yaml_quoted``)."""
    items = []
    for match in _LIST_ITEM.finditer(value.strip()):
        item = match.group(1).strip()
        if item[:1] == "'" and len(item) > 1:
            item = item[1:-1].replace("''", "'")
        elif item[:1] == '"' and len(item) > 1:
            item = re.sub(r"\\(.)", r"\1", item[1:-1])
        items.append(item)
    return [item for item in items if item]


def inherited_variables(env: Mapping[str, str]) -> list[str]:
    """Python/conda variables of the parent that mambaboot will not pass on (sorted)."""
    return sorted(k for k, v in env.items()
                  if v and _scrubbed(k) and k.upper() not in USED_VARIABLES)


def strict_offenders(env: Mapping[str, str], platform: Platform) -> list[str]:
    """The inherited variables ``--strict`` refuses to run with."""
    names = {k.upper() if platform.env_case_insensitive else k: k for k, v in env.items() if v}
    return [names[v] for v in STRICT_VARIABLES if v in names]


def get(env: Mapping[str, str], name: str, platform: Platform) -> str | None:
    """Look a variable up, ignoring case on Windows (``Path`` versus ``PATH``)."""
    if name in env:
        return env[name]
    if platform.env_case_insensitive:
        upper = name.upper()
        for key, value in env.items():
            if key.upper() == upper:
                return value
    return None


def put(env: dict[str, str], name: str, value: str, platform: Platform) -> None:
    """Set a variable, replacing every case variant on Windows so only one spelling remains."""
    if platform.env_case_insensitive:
        for key in [k for k in env if k.upper() == name.upper()]:
            del env[key]
    env[name] = value


def child_env(base: Mapping[str, str], platform: Platform,
              apply: Mapping[str, str] | None = None) -> dict[str, str]:
    """Scrub ``base`` (loader variables, Python/conda leftovers), then apply ``apply``."""
    env = {k: v for k, v in frozen.loader_free_env(base).items() if not _scrubbed(k)}
    for name, value in (apply or {}).items():
        put(env, name, value, platform)
    return env


def profile_home(profile: PurePath) -> PurePath:
    """micromamba's HOME (and USERPROFILE) inside mambaboot's private profile folder."""
    return profile / "home"


def environments_txt(profile: PurePath) -> PurePath:
    """The ``.conda/environments.txt`` micromamba keeps there: mambaboot's private one."""
    return profile_home(profile) / ".conda" / "environments.txt"


def profile_redirect(profile: PurePath, platform: Platform) -> dict[str, str]:
    """HOME and friends for micromamba's own process, all inside ``profile`` (DESIGN 3.4).

    micromamba appends to ``~/.conda/environments.txt`` on every create with no switch to
    stop it (mamba#2783), and writes ``%APPDATA%\\mamba`` / ``%LOCALAPPDATA%\\mamba``; the only
    way to keep the user's profile clean is to give the process another one.
    """
    home = profile_home(profile)
    values: dict[str, PurePath | str] = {
        "HOME": home,
        "XDG_CONFIG_HOME": profile / "xdg" / "config",
        "XDG_DATA_HOME": profile / "xdg" / "data",
        "XDG_CACHE_HOME": profile / "xdg" / "cache",
        "XDG_STATE_HOME": profile / "xdg" / "state",
        "TMPDIR": profile / "tmp",
    }
    if platform.is_windows:
        values.update({
            "USERPROFILE": home,
            "APPDATA": home / "AppData" / "Roaming",
            "LOCALAPPDATA": home / "AppData" / "Local",
            "TEMP": profile / "tmp",
            "TMP": profile / "tmp",
            # HOMEDRIVE + HOMEPATH is the home folder too (Git, MSYS, older tools)
            "HOMEDRIVE": PureWindowsPath(home).drive,
            "HOMEPATH": str(home)[len(PureWindowsPath(home).drive):],
        })
    return {k: str(v) for k, v in values.items()}
