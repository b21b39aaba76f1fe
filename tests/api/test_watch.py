"""watch_run: stream, fall back to polling, always end reconciled with the server's GET."""

from __future__ import annotations

import asyncio
import copy

import httpx
import pytest

from dusttui.api.errors import AuthError, DustConnectionError, RunError, StreamProtocolError
from dusttui.api.models import to_wire
from dusttui.api.watch import Connection, watch_run

from .conftest import (
    APP,
    ScriptedServer,
    Sleeps,
    fixture_bytes,
    fixture_run,
    make_client,
    sse_response,
)

SPEC = "9f4e0c1b2a3d4e5f60718293a4b5c6d7e8f90123456789abcdef0123456789ab"
CONFIG = {"DOUBLE": {"concurrency": 4}}
REQUEST = (SPEC, CONFIG, [{"n": 2}, {"n": 5}])
RUN = fixture_run("ok_two_inputs")["run"]["run_id"]


def final_run(name: str) -> dict:
    run = fixture_run(name)
    run["run"]["config"]["blocks"] = CONFIG
    return run


def running_run(name: str) -> dict:
    run = copy.deepcopy(final_run(name))
    run["run"]["status"]["run"] = "running"
    run["run"]["status"]["blocks"] = run["run"]["status"]["blocks"][:1]
    run["run"]["status"]["blocks"][0]["status"] = "running"
    run["run"]["traces"] = []
    run["run"]["results"] = None
    return run


async def collect(server: ScriptedServer, sleeps: Sleeps | None = None, **kw):
    async with make_client(server, sleeps, max_retries=0) as client:
        return [
            (u.connection, u.event.type if u.event else None, u)
            async for u in watch_run(client, APP, sleep=sleeps or Sleeps(), **kw)
        ]


async def test_clean_stream_then_one_confirming_get():
    data = fixture_bytes("ok_two_inputs")
    server = ScriptedServer(lambda: sse_response([data]), [final_run("ok_two_inputs")])
    updates = await collect(server, request=REQUEST)
    assert [(c, e) for c, e, _ in updates] == [
        (Connection.CONNECTING, None),
        (Connection.STREAMING, "run_status"),
        (Connection.STREAMING, "block_status"),
        (Connection.STREAMING, "block_execution"),
        (Connection.STREAMING, "block_status"),
        (Connection.STREAMING, "block_status"),
        (Connection.STREAMING, "block_execution"),
        (Connection.STREAMING, "block_status"),
        (Connection.STREAMING, "run_status"),
        (Connection.STREAMING, "final"),
        (Connection.DONE, None),
    ]
    run_id = final_run("ok_two_inputs")["run"]["run_id"]
    assert server.requests[-1] == (
        "GET",
        f"/api/v1/w/w0rkspace/spaces/sp4ce/apps/{APP}/runs/{run_id}",
    )
    assert server.get_count == 1
    assert server.bodies[0]["stream"] is True
    state = updates[-1][2].state
    assert to_wire(state.to_run()) == {
        **final_run("ok_two_inputs")["run"],
        "created": state.created,
    }


@pytest.mark.parametrize("name", ["ok_two_inputs", "errored_second_input"])
@pytest.mark.parametrize("how", ["ends", "drops"])
async def test_cut_stream_at_every_offset_ends_equal_to_get(name, how):
    data = fixture_bytes(name)
    first_event_end = data.index(b"\n\n") + 1
    expected = final_run(name)
    for offset in range(0, len(data), 3 if how == "ends" else 7):

        def post(offset=offset):
            fail = httpx.ReadError("connection reset") if how == "drops" else None
            return sse_response([data[:offset]], fail=fail)

        server = ScriptedServer(post, [running_run(name), expected])
        sleeps = Sleeps()
        if offset < first_event_end:
            # No run id arrived: nothing to poll. The user is told so.
            kind = DustConnectionError if how == "drops" else StreamProtocolError
            with pytest.raises(kind):
                await collect(server, sleeps, request=REQUEST)
            continue
        updates = await collect(server, sleeps, request=REQUEST)
        last = updates[-1][2]
        assert last.connection == Connection.DONE
        assert to_wire(last.state.to_run()) == expected["run"], offset
        assert Connection.POLLING in [c for c, _, _ in updates], offset
        assert sleeps.delays == [0.25], offset  # one wait, between the running GET and the final


