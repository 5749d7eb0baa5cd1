"""``env export``, ``env list``, ``list`` and ``info`` (contract 2.5, 2.6)."""

from __future__ import annotations

import contextlib
import json
import os
import platform as _platform
import re
import sys
from pathlib import Path
from typing import Any

from .channels import configured_channels
from .common import MambaError, cfg, quoted
from .config import Ctx, home_dir, host_platform, load_config, pkgs_dirs, root_prefix, target_prefix
from .create import print_json
from .specs import MatchSpec, dist_name, parse_yaml

RECORD_DEFAULTS = {"name": "", "version": "", "build": "", "build_number": 0, "channel": "",
                   "url": "", "subdir": "", "fn": "", "md5": "", "sha256": "", "depends": []}


def prefix_records(prefix: str) -> list[dict[str, Any]]:
    """conda-meta/*.json, one record per name, sorted by name (PrefixData's std::map).

    Like PackageInfo::from_json, any JSON file is accepted and missing keys default to empty
    values: a non-package file in conda-meta becomes a record named "".
    """
    by_name: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(prefix, "conda-meta").glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, OSError) as exc:
            raise MambaError(f"[json.exception.parse_error] {path}: {exc}") from None
        record = {**RECORD_DEFAULTS, **(data if isinstance(data, dict) else {})}
        by_name[str(record["name"])] = record
    return [by_name[name] for name in sorted(by_name)]


def sorted_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """PrefixData::sorted_records (libmamba 2.8.1): nodes in name order, each emitted after
    its dependencies (post-order DFS over the predecessors of dependency -> dependent
    edges); a ``python -> pip`` dependency edge is flipped, as libmamba does."""
    ordered = sorted(records, key=lambda r: str(r["name"]))
    index = {str(r["name"]): i for i, r in enumerate(ordered)}
    needs: list[list[int]] = [[] for _ in ordered]
    for i, record in enumerate(ordered):
        for dep in record.get("depends") or []:
            j = index.get(MatchSpec.parse(str(dep)).name)
            if j is None or j in needs[i]:
                continue
            needer, needed = (j, i) if (record["name"], ordered[j]["name"]) == (
                "python", "pip") else (i, j)  # pip comes after python
            needs[needer].append(needed)
    emitted: list[int] = []
    seen: set[int] = set()

    def visit(node: int) -> None:
        seen.add(node)
        for dependency in needs[node]:
            if dependency not in seen:
                visit(dependency)
        emitted.append(node)

    for node in range(len(ordered)):
        if node not in seen:
            visit(node)
    return [ordered[i] for i in emitted]


def existing_env(ctx: Ctx, root: str) -> str:
    prefix = target_prefix(ctx, root, fallback=True)
    if not os.path.isdir(prefix):
        raise MambaError("Aborting.", f"No prefix found at: {prefix}\n"
                                      "Environment must first be created with "
                                      "\"micromamba create -n {env_name} ...\"")
    if not os.path.isdir(os.path.join(prefix, "conda-meta")):
        raise MambaError("Aborting.", f"Expected environment not found at prefix: {prefix}")
    return prefix


def prefix_platform(ctx: Ctx, prefix: str) -> str:
    rc = Path(prefix, ".mambarc")
    if not ctx.flag("no_rc") and rc.is_file():
        with contextlib.suppress(ValueError, OSError):
            value = parse_yaml(rc.read_text(encoding="utf-8")).get("platform")
            if value:
                return str(value)
    return ctx.value("platform") or host_platform()


def cmd_env_export(ctx: Ctx) -> int:
    root = root_prefix(ctx)
    load_config(ctx, root)
    prefix = existing_env(ctx, root)
    records = prefix_records(prefix)
    if ctx.flag("explicit"):
        lines = ["# This file may be used to create an environment using:",
                 "# $ conda create --name <env> --file <this file>",
                 f"# platform: {prefix_platform(ctx, prefix)}", "@EXPLICIT"]
        md5 = ctx.flag("md5", default=True)
        lines += [f"{r['url']}#{r['md5']}" if md5 else str(r["url"])
                  for r in sorted_records(records)]
        sys.stdout.write("\n".join(lines) + "\n")
        return 0
    name = os.path.basename(prefix) if os.path.dirname(prefix) == os.path.join(root, "envs") \
        else ("base" if prefix == root else "")
    channels = sorted({str(r.get("channel", "")) for r in records})
    deps = [f"{r['name']}={r['version']}" + (f"={r['build']}" if ctx.flag("build", True) else "")
            for r in records]
    if ctx.flag("json"):
        print_json({"channels": channels, "dependencies": deps, "name": name, "prefix": prefix})
        return 0
    out = [f"name: {name}", "channels:", *[f"  - {c}" for c in channels], "dependencies:",
           *[f"  - {d}" for d in deps], "", f"prefix: {quoted(prefix)}"]
    sys.stdout.write("\n".join(out) + "\n")
    return 0


