"""LLM providers: the offline stand-in, the SSE reader, and an OpenAI-compatible endpoint served by a
tiny fake server on a real loopback socket."""

from __future__ import annotations

import asyncio
import contextlib
import json

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from dusttui.engine.providers import (
    CORE_PROVIDER_IDS,
    GenerationRequest,
    OfflineProvider,
    OpenAICompatibleProvider,
    ProviderError,
    ProviderRegistry,
)
from dusttui.engine.providers.http import ProviderHTTP, openai_error
from dusttui.engine.providers.sse import iter_sse_data

KEY = "sk-test-secret-123"


def _request(model: str, text: str, **kw) -> GenerationRequest:
    return GenerationRequest(
        model_id=model, messages=[{"role": "user", "content": text}], temperature=0.7, **kw
    )


class Sink:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []

    async def __call__(self, event_type: str, content: dict) -> None:
        self.events.append((event_type, content))


# ---------------------------------------------------------------- offline


async def test_offline_models_transform_the_last_user_message():
    p = OfflineProvider()
    assert (
        await p.generate(_request("echo", "Hello brave world"), None)
    ).text == "Hello brave world"
    assert (
        await p.generate(_request("upper", "Hello brave world"), None)
    ).text == "HELLO BRAVE WORLD"
    assert (
        await p.generate(_request("reverse", "Hello brave world"), None)
    ).text == "world brave Hello"


async def test_offline_counts_words_cuts_at_max_tokens_and_stop():
    p = OfflineProvider()
    g = await p.generate(_request("echo", "one two three four five", max_tokens=3), None)
    assert g.text == "one two three"
    assert g.usage == {"prompt_tokens": 5, "completion_tokens": 3}
    g = await p.generate(_request("echo", "alpha beta. gamma", stop=["."]), None)
    assert g.text == "alpha beta"
    assert g.request_id is None


async def test_offline_streams_one_tokens_event_per_word():
    sink = Sink()
    g = await OfflineProvider().generate(_request("upper", "a bc  d"), sink)
    assert g.text == "A BC  D"
    assert sink.events == [
        ("tokens", {"text": "A"}),
        ("tokens", {"text": " BC"}),
        ("tokens", {"text": "  D"}),
    ]


async def test_offline_unknown_model_is_a_clear_error():
    with pytest.raises(ProviderError) as exc:
        await OfflineProvider().generate(_request("gpt-4", "hi"), None)
    assert (
        str(exc.value)
        == "Unknown offline model `gpt-4`, expecting one of `echo`, `upper`, `reverse`"
    )


def test_registry_serves_every_provider_id_core_accepts_and_ours():
    # core/src/providers/provider.rs: ProviderID::from_str accepts exactly these nine.
    reg = ProviderRegistry.from_env({})
    assert CORE_PROVIDER_IDS == (
        "openai",
        "azure_openai",
        "anthropic",
        "mistral",
        "google_ai_studio",
        "togetherai",
        "deepseek",
        "fireworks",
        "xai",
    )
    assert reg.ids() == ["offline", *CORE_PROVIDER_IDS, "openai_compatible", "ollama"]
    assert reg.get("cohere") is None  # dropped from core: refused by the blocks, by name


# ---------------------------------------------------------------- SSE reader


async def test_sse_reader_joins_data_lines_and_ignores_comments_and_fields():
    async def lines():
        for line in [": keep-alive", "event: x", "data: a", "data:b", "", "", "id: 3", "data: c"]:
            yield line

    assert [d async for d in iter_sse_data(lines())] == ["a\nb", "c"]


# ---------------------------------------------------------------- OpenAI-compatible


