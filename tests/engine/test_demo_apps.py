"""The bundled demo apps, run in-process with their own config and sample inputs: they work with no
network and no key, and give these exact results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dusttui.engine.context import EngineContext
from dusttui.engine.record import RunRecord
from dusttui.engine.runner import execute_run, validate_run_request
from dusttui.engine.spec import parse_spec

APPS = Path(__file__).resolve().parents[2] / "dusttui" / "engine" / "apps"
DEMOS = ["qa-demo", "map-reduce-demo", "while-demo", "flaky-demo", "load-1000"]


async def run_demo(name: str) -> tuple[list[dict], RunRecord]:
    spec = parse_spec((APPS / f"{name}.dust").read_text(encoding="utf-8"))
    config = json.loads((APPS / f"{name}.config.json").read_text(encoding="utf-8"))
    lines = (APPS / f"{name}.inputs.jsonl").read_text(encoding="utf-8").splitlines()
    inputs = [json.loads(line) for line in lines if line.strip()]
    validate_run_request(spec, config, inputs)
    record = RunRecord.new(spec.hash, name, config)
    events: list[dict] = []

    async def emit(event: dict) -> None:
        events.append(json.loads(json.dumps(event)))

    await execute_run(spec, config, inputs, record, emit, EngineContext(token_delay=0))
    return events, record


def counts(record: RunRecord) -> list[tuple[str, str, str, int, int]]:
    return [
        (b["block_type"], b["name"], b["status"], b["success_count"], b["error_count"])
        for b in record.blocks
    ]


def values(executions: list[list[dict]]) -> list[list]:
    return [[x["value"] for x in row] for row in executions]


@pytest.mark.parametrize("name", DEMOS)
def test_each_demo_has_a_description_config_and_inputs(name):
    assert (APPS / f"{name}.description.txt").read_text(encoding="utf-8").strip()
    assert isinstance(json.loads((APPS / f"{name}.config.json").read_text(encoding="utf-8")), dict)
    assert (APPS / f"{name}.inputs.jsonl").read_text(encoding="utf-8").strip()


async def test_qa_demo_streams_the_answer_and_formats_it():
    events, record = await run_demo("qa-demo")
    assert record.status == "succeeded"
    assert counts(record) == [
        ("input", "INPUT", "succeeded", 3, 0),
        ("code", "PREP", "succeeded", 3, 0),
        ("llm", "ANSWER", "succeeded", 3, 0),
        ("code", "FORMAT", "succeeded", 3, 0),
    ]
    tokens = [
        (e["content"]["input_index"], e["content"]["tokens"]["text"])
        for e in events
        if e["type"] == "tokens"
    ]
    assert [t for i, t in tokens if i == 0] == ["WHY", " IS", " THE", " SKY", " BLUE?"]
    assert all(e["content"]["map"] is None for e in events if e["type"] == "tokens")
    assert values(record.to_wire()["results"]) == [
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
    answer = record.traces[2][1][0][0]
    assert answer["meta"] == {
        "token_usage": {"prompt_tokens": 5, "completion_tokens": 5},
        "provider_request_id": None,
    }


async def test_map_reduce_demo_runs_the_llm_once_per_word():
    events, record = await run_demo("map-reduce-demo")
    assert counts(record) == [
        ("input", "INPUT", "succeeded", 3, 0),
        ("code", "SPLIT", "succeeded", 3, 0),
        ("map", "EACH", "succeeded", 3, 0),
        ("llm", "SHOUT", "succeeded", 9, 0),
        ("reduce", "EACH", "succeeded", 3, 0),
        ("code", "JOIN", "succeeded", 3, 0),
    ]
    shout = next(t for t in record.traces if t[0] == ["llm", "SHOUT"])[1]
    assert [len(row) for row in shout] == [3, 5, 1]
    routed = sorted(
        (
            e["content"]["input_index"],
            e["content"]["map"]["iteration"],
            e["content"]["tokens"]["text"],
        )
        for e in events
        if e["type"] == "tokens" and e["content"]["input_index"] == 0
    )
    assert routed == [(0, 0, "MAP"), (0, 1, "REDUCE"), (0, 2, "DEMO")]
    assert values(record.to_wire()["results"]) == [
        [{"words": 3, "shouted": "MAP REDUCE DEMO"}],
        [{"words": 5, "shouted": "ONE LLM CALL PER WORD"}],
        [{"words": 1, "shouted": "DUST"}],
    ]


async def test_while_demo_skips_finished_inputs_and_stops_at_the_limit():
    events, record = await run_demo("while-demo")
    traces = {tuple(t[0]): t[1] for t in record.traces}
    assert [len(row) for row in traces[("while", "STEPS")]] == [1, 9, 13]
    assert [len(row) for row in traces[("code", "NEXT")]] == [0, 8, 12]
    assert [len(row) for row in traces[("end", "STEPS")]] == [0, 8, 12]
    # 13 iterations of the loop: 12 that ran NEXT for 27, then the one that hit max_iterations.
    whiles = [
        e for e in events if e["type"] == "block_status" and e["content"]["block_type"] == "while"
    ]
    assert len(whiles) == 26
    assert counts(record)[1:4] == [
        ("while", "STEPS", "succeeded", 1, 0),
        ("code", "NEXT", "succeeded", 0, 0),
        ("end", "STEPS", "succeeded", 0, 0),
    ]
    assert values(record.to_wire()["results"]) == [
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


async def test_flaky_demo_errors_on_two_inputs_and_stops():
    events, record = await run_demo("flaky-demo")
    assert record.status == "errored"
    assert counts(record) == [
        ("input", "INPUT", "succeeded", 4, 0),
        ("code", "PARSE", "errored", 2, 2),
    ]
    parse = record.traces[1][1]
    assert parse[0][0] == {
        "value": {"name": "ALPHA", "size": 3},
        "error": None,
        "meta": {"logs": ["parsed 2 keys"]},
    }
    assert parse[1][0]["error"].startswith("Error in `code`: SyntaxError")
    assert parse[2][0]["error"].startswith("Error in `code`: TypeError")
    assert parse[3][0]["value"] == {"name": "DELTA", "size": 0}
    assert [e["content"]["status"] for e in events if e["type"] == "run_status"] == [
        "running",
        "errored",
    ]
    assert record.to_wire()["results"] is None


async def test_load_1000_runs_every_input_through_both_code_blocks():
    _, record = await run_demo("load-1000")
    assert counts(record) == [
        ("input", "INPUT", "succeeded", 1000, 0),
        ("code", "DOUBLE", "succeeded", 1000, 0),
        ("code", "LABEL", "succeeded", 1000, 0),
    ]
    results = record.to_wire()["results"]
    assert len(results) == 1000
    assert results[999][0]["value"] == {"label": "#1998", "even": False}
    assert results[2][0]["value"] == {"label": "#4", "even": True}
