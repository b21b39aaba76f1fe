"""The run loop in-process: trace dimensions, counts, event order, errors, concurrency, cache.

Apps here mostly use `data`, `map`, `llm` (offline provider) and test providers (little sandbox);
code, while and the bundled demos are in test_runner_js.py and test_demo_apps.py.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from dusttui.engine.context import DatasetDirs, EngineContext, dataset_hash
from dusttui.engine.providers import Generation, ProviderRegistry
from dusttui.engine.providers.offline import OfflineProvider
from dusttui.engine.record import RunRecord
from dusttui.engine.runner import (
    RunRequestError,
    concurrency_for_block,
    execute_run,
    validate_run_request,
)
from dusttui.engine.spec import parse_spec

FENCE = "```"


def llm_block(name: str, prompt: str) -> str:
    return f"llm {name} {{\n  max_tokens: 16\n  temperature: 0.7\n  prompt:\n{FENCE}\n{prompt}\n{FENCE}\n}}\n"


async def run_app(
    spec_text: str, config: dict, inputs: list, ctx: EngineContext | None = None
) -> tuple[list[dict], RunRecord]:
    """Run a spec in-process; returns every emitted event and the final record."""
    spec = parse_spec(spec_text)
    record = RunRecord.new(spec.hash, "test-app", config)
    events: list[dict] = []

    async def emit(event: dict) -> None:
        events.append(json.loads(json.dumps(event)))  # a snapshot, as a wire would carry it

    await execute_run(spec, config, inputs, record, emit, ctx or EngineContext(token_delay=0))
    return events, record


def skeleton(events: list[dict]) -> list[str]:
    """Events as short strings: type and block/status, to compare the order at a glance."""
    out = []
    for e in events:
        c = e["content"]
        if e["type"] == "run_status":
            out.append(f"run {c['status']}")
        elif e["type"] == "block_status":
            out.append(f"{c['name']} {c['status']} {c['success_count']}/{c['error_count']}")
        elif e["type"] == "block_execution":
            out.append(f"{c['block_name']} execution")
        else:
            out.append(e["type"])
    return out


def shape(executions: list[list[Any]]) -> list[int]:
    """The j-length of each input's executions."""
    return [len(row) for row in executions]


@pytest.fixture
def words_ctx(tmp_path: Path) -> EngineContext:
    """A context whose datasets folder holds `words` (3 records) and `many` (65 records)."""
    (tmp_path / "words.jsonl").write_text("\n".join(json.dumps({"w": w}) for w in "abc"))
    (tmp_path / "many.jsonl").write_text("\n".join(json.dumps({"w": str(i)}) for i in range(65)))
    return EngineContext(token_delay=0, datasets=DatasetDirs([tmp_path]))


MAP_SPEC = (
    "data WORDS {\n  dataset_id: words\n  hash: latest\n}\n\ninput INPUT { }\n\n"
    "map EACH {\n  from: WORDS\n}\n\n"
    + llm_block("UPPER", "{{INPUT.p}}{{EACH.w}}")
    + "\nreduce EACH { }\n"
)
UPPER_CONFIG = {"UPPER": {"provider_id": "offline", "model_id": "upper", "use_stream": True}}