async def test_cut_after_final_needs_no_polling():
    data = fixture_bytes("ok_two_inputs")
    server = ScriptedServer(
        lambda: sse_response([data], fail=httpx.ReadError("gone")), [final_run("ok_two_inputs")]
    )
    updates = await collect(server, request=REQUEST)
    assert Connection.POLLING not in [c for c, _, _ in updates]
    assert server.get_count == 1


async def test_polling_backoff_and_note_when_stream_ends_early():
    data = fixture_bytes("ok_two_inputs")
    cut = data.index(b"data: ", 200)
    running = running_run("ok_two_inputs")
    server = ScriptedServer(
        lambda: sse_response([data[:cut]]), [running] * 6 + [final_run("ok_two_inputs")]
    )
    sleeps = Sleeps()
    updates = await collect(server, sleeps, request=REQUEST)
    notes = [u.note for c, _, u in updates if c == Connection.POLLING and u.note]
    assert notes == ["The stream ended early; following the run by polling."]
    assert sleeps.delays == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert server.get_count == 7


async def test_idle_stream_switches_to_polling():
    data = fixture_bytes("ok_two_inputs")
    first = data[: data.index(b"\n\n") + 2]
    hang = asyncio.Event()

    async def body():
        yield first
        await hang.wait()  # the server goes silent
        yield b""

    server = ScriptedServer(
        lambda: httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body()),
        [final_run("ok_two_inputs")],
    )
    updates = await collect(server, request=REQUEST, idle_timeout=0.05)
    notes = [u.note for c, _, u in updates if u.note]
    assert notes == [
        "The stream broke (The stream was silent for more than 0.05 s.); following the run by polling."
    ]
    assert updates[-1][2].state.status == "succeeded"


async def test_prerun_error_ends_without_get():
    server = ScriptedServer(lambda: sse_response([fixture_bytes("prerun_error")]))
    updates = await collect(server, request=("deadbeef", {}, [{}]))
    last = updates[-1][2]
    assert last.connection == Connection.DONE
    assert last.state.prerun_error.code == "specification_not_found"
    assert server.get_count == 0


async def test_refused_post_is_raised_and_not_repeated():
    refusal = httpx.Response(
        400,
        json={
            "error": {
                "type": "run_error",
                "message": "There was an error running the app.",
                "run_error": {
                    "code": "invalid_specification_error",
                    "message": "Unexpected `k` in `code` block",
                },
            }
        },
    )
    server = ScriptedServer(lambda: refusal)
    with pytest.raises(RunError) as info:
        await collect(server, request=REQUEST)
    assert info.value.code == "invalid_specification_error"
    assert server.requests == [("POST", f"/api/v1/w/w0rkspace/spaces/sp4ce/apps/{APP}/runs")]


async def test_malformed_events_are_reported_in_updates():
    data = fixture_bytes("ok_two_inputs")
    cut = data.index(b"data: ", 10)
    data = data[:cut] + b"data: {not json}\n\n" + data[cut:]
    server = ScriptedServer(lambda: sse_response([data]), [final_run("ok_two_inputs")])
    updates = await collect(server, request=REQUEST)
    last = updates[-1][2]
    assert last.dropped_events == 1
    assert last.problems[0].startswith("invalid JSON")
    assert last.state.status == "succeeded"


