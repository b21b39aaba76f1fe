"""RunState keeps executions as JSON text: the raw GET path, list-like views, the error index."""

from __future__ import annotations

import copy
import gc
import json
import math
import weakref

import httpx
import orjson
import pytest

from dusttui.api.errors import StreamProtocolError
from dusttui.api.models import Execution, Run, RunEnvelope, parse_event, to_wire
from dusttui.api.state import RunState
from dusttui.api.watch import watch_run

from .conftest import APP, ScriptedServer, fixture_bytes, fixture_run, make_client, sse_response
from .test_state import RID, WHILE_EVENTS, WHILE_RUN

LEN_ERROR = "Error in `code`: TypeError: cannot read property 'length' of undefined"


def x(value, error=None, meta=None) -> Execution:
    return Execution(value=value, error=error, meta=meta)


async def streamed(name: str) -> RunState:
    spec = fixture_run(name)["run"]["specification_hash"]
    state = RunState(specification_hash=spec, clock=lambda: 1764320000.0)
    async with make_client(lambda r: sse_response([fixture_bytes(name)])) as client:
        async with client.stream_run(APP, "9f4e" * 16, {}, [{}]) as events:
            async for event in events:
                state.apply(event, events.last_raw)
    return state


def test_raw_get_gives_the_same_run_as_the_models():
    body = orjson.dumps({"run": WHILE_RUN})
    raw = RunState.from_run_json(body, clock=lambda: 1.0)
    models = RunState.from_run(Run.model_validate(WHILE_RUN), clock=lambda: 1.0)
    assert to_wire(raw.to_run()) == WHILE_RUN
    assert to_wire(models.to_run()) == WHILE_RUN
    assert [[e.value for e in row] for row in raw.executions("while", "LOOP")] == [
        [True, True, False],
        [True, False],
    ]
    assert raw.apply_run_json(body) is False
    assert raw.apply_run(Run.model_validate(WHILE_RUN)) is False


def test_raw_get_of_a_blocking_answer_merges_while_iterations():
    # A blocking answer lists each while iteration apart, as its block_execution events were.
    traces = []
    for event in WHILE_EVENTS:
        if event["type"] == "block_execution":
            c = event["content"]
            traces.append([[c["block_type"], c["block_name"]], c["execution"]])
    blocking = {**copy.deepcopy(WHILE_RUN), "traces": traces}
    state = RunState.from_run_json(orjson.dumps({"run": blocking}))
    assert to_wire(state.to_run())["traces"] == WHILE_RUN["traces"]
    assert [len(row) for row in state.executions("code", "STEP")] == [2, 1]


async def test_stream_then_raw_get_changes_nothing_when_nothing_was_lost():
    state = await streamed("errored_second_input")
    version = state.version
    view = state.executions("code", "LEN")
    body = orjson.dumps(fixture_run("errored_second_input"))
    assert state.apply_run_json(body) is False
    assert state.version == version
    assert state.executions("code", "LEN") is view  # the explorer sees nothing moved
    assert to_wire(state.to_run()) == fixture_run("errored_second_input")["run"]


async def test_raw_get_replaces_what_changed_and_keeps_the_rest():
    state = await streamed("errored_second_input")
    inputs, lens = state.executions("input", "INPUT"), state.executions("code", "LEN")
    fixed = fixture_run("errored_second_input")
    fixed["run"]["traces"][1][1][1][0] = {"value": {"len": 0}, "error": None, "meta": None}
    fixed["run"]["status"]["run"] = "succeeded"
    assert state.apply_run_json(orjson.dumps(fixed)) is True
    assert state.executions("input", "INPUT") is inputs
    assert state.executions("code", "LEN") is not lens
    assert state.executions("code", "LEN")[1][0].value == {"len": 0}
    assert lens[1][0].error == LEN_ERROR  # a view read before keeps what it showed
    assert state.errors == []
    assert [[e.value for e in row] for row in state.results] == [[{"len": 2}], [{"len": 0}]]


