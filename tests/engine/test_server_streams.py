"""Streams: keep-alive comments while idle, and a client leaving never stops its run."""

from __future__ import annotations

import time

import httpx

from tests.engine.conftest import SHOUT_CONFIG, auth, parse_sse, runs_url, stream_run

SLOW = {"specification_hash": "latest", "config": {}}


def test_an_idle_stream_gets_keep_alive_comments(engine_factory):
    engine = engine_factory(keepalive_interval=0.05)
    with httpx.Client(base_url=engine.url, headers=auth(engine.api_key), timeout=30) as http:
        body = {**SLOW, "inputs": [{"ms": 600}], "stream": True}
        with http.stream("POST", runs_url("slow"), json=body) as response:
            raw = response.read()
    sse = parse_sse(raw)
    assert sse.comments
    assert set(sse.comments) == {": keep-alive"}
    assert sse.types == [
        "run_status",
        *["block_status", "block_execution", "block_status"] * 3,
        "run_status",
        "final",
    ]
    # The comments came while WAIT was busy: after it started, before its execution.
    text = raw.decode()
    assert text.index('"name":"WAIT","status":"running"') < text.index(": keep-alive")


def test_a_client_that_disconnects_does_not_stop_the_run(http):
    body = {**SLOW, "inputs": [{"ms": 400}, {"ms": 10}], "stream": True}
    with http.stream("POST", runs_url("slow"), json=body) as response:
        first = next(response.iter_lines())
    run_id = parse_sse((first + "\n\n").encode()).events[0]["content"]["run_id"]
    # The connection is closed now; the run must still finish.
    for _ in range(1000):
        run = http.get(runs_url("slow", run_id=run_id)).json()["run"]
        if run["status"]["run"] != "running":
            break
        time.sleep(0.01)
    assert run["status"]["run"] == "succeeded"
    assert run["results"] == [
        [{"value": "done", "error": None, "meta": {"logs": []}}],
        [{"value": "done", "error": None, "meta": {"logs": []}}],
    ]


def test_concurrent_streams_each_get_their_own_whole_run(http):
    bodies = [{**SLOW, "inputs": [{"ms": 50 * i}], "stream": True} for i in range(1, 5)]
    responses = [http.stream("POST", runs_url("slow"), json=b) for b in bodies]
    opened = [r.__enter__() for r in responses]
    try:
        streams = [parse_sse(r.read()) for r in opened]
    finally:
        for r in responses:
            r.__exit__(None, None, None)
    ids = {s.events[0]["content"]["run_id"] for s in streams}
    assert len(ids) == 4
    for i, sse in enumerate(streams, start=1):
        assert sse.types[-2:] == ["run_status", "final"]
        run_id = sse.events[0]["content"]["run_id"]
        assert all(
            e["content"]["run_id"] == run_id for e in sse.events if e["type"] == "run_status"
        )
        wait = next(
            e
            for e in sse.events
            if e["type"] == "block_execution" and e["content"]["block_name"] == "WAIT"
        )
        assert wait["content"]["execution"][0][0]["value"] == {"waited": 50 * i}


def test_streamed_llm_run_sends_tokens_routed_to_their_input(http):
    _, sse = stream_run(
        http,
        "shout",
        {
            "specification_hash": "latest",
            "config": SHOUT_CONFIG,
            "inputs": [{"q": "hi there"}, {"q": "yo"}],
        },
    )
    tokens = [e["content"] for e in sse.events if e["type"] == "tokens"]
    by_input = {0: "", 1: ""}
    for token in tokens:
        assert (token["block_type"], token["block_name"], token["map"]) == ("llm", "MODEL", None)
        by_input[token["input_index"]] += token["tokens"]["text"]
    assert by_input == {0: "HI THERE", 1: "YO"}
    execution = next(
        e
        for e in sse.events
        if e["type"] == "block_execution" and e["content"]["block_name"] == "MODEL"
    )
    values = [row[0]["value"]["completion"]["text"] for row in execution["content"]["execution"]]
    assert values == ["HI THERE", "YO"]
    assert sse.types[-2:] == ["run_status", "final"]