def known_envs(root: str) -> list[str]:
    envs = [root] if os.path.isdir(os.path.join(root, "conda-meta")) else []
    envs_dir = Path(root, "envs")
    if envs_dir.is_dir():
        envs += [str(p) for p in sorted(envs_dir.iterdir()) if (p / "conda-meta").is_dir()]
    env_file = Path(home_dir(), ".conda", "environments.txt")
    if env_file.is_file():
        for line in env_file.read_text(encoding="utf-8").splitlines():
            if line and line not in envs and os.path.isdir(os.path.join(line, "conda-meta")):
                envs.append(line)
    return envs


def cmd_env_list(ctx: Ctx) -> int:
    root = root_prefix(ctx)
    load_config(ctx, root)
    envs = known_envs(root)
    if ctx.flag("json"):
        print_json({"envs": envs})
        return 0
    active = os.environ.get("CONDA_PREFIX", "")
    sys.stdout.write("  Name  Active  Path\n" + "─" * 40 + "\n")
    for env in envs:
        name = "base" if env == root else (os.path.basename(env) if os.path.dirname(env)
                                           == os.path.join(root, "envs") else "")
        sys.stdout.write(f"  {name:<10} {'*' if env == active else ' ':<6} {env}\n")
    return 0


def cmd_list(ctx: Ctx) -> int:
    root = root_prefix(ctx)
    load_config(ctx, root)
    prefix = existing_env(ctx, root)
    pattern = (ctx.positionals("regex") or [""])[0]
    records = [r for r in prefix_records(prefix) if re.search(pattern, str(r.get("name")))]
    if ctx.flag("json"):
        rows = [{"name": r.get("name"), "version": r.get("version"),
                 "build_string": r.get("build"), "build_number": r.get("build_number"),
                 "channel": r.get("channel"), "platform": r.get("subdir"),
                 "dist_name": dist_name(r)} for r in records]
        sys.stdout.write(json.dumps(rows, indent=4) + "\n")
        return 0
    sys.stdout.write(f"List of packages in environment: {quoted(prefix)}\n\n")
    sys.stdout.write("  Name  Version  Build  Channel\n" + "─" * 40 + "\n")
    for r in records:
        sys.stdout.write(f"  {r['name']}  {r['version']}  {r['build']}  {r.get('channel', '')}\n")
    return 0


# --------------------------------------------------------------------------- info


def virtual_packages() -> list[str]:
    out = ["__unix=0=0"]
    if sys.platform.startswith("linux"):
        release = re.match(r"[\d.]+", _platform.release())
        out.append(f"__linux={release.group(0).rstrip('.') if release else '0'}=0")
        libc, version = _platform.libc_ver()
        if libc == "glibc":
            out.append(f"__glibc={version}=0")
    out.append(f"__archspec=1={_platform.machine()}")
    return out


def cmd_info(ctx: Ctx) -> int:
    root = root_prefix(ctx)
    load_config(ctx, root)
    version, platform = str(cfg("version")), ctx.value("platform") or host_platform()
    active = os.environ.get("CONDA_PREFIX", "")
    env = "None" if not active else f"{os.path.basename(active) or active} (active)"
    channels = [f"{c.url}/{s}" for c in configured_channels(ctx, []) for s in (platform, "noarch")]
    items: list[tuple[str, Any]] = [
        ("libmamba version", version), ("micromamba version", version),
        ("curl version", "libcurl/8.14.1 OpenSSL/3.5.1 zlib/1.3.1 zstd/1.5.7"),
        ("libarchive version", "libarchive 3.8.1 zlib/1.3.1 bz2lib/1.0.8 libzstd/1.5.7"),
        ("envs directories", [os.path.join(root, "envs")]),
        ("package cache", pkgs_dirs(ctx, root)), ("environment", env),
        ("env location", active or "-"),
        ("user config files", [os.path.join(home_dir(), ".mambarc")]),
        ("populated config files", ctx.rc_sources), ("virtual packages", virtual_packages()),
        ("channels", channels), ("base environment", root), ("platform", platform)]
    if ctx.flag("json"):
        print_json(dict(items))
        return 0
    width = max(len(k) for k, _ in items) + 1
    lines = [""]
    for key, value in items:
        values = value if isinstance(value, list) else [value]
        lines.append(f"{key:>{width}} : {values[0] if values else ''}")
        lines += [f"{'':>{width}}   {v}" for v in values[1:]]
    sys.stdout.write("\n".join(lines) + "\n\n")
    return 0
