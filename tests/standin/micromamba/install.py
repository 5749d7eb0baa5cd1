"""``micromamba install`` and ``micromamba remove`` on an existing prefix, as observed with
the real 2.8.1 (mambaboot's update in place uses them):

- both need an existing conda prefix: otherwise ``error No prefix found at: P`` /
  ``Environment must first be created with ...`` (or ``Expected environment not found at
  prefix: P``), ``critical Aborting.``, exit 1;
- install keeps what is installed unless a requested spec needs another version (an
  ``Upgrade:``/``Downgrade:`` row pair), pins python to its installed minor (``Pinned
  packages:``), prints ``All requested packages already installed`` when there is nothing
  to do, and links an ``@EXPLICIT`` list as given (already present packages are linked
  again); no activation message;
- remove unlinks the named packages, the packages depending on them, and dependencies no
  longer needed that were never requested (the history's specs); ``--force`` unlinks only
  the named ones (shown as ``name==version=build``); names not installed give ``Failure:
  packages to remove not found in the environment:`` and exit 0 with nothing removed;
- both append a history entry (also when nothing changed): ``-``/``+`` lines, then
  ``# update specs: [...]`` or ``# remove specs: [...]``.
"""

from __future__ import annotations

import contextlib
import datetime
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .channels import configured_channels, load_channels
from .common import CONDA_VERSION, MambaError, prompt, quoted, say
from .config import Ctx, channel_priority, host_platform, load_config, pkgs_dirs, root_prefix
from .create import fetch_all, human_size, install_pip, print_json, write_state
from .export import existing_env, prefix_records
from .link import link_package
from .solve import Pool, explain_unsat, implied_depends, solve
from .specs import MatchSpec, dist_name, explicit_record, read_spec_files, version_key

Row = tuple[str, dict[str, Any]]  # ("+" or "-", record)


def cmd_install(ctx: Ctx) -> int:
    root = root_prefix(ctx)
    load_config(ctx, root)
    files = read_spec_files(ctx.many("file"))
    prefix = existing_env(ctx, root)
    specs = ctx.positionals("specs") + files.specs
    installed = {str(r["name"]): r for r in prefix_records(prefix)}
    if files.explicit:
        link = [explicit_record(line) for line in files.explicit]
        unlink: list[dict[str, Any]] = []
        specs = [f"{r['name']}=={r['version']}={r['build']}" for r in link]
    else:
        link, unlink = solve_install(ctx, prefix, specs, files.channels, installed)
    sections = _install_sections(link, unlink)
    if not sections:
        _header(prefix)
        say("  All requested packages already installed\n\n")
    else:
        _table(prefix, "Updating specs", specs, sections)
    if ctx.flag("dry_run"):
        say("Dry run. Not executing the transaction.")
    elif ctx.flag("yes") or prompt("Confirm changes", "y"):
        _transaction(ctx, prefix, root, link, unlink)
        history(prefix, link, unlink, "update", specs)
        write_state(ctx, prefix, files.variables)
        install_pip(ctx, prefix, files.pip)
    if ctx.flag("json"):
        print_json(_json(prefix, link, unlink, ctx.flag("dry_run")))
    return 0