async def test_error_index_is_the_same_on_every_path():
    expected = [("code", "LEN", 1, 0, LEN_ERROR)]
    run = fixture_run("errored_second_input")
    paths = {
        "stream": await streamed("errored_second_input"),
        "models": RunState.from_run(RunEnvelope.model_validate(run).run),
        "raw": RunState.from_run_json(orjson.dumps(run)),
    }
    for name, state in paths.items():
        got = [
            (e.block_type, e.block_name, e.input_index, e.iteration, e.message)
            for e in state.errors
        ]
        assert got == expected, name
        assert [state.executions("code", "LEN").counts(i) for i in range(2)] == [(1, 0), (0, 1)]


def test_error_index_and_usage_inside_a_while_loop_from_a_raw_get():
    run = json.loads(json.dumps(WHILE_RUN))
    run["traces"][2][1][0][1] = {"value": None, "error": "boom", "meta": None}
    run["traces"][1][1][1][0]["meta"] = {
        "token_usage": {"prompt_tokens": 5, "completion_tokens": 7}
    }
    state = RunState.from_run_json(orjson.dumps(run))
    assert [(e.block_name, e.input_index, e.iteration, e.message) for e in state.errors] == [
        ("STEP", 0, 1, "boom")
    ]
    assert state.usage == {"prompt_tokens": 5, "completion_tokens": 7}
    assert state.block("while", "LOOP").prompt_tokens == 5
    assert state.executions("code", "STEP")[0].counts() == (1, 1)


def test_views_behave_like_lists_of_lists():
    state = RunState.from_run_json(orjson.dumps(fixture_run("errored_second_input")))
    view = state.executions("code", "LEN")
    expected = [[x({"len": 2}, meta={"logs": []})], [x(None, LEN_ERROR)]]
    assert view == expected and expected == view
    assert view != [[x({"len": 2}, meta={"logs": []})], [x(None, "other")]]
    assert view != [[x({"len": 2}, meta={"logs": []})]]
    assert (len(view), len(view[0]), bool(view), bool(state.executions("x", "NONE"))) == (
        2,
        1,
        True,
        False,
    )
    assert view[-1] == [x(None, LEN_ERROR)] and view[-1][0].error == LEN_ERROR
    assert view[0:1] == [[x({"len": 2}, meta={"logs": []})]]
    assert [e.value for row in view for e in row] == [{"len": 2}, None]
    assert view[1] != [x(None, LEN_ERROR), x(None, LEN_ERROR)]
    with pytest.raises(IndexError):
        view[2]
    with pytest.raises(IndexError):
        view[0][1]
    with pytest.raises(TypeError):
        hash(view)
    assert state.executions("x", "NONE") == []


def test_views_compare_as_models_whatever_the_key_order():
    reordered = fixture_run("errored_second_input")
    for _, execution in reordered["run"]["traces"]:
        for row in execution:
            row[:] = [{"meta": e["meta"], "error": e["error"], "value": e["value"]} for e in row]
    a = RunState.from_run_json(orjson.dumps(reordered))
    b = RunState.from_run_json(orjson.dumps(fixture_run("errored_second_input")))
    assert a.executions("code", "LEN") == b.executions("code", "LEN")
    assert a.executions("code", "LEN")[0] == b.executions("code", "LEN")[0]
    assert a.executions("input", "INPUT") != b.executions("code", "LEN")
    assert to_wire(a.to_run()) == fixture_run("errored_second_input")["run"]


def test_extra_keys_and_missing_keys_of_executions_survive():
    run = fixture_run("errored_second_input")
    run["run"]["traces"][0][1][0][0] = {"value": {"q": "hi"}, "trace_id": "t-1"}
    state = RunState.from_run_json(orjson.dumps(run))
    first = to_wire(state.to_run())["traces"][0][1][0][0]
    assert first == {"value": {"q": "hi"}, "error": None, "meta": None, "trace_id": "t-1"}
    assert state.apply_run(RunEnvelope.model_validate(run).run) is False


def test_values_only_the_stdlib_reads_are_kept_exactly():
    # orjson refuses NaN and lone surrogates; the stream's decoder falls back to the stdlib.
    state = RunState()
    raw = (
        b'{"type":"block_execution","content":{"block_type":"code","block_name":"C",'
        b'"execution":[[{"value":{"x":NaN,"s":"\\ud800"},"error":null,"meta":null}]]}}'
    )
    state.apply(parse_event(json.loads(raw)), raw)
    value = state.executions("code", "C")[0][0].value
    assert math.isnan(value["x"]) and value["s"] == "\ud800"


