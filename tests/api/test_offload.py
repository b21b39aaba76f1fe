"""Big block_execution events read in a worker process: the same state as read on the loop."""

from __future__ import annotations

import json

import orjson

from dusttui.api.models import parse_event
from dusttui.api.offload import BIG_EVENT, is_big_execution, summarize_execution
from dusttui.api.state import RunState
from dusttui.api.watch import watch_run

from .conftest import APP, ScriptedServer, make_client, sse_response

RID = "ef" * 32


def big_execution(rows: int) -> list[list[dict]]:
    out = []
    for i in range(rows):
        if i % 1000 == 7:
            out.append([{"value": None, "error": f"boom {i}", "meta": None}])
        elif i % 1000 == 9:
            usage = {"token_usage": {"prompt_tokens": 2, "completion_tokens": 3}}
            out.append([{"value": {"i": i}, "error": None, "meta": usage}])
        else:
            out.append([{"value": {"i": i, "pad": "x" * 60}, "error": None, "meta": None}])
    return out


def events(rows: int) -> list[dict]:
    execution = big_execution(rows)
    return [
        {"type": "run_status", "content": {"status": "running", "run_id": RID}},
        {
            "type": "block_status",
            "content": {"block_type": "code", "name": "A", "status": "running"},
        },
        {
            "type": "block_execution",
            "content": {"block_type": "code", "block_name": "A", "execution": execution},
        },
        {
            "type": "block_status",
            "content": {
                "block_type": "code",
                "name": "A",
                "status": "errored",
                "success_count": rows - rows // 1000,
                "error_count": rows // 1000,
            },
        },
        {"type": "run_status", "content": {"status": "errored", "run_id": RID}},
        {"type": "final", "content": None},
    ]


def test_a_big_event_read_in_the_worker_gives_the_state_read_on_the_loop():
    evs = events(20_000)
    raw = orjson.dumps(evs[2])
    assert len(raw) > BIG_EVENT and is_big_execution(raw)
    summary = summarize_execution(raw)
    assert summary is not None
    assert (summary.block_type, summary.block_name, summary.inputs) == ("code", "A", 20_000)
    # one clock for both: `created` comes from it, and two reads can straddle a millisecond
    here, there = RunState(clock=lambda: 1_700_000_000.0), RunState(clock=lambda: 1_700_000_000.0)
    for k, event in enumerate(evs):
        data = orjson.dumps(event)
        here.apply(parse_event(event), data)
        if k == 2:
            there.apply_execution_summary(summary, data)
        else:
            there.apply(parse_event(event), data)
    assert there.errors == here.errors and len(there.errors) == 20
    assert there.usage == here.usage == {"prompt_tokens": 40, "completion_tokens": 60}
    assert json.loads(there.to_wire_json()) == json.loads(here.to_wire_json()) == here.to_wire()
    assert there.executions("code", "A")[7][0].error == "boom 7"


def test_what_is_not_a_block_execution_of_the_right_shape_is_left_to_the_loop():
    assert (
        summarize_execution(b'{"type":"block_execution","content":{"block_type":"code"}}') is None
    )
    bad = {
        "type": "block_execution",
        "content": {
            "block_type": "code",
            "block_name": "A",
            "execution": [[{"value": 1, "error": 3, "meta": None}]],
        },
    }
    assert summarize_execution(orjson.dumps(bad)) is None
    assert summarize_execution(b"{not json") is None


async def test_a_stream_with_a_big_block_reaches_the_same_end():
    evs = events(20_000)
    data = b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in evs)
    final = {"run": json.loads(_run_json(evs))}
    server = ScriptedServer(
        lambda: sse_response([data[i : i + 65536] for i in range(0, len(data), 65536)]), [final]
    )
    async with make_client(server, max_retries=0) as client:
        updates = [u async for u in watch_run(client, APP, request=("ab" * 32, {}, [{}]))]
    state = updates[-1].state
    assert state.status == "errored"
    assert len(state.errors) == 20
    assert [(b.name, b.error_count) for b in state.blocks] == [("A", 20)]


def _run_json(evs: list[dict]) -> bytes:
    state = RunState()
    for e in evs:
        state.apply(parse_event(e), orjson.dumps(e))
    return state.to_wire_json()


def test_a_big_block_is_counted_and_read_by_row_without_decoding_the_whole_event(monkeypatch):
    # The run table counts every block on each repaint and the output pane reads one row: with
    # the trace packed in the worker, neither parses the event again on the event loop.
    from dusttui.api.traces import BlockCounts, BlockTrace
    from dusttui.tui.widgets.run_rows import input_count, table_blocks

    evs = events(20_000)
    raw = orjson.dumps(evs[2])
    summary = summarize_execution(raw)
    assert summary is not None
    state = RunState()
    for event in evs[:2]:
        state.apply(parse_event(event), orjson.dumps(event))
    state.apply_execution_summary(summary, raw)

    def whole_event(*args, **kwargs):
        raise AssertionError("the whole event was decoded")

    monkeypatch.setattr(BlockTrace, "from_event", whole_event)
    assert state.block_counts("code", "A") == BlockCounts(19_980, 20, 0, 20_000)
    row = table_blocks(state)[0]
    assert (row.status, row.success_count, row.error_count) == ("running", 19_980, 20)
    assert input_count(state) == 20_000
    assert state.executions("code", "A")[19_007][0].error == "boom 19007"
    assert state.executions("code", "A")[3][0].value == {"i": 3, "pad": "x" * 60}


def test_what_a_cancel_cut_short_is_counted_as_not_run_not_as_an_error():
    cut = "Not run: the run was cancelled."
    stopped = "Not run: the run was interrupted (the engine stopped)."
    execution = [
        [{"value": 1, "error": None, "meta": None}],
        [{"value": None, "error": "boom", "meta": None}],
        [{"value": None, "error": cut, "meta": None}],
        [{"value": None, "error": stopped, "meta": None}],
    ]
    event = {
        "type": "block_execution",
        "content": {"block_type": "code", "block_name": "A", "execution": execution},
    }
    from dusttui.api.traces import BlockCounts

    state = RunState()
    for e in (events(1)[0], event):
        state.apply(parse_event(e), orjson.dumps(e))
    assert state.block_counts("code", "A") == BlockCounts(1, 1, 2, 4)  # counted as it came
    assert [(e.input_index, e.message) for e in state.errors] == [(1, "boom")]
    assert [state.executions("code", "A")[i].tally() for i in range(4)] == [
        BlockCounts(1, 0, 0, 1),
        BlockCounts(0, 1, 0, 1),
        BlockCounts(0, 0, 1, 1),
        BlockCounts(0, 0, 1, 1),
    ]
    assert state.block_counts("code", "A") == BlockCounts(1, 1, 2, 4)  # and once decoded
    # The same from a GET answer of the run.
    again = RunState.from_run_json(state.to_wire_json())
    assert again.block_counts("code", "A") == BlockCounts(1, 1, 2, 4)
    assert len(again.errors) == 1
