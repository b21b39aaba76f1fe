"""RunDiff over RunStates fed with stream events: kinds, pairing, order, and a run still streaming."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dusttui.api.models import parse_event
from dusttui.api.state import RunState
from dusttui.compare import DiffError, RunDiff
from dusttui.compare.report_json import head_json


def ok(value: Any) -> dict[str, Any]:
    return {"value": value, "error": None, "meta": None}


def err(message: str) -> dict[str, Any]:
    return {"value": None, "error": message, "meta": None}


def events(run_id: str, blocks: list[tuple[str, str, list[list[dict[str, Any]]]]]) -> list[dict]:
    """The stream of a run: each block running, its executions, its end; then the run's end."""
    out: list[dict] = [{"type": "run_status", "content": {"status": "running", "run_id": run_id}}]
    failed = False
    for block_type, name, execution in blocks:
        head = {"block_type": block_type, "name": name}
        out.append({"type": "block_status", "content": {**head, "status": "running"}})
        out.append(
            {
                "type": "block_execution",
                "content": {"block_type": block_type, "block_name": name, "execution": execution},
            }
        )
        n_err = sum(1 for row in execution for e in row if e["error"] is not None)
        n_ok = sum(len(row) for row in execution) - n_err
        status = "errored" if n_err else "succeeded"
        failed = failed or bool(n_err)
        out.append(
            {
                "type": "block_status",
                "content": {**head, "status": status, "success_count": n_ok, "error_count": n_err},
            }
        )
    status = "errored" if failed else "succeeded"
    out.append({"type": "run_status", "content": {"status": status, "run_id": run_id}})
    out.append({"type": "final", "content": None})
    return out


def state_of(run_id: str, blocks: list, feed: int | None = None) -> RunState:
    state = RunState(specification_hash="h" * 64)
    for event in events(run_id, blocks)[:feed]:
        state.apply(parse_event(event))
    return state


def state_from_raw(run_id: str, blocks: list) -> RunState:
    """A state fed the stream's JSON text as the stdlib writes it (NaN, lone surrogates kept),
    as the reducer gets it from the wire (validated dicts and their raw text)."""
    state = RunState(specification_hash="h" * 64)
    for event in events(run_id, blocks):
        if event["type"] != "final":
            raw = json.dumps(event).encode()
            state.apply_fast(event["type"], event["content"], None, raw)
    return state


INPUTS = [ok({"id": 1, "q": "a"}), ok({"id": 2, "q": "b"}), ok({"id": 3, "q": "c"})]


def run_a() -> list:
    return [
        ("input", "INPUT", [[e] for e in INPUTS]),
        ("code", "ANSWER", [[ok("A")], [err("boom")], [ok("C")]]),
        ("code", "MORE", [[ok(1), ok(2)], [ok(1)], [ok(1), ok(2), ok(3)]]),
    ]


def run_b() -> list:
    return [
        ("input", "INPUT", [[e] for e in INPUTS]),
        ("code", "ANSWER", [[ok("A")], [ok("B")], [err("bust")]]),
        ("code", "MORE", [[ok(1), ok(20)], [ok(1), ok(2)], [ok(1)]]),
    ]


def test_every_kind_counted_and_listed_changed_first():
    diff = RunDiff(state_of("a", run_a()), state_of("b", run_b()))
    assert diff.counts == {
        "same": 3 + 1 + 3,
        "changed": 1,
        "broken": 1,
        "fixed": 1,
        "only_a": 2,
        "only_b": 1,
        "pending": 0,
    }
    listed = [(d.kind, d.block_name, d.input_a, d.iteration) for d in diff]
    assert listed == [
        ("changed", "MORE", 0, 1),
        ("broken", "ANSWER", 2, 0),
        ("fixed", "ANSWER", 1, 0),
        ("only_a", "MORE", 2, 1),
        ("only_a", "MORE", 2, 2),
        ("only_b", "MORE", 1, 1),
    ]
    assert not diff.equal
    detail = diff.detail(0)
    assert (detail.a, detail.b) == (ok(2), ok(20))
    assert [(c.path, c.a, c.b) for c in detail.changes] == [((), 2, 20)]
    assert detail.input_a == detail.input_b == {"id": 1, "q": "a"}


def test_a_run_against_itself_is_equal():
    diff = RunDiff(state_of("a", run_a()), state_of("a2", run_a()))
    assert diff.equal and len(diff) == 0 and diff.counts["same"] == 12


def test_a_second_run_that_still_streams_is_followed_cheaply():
    a = state_of("a", run_a())
    b = RunState(specification_hash="h" * 64)
    stream = [parse_event(e) for e in events("b", run_b())]
    for event in stream[:4]:  # INPUT done, ANSWER not started
        b.apply(event)
    diff = RunDiff(a, b)
    assert diff.counts["pending"] == 9 and diff.counts["only_a"] == 0
    assert diff.counts["same"] == 3
    kept = diff.blocks[0].compared
    for event in stream[4:7]:  # ANSWER runs and ends
        b.apply(event)
    assert diff.update()
    assert diff.blocks[0].compared is kept  # INPUT did not move: not compared again
    assert diff.counts["pending"] == 6 and diff.counts["fixed"] == 1
    assert not diff.update()  # nothing moved since
    for event in stream[7:]:
        b.apply(event)
    diff.update()
    assert diff.counts == RunDiff(a, b).counts
    assert diff.counts["pending"] == 0


