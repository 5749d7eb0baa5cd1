"""Preflight's decision (bootstrap.preflight.verdict) for every prefix state, --force and
inputs combination: mambaboot only removes a prefix it made, never a foreign one, and
updates in place what only differs in its package list."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from bootstrap.preflight import Inspection, PrefixState, verdict
from bootstrap.receipt import DONE, FAILED, RUNNING, STAGES, Receipt

PREFIX = Path("/envs/py_3_12")
INPUTS: dict[str, Any] = {"python": "3.12", "specs": ["python=3.12", "conda", "mamba"],
                          "channels": ["conda-forge"], "file": None, "file_sha256": None,
                          "subdir": "linux-64"}
# another package list: applied in place
OTHER_INPUTS: dict[str, Any] = {**INPUTS, "specs": [*INPUTS["specs"], "numpy"]}
# other channels: cannot be applied in place
REBUILD_INPUTS: dict[str, Any] = {**INPUTS, "channels": ["bioconda"]}
INPUT_KINDS = {"same": INPUTS, "other-specs": OTHER_INPUTS, "other-channels": REBUILD_INPUTS}


def make_receipt(states: dict[str, str], inputs: dict[str, Any] | None = None) -> Receipt:
    r = Receipt(PREFIX, dict(inputs or INPUTS))
    for stage, state in states.items():
        r.mark(stage, RUNNING)
        if state != RUNNING:
            r.mark(stage, state)
    return r


ALL_DONE = dict.fromkeys(STAGES, DONE)
# receipts found at a prefix, by how far the earlier run got
PROGRESS: dict[str, dict[str, str]] = {
    "complete": ALL_DONE,
    "scripts-failed": {**ALL_DONE, "scripts": FAILED},
    "verify-running": {"create": DONE, "finish": DONE, "verify": RUNNING},
    "created-only": {"create": DONE},
    "create-running": {"create": RUNNING},
    "create-failed": {"create": FAILED},
    "nothing": {},
}


def inspection(progress: str, inputs: dict[str, Any]) -> Inspection:
    r = make_receipt(PROGRESS[progress], inputs)
    return Inspection(PrefixState.COMPLETE if r.complete else PrefixState.INCOMPLETE, r)


def expected(progress: str, kind: str, force: bool) -> str:
    """The rules, written out: force rebuilds what we made; an unfinished create starts
    over; a finished create with another package list is updated in place; other changes
    refuse a complete environment and rebuild an unfinished one."""
    if force:
        return "rebuild"
    if progress in ("create-running", "create-failed", "nothing"):
        return "rebuild"
    if kind == "other-specs":
        return "update"
    if kind == "other-channels":
        return "refuse-inputs" if progress == "complete" else "rebuild"
    return "unchanged" if progress == "complete" else "resume"


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("state", [PrefixState.ABSENT, PrefixState.EMPTY])
def test_absent_or_empty_prefix_is_created(state: PrefixState, force: bool) -> None:
    assert verdict(Inspection(state), INPUTS, force) == "create"


@pytest.mark.parametrize("force", [False, True])
def test_foreign_prefix_is_refused_even_with_force(force: bool) -> None:
    found = Inspection(PrefixState.FOREIGN, sample=["python.exe"])
    assert verdict(found, INPUTS, force) == "refuse-foreign"


@pytest.mark.parametrize("force", [False, True])
def test_interrupted_create_is_rebuilt(force: bool) -> None:
    assert verdict(Inspection(PrefixState.INTERRUPTED_CREATE), INPUTS, force) == "rebuild"


@pytest.mark.parametrize(("progress", "kind", "force"),
                         list(itertools.product(PROGRESS, INPUT_KINDS, [False, True])))
def test_prefix_with_our_receipt(progress: str, kind: str, force: bool) -> None:
    found = inspection(progress, INPUT_KINDS[kind])
    assert verdict(found, INPUTS, force) == expected(progress, kind, force)


def test_complete_and_same_is_unchanged() -> None:
    assert verdict(inspection("complete", INPUTS), INPUTS, False) == "unchanged"


def test_complete_with_new_channels_is_refused_not_deleted() -> None:
    assert verdict(inspection("complete", REBUILD_INPUTS), INPUTS, False) == "refuse-inputs"


def test_complete_with_another_package_list_is_updated() -> None:
    assert verdict(inspection("complete", OTHER_INPUTS), INPUTS, False) == "update"


def test_an_interrupted_update_is_taken_up_again() -> None:
    """The receipt keeps the old inputs until micromamba finished: planning again from
    them finishes the update; with the old inputs back, it resumes."""
    receipt = make_receipt(ALL_DONE, OTHER_INPUTS)
    receipt.start_update()
    receipt.mark("update", RUNNING)
    found = Inspection(PrefixState.INCOMPLETE, receipt)
    assert not receipt.complete and receipt.first_unfinished() == "update"
    assert verdict(found, INPUTS, False) == "update"
    assert verdict(found, OTHER_INPUTS, False) == "resume"


def test_inputs_compare_by_content_not_key_order() -> None:
    reordered = dict(reversed(list(INPUTS.items())))
    assert verdict(inspection("complete", INPUTS), reordered, False) == "unchanged"


@pytest.mark.parametrize("change", [
    {"python": "3.11", "specs": ["python=3.11", "conda", "mamba"]}, {"channels": ["bioconda"]},
    {"subdir": "win-64"}, {"specs": ["python=3.12.1", "conda", "mamba"]},
    {"file": "x-lock.yml", "file_sha256": "ab" * 32, "file_kind": "conda-lock", "specs": []},
    {"file": "lock.txt", "file_sha256": "ab" * 32, "file_kind": "explicit", "specs": []}])
def test_changes_that_need_a_new_environment_are_refused(change: dict[str, Any]) -> None:
    assert verdict(inspection("complete", INPUTS), {**INPUTS, **change}, False) \
        == "refuse-inputs"


@pytest.mark.parametrize("change", [
    {"specs": ["python=3.12", "conda"]}, {"specs": ["python=3.12", "conda", "mamba>=2"]},
    {"python": "3.12.4", "specs": ["python=3.12.4", "conda", "mamba"]},
    {"file": "environment.yml", "file_sha256": "ab" * 32, "file_kind": "environment",
     "file_specs": ["numpy"], "file_channels": []}])
def test_changes_of_the_package_list_are_updates(change: dict[str, Any]) -> None:
    assert verdict(inspection("complete", INPUTS), {**INPUTS, **change}, False) == "update"


def test_receipt_state_without_receipt_object_is_rebuilt() -> None:
    assert verdict(Inspection(PrefixState.INCOMPLETE), INPUTS, False) == "rebuild"
