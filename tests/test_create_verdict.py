"""Preflight's decision (bootstrap.create.verdict) for every prefix state, --force and
inputs combination: mambaboot only removes a prefix it made, never a foreign one."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from bootstrap.create import verdict
from bootstrap.preflight import Inspection, PrefixState
from bootstrap.receipt import DONE, FAILED, RUNNING, STAGES, Receipt

PREFIX = Path("/envs/py_3_12")
INPUTS: dict[str, Any] = {"python": "3.12", "specs": ["python=3.12", "conda", "mamba"],
                          "channels": ["conda-forge"], "file": None, "file_sha256": None,
                          "subdir": "linux-64"}
OTHER_INPUTS: dict[str, Any] = {**INPUTS, "specs": [*INPUTS["specs"], "numpy"]}


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


def expected(progress: str, same_inputs: bool, force: bool) -> str:
    """The rules, written out: force rebuilds what we made; other inputs refuse a complete
    environment and rebuild an unfinished one; an unfinished create starts over."""
    if force:
        return "rebuild"
    if not same_inputs:
        return "refuse-inputs" if progress == "complete" else "rebuild"
    if progress in ("create-running", "create-failed", "nothing"):
        return "rebuild"
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


@pytest.mark.parametrize(("progress", "same_inputs", "force"),
                         list(itertools.product(PROGRESS, [True, False], [False, True])))
def test_prefix_with_our_receipt(progress: str, same_inputs: bool, force: bool) -> None:
    found = inspection(progress, INPUTS if same_inputs else OTHER_INPUTS)
    assert verdict(found, INPUTS, force) == expected(progress, same_inputs, force)


def test_complete_and_same_is_unchanged() -> None:
    assert verdict(inspection("complete", INPUTS), INPUTS, False) == "unchanged"


def test_complete_with_new_inputs_is_refused_not_deleted() -> None:
    assert verdict(inspection("complete", OTHER_INPUTS), INPUTS, False) == "refuse-inputs"


def test_inputs_compare_by_content_not_key_order() -> None:
    reordered = dict(reversed(list(INPUTS.items())))
    assert verdict(inspection("complete", INPUTS), reordered, False) == "unchanged"


@pytest.mark.parametrize("change", [{"python": "3.11"}, {"channels": ["bioconda"]},
                                    {"file_sha256": "ab" * 32}, {"subdir": "win-64"}])
def test_any_input_change_counts(change: dict[str, Any]) -> None:
    assert verdict(inspection("complete", INPUTS), {**INPUTS, **change}, False) \
        == "refuse-inputs"


def test_receipt_state_without_receipt_object_is_rebuilt() -> None:
    assert verdict(Inspection(PrefixState.INCOMPLETE), INPUTS, False) == "rebuild"
