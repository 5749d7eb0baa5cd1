"""The receipt ``PREFIX/conda-meta/mambaboot/receipt.json`` (bootstrap.receipt): stages,
resuming, the inputs digest, and atomic saving."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bootstrap import __version__, receipt
from bootstrap.receipt import DONE, FAILED, RUNNING, STAGES, Receipt

INPUTS: dict[str, Any] = {"python": "3.12", "specs": ["python=3.12", "conda"],
                          "channels": ["conda-forge"], "file": None, "file_sha256": None,
                          "subdir": "win-64"}


def done_receipt(prefix: Path, *stages: str) -> Receipt:
    r = Receipt(prefix, dict(INPUTS))
    for stage in stages:
        r.mark(stage, RUNNING)
        r.mark(stage, DONE, seconds=1.5)
    return r


def test_receipt_lives_in_its_own_folder_inside_conda_meta(tmp_path: Path) -> None:
    # not conda-meta/*.json: conda reads every one of those as a package record
    path = receipt.receipt_path(tmp_path)
    assert path == tmp_path / "conda-meta" / "mambaboot" / "receipt.json"
    done_receipt(tmp_path, "create").save()
    assert list((tmp_path / "conda-meta").glob("*.json")) == []
    assert path.is_file()


def test_stages_run_in_the_documented_order() -> None:
    assert STAGES == ("create", "finish", "verify", "scripts")


def test_new_receipt_is_incomplete_and_starts_at_create(tmp_path: Path) -> None:
    r = Receipt(tmp_path, dict(INPUTS))
    assert not r.complete
    assert r.first_unfinished() == "create"
    assert r.stage_state("create") is None


def test_progress_through_the_stages(tmp_path: Path) -> None:
    r = done_receipt(tmp_path, "create", "finish")
    assert r.first_unfinished() == "verify"
    assert not r.complete
    r = done_receipt(tmp_path, *STAGES)
    assert r.complete
    assert r.first_unfinished() is None


def test_a_running_or_failed_stage_is_unfinished(tmp_path: Path) -> None:
    r = done_receipt(tmp_path, "create")
    r.mark("finish", RUNNING)
    assert r.first_unfinished() == "finish"
    r.mark("finish", FAILED, error="boom")
    assert r.stage_state("finish") == FAILED
    assert r.stages["finish"]["error"] == "boom"
    assert r.first_unfinished() == "finish"


def test_resume_order_follows_stages_not_completion_order(tmp_path: Path) -> None:
    r = done_receipt(tmp_path, "verify", "scripts", "create")
    assert r.first_unfinished() == "finish"


def test_mark_running_clears_old_records_and_done_keeps_the_start(tmp_path: Path) -> None:
    r = Receipt(tmp_path, dict(INPUTS))
    r.mark("create", FAILED, error="old")
    r.mark("create", RUNNING)
    assert "error" not in r.stages["create"]
    assert "started" in r.stages["create"]
    r.mark("create", DONE, seconds=2.0)
    assert r.stages["create"]["state"] == DONE
    assert r.stages["create"]["seconds"] == 2.0
    assert {"started", "finished"} <= set(r.stages["create"])


def test_reopen_marks_a_stage_to_run_again_and_keeps_script_records(tmp_path: Path) -> None:
    r = done_receipt(tmp_path, *STAGES)
    r.scripts["10-a.bat"] = {"state": DONE, "sha256": "x"}
    r.reopen("scripts")
    assert not r.complete
    assert r.first_unfinished() == "scripts"
    assert r.scripts == {"10-a.bat": {"state": DONE, "sha256": "x"}}
    r.reopen("never-there")
    assert r.first_unfinished() == "scripts"


def test_inputs_key_is_stable_and_sensitive() -> None:
    reordered = dict(reversed(list(INPUTS.items())))
    assert receipt.inputs_key(INPUTS) == receipt.inputs_key(reordered)
    assert len(receipt.inputs_key(INPUTS)) == 64
    changed = {**INPUTS, "python": "3.11"}
    assert receipt.inputs_key(changed) != receipt.inputs_key(INPUTS)
    more = {**INPUTS, "specs": [*INPUTS["specs"], "numpy"]}
    assert receipt.inputs_key(more) != receipt.inputs_key(INPUTS)


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    r = done_receipt(tmp_path, "create", "finish")
    r.micromamba = {"version": "2.3.0-1", "sha256": "ab" * 32}
    r.scripts["10-a.bat"] = {"state": DONE, "code": 0}
    r.save()
    data = json.loads(receipt.receipt_path(tmp_path).read_text(encoding="utf-8"))
    assert data["format"] == 1
    assert data["mambaboot"] == __version__
    assert data["prefix"] == str(tmp_path)
    assert data["complete"] is False
    assert data["inputs"] == INPUTS
    assert data["inputs_key"] == receipt.inputs_key(INPUTS)
    loaded = Receipt.load(tmp_path)
    assert loaded is not None
    assert loaded.inputs == INPUTS
    assert loaded.key == r.key
    assert loaded.micromamba == r.micromamba
    assert loaded.stages == r.stages
    assert loaded.scripts == r.scripts
    assert loaded.created == r.created
    assert loaded.recorded_prefix == str(tmp_path)
    assert loaded.first_unfinished() == "verify"


def test_a_loaded_complete_receipt_is_complete(tmp_path: Path) -> None:
    done_receipt(tmp_path, *STAGES).save()
    loaded = Receipt.load(tmp_path)
    assert loaded is not None
    assert loaded.complete
    data = json.loads(receipt.receipt_path(tmp_path).read_text(encoding="utf-8"))
    assert data["complete"] is True


def test_a_moved_prefix_remembers_where_it_was_recorded(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    done_receipt(old, "create").save()
    old.rename(new)
    loaded = Receipt.load(new)
    assert loaded is not None
    assert loaded.prefix == new
    assert loaded.recorded_prefix == str(old)


@pytest.mark.parametrize("content", [
    "", "{broken", "[]", '"text"', json.dumps({"format": 2, "inputs": {}}),
    json.dumps({"inputs": {}}),
])
def test_unreadable_or_foreign_receipts_load_as_none(tmp_path: Path, content: str) -> None:
    path = receipt.receipt_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(content, encoding="utf-8")
    assert Receipt.load(tmp_path) is None


def test_missing_receipt_loads_as_none(tmp_path: Path) -> None:
    assert Receipt.load(tmp_path) is None
    assert Receipt.load(tmp_path / "absent") is None


def test_write_json_atomic_replaces_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "state.json"
    receipt.write_json_atomic(target, {"a": 1})
    receipt.write_json_atomic(target, {"a": 2, "text": "Zoë"})
    assert json.loads(target.read_text(encoding="utf-8")) == {"a": 2, "text": "Zoë"}
    assert target.read_text(encoding="utf-8").endswith("\n")
    assert [p.name for p in target.parent.iterdir()] == ["state.json"]


def test_write_json_atomic_keeps_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "state" / "state.json"
    receipt.write_json_atomic(target, {"good": True})
    with pytest.raises(TypeError):
        receipt.write_json_atomic(target, {"bad": object()})
    assert json.loads(target.read_text(encoding="utf-8")) == {"good": True}
    assert [p.name for p in target.parent.iterdir()] == ["state.json"]