async def test_map_reduce_dimensions_counts_and_routed_tokens(words_ctx):
    events, record = await run_app(MAP_SPEC, UPPER_CONFIG, [{"p": "x"}, {"p": "y"}], words_ctx)
    assert skeleton(events) == [
        "run running",
        "WORDS running 0/0",
        "WORDS execution",
        "WORDS succeeded 1/0",
        "INPUT running 0/0",
        "INPUT execution",
        "INPUT succeeded 2/0",
        "EACH running 0/0",
        "EACH execution",
        "EACH succeeded 2/0",
        "UPPER running 0/0",
        *["tokens"] * 6,
        "UPPER execution",
        "UPPER succeeded 6/0",
        "EACH running 0/0",
        "EACH execution",
        "EACH succeeded 2/0",
        "run succeeded",
    ]
    tokens = sorted(
        (
            e["content"]["input_index"],
            e["content"]["map"]["iteration"],
            e["content"]["tokens"]["text"],
        )
        for e in events
        if e["type"] == "tokens"
    )
    assert tokens == [
        (0, 0, "XA"),
        (0, 1, "XB"),
        (0, 2, "XC"),
        (1, 0, "YA"),
        (1, 1, "YB"),
        (1, 2, "YC"),
    ]
    first = next(e for e in events if e["type"] == "tokens")["content"]
    assert set(first) == {"block_type", "block_name", "input_index", "map", "tokens"}
    assert first["block_type"] == "llm" and first["block_name"] == "UPPER"
    assert first["map"]["name"] == "EACH"

    run = record.to_wire()
    dims = {tuple(t[0]): shape(t[1]) for t in run["traces"]}
    assert dims == {
        ("data", "WORDS"): [1],
        ("input", "INPUT"): [1, 1],
        ("map", "EACH"): [1, 1],
        ("llm", "UPPER"): [3, 3],
        ("reduce", "EACH"): [1, 1],
    }
    assert run["traces"][2][1][0][0]["value"] == [{"w": "a"}, {"w": "b"}, {"w": "c"}]
    # core's llm value on the completion path: Tokens with every key (offline: word tokens)
    assert run["traces"][3][1][1][2] == {
        "value": {
            "prompt": {"text": "yc", "tokens": ["yc"], "logprobs": [None], "top_logprobs": None},
            "completion": {
                "text": "YC",
                "tokens": ["YC"],
                "logprobs": [None],
                "top_logprobs": None,
            },
        },
        "error": None,
        "meta": {
            "token_usage": {"prompt_tokens": 1, "completion_tokens": 1},
            "provider_request_id": None,
        },
    }
    assert run["status"]["run"] == "succeeded"
    assert [(b["block_type"], b["name"]) for b in run["status"]["blocks"]] == [
        ("data", "WORDS"),
        ("input", "INPUT"),
        ("map", "EACH"),
        ("llm", "UPPER"),
        ("reduce", "EACH"),
    ]
    # An app ending in reduce has null values in results.
    assert run["results"] == [
        [{"value": None, "error": None, "meta": None}],
        [{"value": None, "error": None, "meta": None}],
    ]


async def test_map_over_more_than_64_elements_fails_the_map_block(words_ctx):
    spec = MAP_SPEC.replace("dataset_id: words", "dataset_id: many")
    events, record = await run_app(spec, UPPER_CONFIG, [{"p": "x"}], words_ctx)
    assert skeleton(events)[-4:] == [
        "EACH running 0/0",
        "EACH execution",
        "EACH errored 0/1",
        "run errored",
    ]
    run = record.to_wire()
    assert run["traces"][-1] == [
        ["map", "EACH"],
        [
            [
                {
                    "value": None,
                    "error": "Map `from` block `WORDS` output exceeds maximum size (64)",
                    "meta": None,
                }
            ]
        ],
    ]
    assert run["status"]["run"] == "errored"
    assert run["results"] is None


async def test_llm_without_config_fails_every_execution_and_stops_the_run():
    spec = (
        "input INPUT { }\n\n" + llm_block("MODEL", "{{INPUT.q}}") + "\n" + llm_block("AFTER", "x")
    )
    events, record = await run_app(spec, {}, [{"q": "a"}, {"q": "b"}])
    message = (
        "Missing configuration for llm block `MODEL`, expecting "
        '`{ "provider_id": ..., "model_id": ... }`'
    )
    assert skeleton(events) == [
        "run running",
        "INPUT running 0/0",
        "INPUT execution",
        "INPUT succeeded 2/0",
        "MODEL running 0/0",
        "MODEL execution",
        "MODEL errored 0/2",
        "run errored",
    ]
    execution = events[5]["content"]["execution"]
    assert execution == [[{"value": None, "error": message, "meta": None}]] * 2
    assert [t[0] for t in record.traces] == [["input", "INPUT"], ["llm", "MODEL"]]
    assert record.to_wire()["results"] is None


