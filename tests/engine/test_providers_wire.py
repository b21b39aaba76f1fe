"""Every provider over its own wire format, against fake servers on a real loopback socket:
chat (streamed and not), function calls, and an `llm` prompt through the completion API where
core has one (core/src/providers/*.rs) or core's refusal where it has none."""

from __future__ import annotations

import json

import pytest
import pytest_asyncio

from dusttui.engine.providers import CORE_PROVIDER_IDS, GenerationRequest, ProviderError
from dusttui.engine.providers import ProviderRegistry as Registry
from dusttui.engine.providers.base import Tokens
from tests.engine.fake_llm_servers import KEY, FakeLLMServer, provider_env, serve

OPENAI_FAMILY = ("openai", "mistral", "togetherai", "deepseek", "fireworks", "xai")
ALL_IDS = (*CORE_PROVIDER_IDS, "openai_compatible", "ollama")

# What each provider's fake answers carry besides the text: (usage, request id) for a plain
# answer, and the request id of a streamed one.
USAGE = {"prompt_tokens": 7, "completion_tokens": 2}
PLAIN = {
    pid: (USAGE, "kong-42" if pid == "mistral" else "req-42")
    for pid in (*OPENAI_FAMILY, "azure_openai", "openai_compatible", "ollama")
}
PLAIN["anthropic"] = ({"prompt_tokens": 11, "completion_tokens": 4}, "req_ant_1")
PLAIN["google_ai_studio"] = ({"prompt_tokens": 5, "completion_tokens": 2}, None)
STREAMED_ID = {pid: "chatcmpl-2" for pid in PLAIN} | {
    "anthropic": "msg_2",
    "google_ai_studio": None,
}


class Sink:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    async def __call__(self, event_type: str, content: dict) -> None:
        self.events.append((event_type, content))


def chat(model: str, text: str = "abc def ghi", **kw) -> GenerationRequest:
    return GenerationRequest(
        model_id=model, messages=[{"role": "user", "content": text}], temperature=0.5, **kw
    )


def llm(model: str, prompt: str = "one two", **kw) -> GenerationRequest:
    kw.setdefault("max_tokens", 16)
    return chat(model, prompt, prompt=prompt, **kw)


# One server for the module (uvicorn takes ~0.15 s to stop); each test starts with an empty log.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def fake_server():
    server = FakeLLMServer()
    async with serve(server.app) as base:
        server.registry = Registry.from_env(provider_env(base))
        yield server


@pytest.fixture
def fake(fake_server):
    fake_server.requests.clear()
    fake_server.attempts.clear()
    return fake_server


# ---------------------------------------------------------------- chat, every provider


@pytest.mark.parametrize("pid", ALL_IDS)
async def test_chat_answer_usage_and_request_id(fake, pid):
    g = await fake.registry.get(pid).generate(chat("m-chat"), None)
    assert g.text == "cba fed ihg"  # the OpenAI family's " … \n" is trimmed, as core does
    assert (g.usage, g.request_id) == PLAIN[pid]
    assert g.function_calls == []


@pytest.mark.parametrize("pid", ALL_IDS)
async def test_chat_streams_one_tokens_event_per_piece(fake, pid):
    sink = Sink()
    g = await fake.registry.get(pid).generate(chat("m-chat"), sink)
    assert sink.events == [
        ("tokens", {"text": "cba"}),
        ("tokens", {"text": " fed"}),
        ("tokens", {"text": " ihg"}),
    ]
    assert (g.text, g.usage, g.request_id) == ("cba fed ihg", PLAIN[pid][0], STREAMED_ID[pid])


@pytest.mark.parametrize("pid", ALL_IDS)
async def test_each_provider_reaches_its_own_route_with_its_own_key_header(fake, pid):
    await fake.registry.get(pid).generate(chat("m-chat"), None)
    seen = fake.requests[-1]
    route, header, value = {
        "azure_openai": (
            "/azure/openai/deployments/m-chat/chat/completions",
            "api-key",
            KEY,
        ),
        "anthropic": ("/anthropic/v1/messages", "x-api-key", KEY),
        "google_ai_studio": (
            "/google/v1beta/models/m-chat:streamGenerateContent",
            "x-goog-api-key",
            KEY,
        ),
        "ollama": ("/oai/ollama/v1/chat/completions", "authorization", None),
    }.get(pid, (f"/oai/{pid}/v1/chat/completions", "authorization", f"Bearer {KEY}"))
    assert (seen.path, seen.headers.get(header)) == (route, value)
    assert KEY not in seen.query  # never in a URL, where logs and proxies would keep it
    if pid == "azure_openai":
        assert seen.query == "api-version=2024-10-21"
    if pid == "google_ai_studio":
        assert seen.query == "alt=sse"


@pytest.mark.parametrize("pid", ALL_IDS)
async def test_function_calls_come_back_streamed_or_not(fake, pid):
    fn = {"name": "lookup", "description": "Look up", "parameters": {"type": "object"}}
    provider = fake.registry.get(pid)
    plain = await provider.generate(chat("m-chat", functions=[fn], function_call="any"), None)
    sink = Sink()
    streamed = await provider.generate(chat("m-chat", functions=[fn], function_call="any"), sink)
    for g in (plain, streamed):
        assert [(c["name"], json.loads(c["arguments"])) for c in g.function_calls] == [
            ("lookup", {"q": "x"})
        ]
        assert g.function_calls[0]["id"]
    assert ("function_call", {"name": "lookup"}) in sink.events


