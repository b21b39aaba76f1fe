"""The run loop with sandboxed JavaScript: code block env and errors, while loops and skips, reduce."""

from __future__ import annotations

import json
from typing import Any

from dusttui.engine.context import EngineContext
from dusttui.engine.record import RunRecord
from dusttui.engine.runner import execute_run
from dusttui.engine.spec import parse_spec

FENCE = "```"
SKIPPED = {"value": None, "error": None, "meta": None}


def code_block(name: str, js: str) -> str:
    return f"code {name} {{\n  code:\n{FENCE}\n{js}\n{FENCE}\n}}\n\n"


async def run_app(spec_text: str, config: dict, inputs: list, ctx: EngineContext | None = None):
    spec = parse_spec(spec_text)
    record = RunRecord.new(spec.hash, "test-app", config)
    events: list[dict] = []

    async def emit(event: dict) -> None:
        events.append(json.loads(json.dumps(event)))

    await execute_run(spec, config, inputs, record, emit, ctx or EngineContext(token_delay=0))
    return events, record


def skeleton(events: list[dict]) -> list[str]:
    out = []
    for e in events:
        c = e["content"]
        if e["type"] == "run_status":
            out.append(f"run {c['status']}")
        elif e["type"] == "block_status":
            out.append(
                f"{c['block_type']} {c['name']} {c['status']} {c['success_count']}/{c['error_count']}"
            )
        elif e["type"] == "block_execution":
            out.append(f"{c['block_type']} {c['block_name']} execution")
        else:
            out.append(e["type"])
    return out


def values(executions: list[list[dict[str, Any]]]) -> list[list[Any]]:
    return [[x["value"] for x in row] for row in executions]


async def test_code_env_is_exactly_the_protocol_env_with_secrets_masked():
    spec = "input INPUT { }\n\n" + code_block("ENV", "_fun = (env) => env;")
    config = {"ENV": {"note": "kept"}}
    ctx = EngineContext(token_delay=0, secrets={"API_TOKEN": "s3cret-value"})
    _, record = await run_app(spec, config, [{"q": "a"}, {"q": "b"}], ctx)
    env = record.traces[1][1][1][0]["value"]
    assert env == {
        "config": {"blocks": {"ENV": {"note": "kept"}}},
        "state": {"INPUT": {"q": "b"}},
        "input": {"value": {"q": "b"}, "index": 1},
        "map": None,
        "secrets": {"API_TOKEN": "••••••"},  # core/src/run.rs Secrets::serialize
        "run_id": record.run_id,
    }
    assert "s3cret-value" not in json.dumps(record.to_wire())
    assert "s3cret-value" not in repr(ctx)


async def test_code_logs_go_to_meta_and_a_failing_input_fails_the_run_after_all_complete():
    spec = (
        "input INPUT { }\n\n"
        + code_block(
            "LEN",
            '_fun = (env) => { console.log("got " + env.input.index); return { len: env.state.INPUT.t.length }; };',
        )
        + code_block("NEXT", "_fun = (env) => 1;")
    )
    events, record = await run_app(spec, {}, [{"t": "hey"}, {"t": None}, {"t": "dust"}])
    assert skeleton(events) == [
        "run running",
        "input INPUT running 0/0",
        "input INPUT execution",
        "input INPUT succeeded 3/0",
        "code LEN running 0/0",
        "code LEN execution",
        "code LEN errored 2/1",
        "run errored",
    ]
    rows = record.traces[1][1]
    assert rows[0] == [{"value": {"len": 3}, "error": None, "meta": {"logs": ["got 0"]}}]
    assert rows[2] == [{"value": {"len": 4}, "error": None, "meta": {"logs": ["got 2"]}}]
    assert rows[1][0]["value"] is None and rows[1][0]["meta"] is None
    assert rows[1][0]["error"].startswith("Error in `code`: ")
    assert "length" in rows[1][0]["error"]
    assert record.to_wire()["results"] is None


WHILE_SPEC = (
    "input INPUT { }\n\n"
    f"while LOOP {{\n  condition_code:\n{FENCE}\n"
    "_fun = (env) => (env.state.STEP ? env.state.STEP.length : 0) < env.state.INPUT.n;\n"
    f"{FENCE}\n  max_iterations: 3\n}}\n\n"
    + code_block("STEP", "_fun = (env) => ({ i: env.map.iteration, loop: env.map.name });")
    + "end LOOP { }\n\n"
    + code_block(
        "AFTER",
        "_fun = (env) => ({ steps: env.state.STEP.length, conds: env.state.LOOP, map: env.map });",
    )
)