async def test_unknown_provider_and_model_are_named_in_the_error():
    spec = "input INPUT { }\n\n" + llm_block("MODEL", "{{INPUT.q}}")
    _, record = await run_app(
        spec, {"MODEL": {"provider_id": "cohere", "model_id": "x"}}, [{"q": "a"}]
    )
    assert record.traces[-1][1][0][0]["error"] == (
        "Invalid `provider_id` `cohere` in configuration for llm block `MODEL`: unknown provider, "
        "expecting one of `offline`, `openai`, `azure_openai`, `anthropic`, `mistral`, "
        "`google_ai_studio`, `togetherai`, `deepseek`, `fireworks`, `xai`, `openai_compatible`, "
        "`ollama`"
    )
    _, record = await run_app(
        spec, {"MODEL": {"provider_id": "offline", "model_id": "gpt"}}, [{"q": "a"}]
    )
    assert record.traces[-1][1][0][0]["error"] == (
        "Error querying `offline:gpt`: error=Unknown offline model `gpt`, expecting one of "
        "`echo`, `upper`, `reverse`"
    )


async def test_blocks_before_input_run_once_and_empty_inputs_run_nothing(words_ctx):
    spec = "data WORDS {\n  dataset_id: words\n  hash: latest\n}\n\ninput INPUT { }\n"
    _, record = await run_app(spec, {}, [{"a": 1}, {"a": 2}, {"a": 3}], words_ctx)
    assert [shape(t[1]) for t in record.traces] == [[1], [1, 1, 1]]
    _, record = await run_app(spec, {}, [], words_ctx)
    run = record.to_wire()
    assert run["traces"][1] == [["input", "INPUT"], []]
    assert run["status"]["blocks"][1]["success_count"] == 0
    assert run["status"]["run"] == "succeeded"
    assert run["results"] == []


async def test_data_block_by_hash_and_unknown_version(words_ctx, tmp_path):
    records = [{"w": w} for w in "abc"]
    spec = f"data WORDS {{\n  dataset_id: words\n  hash: {dataset_hash(records)}\n}}\n"
    _, record = await run_app(spec, {}, [], words_ctx)
    assert record.results == [[{"value": records, "error": None, "meta": None}]]
    spec = "data WORDS {\n  dataset_id: words\n  hash: abc123\n}\n"
    _, record = await run_app(spec, {}, [], words_ctx)
    assert record.traces[0][1][0][0]["error"] == "Version `abc123` not found for dataset `words`"


class GateProvider:
    """A test provider that holds every call until released and records the most in flight."""

    provider_id = "gate"

    def __init__(self) -> None:
        self.in_flight = 0
        self.most = 0
        self.calls = 0

    async def generate(self, request, sink):
        self.calls += 1
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        for _ in range(3):  # let every other ready execution start too
            await asyncio.sleep(0)
        self.in_flight -= 1
        return Generation(text="ok", usage={"prompt_tokens": 1, "completion_tokens": 1})


def gate_ctx(gate: GateProvider) -> EngineContext:
    return EngineContext(
        token_delay=0, providers=ProviderRegistry({"gate": gate, "offline": OfflineProvider()})
    )


async def test_block_concurrency_from_config_and_llm_default_of_32():
    spec = "input INPUT { }\n\n" + llm_block("MODEL", "{{INPUT.q}}")
    inputs = [{"q": str(i)} for i in range(40)]
    gate = GateProvider()
    config = {
        "MODEL": {"provider_id": "gate", "model_id": "m", "use_cache": False, "concurrency": 3}
    }
    _, record = await run_app(spec, config, inputs, gate_ctx(gate))
    assert (gate.most, gate.calls, record.status) == (3, 40, "succeeded")
    gate = GateProvider()
    config = {"MODEL": {"provider_id": "gate", "model_id": "m", "use_cache": False}}
    await run_app(spec, config, inputs, gate_ctx(gate))
    assert gate.most == 32


