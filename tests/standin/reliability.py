"""The reliability table (docs/reliability.md): what the fault suite tried and what happened.

``tests/conftest.py`` feeds it one ``record`` per finished test marked
``fault(category, description, expect=...)``; every ``Containment.check`` a test made adds to
the containment row. The text depends only on the tests that ran, their outcomes, the case
counts they reported, and the date.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

CATEGORIES = ("network", "integrity", "tls", "proxy", "interruption", "concurrency", "input",
              "containment", "security")
CONTAINMENT = ("containment", "files written outside the prefix, the cache, the log and "
                              "mambaboot's own temp folder",
               "nothing: HOME, the working directory and TMPDIR are unchanged after each "
               "process-level scenario")
FLAVOURS = ("source", "frozen", "in-process", "real")


@dataclass
class FaultTally:
    """One row of the table."""

    category: str
    fault: str
    expect: str
    runs: Counter[str] = field(default_factory=Counter)
    passed: int = 0
    skipped: int = 0
    examples: int = 0
    failed: list[str] = field(default_factory=list)

    def add(self, node_id: str, flavour: str, outcome: str, examples: int) -> None:
        if outcome == "skipped":
            self.skipped += 1
            return
        self.runs[flavour] += 1
        self.examples += examples
        if outcome == "passed":
            self.passed += 1
        else:
            self.failed.append(node_id)


Tallies = dict[tuple[str, str], FaultTally]


def to_json(row: FaultTally) -> dict[str, object]:
    """One row as plain data (a pytest-xdist worker sends it to the controller)."""
    return {"category": row.category, "fault": row.fault, "expect": row.expect,
            "runs": dict(row.runs), "passed": row.passed, "skipped": row.skipped,
            "examples": row.examples, "failed": list(row.failed)}


def merge(tallies: Tallies, data: dict[str, Any]) -> None:
    """Add a row that :func:`to_json` made to ``tallies``."""
    key = (str(data["category"]), str(data["fault"]))
    row = tallies.setdefault(key, FaultTally(key[0], key[1], str(data["expect"])))
    row.runs.update(dict(data["runs"]))
    row.passed += int(data["passed"])
    row.skipped += int(data["skipped"])
    row.examples += int(data["examples"])
    row.failed += [str(n) for n in data["failed"]]


def record(tallies: Tallies, mark_args: tuple[object, ...], expect: str, *, node_id: str,
           flavour: str, outcome: str, examples: int, contained: bool | None) -> None:
    """Count one finished test (and its containment checks, if it made any)."""
    category, fault = str(mark_args[0]), str(mark_args[1])
    row = tallies.setdefault((category, fault), FaultTally(category, fault, expect))
    row.add(node_id, flavour, outcome, examples)
    if contained is not None:
        box = tallies.setdefault(CONTAINMENT[:2], FaultTally(*CONTAINMENT))
        box.add(node_id, flavour, "passed" if contained else "failed", 0)


@dataclass
class RealRuns:
    """Outcomes of the tests that ran against the real micromamba (marker ``conformance``,
    and tests/test_contract.py), per test function and side (stand-in or real)."""

    version: str = ""
    outcomes: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, test: str, side: str, outcome: str) -> None:
        self.outcomes.setdefault(test, Counter())[f"{side} {outcome}"] += 1


def real_section(runs: RealRuns) -> list[str]:
    """What was verified with the real micromamba: one row per test function."""
    real = Counter(outcome.split()[1] for c in runs.outcomes.values()
                   for outcome in c.elements() if outcome.split()[0] != "standin")
    lines = [
        "", "## Verified with the real micromamba", "",
        f"The tests below ran against the real micromamba {runs.version or '(absent)'} "
        "(`tests/standin/realmm.py`: `MAMBABOOT_REAL_MICROMAMBA`, else "
        "`shared/tools/micromamba/` above the repository), published by the loopback server "
        "as a release download with its `.sha256`, installing a channel of real conda "
        "packages built by the fixtures (`tests/standin/realpkgs.py`: this machine's CPython "
        "made relocatable, pip and packaging as `noarch: python` with entry points, "
        "placeholders in text and binary files, `activate.d`, `env_vars.d`, post-link "
        "scripts). The end-to-end tests run the same assertions against the stand-in; "
        "`tests/test_contract.py` runs identical probes against both binaries and compares "
        "the answers.", "",
        f"Against the real binary: {sum(real.values())} runs, {real['passed']} passed, "
        f"{real['failed']} failed, {real['skipped']} skipped.", "",
        "| test | stand-in | real micromamba |", "|---|---|---|",
    ]
    for test, counts in sorted(runs.outcomes.items()):
        cells = [_side(counts, "standin"), _side(counts, "real")]
        lines.append(f"| {test} | {cells[0]} | {cells[1]} |")
    return lines


def _side(counts: Counter[str], side: str) -> str:
    ran = {k.split()[1]: n for k, n in counts.items() if k.split()[0] == side}
    if not ran:
        return "-"
    total = sum(n for o, n in ran.items() if o != "skipped")
    text = f"{ran.get('passed', 0)}/{total}" if total else "skipped"
    return text if not ran.get("failed") else f"**{text}, FAILED**"


def markdown(tallies: Iterable[FaultTally], day: datetime.date,
             real: RealRuns | None = None) -> str:
    """The table: one row per fault, in category order, then in collection order."""
    order = {name: i for i, name in enumerate(CATEGORIES)}
    rows = sorted(tallies, key=lambda t: order.get(t.category, len(order)))
    runs = sum(sum(t.runs.values()) for t in rows)
    passed = sum(t.passed for t in rows)
    lines = [
        "# Reliability: faults tried, and what happened", "",
        f"Generated by `make test` on {day.isoformat()} from the fault suite's own run (tests "
        "marked `fault`, see `tests/standin/reliability.py`); do not edit by hand.", "",
        f"{len(rows)} faults, {runs} runs, {passed} passed, {runs - passed} failed, "
        f"{sum(t.examples for t in rows)} generated cases.", "",
        "*source* runs `python -m bootstrap` as a process, *frozen* the PyInstaller "
        "executable `dist/mambaboot`, *in-process* calls bootstrap's functions directly; all "
        "three with the stand-in micromamba. *real* runs mambaboot (from source) with the "
        "real micromamba instead (see the last section). Exit codes are those of the "
        "README.", "",
        "| category | fault | tried | passed | what happened |",
        "|---|---|---|---|---|",
    ]
    for t in rows:
        tried = ", ".join(f"{f} {t.runs[f]}" for f in FLAVOURS if t.runs[f])
        tried += f"; {t.examples} cases" if t.examples else ""
        tried += f"; {t.skipped} skipped" if t.skipped else ""
        what = t.expect if not t.failed else \
            f"**FAILED** ({_failed_tests(t.failed)}); expected: {t.expect}"
        cells = [t.category, t.fault, tried or "-", f"{t.passed}/{sum(t.runs.values())}", what]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    if real is not None and real.outcomes:
        lines += real_section(real)
    return "\n".join(lines) + "\n"


def _failed_tests(node_ids: list[str]) -> str:
    """``test_x [a, b], test_y`` from node ids, in order."""
    by_test: dict[str, list[str]] = {}
    for node_id in node_ids:
        name, _, param = node_id.split("::")[-1].partition("[")
        by_test.setdefault(name, []).append(param.removesuffix("]"))
    return ", ".join(name + (f" [{', '.join(p for p in params if p)}]" if any(params) else "")
                     for name, params in by_test.items())
