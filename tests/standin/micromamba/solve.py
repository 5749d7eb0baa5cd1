"""The pool and the solver, and the "could not solve" explanation (contract 6.3)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .specs import MatchSpec, version_key


@dataclass
class Pool:
    records: list[dict[str, Any]]
    priority: str = "flexible"

    def by_name(self, name: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r["name"] == name]

    def candidates(self, spec: MatchSpec) -> list[dict[str, Any]]:
        named = self.by_name(spec.name)
        if spec.channel:
            named = [r for r in named if r["channel"].rstrip("/").endswith(spec.channel)]
        if self.priority == "strict" and named:
            best = min(r["_channel_index"] for r in named)
            named = [r for r in named if r["_channel_index"] == best]
        found = [r for r in named if spec.matches(r)]

        def order(r: dict[str, Any]) -> tuple[Any, ...]:
            rank = (version_key(str(r["version"])), int(r.get("build_number", 0)))
            channel = 0 if self.priority == "disabled" else -int(r["_channel_index"])
            return (channel, *rank)

        return sorted(found, key=order, reverse=True)


def implied_depends(record: Mapping[str, Any]) -> list[str]:
    """A record's dependencies as the solver sees them: micromamba adds ``pip`` to
    python's (``add_pip_as_python_dependency``, on by default), not to the record."""
    depends = [str(d) for d in record.get("depends", [])]
    return [*depends, "pip"] if record["name"] == "python" else depends


def solve(pool: Pool, specs: list[MatchSpec],
          installed: Mapping[str, dict[str, Any]] | None = None) -> list[dict[str, Any]] | None:
    """A solution for ``specs``, starting from ``installed`` records (kept when they match:
    ``install`` into an existing prefix), in dependency order."""
    budget = [20000]

    def search(chosen: dict[str, dict[str, Any]],
               pending: list[MatchSpec]) -> dict[str, dict[str, Any]] | None:
        budget[0] -= 1
        if budget[0] < 0:
            return None
        if not pending:
            return chosen
        spec, rest = pending[0], pending[1:]
        if spec.name.startswith("__"):
            return search(chosen, rest)
        if spec.name in chosen:
            return search(chosen, rest) if spec.matches(chosen[spec.name]) else None
        for record in pool.candidates(spec):
            deps = [MatchSpec.parse(d) for d in implied_depends(record)]
            result = search({**chosen, spec.name: record}, rest + deps)
            if result is not None:
                return result
        return None

    solution = search(dict(installed or {}), list(specs))
    return None if solution is None else topological(solution)


def topological(chosen: Mapping[str, dict[str, Any]]) -> list[dict[str, Any]]:
    ordered: list[dict[str, Any]] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen or name not in chosen:
            return
        seen.add(name)
        for dep in chosen[name].get("depends", []):  # python before pip, as 2.8.1 links
            visit(MatchSpec.parse(dep).name)
        ordered.append(chosen[name])

    for name in sorted(chosen):
        visit(name)
    return ordered


def first_missing(pool: Pool, spec: MatchSpec, depth: int = 0) -> str:
    """The display of the first dependency (recursively) that no record provides."""
    candidates = pool.candidates(spec)
    if not candidates:
        return spec.display()
    if depth < 5:
        for dep in implied_depends(candidates[0]):
            dep_spec = MatchSpec.parse(dep)
            found = "" if dep_spec.name.startswith("__") else first_missing(pool, dep_spec,
                                                                            depth + 1)
            if found:
                return found
    return ""


def explain_unsat(pool: Pool, specs: list[MatchSpec]) -> str:
    if not pool.by_name("pip") and any(pool.by_name(s.name) for s in specs) and any(
            first_missing(pool, s) == "pip =* *" for s in specs):
        # the implied pip dependency is reported as a root of its own, as 2.8.1 does
        return ("The following package could not be installed\n"
                "└─ pip =* * does not exist (perhaps a typo or a missing channel).")
    lines = ["The following package could not be installed" if len(specs) == 1
             else "The following packages are incompatible"]
    for index, spec in enumerate(specs):
        last = index == len(specs) - 1
        branch, end, pad = ("└─", ".", "   ") if last else ("├─", ";", "│  ")
        missing = first_missing(pool, spec)
        if not pool.candidates(spec):
            lines.append(f"{branch} {spec.display()} does not exist (perhaps a typo or a "
                         f"missing channel){end}")
        elif missing:
            lines.append(f"{branch} {spec.display()} is not installable because it requires")
            lines.append(f"{pad}└─ {missing}, which does not exist (perhaps a missing "
                         f"channel){end}")
        elif len(specs) > 1:
            lines.append(f"{branch} {spec.display()} is requested and can be installed{end}")
        else:
            lines.append(f"{branch} {spec.display()} is not installable because it conflicts "
                         f"with any installable versions required by your environment{end}")
    return "\n".join(lines)
