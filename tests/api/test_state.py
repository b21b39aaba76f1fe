"""RunState: while loops merge like GET, reconciliation, timing, and the GET-only path."""

from __future__ import annotations

import json

from dusttui.api.models import Run, parse_event, to_wire
from dusttui.api.state import RunState

RID = "ab" * 32


def ev(kind: str, content) -> dict:
    return {"type": kind, "content": content}


def bs(block_type: str, name: str, status: str, ok: int = 0, err: int = 0) -> dict:
    return ev(
        "block_status",
        {
            "block_type": block_type,
            "name": name,
            "status": status,
            "success_count": ok,
            "error_count": err,
        },
    )


def bx(block_type: str, name: str, values: list) -> dict:
    return ev(
        "block_execution",
        {
            "block_type": block_type,
            "block_name": name,
            "execution": [[{"value": v, "error": None, "meta": None}] for v in values],
        },
    )


# input (2 inputs) → while LOOP { code STEP } end LOOP. Input 0 loops twice, input 1 once.
# Skipped inputs still appear in the events, with a null value; GET drops them.
WHILE_EVENTS = [
    ev("run_status", {"status": "running", "run_id": RID}),
    bs("input", "INPUT", "running"),
    bx("input", "INPUT", [{"n": 2}, {"n": 1}]),
    bs("input", "INPUT", "succeeded", 2),
    # iteration 0
    bs("while", "LOOP", "running"),
    bx("while", "LOOP", [True, True]),
    bs("while", "LOOP", "succeeded", 2),
    bs("code", "STEP", "running"),
    bx("code", "STEP", ["a0", "a1"]),
    bs("code", "STEP", "succeeded", 2),
    bs("end", "LOOP", "running"),
    bx("end", "LOOP", [None, None]),
    bs("end", "LOOP", "succeeded", 2),
    # iteration 1: input 1 leaves the loop
    bs("while", "LOOP", "running"),
    bx("while", "LOOP", [True, False]),
    bs("while", "LOOP", "succeeded", 2),
    bs("code", "STEP", "running"),
    bx("code", "STEP", ["b0", None]),
    bs("code", "STEP", "succeeded", 1),
    bs("end", "LOOP", "running"),
    bx("end", "LOOP", [None, None]),
    bs("end", "LOOP", "succeeded", 1),
    # iteration 2: input 0 leaves too; everything after `while` is skipped
    bs("while", "LOOP", "running"),
    bx("while", "LOOP", [False, None]),
    bs("while", "LOOP", "succeeded", 1),
    bs("code", "STEP", "running"),
    bx("code", "STEP", [None, None]),
    bs("code", "STEP", "succeeded", 0),
    bs("end", "LOOP", "running"),
    bx("end", "LOOP", [None, None]),
    bs("end", "LOOP", "succeeded", 0),
    bs("code", "AFTER", "running"),
    bx("code", "AFTER", [1, 2]),
    bs("code", "AFTER", "succeeded", 2),
    ev("run_status", {"status": "succeeded", "run_id": RID}),
    ev("final", None),
]


def x(v):
    return {"value": v, "error": None, "meta": None}


WHILE_RUN = {
    "run_id": RID,
    "created": 1000,
    "run_type": "deploy",
    "specification_hash": "cd" * 32,
    "config": {"blocks": {}},
    "status": {
        "run": "succeeded",
        "blocks": [
            {
                "block_type": "input",
                "name": "INPUT",
                "status": "succeeded",
                "success_count": 2,
                "error_count": 0,
            },
            {
                "block_type": "while",
                "name": "LOOP",
                "status": "succeeded",
                "success_count": 1,
                "error_count": 0,
            },
            {
                "block_type": "code",
                "name": "STEP",
                "status": "succeeded",
                "success_count": 0,
                "error_count": 0,
            },
            {
                "block_type": "end",
                "name": "LOOP",
                "status": "succeeded",
                "success_count": 0,
                "error_count": 0,
            },
            {
                "block_type": "code",
                "name": "AFTER",
                "status": "succeeded",
                "success_count": 2,
                "error_count": 0,
            },
        ],
    },
    "traces": [
        [["input", "INPUT"], [[x({"n": 2})], [x({"n": 1})]]],
        [["while", "LOOP"], [[x(True), x(True), x(False)], [x(True), x(False)]]],
        [["code", "STEP"], [[x("a0"), x("b0")], [x("a1")]]],
        [["end", "LOOP"], [[x(None), x(None)], [x(None)]]],
        [["code", "AFTER"], [[x(1)], [x(2)]]],
    ],
    "results": [[x(1)], [x(2)]],
}


