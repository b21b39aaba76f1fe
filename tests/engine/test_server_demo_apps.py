"""Each bundled demo app, with its saved config and sample inputs, in each of the three flavours.

Checked on the literal JSON: event order, counts, trace dimensions, results, run_type, ids, created.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from dusttui.engine.appstore import BUNDLED_APPS_DIR
from tests.engine.conftest import HEX64, apps_url, runs_url, stream_run

FLAVOURS = ["blocking", "non-blocking", "stream"]
BLOCK = ["block_status", "block_execution", "block_status"]


def _demo(name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    config = json.loads((BUNDLED_APPS_DIR / f"{name}.config.json").read_text())
    lines = (BUNDLED_APPS_DIR / f"{name}.inputs.jsonl").read_text().splitlines()
    return config, [json.loads(line) for line in lines if line.strip()]


def _launch(http: httpx.Client, app: str, flavour: str) -> tuple[dict, list[dict] | None]:
    """Run a demo in a flavour; the run as GET answers it afterwards, and the stream's events."""
    config, inputs = _demo(app)
    body = {"specification_hash": "latest", "config": config, "inputs": inputs}
    latest = next(a for a in http.get(apps_url()).json()["apps"] if a["name"] == app)
    before = int(time.time() * 1000)
    events = None
    if flavour == "blocking":
        response = http.post(runs_url(app), json={**body, "blocking": True})
        assert response.status_code == 200
        answered = response.json()["run"]
        run_id = answered["run_id"]
    elif flavour == "non-blocking":
        response = http.post(runs_url(app), json=body)
        assert response.status_code == 200
        answered = response.json()["run"]
        assert answered["status"] == {"run": "running", "blocks": []}
        assert (answered["traces"], answered["results"]) == ([], None)
        run_id = answered["run_id"]
    else:
        response, sse = stream_run(http, app, body)
        assert response.status_code == 200
        events = sse.events
        run_id = events[0]["content"]["run_id"]
        assert events[0] == {
            "type": "run_status",
            "content": {"status": "running", "run_id": run_id},
        }
        assert events[-1] == {"type": "final", "content": None}
        assert events[-2]["type"] == "run_status"
        assert events[-2]["content"]["run_id"] == run_id
    run = http.get(runs_url(app, run_id=run_id)).json()["run"]
    for _ in range(2000):
        if run["status"]["run"] != "running":
            break
        time.sleep(0.01)
        run = http.get(runs_url(app, run_id=run_id)).json()["run"]
    assert HEX64.match(run["run_id"])
    assert before <= run["created"] <= int(time.time() * 1000)
    assert run["run_type"] == "deploy"
    assert run["specification_hash"] == latest["dusttui"]["specificationHash"]
    assert run["config"] == {"blocks": config}
    if flavour == "blocking" and app != "while-demo":  # while: one trace per event, see below
        assert answered == run
    if events is not None:
        assert events[-2]["content"]["status"] == run["status"]["run"]
        executions = [e["content"] for e in events if e["type"] == "block_execution"]
        merged = [[[c["block_type"], c["block_name"]], c["execution"]] for c in executions]
        if app != "while-demo":
            assert merged == run["traces"]
    return run, events


def _dims(run: dict) -> list[tuple[str, str, list[int]]]:
    return [(t[0][0], t[0][1], [len(row) for row in t[1]]) for t in run["traces"]]


def _values(executions: list[list[dict]]) -> list[Any]:
    return [[e["value"] for e in row] for row in executions]