async def test_while_loop_skips_counts_and_merged_traces():
    events, record = await run_app(WHILE_SPEC, {}, [{"n": 0}, {"n": 2}, {"n": 5}])
    loop = [
        # iteration: (while counts, STEP counts, end counts)
        ("3/0", "2/0", "2/0"),
        ("2/0", "2/0", "2/0"),
        ("2/0", "1/0", "1/0"),
        ("1/0", "0/0", "0/0"),
    ]
    expected = [
        "run running",
        "input INPUT running 0/0",
        "input INPUT execution",
        "input INPUT succeeded 3/0",
    ]
    for w, s, e in loop:
        expected += [
            "while LOOP running 0/0",
            "while LOOP execution",
            f"while LOOP succeeded {w}",
            "code STEP running 0/0",
            "code STEP execution",
            f"code STEP succeeded {s}",
            "end LOOP running 0/0",
            "end LOOP execution",
            f"end LOOP succeeded {e}",
        ]
    expected += [
        "code AFTER running 0/0",
        "code AFTER execution",
        "code AFTER succeeded 3/0",
        "run succeeded",
    ]
    assert skeleton(events) == expected

    # Each iteration's block_execution event has one entry per input; skipped ones are all-null.
    step_events = [
        e["content"]["execution"]
        for e in events
        if e["type"] == "block_execution" and e["content"]["block_name"] == "STEP"
    ]
    assert step_events[1] == [
        [SKIPPED],
        [{"value": {"i": 1, "loop": "LOOP"}, "error": None, "meta": {"logs": []}}],
        [{"value": {"i": 1, "loop": "LOOP"}, "error": None, "meta": {"logs": []}}],
    ]
    assert step_events[3] == [[SKIPPED]] * 3

    run = record.to_wire()
    traces = {tuple(t[0]): t[1] for t in run["traces"]}
    assert [t[0] for t in run["traces"]] == [
        ["input", "INPUT"],
        ["while", "LOOP"],
        ["code", "STEP"],
        ["end", "LOOP"],
        ["code", "AFTER"],
    ]
    assert values(traces[("while", "LOOP")]) == [
        [False],
        [True, True, False],
        [True, True, True, False],
    ]
    assert traces[("while", "LOOP")][2][3] == {"value": False, "error": None, "meta": None}
    assert traces[("while", "LOOP")][0][0]["meta"] == {"logs": []}
    assert values(traces[("code", "STEP")]) == [
        [],
        [{"i": 0, "loop": "LOOP"}, {"i": 1, "loop": "LOOP"}],
        [{"i": 0, "loop": "LOOP"}, {"i": 1, "loop": "LOOP"}, {"i": 2, "loop": "LOOP"}],
    ]
    assert values(traces[("end", "LOOP")]) == [[], [None, None], [None, None, None]]
    assert values(traces[("code", "AFTER")]) == [
        [{"steps": 0, "conds": [False], "map": None}],
        [{"steps": 2, "conds": [True, True, False], "map": None}],
        [{"steps": 3, "conds": [True, True, True, False], "map": None}],
    ]
    assert [(b["block_type"], b["name"], b["success_count"]) for b in run["status"]["blocks"]] == [
        ("input", "INPUT", 3),
        ("while", "LOOP", 1),
        ("code", "STEP", 0),
        ("end", "LOOP", 0),
        ("code", "AFTER", 3),
    ]
    # The blocking flavour keeps one trace per block_execution event, unmerged.
    blocking = record.to_wire(blocking=True)
    assert [t[0][1] for t in blocking["traces"]] == ["INPUT"] + ["LOOP", "STEP", "LOOP"] * 4 + [
        "AFTER"
    ]
    assert blocking["results"] == run["results"]


async def test_while_condition_must_return_a_boolean():
    spec = WHILE_SPEC.replace("< env.state.INPUT.n;", "< env.state.INPUT.n ? 1 : 0;")
    _, record = await run_app(spec, {}, [{"n": 1}])
    assert record.status == "errored"
    assert record.traces[-1][1] == [
        [
            {
                "value": None,
                "error": "Invalid return value from `condition_code`, expecting boolean",
                "meta": None,
            }
        ]
    ]


