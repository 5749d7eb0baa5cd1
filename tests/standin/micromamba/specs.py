"""Versions and MatchSpec, the YAML subset and spec files (-f: environment.yml, explicit
and text files) (contract 2.2).
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .common import MambaError


def _yaml_lines(text: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if line.strip() and line.strip() != "---":
            out.append((len(line) - len(line.lstrip()), line.strip()))
    return out


_FLOW_ITEM = re.compile(r"""\s*('(?:[^']|'')*'|"(?:[^"\\]|\\.)*"|[^,]*)\s*(?:,|$)""")


def _yaml_scalar(text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    if text.startswith("[") and text.endswith("]"):
        return yaml_flow_list(text[1:-1])
    return text


def yaml_flow_list(text: str) -> list[Any]:
    """The items of a YAML flow list without its brackets, as libmamba reads a list
    variable (``YAML::Load("[" + value + "]")``): a quoted item may hold commas."""
    items = [m.group(1) for m in _FLOW_ITEM.finditer(text) if m.group(1).strip()]
    return [_yaml_scalar(item) for item in items]


def _yaml_block(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[Any, int]:
    if lines[i][1].startswith("- ") or lines[i][1] == "-":
        items: list[Any] = []
        while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("-"):
            item = lines[i][1][1:].strip()
            i += 1
            nested = i < len(lines) and lines[i][0] > indent
            if item.endswith(":") and nested:
                value, i = _yaml_block(lines, i, lines[i][0])
                items.append({item[:-1].strip(): value})
            elif not item and nested:
                value, i = _yaml_block(lines, i, lines[i][0])
                items.append(value)
            else:
                items.append(_yaml_scalar(item))
        return items, i
    mapping: dict[str, Any] = {}
    while i < len(lines) and lines[i][0] == indent and not lines[i][1].startswith("- "):
        key, _, rest = lines[i][1].partition(":")
        i += 1
        if rest.strip():
            mapping[_yaml_scalar(key)] = _yaml_scalar(rest)
        elif i < len(lines) and (lines[i][0] > indent or lines[i][1].startswith("- ")):
            mapping[_yaml_scalar(key)], i = _yaml_block(lines, i, lines[i][0])
        else:
            mapping[_yaml_scalar(key)] = None
    return mapping, i


def parse_yaml(text: str) -> dict[str, Any]:
    lines = _yaml_lines(text)
    if not lines:
        return {}
    value, _ = _yaml_block(lines, 0, lines[0][0])
    if not isinstance(value, dict):
        raise ValueError("not a mapping")
    return value


# --------------------------------------------------------------------------- versions, specs


def _atoms(component: str) -> list[tuple[int, Any]]:
    atoms: list[tuple[int, Any]] = []
    for atom in re.findall(r"\d+|[a-z]+|\*", component.lower()):
        if atom.isdigit():
            atoms.append((1, int(atom)))
        elif atom == "post":
            atoms.append((2, 0))
        else:
            atoms.append((-1 if atom == "dev" else 0, atom))
    return atoms or [(1, 0)]


def version_key(version: str) -> tuple[tuple[tuple[int, Any], ...], ...]:
    version = version.split("+", 1)[0]
    epoch, _, version = version.rpartition("!")
    parts = [[(1, int(epoch or 0))]] + [_atoms(c) for c in re.split(r"[._-]", version)]
    parts += [[(1, 0)]] * (8 - len(parts))
    return tuple(tuple(p + [(1, 0)] * (3 - len(p))) for p in parts)


def version_components(version: str) -> list[str]:
    return [c for c in re.split(r"[._-]", version.lower()) if c]


def version_matches(spec: str, version: str) -> bool:
    spec = spec.strip()
    if spec in ("", "*", "=*"):
        return True
    if "|" in spec:
        return any(version_matches(s, version) for s in spec.split("|"))
    if "," in spec:
        return all(version_matches(s, version) for s in spec.split(","))
    match = re.fullmatch(r"(>=|<=|==|!=|~=|>|<|=)?(.*)", spec)
    op, value = (match.group(1), match.group(2)) if match else (None, spec)
    star = value.endswith(".*") or value.endswith("*")
    value = value.rstrip("*").rstrip(".")
    if op in (None, "=") and (star or op == "="):
        return version_components(version)[: len(version_components(value))] == \
            version_components(value)
    if op == "!=" and star:
        return not version_matches(f"={value}", version)
    if op == "~=":
        return version_matches(f">={value}", version) and version_matches(
            "=" + ".".join(version_components(value)[:-1]), version)
    have, want = version_key(version), version_key(value)
    return {None: have == want, "==": have == want, "!=": have != want, ">=": have >= want,
            "<=": have <= want, ">": have > want, "<": have < want}[op]


@dataclass(frozen=True)
class MatchSpec:
    raw: str
    name: str
    version: str = ""
    build: str = ""
    channel: str = ""

    @classmethod
    def parse(cls, raw: str) -> MatchSpec:
        text = raw.strip()
        channel = ""
        if "::" in text:
            channel, text = text.split("::", 1)
        extra: dict[str, str] = {}
        if "[" in text and text.endswith("]"):
            text, _, inner = text[:-1].partition("[")
            extra = dict(re.findall(r"(\w+)\s*=\s*['\"]?([^'\",\]]+)['\"]?", inner))
        match = re.match(r"^\s*([^\s=<>!~]+)\s*(.*)$", text)
        if not match:
            raise MambaError(f"Invalid spec: '{raw}'")
        name, rest = match.group(1), match.group(2).strip()
        version, build = "", ""
        if " " in rest:
            version, build = rest.split(None, 1)
        elif rest.startswith("=") and not rest.startswith("=="):
            version, _, build = rest[1:].partition("=")
            version = "=" + version if version and "*" not in version else version
        else:
            version = rest
        return cls(raw, name.lower(), extra.get("version", version), extra.get("build", build),
                   channel)

    def matches(self, record: Mapping[str, Any]) -> bool:
        if record.get("name") != self.name:
            return False
        if self.version and not version_matches(self.version, str(record.get("version"))):
            return False
        return not self.build or fnmatch.fnmatchcase(str(record.get("build")), self.build)

    def display(self) -> str:
        version = self.version or "=*"
        if version.endswith(".*") and version[0].isdigit():
            version = "=" + version[:-2]
        return f"{self.name} {version} {self.build or '*'}"


def dist_name(rec: Mapping[str, Any]) -> str:
    return f"{rec['name']}-{rec['version']}-{rec['build']}"


def archive_stem(fn: str) -> str:
    for ext in (".tar.bz2", ".conda"):
        if fn.endswith(ext):
            return fn[: -len(ext)]
    raise MambaError("Unknown package format.", f"Unknown package format '{fn}'")


@dataclass
class SpecFiles:
    specs: list[str] = field(default_factory=list)
    explicit: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    name: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    pip: list[str] = field(default_factory=list)
    platform: str = ""


def file_kind(path: str) -> str:
    if re.search(r"-lock\.ya?ml$", path):
        return "conda-lock"
    if path.endswith((".yml", ".yaml")):
        return "yaml"
    return "json-lock" if path.endswith(".json") else "text"


def read_yaml_spec(path: str, out: SpecFiles) -> None:
    data = parse_yaml(Path(path).read_text(encoding="utf-8"))
    out.name = out.name or str(data.get("name") or "")
    out.channels += [str(c) for c in data.get("channels") or []]
    for dep in data.get("dependencies") or []:
        if isinstance(dep, dict) and "pip" in dep:
            out.pip += [str(p) for p in dep["pip"] or []]
        else:
            out.specs.append(str(dep))
    variables = data.get("variables") or {}
    if isinstance(variables, dict):
        out.variables.update({str(k): "" if v is None else str(v) for k, v in variables.items()})


def read_text_spec(path: str, out: SpecFiles) -> None:
    text = Path(path).read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines()]
    if not any(lines):
        raise MambaError(f"Got an empty file: {path}")
    explicit = any(line.startswith("@EXPLICIT") for line in lines)
    for line in lines:
        if line.startswith("# platform:"):
            out.platform = line.split(":", 1)[1].strip()
        if not line or line.startswith(("#", "@")):
            continue
        (out.explicit if explicit else out.specs).append(line)


def read_spec_files(paths: list[str]) -> SpecFiles:
    out = SpecFiles()
    kinds = {file_kind(p) for p in paths}
    if len(kinds) > 1:
        raise MambaError("found multiple spec file types, all spec files must be of same format")
    for path in paths:
        if not os.path.isfile(path):
            raise MambaError("Aborting.", f"File not found: '{path}'")
        kind = file_kind(path)
        if kind == "yaml":
            read_yaml_spec(path, out)
        elif kind == "text":
            read_text_spec(path, out)
        else:
            raise MambaError(f"stand-in: {kind} files are not simulated ('{path}')")
    return out


def explicit_record(line: str) -> dict[str, Any]:
    url, _, digest = line.partition("#")
    fn = url.rstrip("/").rsplit("/", 1)[-1]
    stem = archive_stem(fn)
    try:
        name, version, build = stem.rsplit("-", 2)
    except ValueError:
        raise MambaError(f"Invalid package filename in explicit spec: '{url}'") from None
    parent = url.rsplit("/", 1)[0]
    record: dict[str, Any] = {
        "name": name, "version": version, "build": build, "fn": fn, "url": url,
        "channel": parent.rsplit("/", 1)[0], "_requested": url, "_explicit": True}
    if digest.startswith("sha256:"):
        record["sha256"] = digest[7:]
    elif digest:
        record["md5"] = digest.removeprefix("md5:")
    return record