def test_inputs_matched_by_key_when_they_moved():
    shuffled = [
        ("input", "INPUT", [[INPUTS[2]], [INPUTS[0]], [ok({"id": 9, "q": "z"})]]),
        ("code", "ANSWER", [[ok("C")], [ok("A")], [ok("Z")]]),
    ]
    a = state_of("a", run_a()[:2])
    b = state_of("b", shuffled)
    by_index = RunDiff(a, b)
    assert by_index.counts["changed"] == 5  # every input and answer differ at its index
    by_key = RunDiff(a, b, key="id")
    assert by_key.counts == {
        "same": 4,
        "changed": 0,
        "broken": 0,
        "fixed": 0,
        "only_a": 2,
        "only_b": 2,
        "pending": 0,
    }
    assert [(d.kind, d.block_name, d.input_a, d.input_b, d.label) for d in by_key] == [
        ("only_a", "INPUT", 1, None, 2),
        ("only_a", "ANSWER", 1, None, 2),
        ("only_b", "INPUT", None, 2, 9),
        ("only_b", "ANSWER", None, 2, 9),
    ]
    assert head_json(by_key)["inputs"] == {
        "matched_by": "key",
        "key": "id",
        "matched": 2,
        "only_a": 1,
        "only_b": 1,
    }


def test_a_key_that_cannot_pair_inputs_says_why():
    a = state_of("a", run_a()[:1])
    with pytest.raises(DiffError, match="Input 0 of run A has no field `name`"):
        RunDiff(a, a, key="name")
    twice = state_of("b", [("input", "INPUT", [[ok({"id": 1})], [ok({"id": 1})]])])
    with pytest.raises(DiffError, match=r"Inputs 0 and 1 of run B have the same `id` \(1\)"):
        RunDiff(a, twice, key="id")


def test_blocks_before_the_input_run_once_and_new_blocks_keep_their_place():
    a = state_of(
        "a",
        [
            ("data", "SETUP", [[ok({"k": 1})]]),
            ("input", "INPUT", [[e] for e in INPUTS]),
            ("code", "END", [[ok(1)], [ok(2)], [ok(3)]]),
        ],
    )
    b = state_of(
        "b",
        [
            ("data", "SETUP", [[ok({"k": 2})]]),
            ("input", "INPUT", [[e] for e in INPUTS]),
            ("code", "NEW", [[ok(0)], [ok(0)], [ok(0)]]),
            ("code", "END", [[ok(1)], [ok(2)], [ok(3)]]),
        ],
    )
    diff = RunDiff(a, b)
    assert [b.key[1] for b in diff.blocks] == ["SETUP", "INPUT", "NEW", "END"]
    assert [(b.key[1], b.in_a, b.in_b) for b in diff.blocks if not (b.in_a and b.in_b)] == [
        ("NEW", False, True)
    ]
    first = diff[0]
    assert (first.kind, first.block_name, first.run_level) == ("changed", "SETUP", True)
    assert diff.counts["changed"] == 1 and diff.counts["only_b"] == 3


def test_values_that_look_like_executions_and_odd_text_are_compared_right():
    # A value holding objects keyed "value" first has the bytes that separate executions in a
    # row: such rows are decoded whole instead of cut.
    tricky_a = [ok([{"value": 1}, {"value": 2}]), ok("a\ud800"), ok(float("nan")), ok(3)]
    tricky_b = [ok([{"value": 1}, {"value": 5}]), ok("a\ud800"), ok(float("nan")), ok(4)]
    a = state_from_raw("a", [("input", "INPUT", [[INPUTS[0]]]), ("code", "X", [tricky_a])])
    b = state_from_raw("b", [("input", "INPUT", [[INPUTS[0]]]), ("code", "X", [tricky_b])])
    diff = RunDiff(a, b)
    assert [(d.kind, d.iteration) for d in diff] == [("changed", 0), ("changed", 3)]
    assert diff.counts["same"] == 3
    detail = diff.detail(0)
    assert [(c.path, c.a, c.b) for c in detail.changes] == [((1, "value"), 2, 5)]
    # Without them, rows are cut at each execution and only the differing ones decoded.
    odd = [ok("a\ud800"), ok(float("nan"))]
    plain_a = state_from_raw(
        "a", [("input", "INPUT", [[INPUTS[0]]]), ("code", "X", [[*odd, ok(1)]])]
    )
    plain_b = state_from_raw(
        "b", [("input", "INPUT", [[INPUTS[0]]]), ("code", "X", [[*odd, ok(2)]])]
    )
    cut = RunDiff(plain_a, plain_b)
    assert [(d.kind, d.iteration) for d in cut] == [("changed", 2)]
    assert cut.detail(0).b == ok(2)
    assert cut.counts["same"] == 3
