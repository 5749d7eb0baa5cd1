"""Reading ``mambaboot.toml``: syntax, known keys, types, and the line each key sits on."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bootstrap.errors import ConfigError

CONFIG_NAME = "mambaboot.toml"

# table -> key -> expected type ("str", "list", "bool", "table" of str -> str)
SCHEMA: dict[str, dict[str, str]] = {
    "env": {
        "name": "str",
        "python": "str",
        "specs": "list",
        "channels": "list",
        "file": "str",
        "prefix": "str",
        "envs_dir": "str",
        "always_copy": "bool",
    },
    "micromamba": {"version": "str", "url": "str", "sha256": "str"},
    "cache": {"dir": "str"},
    "scripts": {"dir": "str"},
    "network": {"allow_http": "bool", "ca_bundle": "str", "offline": "bool"},
    "copy": {"*": "str"},
}

_TYPE_NAMES = {"str": "a string", "list": "a list of strings", "bool": "true or false"}


@dataclass(frozen=True)
class ConfigFile:
    """A parsed and type-checked config file. Values are keyed ``(table, key)``."""

    path: Path
    values: dict[tuple[str, str], Any] = field(default_factory=dict)
    tables: frozenset[str] = frozenset()  # tables present in the file, even empty ones
    text: str = ""

    def where(self, table: str, key: str) -> str:
        """``FILE, line N: [table] key`` for messages about a value."""
        line = line_of(self.text, table, key)
        return f"{self.path}" + (f", line {line}" if line else "") + f": [{table}] {key}"

    @property
    def folder(self) -> Path:
        return self.path.parent

    def get(self, table: str, key: str) -> Any:
        return self.values.get((table, key))

    def table(self, table: str) -> dict[str, Any]:
        return {k: v for (t, k), v in self.values.items() if t == table}


def find_config(candidates: list[Path]) -> Path | None:
    """The first existing ``mambaboot.toml`` among the candidate folders."""
    for folder in candidates:
        path = folder / CONFIG_NAME
        if path.is_file():
            return path
    return None


def load(path: Path) -> ConfigFile:
    """Parse and validate ``path``; every problem is a ConfigError naming key, file and line."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # Notepad may add a BOM
    except FileNotFoundError:
        raise ConfigError(
            f"Config file not found: {path}",
            hint="Check the path given to --config, or remove the option to use the defaults.",
        ) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"Cannot read config file {path}: {err}") from err
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(
            f"{path}: invalid TOML: {err}",
            hint='Fix the syntax at that line (strings need quotes; lists look like ["a", "b"]).',
        ) from err
    return ConfigFile(path, _validate(path, text, data), frozenset(data), text)


def _validate(path: Path, text: str, data: dict[str, Any]) -> dict[tuple[str, str], Any]:
    values: dict[tuple[str, str], Any] = {}
    for table, content in data.items():
        if not isinstance(content, dict):
            home = next((t for t, keys in SCHEMA.items() if table in keys), "env")
            raise _error(path, text, None, table,
                         f"key '{table}' is outside any table", f"Put it under [{home}].")
        if table not in SCHEMA:
            raise _error(path, text, table, None, f"unknown table [{table}]", _known(SCHEMA))
        schema = SCHEMA[table]
        for key, value in content.items():
            kind = schema.get(key, schema.get("*"))
            if kind is None:
                raise _error(path, text, table, key, f"unknown key '{key}' in [{table}]",
                             _known(schema))
            if not _has_type(value, kind):
                raise _error(path, text, table, key,
                             f"[{table}] {key} must be {_TYPE_NAMES[kind]}, "
                             f"not {type(value).__name__} {value!r}", "")
            values[(table, key)] = value
    return values


def _known(names: dict[str, Any]) -> str:
    return "Known: " + ", ".join(sorted(n for n in names if n != "*")) + "."


def _has_type(value: Any, kind: str) -> bool:
    if kind == "str":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _error(path: Path, text: str, table: str | None, key: str | None, what: str,
           hint: str) -> ConfigError:
    line = line_of(text, table, key)
    where = f"{path}, line {line}" if line else str(path)
    return ConfigError(f"{where}: {what}", hint=hint or "See docs/config.md for every key.")


def line_of(text: str, table: str | None, key: str | None) -> int | None:
    """1-based line of ``key`` inside ``[table]`` (or of the table header when key is None).

    tomllib reports no positions for valid documents, so this scans the text: good enough
    for the flat tables mambaboot reads, and dotted keys (``env.name = ...``) are matched too.
    """
    current = ""
    key_re = re.compile(r'^\s*(?:"([^"]*)"|\'([^\']*)\'|([A-Za-z0-9_.-]+))\s*=')
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        header = re.match(r"^\[\s*([^\]]+?)\s*\]", stripped)
        if header:
            current = header.group(1).strip().strip('"')
            if key is None and current == table:
                return number
            continue
        match = key_re.match(raw)
        if not match or key is None:
            continue
        name = next(g for g in match.groups() if g is not None)
        if (current == table and name == key) or (current == "" and name == f"{table}.{key}"):
            return number
        if table is None and current == "" and name == key:
            return number
    return None
