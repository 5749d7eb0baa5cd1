"""Update in place (DESIGN 3.2): what changed between the inputs an environment was made
with and the ones asked for now, whether ``micromamba install``/``remove`` can apply it, and
which packages that means. Pure functions of the inputs and of what ``conda-meta`` holds;
``create.Pipeline`` runs the commands."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bootstrap.inputs import spec_name
from bootstrap.micromamba import install_args, remove_args
from bootstrap.settings import Settings

# Inputs whose change needs a new environment, with what to tell the user.
_REBUILD_ONLY = {
    "channels": "the channels",
    "file_channels": "the channels of the environment file",
    "subdir": "the platform",
}


@dataclass(frozen=True)
class Package:
    """One installed package, from its ``conda-meta/<dist>.json`` record."""

    name: str
    dist: str  # name-version-build
    depends: tuple[str, ...] = ()  # names of what it needs


@dataclass(frozen=True)
class Plan:
    """What an update does: names to remove, then specs (and the environment file) to
    install; or, for a lock, the exact packages to remove and the lock lines to install."""

    install: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    with_file: bool = False  # pass the changed environment.yml to install (-f)
    lock_remove: tuple[str, ...] = ()  # names removed with --force (a lock's exact set)
    lock_install: tuple[str, ...] = ()  # @EXPLICIT lines of packages to add
    kept: tuple[str, ...] = ()  # dropped from the specs, but other packages need them

    @property
    def empty(self) -> bool:
        return not (self.install or self.remove or self.with_file or self.lock_remove
                    or self.lock_install)

    def as_json(self) -> dict[str, Any]:
        return {"install": list(self.install), "remove": list(self.remove),
                "environment_file": self.with_file, "lock_remove": list(self.lock_remove),
                "lock_install": list(self.lock_install), "kept": list(self.kept)}


def python_minor(version: str | None) -> str | None:
    return ".".join(version.split(".")[:2]) if version else None


def blockers(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Why the change from ``old`` to ``new`` inputs cannot be applied in place (empty
    when it can): channels, the Python minor version, the platform, or a kind of lock
    file that mambaboot does not compare."""
    found = [f"{what}: {_show(old.get(key))} -> {_show(new.get(key))}"
             for key, what in _REBUILD_ONLY.items()
             if (old.get(key) or None) != (new.get(key) or None)]
    if python_minor(old.get("python")) != python_minor(new.get("python")):
        found.append(f"the Python version: {_show(old.get('python'))} -> "
                     f"{_show(new.get('python'))}")
    elif old.get("python") == new.get("python") and _python_specs(old) != _python_specs(new):
        # a python spec of its own (--spec, [env] specs, environment.yml) may change the
        # minor version; a patch release of the same PYTHON is installed in place
        found.append(f"the python spec: {_show(_python_specs(old))} -> "
                     f"{_show(_python_specs(new))}")
    old_kind, new_kind = old.get("file_kind"), new.get("file_kind")
    if old_kind != new_kind and "explicit" in (old_kind, new_kind):
        found.append(f"the kind of package list: {_kind(old_kind)} -> {_kind(new_kind)}")
    elif _file_changed(old, new) and "conda-lock" in (old_kind, new_kind):
        found.append(f"the conda-lock file {new.get('file') or old.get('file')} (compared "
                     "only as a whole)")
    elif _file_changed(old, new) and any(
            i.get("file_kind") == "environment" and i.get("file_specs") is None
            for i in (old, new)):
        found.append(f"{new.get('file') or old.get('file')}, whose YAML mambaboot cannot "
                     "compare (it reads block or [flow] lists of 'channels' and "
                     "'dependencies')")
    return found


def _show(value: Any) -> str:
    if value is None or value == []:
        return "none"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _kind(kind: Any) -> str:
    return {"explicit": "an @EXPLICIT lock", "conda-lock": "a conda-lock file",
            "environment": "an environment file"}.get(str(kind), "specs")


def _python_specs(inputs: Mapping[str, Any]) -> list[str]:
    specs = [*inputs.get("specs", []), *(inputs.get("file_specs") or [])]
    return sorted(s for s in specs if spec_name(s) == "python")


def _file_changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    return any(old.get(k) != new.get(k) for k in ("file", "file_sha256"))


def changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What changed, in words: specs added and removed, the environment file."""
    old_specs, new_specs = old.get("specs", []), new.get("specs", [])
    out = []
    added = [s for s in new_specs if s not in old_specs]
    dropped = [s for s in old_specs if s not in new_specs]
    if added:
        out.append("specs added: " + ", ".join(added))
    if dropped:
        out.append("specs removed: " + ", ".join(dropped))
    if _file_changed(old, new):
        out.append(f"{new.get('file') or old.get('file')} changed" if new.get("file")
                   else f"{old.get('file')} no longer used")
    if old.get("python") != new.get("python"):
        out.append(f"python: {_show(old.get('python'))} -> {_show(new.get('python'))}")
    return out or ["the recorded inputs differ"]


def requested(inputs: Mapping[str, Any]) -> dict[str, str]:
    """Package name -> spec, for every spec asked for (the command line, the config and
    an environment file)."""
    specs = [*inputs.get("specs", []), *(inputs.get("file_specs") or [])]
    return {spec_name(s): s for s in specs}


def plan(old: Mapping[str, Any], new: Mapping[str, Any],
         installed: Mapping[str, Package]) -> Plan:
    """The update from ``old`` to ``new`` inputs (``blockers`` must be empty): remove what
    is no longer asked for (unless an installed package still needs it), install what is
    new or asked for differently."""
    before, after = requested(old), requested(new)
    new_specs = [s for s in new.get("specs", []) if s not in old.get("specs", [])]
    with_file = new.get("file_kind") in ("environment", "specs") and _file_changed(old, new)
    dropped = [n for n in before if n not in after and n in installed]
    needed = _needed_by_others(installed, dropped)
    return Plan(install=tuple(new_specs), remove=tuple(n for n in dropped if n not in needed),
                with_file=with_file, kept=tuple(n for n in dropped if n in needed))


def _needed_by_others(installed: Mapping[str, Package], dropped: Iterable[str]) -> set[str]:
    """Dropped names that a package which stays depends on."""
    going = set(dropped)
    return {dep for name, pkg in installed.items() if name not in going
            for dep in pkg.depends if dep in going}


def missing(inputs: Mapping[str, Any], installed: Mapping[str, Package]) -> list[str]:
    """Specs whose package is not installed (a remove took a package that needed it)."""
    return [spec for name, spec in requested(inputs).items() if name not in installed]


def lock_plan(lines: Iterable[str], installed: Mapping[str, Package]) -> Plan:
    """The exact set of an ``@EXPLICIT`` list: packages not in it (or in another version)
    are removed, those missing are installed from their lines."""
    wanted = {dist_of_url(line): line for line in lines}
    names = {spec_name_of_dist(d): d for d in wanted}
    remove = sorted(n for n, pkg in installed.items() if names.get(n) != pkg.dist)
    have = {pkg.dist for pkg in installed.values()}
    add = tuple(line for dist, line in wanted.items() if dist not in have)
    return Plan(lock_remove=tuple(remove), lock_install=add)


def explicit_lines(text: str) -> list[str]:
    """The package URLs of an ``@EXPLICIT`` list (comments and the header left out)."""
    lines = [line.strip() for line in text.splitlines()]
    return [line for line in lines if line and not line.startswith(("#", "@"))]


def dist_of_url(url: str) -> str:
    """``https://.../numpy-2.1.0-py312h1_0.conda#md5`` -> ``numpy-2.1.0-py312h1_0``."""
    name = url.split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    for suffix in (".tar.bz2", ".conda"):
        name = name.removesuffix(suffix)
    return name


def spec_name_of_dist(dist: str) -> str:
    return dist.rsplit("-", 2)[0].lower()


def read_installed(prefix: Path) -> dict[str, Package]:
    """The packages ``conda-meta`` records, by name (unreadable records are skipped:
    micromamba would refuse them the same way)."""
    found: dict[str, Package] = {}
    for path in sorted((prefix / "conda-meta").glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or "name" not in data:
            continue
        name = str(data["name"]).lower()
        depends = tuple(spec_name(str(d)) for d in data.get("depends") or ())
        found[name] = Package(name, path.stem, depends)
    return found


@dataclass
class Outcome:
    """What an update changed, package by package (``name-version-build``)."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @classmethod
    def between(cls, before: Mapping[str, Package], after: Mapping[str, Package]) -> Outcome:
        old = {p.dist for p in before.values()}
        new = {p.dist for p in after.values()}
        return cls(sorted(new - old), sorted(old - new))


def removal_commands(plan_: Plan, settings: Settings) -> list[list[str]]:
    """The ``micromamba remove`` runs of ``plan_``."""
    root = settings.root_dir
    out = []
    if plan_.lock_remove:
        out.append(remove_args(settings, root, plan_.lock_remove, force=True))
    if plan_.remove:
        out.append(remove_args(settings, root, plan_.remove))
    return out


def install_command(plan_: Plan, settings: Settings, lock_file: Path) -> list[str] | None:
    """The ``micromamba install`` of ``plan_`` (None when there is nothing to install):
    the lock lines through ``lock_file``, else the specs (and the changed file)."""
    root = settings.root_dir
    if plan_.lock_install:
        return install_args(settings, root, (), lock_file)
    if not plan_.install and not plan_.with_file:
        return None
    return install_args(settings, root, plan_.install,
                        settings.env_file if plan_.with_file else None)


def write_lock_file(plan_: Plan, path: Path) -> Path:
    path.write_text("@EXPLICIT\n" + "".join(f"{line}\n" for line in plan_.lock_install),
                    encoding="utf-8")
    return path


def apply(plan_: Plan, settings: Settings, new_inputs: Mapping[str, Any], tmp: Path,
          run: Callable[[list[str]], None]) -> tuple[str, ...]:
    """Run ``plan_`` with ``run`` (which raises when micromamba fails); returns the names
    kept because a package installed by this update needs them.

    A lock: the packages not in it go first (``remove --force``), then the missing ones are
    installed. Specs: the install comes first, so that a dropped package which a new one
    needs is kept rather than removed and installed again; then the removal, judged on
    what is installed now; last, any requested package a removal took along is put back.
    """
    if plan_.lock_install or plan_.lock_remove:
        for args in removal_commands(plan_, settings):
            run(args)
        run(install_args(settings, settings.root_dir, (),
                         write_lock_file(plan_, tmp / "update.txt")))
        return ()
    install = install_command(plan_, settings, tmp / "unused.txt")
    if install is not None:
        run(install)
    now = read_installed(settings.prefix)
    going = [n for n in plan_.remove if n in now]
    needed = _needed_by_others(now, going)
    for args in removal_commands(Plan(remove=tuple(n for n in going if n not in needed)),
                                 settings):
        run(args)
    lost = tuple(missing(new_inputs, read_installed(settings.prefix)))
    if lost:
        run(install_args(settings, settings.root_dir, lost))
    return tuple(n for n in going if n in needed)