class Clock:
    def __init__(self) -> None:
        self.now = 1.0

    def __call__(self) -> float:
        return self.now


def test_while_loop_iterations_merge_along_j_like_get():
    clock = Clock()
    state = RunState(specification_hash="cd" * 32, clock=clock)
    expected_during = []
    for raw in WHILE_EVENTS:
        state.apply(parse_event(raw))
        c = raw["content"]
        if raw["type"] == "block_status" and c["status"] == "running":
            expected_during.append((c["name"], state.block(c["block_type"], c["name"]).expected))
    assert to_wire(state.to_run()) == WHILE_RUN
    # how many executions the UI expects when each block starts (skipped inputs excluded)
    assert expected_during == [
        ("INPUT", None),  # the inputs are known when the input block ends
        ("LOOP", 2),
        ("STEP", 2),
        ("LOOP", 2),
        ("LOOP", 2),
        ("STEP", 1),
        ("LOOP", 1),
        ("LOOP", 1),
        ("STEP", 0),
        ("LOOP", 0),
        ("AFTER", 2),
    ]
    assert state.apply_run(Run.model_validate(WHILE_RUN)) is False


def test_apply_run_restores_what_the_stream_lost():
    state = RunState(specification_hash="cd" * 32, clock=lambda: 1.0)
    for raw in WHILE_EVENTS[:12]:  # cut inside iteration 0
        state.apply(parse_event(raw))
    assert state.status == "running"
    before = state.version
    assert state.apply_run(Run.model_validate(WHILE_RUN)) is True
    assert state.version == before + 1
    assert to_wire(state.to_run()) == WHILE_RUN
    assert [b.name for b in state.blocks] == ["INPUT", "LOOP", "STEP", "LOOP", "AFTER"]
    assert all(b.done for b in state.blocks)


def test_block_times_follow_the_clock():
    clock = Clock()
    state = RunState(clock=clock)
    state.apply(parse_event(WHILE_EVENTS[0]))
    clock.now = 10.0
    state.apply(parse_event(WHILE_EVENTS[1]))
    block = state.block("input", "INPUT")
    assert (block.started_at, block.ended_at, block.elapsed(now=12.5)) == (10.0, None, 2.5)
    clock.now = 11.5
    state.apply(parse_event(WHILE_EVENTS[3]))
    assert (block.ended_at, block.elapsed(now=99.0), block.done) == (11.5, 1.5, True)


def test_polling_only_state_from_get_answers():
    clock = Clock()
    state = RunState(clock=clock)
    running = json.loads(json.dumps(WHILE_RUN))
    running["status"]["run"] = "running"
    running["status"]["blocks"] = running["status"]["blocks"][:1]
    running["status"]["blocks"][0]["status"] = "running"
    running["traces"] = []
    running["results"] = None
    assert state.apply_run(Run.model_validate(running)) is True
    assert (state.run_id, state.status, state.done) == (RID, "running", False)
    assert state.blocks[0].started_at == 1.0 and state.blocks[0].ended_at is None
    clock.now = 4.0
    assert state.apply_run(Run.model_validate(WHILE_RUN)) is True
    assert state.done and state.blocks[0].elapsed() == 3.0
    assert [[e.value for e in row] for row in state.results] == [[1], [2]]


def test_usage_and_errors_from_get():
    run = json.loads(json.dumps(WHILE_RUN))
    run["status"]["run"] = "errored"
    run["traces"][2][1][0][1] = {"value": None, "error": "boom", "meta": None}
    run["traces"][4][1][1][0]["meta"] = {
        "token_usage": {"prompt_tokens": 5, "completion_tokens": 7}
    }
    state = RunState.from_run(Run.model_validate(run))
    assert [(e.block_name, e.input_index, e.iteration, e.message) for e in state.errors] == [
        ("STEP", 0, 1, "boom")
    ]
    assert state.usage == {"prompt_tokens": 5, "completion_tokens": 7}
    assert state.block("code", "AFTER").completion_tokens == 7
    assert state.results is None


def test_unknown_events_change_nothing():
    state = RunState()
    state.apply(parse_event({"type": "telepathy", "content": {"x": 1}}))
    assert state.version == 0