# ---------------------------------------------------------------- request bodies


async def test_openai_chat_body_maps_dust_messages_tools_and_extras(fake):
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "abc", "name": "ann"},
        {
            "role": "assistant",
            "content": None,
            "function_calls": [{"id": "c1", "name": "lookup", "arguments": '{"q":1}'}],
        },
        {"role": "function", "name": "lookup", "function_call_id": "c1", "content": "42"},
    ]
    fn = {"name": "lookup", "description": "d", "parameters": {"type": "object"}}
    request = GenerationRequest(
        model_id="gpt-4o",
        messages=messages,
        temperature=0.2,
        max_tokens=-1,
        stop=["\n\n", ""],
        top_p=0.9,
        functions=[fn],
        function_call="any",
        response_format="json_object",
        extras={"openai_user": "u1", "openai_organization_id": "org-1"},
    )
    await fake.registry.get("openai").generate(request, None)
    seen = fake.requests[-1]
    assert seen.headers["openai-organization"] == "org-1"
    assert seen.body == {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "abc", "name": "ann"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"q":1}'},
                    }
                ],
            },
            {"role": "tool", "content": "42", "tool_call_id": "c1"},
        ],
        "temperature": 0.2,
        "stop": ["\n\n"],
        "top_p": 0.9,
        "user": "u1",
        "tools": [{"type": "function", "function": fn}],
        "tool_choice": "required",
        "response_format": {"type": "json_object"},
    }


async def test_mistral_any_is_any_and_one_named_function_becomes_any(fake):
    fns = [{"name": n, "description": "d", "parameters": {}} for n in ("a", "b")]
    mistral = fake.registry.get("mistral")
    await mistral.generate(chat("m", functions=fns, function_call="any"), None)
    assert fake.requests[-1].body["tool_choice"] == "any"
    await mistral.generate(chat("m", functions=fns[:1], function_call="a"), None)
    assert fake.requests[-1].body["tool_choice"] == "any"
    with pytest.raises(ProviderError) as exc:
        await mistral.generate(chat("m", functions=fns, function_call="a"), None)
    assert str(exc.value) == (
        "Mistral only supports specified function when there is exactly one function possible."
    )


async def test_anthropic_body_takes_the_system_message_merges_turns_and_maps_tools(fake):
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "first"},
        {"role": "user", "content": "abc def"},
        {
            "role": "assistant",
            "content": "calling",
            "function_calls": [{"id": "t1", "name": "lookup", "arguments": '{"q": 1}'}],
        },
        {"role": "function", "name": "lookup", "function_call_id": "t1", "content": "42"},
    ]
    fn = {"name": "lookup", "description": "d", "parameters": {"type": "object"}}
    request = GenerationRequest(
        model_id="claude-3-5-sonnet-20241022",
        messages=messages,
        temperature=0.3,
        stop=["END"],
        functions=[fn],
        function_call="lookup",
        extras={"anthropic_beta_flags": ["flag-a", "flag-b"]},
    )
    await fake.registry.get("anthropic").generate(request, None)
    seen = fake.requests[-1]
    assert seen.headers["anthropic-version"] == "2023-06-01"
    assert seen.headers["anthropic-beta"] == "flag-a,flag-b"
    assert seen.body == {
        "model": "claude-3-5-sonnet-20241022",
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "first"}, {"type": "text", "text": "abc def"}],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "calling"},
                    {"type": "tool_use", "id": "t1", "name": "lookup", "input": {"q": 1}},
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "42"}],
            },
        ],
        "max_tokens": 8192,  # core's default for claude-3-5-sonnet when the block sets none
        "temperature": 0.3,
        "stop_sequences": ["END"],
        "system": "Be brief.",
        "tools": [{"name": "lookup", "description": "d", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "tool", "name": "lookup"},
    }


async def test_google_body_has_core_generation_config_safety_and_tool_config(fake):
    request = GenerationRequest(
        model_id="gemini-1.5-pro",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "abc"}],
        temperature=0.4,
        max_tokens=100,
        stop=["END"],
        functions=[{"name": "lookup", "description": "d", "parameters": {"type": "object"}}],
        function_call="lookup",
    )
    await fake.registry.get("google_ai_studio").generate(request, None)
    body = fake.requests[-1].body
    assert body["contents"] == [{"role": "user", "parts": [{"text": "abc"}]}]
    assert body["systemInstruction"] == {"role": "user", "parts": [{"text": "Be brief."}]}
    assert body["generation_config"] == {
        "temperature": 0.4,
        "topP": 1.0,
        "maxOutputTokens": 100,
        "stopSequences": ["END"],
    }
    assert [s["threshold"] for s in body["safety_settings"]] == ["BLOCK_ONLY_HIGH"] * 4
    assert body["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["lookup"]}
    }


