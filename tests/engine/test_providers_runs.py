"""Providers inside real runs: `llm` and `chat` blocks on each wire format (fake servers on
loopback), streamed tokens routed to their input, a provider failure as that execution's error,
and the same through the engine's own HTTP server with the keys in its environment."""

from __future__ import annotations

import json

import httpx
import pytest
import pytest_asyncio

from dusttui.engine.context import EngineContext
from dusttui.engine.providers import ProviderRegistry
from dusttui.engine.record import RunRecord
from dusttui.engine.runner import execute_run
from dusttui.engine.spec import parse_spec
from tests.engine.conftest import stream_run, write_apps
from tests.engine.fake_llm_servers import (
    KEY,
    FakeLLMServer,
    provider_env,
    serve,
    serve_in_thread,
)

F = "```"
LLM_APP = f"""input INPUT {{ }}

llm MODEL {{
  max_tokens: 32
  temperature: 0.5
  prompt:
{F}
{{{{INPUT.q}}}}
{F}
}}
"""
CHAT_APP = f"""input INPUT {{ }}

chat CHAT {{
  temperature: 0.5
  instructions:
{F}
Answer briefly.
{F}
  messages_code:
{F}
_fun = (env) => [{{ role: "user", content: env.state.INPUT.q }}];
{F}
}}
"""
INPUTS = [{"q": "abc def"}, {"q": "xyz"}]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def fake_server():
    server = FakeLLMServer()
    async with serve(server.app) as base:
        server.ctx = EngineContext(
            token_delay=0, providers=ProviderRegistry.from_env(provider_env(base))
        )
        yield server


module_loop = pytest.mark.asyncio(loop_scope="module")


async def run(ctx: EngineContext, spec_text: str, config: dict, inputs: list):
    spec = parse_spec(spec_text)
    record = RunRecord.new(spec.hash, "app", config)
    events: list[dict] = []

    async def emit(event: dict) -> None:
        events.append(json.loads(json.dumps(event)))

    await execute_run(spec, config, inputs, record, emit, ctx)
    return events, record.to_wire()


def executions(run_json: dict, block: str) -> list[dict]:
    trace = next(t for t in run_json["traces"] if t[0][1] == block)
    return [execs[0] for execs in trace[1]]


@pytest.mark.parametrize(
    "pid", ["openai", "azure_openai", "anthropic", "mistral", "google_ai_studio", "deepseek", "xai"]
)
@module_loop
async def test_a_streamed_chat_block_routes_each_providers_tokens_to_its_input(fake_server, pid):
    config = {"CHAT": {"provider_id": pid, "model_id": "model-x", "use_stream": True}}
    events, run_json = await run(fake_server.ctx, CHAT_APP, config, INPUTS)
    tokens = sorted(
        (e["content"]["input_index"], e["content"]["tokens"]["text"])
        for e in events
        if e["type"] == "tokens"
    )
    assert tokens == [(0, " fed"), (0, "cba"), (1, "zyx")]
    assert run_json["status"]["run"] == "succeeded"
    values = [x["value"]["message"] for x in executions(run_json, "CHAT")]
    assert [(v["role"], v["content"]) for v in values] == [
        ("assistant", "cba fed"),
        ("assistant", "zyx"),
    ]
    # the instructions went first, as a system message, in each provider's own way
    sent = fake_server.requests[-1].body
    system = sent.get("system") or sent.get("systemInstruction") or sent["messages"][0]
    assert "Answer briefly." in json.dumps(system)


@pytest.mark.parametrize("pid", ["openai", "azure_openai", "google_ai_studio"])
@module_loop
async def test_an_llm_block_on_a_completion_model_runs_on_providers_that_have_one(fake_server, pid):
    config = {"MODEL": {"provider_id": pid, "model_id": "davinci-002"}}
    _, run_json = await run(fake_server.ctx, LLM_APP, config, INPUTS)
    assert run_json["status"]["run"] == "succeeded"
    completions = [x["value"]["completion"]["text"] for x in executions(run_json, "MODEL")]
    assert completions == ["cba fed", "zyx"]