async def test_poll_mode_creates_non_blocking_then_polls():
    running = running_run("ok_two_inputs")
    server = ScriptedServer(
        lambda: httpx.Response(200, json=running), [running, final_run("ok_two_inputs")]
    )
    sleeps = Sleeps()
    updates = await collect(server, sleeps, request=REQUEST, mode="poll")
    assert [c for c, _, _ in updates] == [
        Connection.CONNECTING,
        Connection.POLLING,
        Connection.DONE,
    ]
    assert "stream" not in server.bodies[0] and "blocking" not in server.bodies[0]
    assert sleeps.delays == [0.25]
    assert to_wire(updates[-1][2].state.to_run()) == final_run("ok_two_inputs")["run"]


async def test_blocking_with_block_filter_keeps_the_filtered_answer():
    filtered = copy.deepcopy(final_run("ok_two_inputs"))
    filtered["run"]["traces"] = filtered["run"]["traces"][1:]
    filtered["run"]["status"]["blocks"] = filtered["run"]["status"]["blocks"][1:]
    server = ScriptedServer(lambda: httpx.Response(200, json=filtered))
    updates = await collect(server, request=REQUEST, mode="blocking", block_filter=["DOUBLE"])
    assert server.bodies[0]["block_filter"] == ["DOUBLE"]
    assert server.get_count == 0
    assert updates[-1][2].state.trace_keys() == [("code", "DOUBLE")]


async def test_watching_an_existing_run_waits_out_failures():
    run = final_run("ok_two_inputs")
    server = ScriptedServer(
        lambda: httpx.Response(405),
        [running_run("ok_two_inputs"), httpx.ConnectError("refused"), run],
    )
    updates = await collect(server, run_id=run["run"]["run_id"])
    assert [c for c, _, _ in updates] == [
        Connection.CONNECTING,
        Connection.POLLING,
        Connection.RECONNECTING,
        Connection.DONE,
    ]
    assert updates[2][2].error.user_message.startswith("Could not connect to https://dust.tt")
    assert updates[-1][2].state.status == "succeeded"


async def test_auth_failure_while_polling_is_final():
    server = ScriptedServer(
        lambda: httpx.Response(405),
        [httpx.Response(401, json={"error": {"type": "not_authenticated", "message": "no"}})],
    )
    with pytest.raises(AuthError):
        await collect(server, run_id="r" * 64)


async def test_the_local_engine_is_polled_by_its_status_form_then_read_whole_once():
    final = final_run("ok_two_inputs")
    running = running_run("ok_two_inputs")
    statuses = [running, running, {"run": {**final["run"], "traces": [], "results": None}}]
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path.rsplit('/', 1)[-1]}")
        if request.method == "POST":
            return httpx.Response(200, json=running)
        if request.url.path.endswith("/status"):
            return httpx.Response(200, json=statuses.pop(0))
        return httpx.Response(200, json=final)

    sleeps = Sleeps()
    async with make_client(handler, sleeps, max_retries=0) as client:
        updates = [
            u
            async for u in watch_run(
                client, APP, request=REQUEST, mode="poll", live_status=True, sleep=sleeps
            )
        ]
    assert seen == ["POST runs", "GET status", "GET status", "GET status", f"GET {RUN}"]
    assert to_wire(updates[-1].state.to_run()) == final["run"]


async def test_a_lost_connection_says_which_retry_comes_and_when():
    run = final_run("ok_two_inputs")
    refused = httpx.ConnectError("refused")
    server = ScriptedServer(
        lambda: httpx.Response(405), [running_run("ok_two_inputs"), refused, refused, run]
    )
    updates = await collect(server, run_id=run["run"]["run_id"])
    lost = [(u.retry, u.retry_in) for c, _, u in updates if c == Connection.RECONNECTING]
    assert lost == [(1, 0.5), (2, 1.0)]


async def test_give_up_ends_the_wait_for_a_lost_connection_at_once():
    server = ScriptedServer(
        lambda: httpx.Response(405), [running_run("ok_two_inputs"), httpx.ConnectError("refused")]
    )
    with pytest.raises(DustConnectionError):
        await collect(server, run_id="r" * 64, give_up=lambda error: True)
