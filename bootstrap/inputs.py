"""What decides an environment's content (its "inputs"): recorded in the receipt and in a
bundle, compared to tell a re-run from a different environment, and to plan an update."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bootstrap import checksum
from bootstrap.settings import Settings

_SPEC_END = "=<>!~ ["


def inputs_of(settings: Settings) -> dict[str, Any]:
    """The inputs of ``settings``; a change means a different environment, or an update."""
    env_file = settings.env_file
    inputs: dict[str, Any] = {
        "python": settings.python,
        "specs": list(settings.specs) if not is_explicit(env_file) else [],
        "channels": list(settings.channels),
        # the name, not the path: a stick under another drive letter is the same input
        "file": env_file.name if env_file else None,
        "file_sha256": checksum.sha256_file(env_file) if env_file and env_file.is_file()
        else None,
        "subdir": settings.subdir,
    }
    if env_file is not None and env_file.is_file():
        inputs.update(file_inputs(env_file))
    return inputs


def file_inputs(path: Path) -> dict[str, Any]:
    """The kind of the ``-f`` file and, for an environment.yml or a list of specs, its
    channels and conda specs: an update compares them with the ones recorded (the file
    itself is not kept)."""
    kind = file_kind(path)
    text = path.read_text(encoding="utf-8", errors="replace") \
        if kind in ("environment", "specs") else ""
    if kind == "specs":  # one spec per line, as micromamba reads it
        specs = [line.strip() for line in text.splitlines()
                 if line.strip() and not line.lstrip().startswith("#")]
        return {"file_kind": kind, "file_specs": specs, "file_channels": []}
    if kind != "environment":
        return {"file_kind": kind}
    lists = yaml_lists(text)
    if lists is None:
        return {"file_kind": kind, "file_specs": None, "file_channels": None}
    return {"file_kind": kind, "file_specs": lists.get("dependencies", []),
            "file_channels": lists.get("channels", [])}


def file_kind(path: Path) -> str:
    """As micromamba tells them apart (contract 2.2): ``conda-lock``, ``environment``,
    ``explicit`` or ``specs`` (one spec per line)."""
    if path.name.endswith(("-lock.yml", "-lock.yaml")):
        return "conda-lock"
    if path.suffix in (".yml", ".yaml"):
        return "environment"
    with path.open(encoding="utf-8", errors="replace") as handle:
        return "explicit" if any(line.startswith("@EXPLICIT") for line in handle) else "specs"


def is_explicit(path: Path | None) -> bool:
    """An ``@EXPLICIT`` list or a lock file: micromamba takes no extra specs with it."""
    if path is None or not path.is_file():
        return False
    return file_kind(path) in ("explicit", "conda-lock")


def spec_name(spec: str) -> str:
    """``numpy>=2`` -> ``numpy``; ``conda-forge::NumPy`` -> ``numpy``."""
    spec = spec.strip().rpartition("::")[2]
    end = next((i for i, char in enumerate(spec) if char in _SPEC_END), len(spec))
    return spec[:end].lower()


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(new)
            if old.get(k) != new.get(k)]


def yaml_lists(text: str) -> dict[str, list[str]] | None:
    """The top-level ``channels`` and ``dependencies`` lists of an environment.yml, with
    the conda packages only (a ``- pip:`` item and its list are micromamba's to install).
    None when the file uses YAML beyond what such files use (then nothing is guessed)."""
    out: dict[str, list[str]] = {}
    key: str | None = None
    item_indent: int | None = None
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip() or line.strip() == "---":
            continue
        indent = len(line) - len(line.lstrip(" "))
        body = line.strip()
        if key is not None and body.startswith("- ") and item_indent in (None, indent):
            item_indent = indent
            value = body[2:].strip()
            if not value.endswith(":") and not value.startswith(("{", "[")):
                out[key].append(_unquote(value))
            continue
        if indent > 0:
            continue  # inside a nested list (pip:) or another key's mapping (variables:)
        name, colon, rest = body.partition(":")
        if not colon:
            return None
        key, item_indent = None, None
        if name.strip() in ("channels", "dependencies"):
            if rest.strip().startswith("["):
                out[name.strip()] = [_unquote(v) for v in
                                     rest.strip().strip("[]").split(",") if v.strip()]
            elif rest.strip():
                return None
            else:
                key = name.strip()
                out[key] = []
    return out


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value