def test_rows_read_again_after_the_cache_moved_on_are_equal():
    run = copy.deepcopy(WHILE_RUN)
    run["traces"][4][1] = [[{"value": k, "error": None, "meta": None}] for k in range(3000)]
    run["status"]["blocks"][4]["success_count"] = 3000
    state = RunState.from_run_json(orjson.dumps(run))
    view = state.executions("code", "AFTER")
    assert [row[0].value for row in view] == list(range(3000))
    assert view[7][0].value == 7 and view[2999][0].value == 2999


@pytest.mark.parametrize(
    "body, message",
    [
        (b"{not json", "The server's run is not valid JSON"),
        (
            b'{"nothing": 1}',
            "The server's run does not have the expected shape (run: Field required).",
        ),
        (
            orjson.dumps({"run": {**WHILE_RUN, "status": {"blocks": []}}}),
            "The server's run does not have the expected shape (run.status.run: Field required).",
        ),
        (
            orjson.dumps({"run": {**WHILE_RUN, "traces": [[["code"], []]]}}),
            "The server's run does not have the expected shape (run.traces.0: "
            "Input should be [[block_type, block_name], executions]).",
        ),
        (
            orjson.dumps({"run": {**WHILE_RUN, "traces": [[["code", "C"], [[{"error": 5}]]]]}}),
            "The server's run does not have the expected shape (run.traces.0.1.0.0.error: "
            "Input should be a valid string).",
        ),
        (
            orjson.dumps({"run": {**WHILE_RUN, "results": [[1]]}}),
            "The server's run does not have the expected shape (run.results.0.0: "
            "Input should be a valid dictionary).",
        ),
    ],
)
def test_bad_get_answers_are_explained(body, message):
    state = RunState()
    with pytest.raises(StreamProtocolError) as info:
        state.apply_run_json(body)
    assert str(info.value).startswith(message)
    assert state.version == 0


async def test_get_run_raw_is_the_answer_text_and_explains_a_non_json_page():
    answers = [{"run": WHILE_RUN}, httpx.Response(200, content=b"<html>login</html>")]
    server = ScriptedServer(lambda: sse_response([]), answers)
    async with make_client(server) as client:
        body = await client.get_run_raw(APP, RID)
        assert orjson.loads(body) == {"run": WHILE_RUN}
        with pytest.raises(StreamProtocolError) as info:
            await client.get_run_raw(APP, RID)
    assert str(info.value) == (
        f"The server answered GET /api/v1/w/w0rkspace/spaces/sp4ce/apps/{APP}/runs/{RID} "
        "with something that is not JSON: is the base URL right?"
    )


async def test_watch_reconciles_a_cut_stream_with_the_raw_get():
    data = fixture_bytes("errored_second_input")
    cut = data.index(b"block_execution") - 10  # before any execution arrived
    server = ScriptedServer(
        lambda: sse_response([data[:cut]]), [fixture_run("errored_second_input")]
    )
    async with make_client(server, max_retries=0) as client:
        updates = [u async for u in watch_run(client, APP, request=("9f4e" * 16, {}, [{}]))]
    state = updates[-1].state
    assert to_wire(state.to_run()) == fixture_run("errored_second_input")["run"]
    assert [(e.block_name, e.input_index, e.message) for e in state.errors] == [
        ("LEN", 1, LEN_ERROR)
    ]


async def test_to_wire_without_models_is_the_runs_wire_json():
    streamed_state = await streamed("ok_two_inputs")
    assert streamed_state.to_wire() == fixture_run("ok_two_inputs")["run"]
    assert streamed_state.to_wire() == to_wire(streamed_state.to_run())
    state = RunState.from_run_json(orjson.dumps({"run": WHILE_RUN}))
    assert state.to_wire() == WHILE_RUN
    with pytest.raises(ValueError, match="no run id yet"):
        RunState().to_wire()


async def test_a_dropped_state_is_freed_at_once_without_the_collector():
    states = [
        await streamed("errored_second_input"),
        RunState.from_run_json(orjson.dumps({"run": WHILE_RUN})),
    ]
    for state in states:
        for block in state.blocks:
            list(state.executions(block.block_type, block.name)[0])  # rows read: cached
    refs = [weakref.ref(s) for s in states]
    gc.disable()
    try:
        del state, states
        assert [r() for r in refs] == [None, None]
    finally:
        gc.enable()