def test_concurrency_defaults_per_block_type():
    assert concurrency_for_block({}, "code", "X") == 64
    assert concurrency_for_block({}, "chat", "X") == 32
    assert concurrency_for_block({}, "curl", "X") == 8
    assert concurrency_for_block({"X": {"concurrency": 5}}, "llm", "X") == 5
    assert concurrency_for_block({"X": {"concurrency": 0}}, "llm", "X") == 1
    assert concurrency_for_block({"X": {"concurrency": "9"}}, "llm", "X") == 32


async def test_use_cache_answers_repeated_prompts_once_but_streaming_never_caches():
    spec = "input INPUT { }\n\n" + llm_block("MODEL", "{{INPUT.q}}")
    gate = GateProvider()
    ctx = gate_ctx(gate)
    inputs = [{"q": "same"}, {"q": "other"}]
    config = {"MODEL": {"provider_id": "gate", "model_id": "m", "concurrency": 1}}
    await run_app(spec, config, inputs, ctx)
    await run_app(spec, config, inputs, ctx)
    assert gate.calls == 2
    config["MODEL"]["use_stream"] = True
    await run_app(spec, config, inputs, ctx)
    assert gate.calls == 4


def test_inputs_must_be_objects_with_the_same_keys():
    spec = parse_spec("input INPUT { }\n")
    validate_run_request(spec, {}, [{"a": 1, "b": 2}, {"b": 3, "a": 4}])
    with pytest.raises(RunRequestError) as exc:
        validate_run_request(spec, {}, [{"a": 1}, {"b": 2}])
    assert (exc.value.code, exc.value.message) == (
        "invalid_inputs_error",
        "Invalid inputs (error: Dataset element 1 has different keys from previous elements.)",
    )
    with pytest.raises(RunRequestError) as exc:
        validate_run_request(spec, {}, [{"a": 1}, 7])
    assert exc.value.message == (
        "Invalid inputs (error: Dataset element 1 is not a JSON object. Only JSON objects are "
        "expected as elements of a dataset)"
    )


async def test_block_filter_keeps_named_blocks_and_results_come_from_them(words_ctx):
    _, record = await run_app(MAP_SPEC, UPPER_CONFIG, [{"p": "x"}], words_ctx)
    run = record.to_wire(["INPUT", "UPPER"])
    assert [t[0] for t in run["traces"]] == [["input", "INPUT"], ["llm", "UPPER"]]
    assert [b["name"] for b in run["status"]["blocks"]] == ["INPUT", "UPPER"]
    assert shape(run["results"]) == [3]
    assert run["results"][0][1]["value"]["completion"]["text"] == "XB"
    assert record.to_wire([])["results"] is None
    listing = record.to_listing_wire()
    assert (listing["traces"], listing["results"], listing["status"]["run"]) == (
        [],
        None,
        "succeeded",
    )
    assert listing["config"] == {"blocks": UPPER_CONFIG}


async def test_a_map_without_reduce_runs_the_rest_of_the_app_per_element(words_ctx):
    # core/src/app.rs App::new accepts it and App::run keeps the forked envs to the end
    spec = MAP_SPEC.replace("\nreduce EACH { }\n", "")
    _, record = await run_app(spec, UPPER_CONFIG, [{"p": "x"}], words_ctx)
    assert record.status == "succeeded"
    assert [t[0] for t in record.traces] == [
        ["data", "WORDS"],
        ["input", "INPUT"],
        ["map", "EACH"],
        ["llm", "UPPER"],
    ]
    assert [[x["value"]["completion"]["text"] for x in row] for row in record.results or []] == [
        ["XA", "XB", "XC"]
    ]


