"""RunState with the local engine's extensions: why a run ended, live counts beside a stream,
the expected totals of blocks (a block stopped partway shows how far it got), unknown times."""

from __future__ import annotations

import copy
import json

import pytest

from dusttui.api.errors import StreamProtocolError
from dusttui.api.models import parse_event
from dusttui.api.state import RunState

from .conftest import fixture_run

RID = "cd" * 32


def interrupted_run() -> dict:
    """A load run the engine stopped while DOUBLE had run 256 of its 1000 inputs."""
    return {
        "run": {
            "run_id": RID,
            "created": 1,
            "run_type": "deploy",
            "specification_hash": "ab" * 32,
            "config": {"blocks": {}},
            "status": {
                "run": "errored",
                "blocks": [
                    {
                        "block_type": "input",
                        "name": "INPUT",
                        "status": "succeeded",
                        "success_count": 1000,
                        "error_count": 0,
                    },
                    {
                        "block_type": "code",
                        "name": "DOUBLE",
                        "status": "errored",
                        "success_count": 256,
                        "error_count": 0,
                    },
                ],
            },
            "traces": [
                [
                    ["input", "INPUT"],
                    [[{"value": {"n": i}, "error": None, "meta": None}] for i in range(3)],
                ]
            ],
            "results": None,
            "error": "Run interrupted: the engine was stopped while this run was running.",
            "dusttui": {
                "end_reason": "interrupted",
                "blocks": [
                    {"block_type": "input", "name": "INPUT", "total": 1000},
                    {"block_type": "code", "name": "DOUBLE", "total": 1000},
                ],
            },
        }
    }


def test_an_interrupted_run_keeps_its_reason_its_totals_and_the_engines_keys():
    state = RunState.from_run_json(json.dumps(interrupted_run()))
    assert (state.status, state.end_reason) == ("errored", "interrupted")
    assert (
        state.end_message == "Run interrupted: the engine was stopped while this run was running."
    )
    double = state.block("code", "DOUBLE")
    assert (double.success_count, double.expected) == (256, 1000)  # 256/1000, not a full bar
    wire = json.loads(state.to_wire_json())
    assert wire["error"] == interrupted_run()["run"]["error"]
    assert wire["dusttui"] == interrupted_run()["run"]["dusttui"]
    assert wire == state.to_wire()


def test_blocks_first_seen_over_have_no_made_up_duration():
    state = RunState.from_run_json(json.dumps(interrupted_run()))
    assert [b.elapsed(now=5.0) for b in state.blocks] == [None, None]


def status_form(counts: dict[str, tuple[str, int]], totals: dict[str, int | None]) -> bytes:
    blocks = [
        {"block_type": t, "name": n, "status": st, "success_count": ok, "error_count": 0}
        for (t, n), (st, ok) in ((tuple(k.split(":")), v) for k, v in counts.items())
    ]
    listed = [
        {"block_type": k.split(":")[0], "name": k.split(":")[1], "total": totals.get(k)}
        for k in counts
    ]
    run = {
        "run_id": RID,
        "created": 1,
        "status": {"run": "running", "blocks": blocks},
        "traces": [],
        "results": None,
        "dusttui": {"end_reason": None, "blocks": listed},
    }
    return json.dumps({"run": run}).encode()


def started_stream_state() -> RunState:
    state = RunState()
    for event in (
        {"type": "run_status", "content": {"status": "running", "run_id": RID}},
        {
            "type": "block_status",
            "content": {"block_type": "code", "name": "DOUBLE", "status": "running"},
        },
    ):
        state.apply(parse_event(event))
    return state


def test_live_counts_beside_a_stream_move_only_forward_and_add_no_block():
    state = started_stream_state()
    body = status_form(
        {"code:DOUBLE": ("running", 256), "code:LABEL": ("running", 3)},
        {"code:DOUBLE": 1000, "code:LABEL": 1000},
    )
    assert state.apply_status_json(body) == "running"
    double = state.block("code", "DOUBLE")
    assert (double.success_count, double.expected) == (256, 1000)
    assert state.block("code", "LABEL") is None  # the stream says which blocks exist
    version = state.version
    state.apply_status_json(status_form({"code:DOUBLE": ("running", 100)}, {}))
    assert double.success_count == 256 and state.version == version  # an older answer


def test_without_a_stream_the_status_form_brings_blocks_and_their_ends():
    state = RunState(run_id=RID)
    state.apply_status_json(
        status_form({"code:DOUBLE": ("succeeded", 1000), "code:LABEL": ("running", 10)}, {}),
        structure=True,
    )
    assert [(b.name, b.status, b.success_count) for b in state.blocks] == [
        ("DOUBLE", "succeeded", 1000),
        ("LABEL", "running", 10),
    ]
    assert state.status is None  # the run's own end comes with the whole run


def test_a_status_form_that_is_not_one_is_refused_plainly():
    with pytest.raises(StreamProtocolError, match="status does not have the expected shape"):
        RunState().apply_status_json(b'{"run": {"status": "running"}}')


def test_the_wire_json_text_equals_the_wire_data():
    run = fixture_run("ok_two_inputs")
    state = RunState.from_run_json(json.dumps(run))
    assert json.loads(state.to_wire_json()) == state.to_wire() == run["run"]
    refused = copy.deepcopy(run)
    refused["run"]["status"]["run"] = "errored"
    state = RunState.from_run_json(json.dumps(refused))
    assert json.loads(state.to_wire_json())["results"] is None