class FakeOpenAI:
    """Records requests; answers like an OpenAI-compatible chat completions endpoint."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict, str | None]] = []
        self.app = Starlette(
            routes=[Route("/v1/chat/completions", self.completions, methods=["POST"])]
        )

    async def completions(self, request: Request):
        body = await request.json()
        auth = request.headers.get("authorization")
        self.requests.append((body, auth))
        if auth not in (f"Bearer {KEY}", None):
            return JSONResponse(
                {"error": {"message": "Incorrect API key provided"}}, status_code=401
            )
        words = body["messages"][-1]["content"].split()
        answer = " ".join(w[::-1] for w in words)
        if not body.get("stream"):
            return JSONResponse(
                {
                    "id": "chatcmpl-1",
                    "choices": [{"message": {"role": "assistant", "content": answer}}],
                    "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9},
                },
                headers={"x-request-id": "req-42"},
            )

        async def chunks():
            yield ": keep-alive\n\n"
            for i, w in enumerate(answer.split(" ")):
                piece = w if i == 0 else " " + w
                delta = {"choices": [{"index": 0, "delta": {"content": piece}}], "id": "chatcmpl-2"}
                yield f"data: {json.dumps(delta)}\n\n"
            usage = {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2}}
            yield f"data: {json.dumps(usage)}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")


@contextlib.asynccontextmanager
async def serve(app):
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 — uvicorn offers no startup event to await
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def fake_openai():
    fake = FakeOpenAI()
    async with serve(fake.app) as base_url:
        fake.base_url = base_url
        yield fake


async def test_openai_compatible_completion_sends_key_and_reads_usage(fake_openai):
    p = OpenAICompatibleProvider("openai", fake_openai.base_url, KEY)
    g = await p.generate(_request("m1", "abc def", max_tokens=5, stop=["\n", ""]), None)
    assert g.text == "cba fed"
    assert g.usage == {"prompt_tokens": 7, "completion_tokens": 2}
    assert g.request_id == "req-42"
    body, auth = fake_openai.requests[0]
    assert auth == f"Bearer {KEY}"
    assert body == {
        "model": "m1",
        "messages": [{"role": "user", "content": "abc def"}],
        "temperature": 0.7,
        "max_tokens": 5,
        "stop": ["\n"],
    }


async def test_openai_compatible_streaming_forwards_each_delta(fake_openai):
    sink = Sink()
    p = OpenAICompatibleProvider("openai", fake_openai.base_url, KEY)
    g = await p.generate(_request("m1", "abc def ghi"), sink)
    assert sink.events == [
        ("tokens", {"text": "cba"}),
        ("tokens", {"text": " fed"}),
        ("tokens", {"text": " ihg"}),
    ]
    assert g.text == "cba fed ihg"
    assert g.usage == {"prompt_tokens": 7, "completion_tokens": 2}
    assert g.request_id == "chatcmpl-2"
    assert fake_openai.requests[0][0]["stream_options"] == {"include_usage": True}


async def test_openai_compatible_error_shows_server_message_never_the_key(fake_openai):
    p = OpenAICompatibleProvider("openai", fake_openai.base_url, "sk-wrong-key-999")
    with pytest.raises(ProviderError) as exc:
        await p.generate(_request("m1", "x"), None)
    assert str(exc.value) == "OpenAIError: Incorrect API key provided (HTTP 401)"
    assert "sk-wrong-key-999" not in repr(p)


async def test_openai_without_key_or_endpoint_says_which_variable_to_set():
    with pytest.raises(ProviderError) as exc:
        await ProviderRegistry.from_env({}).get("openai").generate(_request("m", "x"), None)
    assert str(exc.value) == (
        "Provider `openai` needs an API key: set OPENAI_API_KEY in the engine's environment"
    )
    with pytest.raises(ProviderError) as exc:
        await (
            ProviderRegistry.from_env({})
            .get("openai_compatible")
            .generate(_request("m", "x"), None)
        )
    assert str(exc.value) == (
        "Provider `openai_compatible` has no endpoint: set OPENAI_COMPATIBLE_BASE_URL in the "
        "engine's environment"
    )


async def test_unreachable_endpoint_is_a_provider_error():
    # Port 9 on loopback (discard) is closed here: the connection is refused at once.
    p = OpenAICompatibleProvider("ollama", "http://127.0.0.1:9/v1", api_key_env=None)
    with pytest.raises(ProviderError) as exc:
        await p.generate(_request("m", "x"), None)
    assert str(exc.value).startswith(
        "cannot reach OpenAI at http://127.0.0.1:9/v1/chat/completions: "
    )


def test_retry_waits_follow_retry_after_else_double_from_the_backoff():
    http = ProviderHTTP("X", (), openai_error("X"), retries=3, backoff=0.5)
    request = httpx.Request("POST", "http://x")

    def resp(status: int, after: str | None = None) -> httpx.Response:
        headers = {"retry-after": after} if after is not None else {}
        return httpx.Response(status, headers=headers, request=request)

    assert [http._delay(a, resp(503)) for a in range(4)] == [0.5, 1.0, 2.0, None]
    assert http._delay(0, resp(429, "7")) == 7.0
    assert http._delay(0, resp(429, "3600")) == 0.5  # an hour: the backoff instead
    assert http._delay(0, resp(400)) is None
    assert http._delay(0, resp(401)) is None