async def test_a_hosted_only_block_fails_only_when_it_runs(words_ctx):
    spec = (
        "input INPUT { }\n\n"
        + llm_block("UPPER", "{{INPUT.p}}")
        + "\nsearch WEB {\n  query: q\n}\n"
    )
    _, record = await run_app(spec, UPPER_CONFIG, [{"p": "x"}], words_ctx)
    assert record.status == "errored"
    assert [(b["name"], b["status"]) for b in record.blocks] == [
        ("INPUT", "succeeded"),
        ("UPPER", "succeeded"),
        ("WEB", "errored"),
    ]
    assert record.traces[-1][1][0][0]["error"] == (
        "Block `WEB` of type `search` needs the hosted Dust service (a web search through Dust's "
        "SerpAPI or Serper credentials) and cannot run in the local engine; run this app against "
        "a Dust workspace"
    )
    # with no inputs it never runs: the run succeeds
    _, record = await run_app(spec, UPPER_CONFIG, [], words_ctx)
    assert record.status == "succeeded"


async def test_a_while_without_end_runs_its_body_once_for_inputs_whose_condition_holds():
    # core/src/app.rs: no `end` block means no jump back; skipped inputs keep empty rows
    spec = (
        "input INPUT { }\n\n"
        f"while W {{\n  condition_code:\n{FENCE}\n_fun = (env) => env.state.INPUT.n > 0;\n{FENCE}\n"
        "  max_iterations: 3\n}\n\n"
        f"code C {{\n  code:\n{FENCE}\n_fun = (env) => env.state.INPUT.n * 10;\n{FENCE}\n}}\n"
    )
    _, record = await run_app(spec, {}, [{"n": 1}, {"n": 0}])
    assert record.status == "succeeded"
    traces = {tuple(t[0]): t[1] for t in record.traces}
    assert [[x["value"] for x in row] for row in traces[("while", "W")]] == [[True], [False]]
    assert [[x["value"] for x in row] for row in traces[("code", "C")]] == [[10], []]


async def test_dataset_hash_is_blake3_over_serde_json_to_string(tmp_path):
    # core/src/dataset.rs Dataset::new_from_jsonl: blake3 over `serde_json::to_string(record)`;
    # ryu prints 1e-05 as 0.00001 and 1e16 as 1e16 (Python's json: 1e-05, 1e+16)
    from blake3 import blake3

    records = [{"x": 1e-05, "n": 1, "s": "é\n"}, {"x": 1e16, "n": 2, "s": ""}]
    expected = blake3(
        b'{"n":1,"s":"\xc3\xa9\\n","x":0.00001}' + b'{"n":2,"s":"","x":1e16}'
    ).hexdigest()
    assert dataset_hash(records) == expected
    (tmp_path / "floats.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    ctx = EngineContext(token_delay=0, datasets=DatasetDirs([tmp_path]))
    spec = f"data D {{\n  dataset_id: floats\n  hash: {expected}\n}}\n"
    _, record = await run_app(spec, {}, [], ctx)
    assert record.status == "succeeded"
    assert record.results == [[{"value": records, "error": None, "meta": None}]]


def test_run_json_keys_come_in_fronts_order(engine, http):
    # front/pages/api/v1/w/[wId]/spaces/[spaceId]/apps/[aId]/runs/index.ts (create) and
    # runs/[runId]/index.ts (GET) take core's Run (run_id, created, run_type, app_hash, config,
    # status, traces), `delete run.app_hash`, then set specification_hash and results: both last
    from tests.engine.conftest import runs_url

    body = {"specification_hash": "latest", "config": {}, "inputs": [{"n": 2}], "blocking": True}
    created = http.post(runs_url("double"), json=body).json()["run"]
    got = http.get(runs_url("double", run_id=created["run_id"])).json()["run"]
    for run in (created, got):
        assert list(run)[:8] == [
            "run_id",
            "created",
            "run_type",
            "config",
            "status",
            "traces",
            "specification_hash",
            "results",
        ]