def solve_install(ctx: Ctx, prefix: str, specs: list[str], file_channels: list[str],
                  installed: Mapping[str, dict[str, Any]]
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What to link and unlink: the installed packages stay unless a spec asks otherwise."""
    pkgs = pkgs_dirs(ctx, root_prefix(ctx))
    records = load_channels(ctx, configured_channels(ctx, file_channels), host_platform(), pkgs)
    pool = Pool(records, channel_priority(ctx))
    wanted = [MatchSpec.parse(s) for s in specs]
    keep = {name: rec for name, rec in installed.items()
            if not any(s.name == name and not s.matches(rec) for s in wanted)}
    pins = []
    if "python" in installed and ctx.flag("py_pin", True):
        minor = ".".join(str(installed["python"]["version"]).split(".")[:2])
        pins = [MatchSpec.parse(f"python={minor}")]
        say(f"\nPinned packages:\n\n  - python={minor}\n")
    say("Resolving Environment\n")
    solution = solve(pool, wanted + pins, installed=keep)
    if solution is None:
        raise MambaError("Could not solve for environment specs",
                         "Could not solve for environment specs\n" + explain_unsat(pool, wanted))
    have = {dist_name(r) for r in installed.values()}
    requested = {s.name: s.raw for s in wanted}
    link = [r for r in solution if dist_name(r) not in have]
    for record in link:
        record["_requested"] = requested.get(str(record["name"]), "")
    names = {str(r["name"]) for r in link}
    unlink = [r for name, r in installed.items() if name in names]
    return link, unlink


def cmd_remove(ctx: Ctx) -> int:
    root = root_prefix(ctx)
    load_config(ctx, root)
    prefix = existing_env(ctx, root)
    installed = {str(r["name"]): r for r in prefix_records(prefix)}
    names = [MatchSpec.parse(s).name for s in ctx.positionals("specs")]
    if ctx.flag("all"):
        names = sorted(installed)
    absent = [n for n in names if n not in installed]
    if absent:
        _header(prefix)
        say("  Failure: packages to remove not found in the environment:\n")
        for name in absent:
            say(f"  - {name}")
        say("\n\nTransaction starting\n\nTransaction finished\n")
        history(prefix, [], [], "remove", ctx.positionals("specs"))
        return 0
    if ctx.flag("force"):
        unlink = [installed[n] for n in names]
        specs = [f"{r['name']}=={r['version']}={r['build']}" for r in unlink]
    else:
        unlink = removal_set(prefix, installed, names, ctx.flag("prune_deps", True))
        specs = ctx.positionals("specs")
    _table(prefix, "Removing specs", specs, [("Remove", [("-", r) for r in unlink])])
    if ctx.flag("dry_run"):
        say("Dry run. Not executing the transaction.")
    elif ctx.flag("yes") or prompt("Confirm changes", "y"):
        _transaction(ctx, prefix, root, [], unlink)
        history(prefix, [], unlink, "remove", specs)
    if ctx.flag("json"):
        print_json(_json(prefix, [], unlink, ctx.flag("dry_run")))
    return 0


def removal_set(prefix: str, installed: Mapping[str, dict[str, Any]], names: list[str],
                prune: bool) -> list[dict[str, Any]]:
    """The named packages, what depends on them, then (``prune``) dependencies that nothing
    left needs and that were never requested; dependents first, as micromamba unlinks."""
    going = set(names)
    changed = True
    while changed:  # dependents of what goes, go too
        changed = False
        for name, record in installed.items():
            if name not in going and _depends_on(record, going):
                going.add(name)
                changed = True
    if prune:
        requested = requested_names(prefix) - going
        changed = True
        while changed:
            changed = False
            staying = [r for n, r in installed.items() if n not in going]
            needed = {MatchSpec.parse(d).name for r in staying  # python needs pip
                      for d in implied_depends(r)}
            for name in installed:
                if name not in going and name not in requested and name not in needed:
                    going.add(name)
                    changed = True
    order = {name: i for i, name in enumerate(installed)}
    chosen = [installed[n] for n in sorted(going, key=lambda n: order[n])]
    return sorted(chosen, key=lambda r: -_depth(r, installed))


def _depends_on(record: Mapping[str, Any], names: set[str]) -> bool:
    return any(MatchSpec.parse(str(d)).name in names for d in record.get("depends") or [])


def _depth(record: Mapping[str, Any], installed: Mapping[str, dict[str, Any]],
           seen: frozenset[str] = frozenset()) -> int:
    """How many levels of installed dependencies lie below ``record``."""
    deps = [MatchSpec.parse(str(d)).name for d in record.get("depends") or []]
    below = [_depth(installed[d], installed, seen | {str(record["name"])})
             for d in deps if d in installed and d not in seen]
    return 1 + max(below, default=0)


def requested_names(prefix: str) -> set[str]:
    """Package names the history's ``# update specs`` asked for (minus later removals)."""
    names: set[str] = set()
    path = Path(prefix, "conda-meta", "history")
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    for line in text.splitlines():
        for key, add in (("# update specs: ", True), ("# remove specs: ", False)):
            if line.startswith(key):
                found = {MatchSpec.parse(s.strip().strip('"')).name
                         for s in line[len(key):].strip("[]").split(",") if s.strip()}
                names = names | found if add else names - found
    return names


def _transaction(ctx: Ctx, prefix: str, root: str, link: list[dict[str, Any]],
                 unlink: list[dict[str, Any]]) -> None:
    say("\nTransaction starting")
    if link:
        fetch_all(ctx, link, pkgs_dirs(ctx, root)[0])
    for record in unlink:
        say(f"Unlinking {dist_name(record)}")
        unlink_installed(record, prefix)
    for record in link:
        say(f"Linking {dist_name(record)}")
        link_package(ctx, record, prefix, root, native=True)
    say("\nTransaction finished\n")


def unlink_installed(record: Mapping[str, Any], prefix: str) -> None:
    """Remove a package's files (from its conda-meta record), the folders left empty, and
    the record itself."""
    paths = [str(p["_path"]) for p in (record.get("paths_data") or {}).get("paths", [])] \
        or [str(p) for p in record.get("files") or []]
    for rel in paths:
        target = Path(prefix, rel)
        with contextlib.suppress(OSError):
            target.unlink()
        for parent in target.parents:
            if parent == Path(prefix) or not str(parent).startswith(prefix):
                break
            try:
                parent.rmdir()
            except OSError:
                break
    with contextlib.suppress(OSError):
        Path(prefix, "conda-meta", f"{dist_name(record)}.json").unlink()


def history(prefix: str, link: Iterable[Mapping[str, Any]],
            unlink: Iterable[Mapping[str, Any]], kind: str, specs: list[str]) -> None:
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    lines = [f"==> {now} <==", f"# cmd: {' '.join(sys.argv)}", f"# conda version: {CONDA_VERSION}"]
    lines += [f"-{r['channel']}/{r['subdir']}::{dist_name(r)}" for r in unlink]
    lines += [f"+{r['channel']}/{r['subdir']}::{dist_name(r)}" for r in link]
    lines.append(f"# {kind} specs: [" + ", ".join(quoted(s) for s in specs) + "]")
    with Path(prefix, "conda-meta", "history").open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def _install_sections(link: list[dict[str, Any]], unlink: list[dict[str, Any]]
                      ) -> list[tuple[str, list[Row]]]:
    old = {str(r["name"]): r for r in unlink}
    upgrade: list[Row] = []
    downgrade: list[Row] = []
    install: list[Row] = []
    for record in sorted(link, key=lambda r: str(r["name"])):
        before = old.get(str(record["name"]))
        if before is None:
            install.append(("+", record))
            continue
        newer = version_key(str(record["version"])) >= version_key(str(before["version"]))
        (upgrade if newer else downgrade).extend([("-", before), ("+", record)])
    sections = [("Install", install), ("Upgrade", upgrade), ("Downgrade", downgrade)]
    return [(title, rows) for title, rows in sections if rows]


def _header(prefix: str) -> None:
    say("\nTransaction\n")
    say(f"  Prefix: {prefix}\n")


def _table(prefix: str, heading: str, specs: list[str],
           sections: list[tuple[str, list[Row]]]) -> None:
    _header(prefix)
    say(f"  {heading}:\n")
    for spec in specs:
        say(f"   - {spec}")
    say("\n")
    rows = [[(f"{sign} {r['name']}", str(r["version"]), str(r["build"]),
              str(r.get("channel", "")).rsplit("://", 1)[-1],
              human_size(int(r.get("size") or 0))) for sign, r in section]
            for _, section in sections]
    header = ("Package", "Version", "Build", "Channel", "Size")
    flat = [header, *(row for group in rows for row in group)]
    widths = [max(len(row[i]) for row in flat) for i in range(5)]
    line = "─" * (sum(widths) + 14)
    say("  " + "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for (title, _), group in zip(sections, rows, strict=True):
        say(f"{line}\n  {title}:\n{line}\n")
        for row in group:
            say("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    say("\n  Summary:\n")
    for title, section in sections:
        count = sum(sign == "+" for sign, _ in section) if title != "Remove" else len(section)
        say(f"  {title}: {count} packages")
    total = sum(int(r.get("size") or 0) for title, s in sections for sign, r in s
                if sign == "+" and title != "Remove")
    say(f"\n  Total download: {human_size(total)}\n\n{line}\n")


def _json(prefix: str, link: list[dict[str, Any]], unlink: list[dict[str, Any]],
          dry_run: bool) -> dict[str, Any]:
    def clean(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if not k.startswith("_")
                 and k not in ("paths_data", "files")} for r in records]

    return {"actions": {"LINK": clean(link), "UNLINK": clean(unlink), "PREFIX": prefix},
            "dry_run": dry_run, "prefix": prefix, "success": True}
