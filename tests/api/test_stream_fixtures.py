"""Every fixture stream, fed whole, byte by byte and in random chunkings, ends in the GET run."""

from __future__ import annotations

import random

import pytest

from dusttui.api.models import to_wire
from dusttui.api.sse import EventStream
from dusttui.api.state import PrerunError, RunState

from .conftest import APP, fixture_bytes, fixture_run, make_client, sse_response

CONFIG = {"DOUBLE": {"concurrency": 4}}
CREATED_S = 1764320000.0  # the fixtures' `created`, in seconds


def chunkings(data: bytes, seed: int) -> dict[str, list[bytes]]:
    """The same bytes cut in several ways: whole, byte by byte, and random splits."""
    rnd = random.Random(seed)
    ways = {"whole": [data], "bytes": [data[i : i + 1] for i in range(len(data))]}
    for n in range(4):
        cuts = sorted(rnd.sample(range(1, len(data)), rnd.randint(1, 40)))
        ways[f"random{n}"] = [
            data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)
        ]
    crlf = data.replace(b"\n", b"\r\n")
    ways["crlf-bytes"] = [crlf[i : i + 1] for i in range(len(crlf))]
    ways["no-final-blank-line"] = [data.rstrip(b"\n")]
    return ways


async def reduce_stream(parts: list[bytes], config: dict) -> tuple[RunState, EventStream]:
    """Stream ``parts`` through the client into a fresh RunState."""
    state = RunState(
        specification_hash="9f4e0c1b2a3d4e5f60718293a4b5c6d7e8f90123456789abcdef0123456789ab",
        config=config,
        clock=lambda: CREATED_S,
    )
    async with make_client(lambda r: sse_response(parts)) as client:
        async with client.stream_run(APP, "9f4e" * 16, config, [{}]) as events:
            async for event in events:
                state.apply(event, events.last_raw)
    return state, events


@pytest.mark.parametrize("name", ["ok_two_inputs", "errored_second_input"])
async def test_stream_ends_equal_to_get(name):
    expected = fixture_run(name)["run"]
    expected["config"]["blocks"] = CONFIG
    for way, parts in chunkings(fixture_bytes(name), seed=len(name)).items():
        state, events = await reduce_stream(parts, CONFIG)
        assert to_wire(state.to_run()) == expected, way
        assert (events.saw_final, events.dropped) == (True, 0), way
        version = state.version
        assert state.apply_run(state.to_run().model_copy()) is False  # nothing was lost
        assert state.version == version


async def test_errored_run_indexes_its_error():
    state, _ = await reduce_stream([fixture_bytes("errored_second_input")], {})
    assert state.status == "errored"
    assert [(e.block_type, e.block_name, e.input_index, e.iteration) for e in state.errors] == [
        ("code", "LEN", 1, 0)
    ]
    assert state.errors[0].message.startswith("Error in `code`: TypeError")
    assert [(b.name, b.status, b.success_count, b.error_count) for b in state.blocks] == [
        ("INPUT", "succeeded", 2, 0),
        ("LEN", "errored", 1, 1),
    ]
    assert state.results is None


async def test_map_reduce_stream_routes_tokens_and_counts():
    for way, parts in chunkings(fixture_bytes("map_reduce_tokens"), seed=3).items():
        state, events = await reduce_stream(parts, {})
        assert events.saw_final and events.dropped == 0, way
        assert state.status == "succeeded"
        assert state.tokens == {("UPPER", 0, 0): "A", ("UPPER", 0, 1): "B", ("UPPER", 0, 2): "C"}
        assert [
            [e.value["completion"]["text"] for e in row] for row in state.executions("llm", "UPPER")
        ] == [["A", "B", "C"]]
        assert state.executions("map", "EACH")[0][0].value == ["a", "b", "c"]
        assert [(b.block_type, b.name, b.success_count, b.expected) for b in state.blocks] == [
            ("input", "INPUT", 1, 1),
            ("code", "SPLIT", 1, 1),
            ("map", "EACH", 1, 1),
            ("llm", "UPPER", 3, 3),
            ("reduce", "EACH", 1, 1),
        ]
        assert state.usage == {"prompt_tokens": 3, "completion_tokens": 3}
        assert state.block("llm", "UPPER").completion_tokens == 3
        assert [[e.value for e in row] for row in state.results] == [[None]]


async def test_prerun_error_stream():
    for way, parts in chunkings(fixture_bytes("prerun_error"), seed=4).items():
        state, events = await reduce_stream(parts, {})
        assert state.prerun_error == PrerunError(
            "specification_not_found", "No specification found for hash `deadbeef`"
        ), way
        assert (state.run_id, state.status, state.done, events.saw_final) == (
            None,
            None,
            True,
            True,
        )
    err = state.prerun_error.as_exception()
    assert err.code == "specification_not_found"
    assert err.user_message == (
        "No app version has this specification hash (specification_not_found): "
        "No specification found for hash `deadbeef`"
    )
    with pytest.raises(ValueError, match="no run id yet"):
        state.to_run()


async def test_malformed_events_are_counted_not_fatal():
    data = fixture_bytes("ok_two_inputs")
    junk = (
        b'data: {"type":"block_status","content":{"block_type":"input"\n\n'  # cut JSON
        b"data: [1, 2]\n\n"  # not an object
        b'data: {"type":"block_status","content":{"name":"X"}}\n\n'  # wrong shape
        b'data: {"type":"telepathy","content":{"x":1}}\n\n'  # unknown type: kept, ignored
        b"event: ping\nid: 4\nretry: 10\n\n"  # fields the Dust stream never uses
    )
    cut = data.index(b"data: ", 10)
    state, events = await reduce_stream([data[:cut] + junk + data[cut:]], CONFIG)
    assert events.dropped == 3
    assert events.problems[1] == "the event is not a JSON object"
    assert events.problems[2].startswith("`block_status` event: content.block_type: Field required")
    assert state.status == "succeeded"
    expected = fixture_run("ok_two_inputs")["run"]
    expected["config"]["blocks"] = CONFIG
    assert to_wire(state.to_run()) == expected