async def test_reduce_gathers_in_map_outputs_as_arrays():
    spec = (
        "input INPUT { }\n\n"
        + code_block("SPLIT", "_fun = (env) => env.state.INPUT.s.split(' ');")
        + "map EACH {\n  from: SPLIT\n}\n\n"
        + code_block(
            "LEN", "_fun = (env) => ({ w: env.state.EACH, n: env.state.EACH.length, it: env.map });"
        )
        + "reduce EACH { }\n\n"
        + code_block(
            "SUM",
            "_fun = (env) => ({ lens: env.state.LEN.map((x) => x.n), each: env.state.EACH, map: env.map });",
        )
    )
    _, record = await run_app(spec, {}, [{"s": "ab c"}, {"s": "xyz"}])
    traces = {tuple(t[0]): t[1] for t in record.traces}
    assert values(traces[("code", "LEN")])[0] == [
        {"w": "ab", "n": 2, "it": {"name": "EACH", "iteration": 0}},
        {"w": "c", "n": 1, "it": {"name": "EACH", "iteration": 1}},
    ]
    assert values(traces[("code", "SUM")]) == [
        [{"lens": [2, 1], "each": None, "map": None}],
        [{"lens": [3], "each": None, "map": None}],
    ]
    assert record.results == traces[("code", "SUM")]


async def test_an_empty_map_array_fails_the_map_block_as_core():
    # core/src/blocks/map.rs Map::execute: "... output must be a non-empty array"
    spec = (
        "input INPUT { }\n\n"
        + code_block("SPLIT", "_fun = (env) => env.state.INPUT.items;")
        + "map EACH {\n  from: SPLIT\n}\n\n"
        + code_block("DOUBLE", "_fun = (env) => env.state.EACH * 2;")
        + "reduce EACH { }\n"
    )
    _, record = await run_app(spec, {}, [{"items": []}, {"items": [4]}])
    assert record.status == "errored"
    assert [t[0] for t in record.traces][-1] == ["map", "EACH"]
    assert record.traces[-1][1] == [
        [
            {
                "value": None,
                "error": "Map `from` block `SPLIT` output must be a non-empty array",
                "meta": None,
            }
        ],
        [{"value": [4], "error": None, "meta": None}],
    ]


async def test_one_bad_execution_errors_alone_in_its_batch():
    # 40 executions go to the sandbox in batches; one failure used to error its whole batch
    spec = "input INPUT { }\n\n" + code_block(
        "ONE",
        "_fun = (env) => { if (env.state.INPUT.n === 5) { throw new Error('five'); } return env.state.INPUT.n; };",
    )
    _, record = await run_app(spec, {}, [{"n": i} for i in range(40)])
    rows = [row[0] for row in record.traces[1][1]]
    assert [r["value"] for r in rows] == [*range(5), None, *range(6, 40)]
    assert rows[5]["error"] == "Error in `code`: Error: five\n    at _fun"
    assert [e["error"] for e in rows].count(None) == 39
    assert record.blocks[1]["success_count"] == 39
    assert record.blocks[1]["error_count"] == 1


async def test_code_sees_the_env_keys_in_protocol_order_in_a_map_and_with_huge_integers():
    # The env is written once per batch from shared parts; what `_fun` sees must not change.
    spec = (
        "input INPUT { }\n\n"
        + code_block("SPLIT", "_fun = (env) => env.state.INPUT.s.split(' ');")
        + "map EACH {\n  from: SPLIT\n}\n\n"
        + code_block(
            "KEYS",
            "_fun = (env) => [Object.keys(env), Object.keys(env.input), env.map, "
            "env.secrets, env.config, typeof env.input.value.big];",
        )
        + "reduce EACH { }\n"
    )
    config = {"KEYS": {"b": 1, "a": [2]}}
    ctx = EngineContext(token_delay=0, secrets={"Z": "zz", "A": "aa"})
    for inputs in ([{"s": "x y"}], [{"s": "x y", "big": 2**70}]):  # orjson refuses 2**70
        _, record = await run_app(spec, config, inputs, ctx)
        keys = {tuple(t[0]): t[1] for t in record.traces}[("code", "KEYS")]
        big = "number" if "big" in inputs[0] else "undefined"
        assert values(keys) == [
            [
                [
                    ["config", "state", "input", "map", "secrets", "run_id"],
                    ["value", "index"],
                    {"name": "EACH", "iteration": k},
                    {"Z": "••••••", "A": "••••••"},
                    {"blocks": {"KEYS": {"b": 1, "a": [2]}}},
                    big,
                ]
                for k in range(2)
            ]
        ]