@module_loop
@pytest.mark.parametrize("model", ["davinci-002", "gpt-4o-mini"])
async def test_a_streamed_llm_block_sends_only_the_completion_as_tokens(fake_server, model):
    # davinci-002 goes to the completion API (its echoed prompt is not streamed), gpt-4o-mini
    # to chat: the run's events are the same
    config = {"MODEL": {"provider_id": "openai", "model_id": model, "use_stream": True}}
    events, run_json = await run(fake_server.ctx, LLM_APP, config, INPUTS)
    tokens = sorted(
        (e["content"]["input_index"], e["content"]["tokens"]["text"])
        for e in events
        if e["type"] == "tokens" and e["content"]["block_name"] == "MODEL"
    )
    assert tokens == [(0, " fed"), (0, "cba"), (1, "zyx")]
    assert [x["value"]["completion"]["text"] for x in executions(run_json, "MODEL")] == [
        "cba fed",
        "zyx",
    ]


@module_loop
async def test_an_llm_block_on_anthropic_fails_each_execution_with_cores_reason(fake_server):
    config = {"MODEL": {"provider_id": "anthropic", "model_id": "claude-3-haiku"}}
    _, run_json = await run(fake_server.ctx, LLM_APP, config, INPUTS)
    assert run_json["status"]["run"] == "errored"
    assert [x["error"] for x in executions(run_json, "MODEL")] == [
        "Error querying `anthropic:claude-3-haiku`: error=Completion API not available for "
        "provider `anthropic`: run this prompt in a `chat` block (an `llm` block uses Anthropic "
        "only with a `gpt-4*` / `gpt-3.5-turbo*` model id)"
    ] * 2


@module_loop
async def test_a_provider_error_is_that_executions_error_and_never_shows_the_key(fake_server):
    config = {"CHAT": {"provider_id": "anthropic", "model_id": "fail-401"}}
    _, run_json = await run(fake_server.ctx, CHAT_APP, config, INPUTS[:1])
    assert [x["error"] for x in executions(run_json, "CHAT")] == [
        "Error querying `anthropic:fail-401`: error=AnthropicError: [authentication_error] "
        "Incorrect API key provided: *** (HTTP 401)"
    ]
    assert KEY not in json.dumps(run_json)


def test_the_engine_serves_provider_runs_from_keys_in_its_environment(
    engine_factory, apps_dir, monkeypatch
):
    fake = FakeLLMServer()
    write_apps(
        apps_dir,
        {
            "ask.dust": CHAT_APP,
            "ask.config.json": json.dumps(
                {"CHAT": {"provider_id": "anthropic", "model_id": "claude-x", "use_stream": True}}
            ),
        },
    )
    with serve_in_thread(fake.app) as base:
        for name, value in provider_env(base).items():
            monkeypatch.setenv(name, value)
        engine = engine_factory()
        with httpx.Client(
            base_url=engine.url, headers={"Authorization": f"Bearer {engine.api_key}"}, timeout=30
        ) as http:
            body = {"specification_hash": "latest", "config": {}, "inputs": INPUTS}
            body["config"] = json.loads((apps_dir / "ask.config.json").read_text())
            response, sse = stream_run(http, "ask", body)
            assert response.status_code == 200
            tokens = [e["content"]["tokens"]["text"] for e in sse.events if e["type"] == "tokens"]
            assert sorted(tokens) == [" fed", "cba", "zyx"]
            assert sse.types[-1] == "final"
            body["config"] = {"CHAT": {"provider_id": "anthropic", "model_id": "fail-401"}}
            _, sse = stream_run(http, "ask", body)
    errors = [
        execs[0]["error"]
        for e in sse.events
        if e["type"] == "block_execution" and e["content"]["block_name"] == "CHAT"
        for execs in e["content"]["execution"]
    ]
    assert (
        errors
        == [
            "Error querying `anthropic:fail-401`: error=AnthropicError: [authentication_error] "
            "Incorrect API key provided: *** (HTTP 401)"
        ]
        * 2
    )
    assert KEY.encode() not in sse.raw
    assert fake.requests[0].headers["x-api-key"] == KEY
