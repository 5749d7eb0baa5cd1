"""The reliability table's tallies survive the trip from pytest-xdist workers (``make
test-windows`` runs several) to the controller that writes the table."""

from __future__ import annotations

import datetime
import json

from tests.standin import reliability

RUNS = [  # (worker, fault mark, node id, flavour, outcome, examples, contained)
    (0, ("network", "DNS failure"), "t::a[source]", "source", "passed", 0, True),
    (1, ("network", "DNS failure"), "t::a[frozen]", "frozen", "failed", 0, False),
    (1, ("input", "odd paths"), "t::b", "in-process", "passed", 7, None),
    (0, ("input", "odd paths"), "t::c", "in-process", "skipped", 0, None),
]


def test_worker_tallies_merge_into_the_same_table() -> None:
    alone: reliability.Tallies = {}
    workers: list[reliability.Tallies] = [{}, {}]
    for worker, mark, node, flavour, outcome, examples, contained in RUNS:
        for tallies in (alone, workers[worker]):
            reliability.record(tallies, mark, "expected", node_id=node, flavour=flavour,
                               outcome=outcome, examples=examples, contained=contained)
    merged: reliability.Tallies = {}
    for tallies in workers:
        for row in tallies.values():  # through JSON, as execnet carries plain data
            reliability.merge(merged, json.loads(json.dumps(reliability.to_json(row))))
    day = datetime.date(2026, 1, 1)
    assert reliability.markdown(merged.values(), day) == \
        reliability.markdown(alone.values(), day)
    assert merged[("network", "DNS failure")].failed == ["t::a[frozen]"]