async def test_google_refuses_penalties_with_core_texts(fake):
    google = fake.registry.get("google_ai_studio")
    with pytest.raises(ProviderError) as exc:
        await google.generate(chat("gemini", frequency_penalty=0.1), None)
    assert str(exc.value) == "Frequency penalty not supported by GoogleAIStudio"
    with pytest.raises(ProviderError) as exc:
        await google.generate(llm("gemini", top_logprobs=2), None)
    assert str(exc.value) == "Top logprobs not supported by GoogleAIStudio"
    assert fake.requests == []


# ---------------------------------------------------------------- llm blocks: completion API


@pytest.mark.parametrize("pid", ["openai", "azure_openai"])
@pytest.mark.parametrize("streamed", [False, True])
async def test_llm_on_a_non_chat_model_uses_the_completion_api_with_logprobs(fake, pid, streamed):
    sink = Sink() if streamed else None
    g = await fake.registry.get(pid).generate(llm("davinci-002", "one two"), sink)
    seen = fake.requests[-1]
    assert seen.path.endswith("/completions") and not seen.path.endswith("/chat/completions")
    assert {k: seen.body[k] for k in ("prompt", "echo", "logprobs", "max_tokens", "n")} == {
        "prompt": "one two",
        "echo": True,
        "logprobs": 0,
        "max_tokens": 16,
        "n": 1,
    }
    assert g.text == "eno owt"
    assert g.prompt == Tokens("one two", ["one", " two"], [None, -0.5], None)
    assert g.completion == Tokens("eno owt", ["eno", " owt"], [-0.5, -0.5], None)
    if streamed:  # the echoed prompt is not streamed, only the completion
        assert sink.events == [("tokens", {"text": "eno"}), ("tokens", {"text": " owt"})]


async def test_llm_on_gpt_4_goes_to_chat_and_instruct_to_completions_without_echo(fake):
    openai = fake.registry.get("openai")
    g = await openai.generate(llm("gpt-4o-mini", "one two"), None)
    assert fake.requests[-1].path == "/oai/openai/v1/chat/completions"
    assert (g.text, g.prompt, g.completion) == ("eno owt", None, None)
    g = await openai.generate(llm("gpt-3.5-turbo-instruct", "one two"), None)
    assert fake.requests[-1].path == "/oai/openai/v1/completions"
    assert fake.requests[-1].body["echo"] is False
    assert g.prompt == Tokens("one two", [], [], None)
    assert g.completion == Tokens("eno owt", ["eno", " owt"], [-0.5, -0.5], None)


async def test_llm_max_tokens_minus_one_asks_for_the_context_left(fake):
    await fake.registry.get("openai").generate(llm("davinci-002", "one two", max_tokens=-1), None)
    assert fake.requests[-1].body["max_tokens"] == 16384 - len(b"one two")


async def test_llm_on_google_sends_the_prompt_as_one_user_content(fake):
    sink = Sink()
    g = await fake.registry.get("google_ai_studio").generate(llm("gemini-pro", "one two"), sink)
    assert fake.requests[-1].body["contents"] == [{"role": "user", "parts": [{"text": "one two"}]}]
    assert (g.text, g.prompt, g.completion) == (
        "eno owt",
        Tokens("one two", [], [], None),
        Tokens("eno owt", [], [], None),
    )
    assert sink.events == [("tokens", {"text": "eno"}), ("tokens", {"text": " owt"})]


REFUSALS = {
    "anthropic": "Completion API not available for provider `anthropic`: run this prompt in a "
    "`chat` block (an `llm` block uses Anthropic only with a `gpt-4*` / `gpt-3.5-turbo*` model id)",
    "xai": "xAI Grok models do not support text completions, only chat completions: run this "
    "prompt in a `chat` block",
    "deepseek": "DeepSeek has no completion API in Dust (provider `deepseek`): run this prompt in "
    "a `chat` block (an `llm` block uses `deepseek` only with a `gpt-4*` / `gpt-3.5-turbo*` model id)",
}


@pytest.mark.parametrize(
    "pid", ["anthropic", "mistral", "togetherai", "deepseek", "fireworks", "xai"]
)
async def test_llm_on_a_provider_without_completion_api_is_refused_by_name(fake, pid):
    with pytest.raises(ProviderError) as exc:
        await fake.registry.get(pid).generate(llm("some-model"), None)
    message = str(exc.value)
    assert f"`{pid}`" in message or "xAI" in message
    assert "`chat` block" in message
    if pid in REFUSALS:
        assert message == REFUSALS[pid]
    assert fake.requests == []
    # …while a chat model id runs the prompt through chat, as core's llm block does.
    g = await fake.registry.get(pid).generate(llm("gpt-4-turbo", "one two"), None)
    assert g.text == "eno owt"


@pytest.mark.parametrize("pid", ["openai_compatible", "ollama"])
async def test_local_servers_run_llm_blocks_through_chat_whatever_the_model(fake, pid):
    g = await fake.registry.get(pid).generate(llm("llama3", "one two"), None)
    assert fake.requests[-1].path == f"/oai/{pid}/v1/chat/completions"
    assert g.text == "eno owt"