def _block(block_type: str, name: str, status: str, ok: int, failed: int = 0) -> dict:
    return {
        "block_type": block_type,
        "name": name,
        "status": status,
        "success_count": ok,
        "error_count": failed,
    }


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_qa_demo(http, flavour):
    run, events = _launch(http, "qa-demo", flavour)
    assert run["status"] == {
        "run": "succeeded",
        "blocks": [
            _block("input", "INPUT", "succeeded", 3),
            _block("code", "PREP", "succeeded", 3),
            _block("llm", "ANSWER", "succeeded", 3),
            _block("code", "FORMAT", "succeeded", 3),
        ],
    }
    assert [d[2] for d in _dims(run)] == [[1, 1, 1]] * 4
    assert _values(run["results"]) == [
        [{"question": "Why is the sky blue?", "answer": "WHY IS THE SKY BLUE?", "words": 5}],
        [
            {
                "question": "What does a Dust app run return?",
                "answer": "WHAT DOES A DUST APP RUN RETURN?",
                "words": 7,
            }
        ],
        [
            {
                "question": "How many blocks does this app have?",
                "answer": "HOW MANY BLOCKS DOES THIS APP HAVE?",
                "words": 7,
            }
        ],
    ]
    usage = run["traces"][2][1][0][0]["meta"]["token_usage"]
    assert usage["completion_tokens"] == 5
    if events is not None:
        types = [e["type"] for e in events]
        answer_start = types.index("block_status", 7)
        tokens = [e["content"] for e in events if e["type"] == "tokens"]
        assert types[:answer_start] == ["run_status", *BLOCK, *BLOCK]
        assert types[-5:] == [*BLOCK, "run_status", "final"][-5:]
        texts = {0: "", 1: "", 2: ""}
        for token in tokens:
            assert (token["block_name"], token["map"]) == ("ANSWER", None)
            texts[token["input_index"]] += token["tokens"]["text"]
        answers = [row[0]["value"]["completion"]["text"] for row in run["traces"][2][1]]
        assert [texts[i] for i in range(3)] == answers


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_map_reduce_demo(http, flavour):
    run, events = _launch(http, "map-reduce-demo", flavour)
    assert run["status"] == {
        "run": "succeeded",
        "blocks": [
            _block("input", "INPUT", "succeeded", 3),
            _block("code", "SPLIT", "succeeded", 3),
            _block("map", "EACH", "succeeded", 3),
            _block("llm", "SHOUT", "succeeded", 9),
            _block("reduce", "EACH", "succeeded", 3),
            _block("code", "JOIN", "succeeded", 3),
        ],
    }
    assert _dims(run) == [
        ("input", "INPUT", [1, 1, 1]),
        ("code", "SPLIT", [1, 1, 1]),
        ("map", "EACH", [1, 1, 1]),
        ("llm", "SHOUT", [3, 5, 1]),
        ("reduce", "EACH", [1, 1, 1]),
        ("code", "JOIN", [1, 1, 1]),
    ]
    assert _values(run["traces"][2][1])[2] == [["dust"]]
    assert _values(run["traces"][4][1]) == [[None], [None], [None]]
    assert _values(run["results"]) == [
        [{"words": 3, "shouted": "MAP REDUCE DEMO"}],
        [{"words": 5, "shouted": "ONE LLM CALL PER WORD"}],
        [{"words": 1, "shouted": "DUST"}],
    ]
    if events is not None:
        routes = sorted(
            (e["content"]["input_index"], e["content"]["map"]["iteration"])
            for e in events
            if e["type"] == "tokens"
        )
        assert sorted(set(routes)) == [
            (0, 0),
            (0, 1),
            (0, 2),
            (1, 0),
            (1, 1),
            (1, 2),
            (1, 3),
            (1, 4),
            (2, 0),
        ]
        assert {e["content"]["map"]["name"] for e in events if e["type"] == "tokens"} == {"EACH"}


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_while_demo(http, flavour):
    run, events = _launch(http, "while-demo", flavour)
    assert run["status"]["run"] == "succeeded"
    assert [(d[0], d[1]) for d in _dims(run)] == [
        ("input", "INPUT"),
        ("while", "STEPS"),
        ("code", "NEXT"),
        ("end", "STEPS"),
        ("code", "SUMMARY"),
    ]
    assert _dims(run)[2][2] == [0, 8, 12]
    assert _values(run["traces"][2][1])[1][:3] == [
        {"step": 1, "n": 3},
        {"step": 2, "n": 10},
        {"step": 3, "n": 5},
    ]
    assert _values(run["results"]) == [
        [{"start": 1, "steps": 0, "sequence": [], "reached_one": True}],
        [{"start": 6, "steps": 8, "sequence": [3, 10, 5, 16, 8, 4, 2, 1], "reached_one": True}],
        [
            {
                "start": 27,
                "steps": 12,
                "sequence": [82, 41, 124, 62, 31, 94, 47, 142, 71, 214, 107, 322],
                "reached_one": False,
            }
        ],
    ]
    if events is not None:
        names = [e["content"]["block_name"] for e in events if e["type"] == "block_execution"]
        assert names[:3] == ["INPUT", "STEPS", "NEXT"]  # one event per iteration
        assert names.count("NEXT") > 1
        assert names[-1] == "SUMMARY"


def test_while_demo_blocking_answer_has_one_trace_per_event_and_get_merges_them(http):
    config, inputs = _demo("while-demo")
    body = {"specification_hash": "latest", "config": config, "inputs": inputs}
    _, sse = stream_run(http, "while-demo", body)
    per_event = [
        [[e["content"]["block_type"], e["content"]["block_name"]], e["content"]["execution"]]
        for e in sse.events
        if e["type"] == "block_execution"
    ]
    blocking = http.post(runs_url("while-demo"), json={**body, "blocking": True}).json()["run"]
    assert blocking["traces"] == per_event
    merged = http.get(runs_url("while-demo", run_id=blocking["run_id"])).json()["run"]
    assert len(merged["traces"]) == 5 < len(blocking["traces"])
    assert merged["results"] == blocking["results"]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_flaky_demo(http, flavour):
    run, events = _launch(http, "flaky-demo", flavour)
    assert run["status"] == {
        "run": "errored",
        "blocks": [
            _block("input", "INPUT", "succeeded", 4),
            _block("code", "PARSE", "errored", 2, 2),
        ],
    }
    assert [d[1] for d in _dims(run)] == ["INPUT", "PARSE"]
    parse = [row[0] for row in run["traces"][1][1]]
    assert [e["value"] for e in parse] == [
        {"name": "ALPHA", "size": 3},
        None,
        None,
        {"name": "DELTA", "size": 0},
    ]
    assert parse[1]["error"].startswith("Error in `code`: SyntaxError")
    assert parse[2]["error"].startswith("Error in `code`: TypeError")
    assert parse[0]["meta"] == {"logs": ["parsed 2 keys"]}
    assert run["results"] is None
    if events is not None:
        assert [e["type"] for e in events] == ["run_status", *BLOCK, *BLOCK, "run_status", "final"]
        assert events[-2]["content"]["status"] == "errored"


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_load_1000(http, flavour):
    run, events = _launch(http, "load-1000", flavour)
    assert run["status"] == {
        "run": "succeeded",
        "blocks": [
            _block("input", "INPUT", "succeeded", 1000),
            _block("code", "DOUBLE", "succeeded", 1000),
            _block("code", "LABEL", "succeeded", 1000),
        ],
    }
    assert [d[2] == [1] * 1000 for d in _dims(run)] == [True, True, True]
    values = [row[0]["value"] for row in run["results"]]
    assert (values[0], values[500], values[999]) == (
        {"label": "#0", "even": True},
        {"label": "#1000", "even": True},
        {"label": "#1998", "even": False},
    )
    if events is not None:
        assert [e["type"] for e in events] == ["run_status", *BLOCK * 3, "run_status", "final"]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_paced_demo(http, flavour):
    run, events = _launch(http, "paced-demo", flavour)
    assert run["status"] == {
        "run": "succeeded",
        "blocks": [
            _block("input", "INPUT", "succeeded", 20),
            _block("llm", "READ", "succeeded", 20),
            _block("code", "TALLY", "succeeded", 20),
        ],
    }
    values = [row[0]["value"] for row in run["results"]]
    assert [v["words"] for v in values] == [
        60, 180, 90, 150, 120, 200, 75, 140, 110, 170, 95, 160, 130, 85, 190, 100, 145, 70, 175, 115,
    ]  # fmt: skip
    assert values[0] == {"topic": "alpha", "words": 60, "longest": "paragraph"}
    if events is not None:  # every word of every paragraph streamed as its own token
        assert sum(e["type"] == "tokens" for e in events) == 2560


def test_paced_demo_is_slow_enough_to_watch_its_llm_block_fill_up(engine_factory):
    # With the offline provider pacing its tokens, the live status shows the llm block part done
    # (some of its 20 inputs finished, not all): what a front end draws as a progress bar.
    engine = engine_factory(token_delay=0.01)
    config, inputs = _demo("paced-demo")
    body = {"specification_hash": "latest", "config": config, "inputs": inputs}
    with httpx.Client(
        base_url=engine.url, headers={"Authorization": f"Bearer {engine.api_key}"}
    ) as http:
        run_id = http.post(runs_url("paced-demo"), json=body).json()["run"]["run_id"]
        seen: set[int] = set()
        for _ in range(3000):
            run = http.get(runs_url("paced-demo", run_id=run_id) + "/status").json()["run"]
            read = [b for b in run["status"]["blocks"] if b["name"] == "READ"]
            if read:
                seen.add(read[0]["success_count"])
                assert run["dusttui"]["blocks"][1] == {
                    "block_type": "llm",
                    "name": "READ",
                    "total": 20,
                }
            if any(0 < n < 20 for n in seen) or run["status"]["run"] != "running":
                break
            time.sleep(0.01)
        http.post(runs_url("paced-demo", run_id=run_id) + "/cancel")
    assert any(0 < n < 20 for n in seen), seen
