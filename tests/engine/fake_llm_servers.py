"""Fake LLM provider servers on a real loopback socket, one app speaking every wire format.

Routes (the base URLs providers are given):

- ``{url}/oai/{pid}/v1/chat/completions`` and ``…/completions`` — OpenAI and compatible servers;
- ``{url}/azure/openai/deployments/{deployment}/chat/completions`` (and ``/completions``);
- ``{url}/anthropic/v1/messages``;
- ``{url}/google/v1beta/models/{model}:streamGenerateContent?alt=sse``.

Each answers the last user text with its words reversed letter by letter ("abc def" → "cba
fed"), streamed one word per event when asked; a request naming tools gets one call of the
first tool with arguments `{"q": "x"}`. The model id picks a misbehaviour:

- ``fail-429-once`` — 429 (with `Retry-After: 0`) the first time, then a normal answer;
- ``fail-500`` — 500 every time; ``fail-401`` — 401 whose message echoes the key sent;
- ``cut`` — a stream (or body) cut after the first word; ``bad-json`` — a malformed body/event;
- ``html-502`` — a proxy's HTML page with status 502; ``ends-early`` — a stream that ends
  cleanly before its last event (OpenAI routes); ``slow`` — a stream that waits 3 s first.

Every request is kept in ``requests`` (path, query, headers, JSON body).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

KEY = "sk-fake-provider-key-7f3a9c"


class CutStream(Exception):
    """Raised inside a streaming body: uvicorn drops the connection mid-response."""


@dataclass
class Seen:
    path: str
    query: str
    headers: dict[str, str]
    body: dict[str, Any]


def reverse_words(text: str) -> str:
    return " ".join(w[::-1] for w in text.split())


def _text(content: Any) -> str:
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content or "")


class FakeLLMServer:
    """The app and its request log (see the module docstring)."""

    def __init__(self, key: str = KEY) -> None:
        self.key = key
        self.requests: list[Seen] = []
        self.attempts: Counter[str] = Counter()
        self.app = Starlette(
            routes=[
                Route("/oai/{pid}/v1/chat/completions", self.oai_chat, methods=["POST"]),
                Route("/oai/{pid}/v1/completions", self.oai_completions, methods=["POST"]),
                Route(
                    "/azure/openai/deployments/{dep}/chat/completions",
                    self.oai_chat,
                    methods=["POST"],
                ),
                Route(
                    "/azure/openai/deployments/{dep}/completions",
                    self.oai_completions,
                    methods=["POST"],
                ),
                Route("/anthropic/v1/messages", self.anthropic, methods=["POST"]),
                Route("/google/v1beta/models/{model_call:path}", self.google, methods=["POST"]),
            ]
        )

    # ------------------------------------------------------------------ shared

    async def _seen(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        body = json.loads(raw) if raw else {}
        self.requests.append(Seen(request.url.path, request.url.query, dict(request.headers), body))
        return body

    def _misbehave(self, model: str, key_sent: str | None, error_body: Any) -> Response | None:
        self.attempts[model] += 1
        if key_sent != self.key or model == "fail-401":
            return JSONResponse(error_body(f"Incorrect API key provided: {key_sent}"), 401)
        if model == "fail-429-once" and self.attempts[model] == 1:
            return JSONResponse(error_body("Rate limit reached"), 429, {"retry-after": "0"})
        if model == "fail-500":
            return JSONResponse(error_body("The server had an error"), 500, {"retry-after": "0"})
        if model == "html-502":
            return Response(
                "<html><body><h1>502 Bad Gateway</h1></body></html>", 502, {"retry-after": "0"}
            )
        return None

    @staticmethod
    def _sse(events: list[str], cut_after: int | None = None) -> StreamingResponse:
        async def body() -> AsyncIterator[str]:
            for i, event in enumerate(events):
                if cut_after is not None and i == cut_after:
                    raise CutStream
                yield event
                await asyncio.sleep(0)

        return StreamingResponse(body(), media_type="text/event-stream")

    # ------------------------------------------------------------------ OpenAI

    @staticmethod
    def _oai_error(message: str) -> dict[str, Any]:
        return {"error": {"message": message, "type": "invalid_request_error", "code": None}}

    async def oai_chat(self, request: Request) -> Response:
        body = await self._seen(request)
        sent = request.headers.get("api-key") or (
            request.headers.get("authorization", "").removeprefix("Bearer ") or None
        )
        model = request.path_params.get("dep") or body.get("model", "")
        if request.path_params.get("pid") == "ollama":  # a local server takes no key
            sent = sent or self.key
        bad = self._misbehave(model, sent, self._oai_error)
        if bad is not None:
            return bad
        user = [m for m in body["messages"] if m.get("role") == "user"]
        answer = reverse_words(_text(user[-1]["content"]) if user else "")
        tool = (body.get("tools") or [{}])[0].get("function")
        if model == "bad-json" and not body.get("stream"):
            return Response('{"choices": [', media_type="application/json")
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": f" {answer}\n"}
            if tool:
                message["content"] = None
                message["tool_calls"] = [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": tool["name"], "arguments": '{"q": "x"}'},
                    }
                ]
            return JSONResponse(
                {
                    "id": "chatcmpl-1",
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9},
                },
                headers={"x-request-id": "req-42", "x-kong-request-id": "kong-42"},
            )
        events = [": keep-alive\n\n"]
        for i, word in enumerate(answer.split(" ")):
            piece = word if i == 0 else " " + word
            delta = {"id": "chatcmpl-2", "choices": [{"index": 0, "delta": {"content": piece}}]}
            events.append(f"data: {json.dumps(delta)}\n\n")
        if tool:
            for tc in (
                {
                    "index": 0,
                    "id": "call_9",
                    "type": "function",
                    "function": {"name": tool["name"]},
                },
                {"index": 0, "function": {"arguments": '{"q": '}},
                {"index": 0, "function": {"arguments": '"x"}'}},
            ):
                events.append(
                    f"data: {json.dumps({'choices': [{'delta': {'tool_calls': [tc]}}]})}\n\n"
                )
        if model == "bad-json":
            events.insert(2, "data: {oops\n\n")
        if model == "ends-early":  # a clean end of body, but no finish_reason nor [DONE]
            return self._sse(events[:2])
        if model == "slow":
            await asyncio.sleep(3)
        end = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        events.append(f"data: {json.dumps(end)}\n\n")
        usage = {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 2}}
        events += [f"data: {json.dumps(usage)}\n\n", "data: [DONE]\n\n"]
        return self._sse(events, cut_after=2 if model == "cut" else None)

    async def oai_completions(self, request: Request) -> Response:
        body = await self._seen(request)
        sent = request.headers.get("api-key") or (
            request.headers.get("authorization", "").removeprefix("Bearer ") or None
        )
        model = request.path_params.get("dep") or body.get("model", "")
        bad = self._misbehave(model, sent, self._oai_error)
        if bad is not None:
            return bad
        prompt = body["prompt"]
        words = reverse_words(prompt).split(" ")
        completion = [w if i == 0 else " " + w for i, w in enumerate(words)]
        prompt_tokens = [w if i == 0 else " " + w for i, w in enumerate(prompt.split(" "))]
        echo = bool(body.get("echo"))
        tokens = (prompt_tokens if echo else []) + completion
        offsets, at = [], 0
        for t in tokens:
            offsets.append(at)
            at += len(t)
        if not echo:
            offsets = [len(prompt) + o for o in offsets]
        logprobs = {
            "tokens": tokens,
            "token_logprobs": [None if i == 0 and echo else -0.5 for i in range(len(tokens))],
            "top_logprobs": None,
            "text_offset": offsets,
        }
        text = "".join(tokens)
        if not body.get("stream"):
            return JSONResponse(
                {
                    "id": "cmpl-1",
                    "choices": [{"text": text, "index": 0, "logprobs": logprobs}],
                    "usage": {"prompt_tokens": 3, "completion_tokens": 3},
                }
            )
        events = []
        for i, token in enumerate(tokens):
            lp = {k: [v[i]] for k, v in logprobs.items() if v is not None}
            events.append(
                f"data: {json.dumps({'id': 'cmpl-2', 'choices': [{'text': token, 'logprobs': lp}]})}\n\n"
            )
        events.append(
            f"data: {json.dumps({'choices': [{'text': '', 'finish_reason': 'stop'}]})}\n\n"
        )
        events.append("data: [DONE]\n\n")
        return self._sse(events)

    # ------------------------------------------------------------------ Anthropic

    @staticmethod
    def _anthropic_error(message: str) -> dict[str, Any]:
        return {"type": "error", "error": {"type": "authentication_error", "message": message}}

    async def anthropic(self, request: Request) -> Response:
        body = await self._seen(request)
        model = body.get("model", "")
        bad = self._misbehave(model, request.headers.get("x-api-key"), self._anthropic_error)
        if bad is not None:
            return bad
        last = [m for m in body["messages"] if m["role"] == "user"][-1]
        answer = reverse_words(
            " ".join(c.get("text", "") for c in last["content"] if c.get("type") == "text")
        )
        tool = (body.get("tools") or [None])[0]
        if not body.get("stream"):
            if model == "bad-json":
                return Response("{oops", media_type="application/json")
            content: list[dict[str, Any]] = [{"type": "text", "text": answer}]
            if tool:
                content.append(
                    {"type": "tool_use", "id": "toolu_1", "name": tool["name"], "input": {"q": "x"}}
                )
            return JSONResponse(
                {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "content": content,
                    "usage": {"input_tokens": 11, "output_tokens": 4},
                },
                headers={"request-id": "req_ant_1"},
            )

        def ev(kind: str, data: dict[str, Any]) -> str:
            return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n"

        events = [
            ev("message_start", {"message": {"id": "msg_2", "usage": {"input_tokens": 11}}}),
            ev("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
            ev("ping", {}),
        ]
        for i, word in enumerate(answer.split(" ")):
            piece = word if i == 0 else " " + word
            events.append(
                ev(
                    "content_block_delta",
                    {"index": 0, "delta": {"type": "text_delta", "text": piece}},
                )
            )
        events.append(ev("content_block_stop", {"index": 0}))
        if tool:
            events.append(
                ev(
                    "content_block_start",
                    {
                        "index": 1,
                        "content_block": {
                            "type": "tool_use",
                            "id": "toolu_2",
                            "name": tool["name"],
                        },
                    },
                )
            )
            for part in ('{"q": ', '"x"}'):
                events.append(
                    ev(
                        "content_block_delta",
                        {"index": 1, "delta": {"type": "input_json_delta", "partial_json": part}},
                    )
                )
            events.append(ev("content_block_stop", {"index": 1}))
        if model == "bad-json":
            events.insert(3, "event: content_block_delta\ndata: {oops\n\n")
        if model == "overloaded":
            events.insert(
                3, ev("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}})
            )
        events += [ev("message_delta", {"usage": {"output_tokens": 4}}), ev("message_stop", {})]
        return self._sse(events, cut_after=4 if model == "cut" else None)

    # ------------------------------------------------------------------ Google

    @staticmethod
    def _google_error(message: str) -> dict[str, Any]:
        return {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}

    async def google(self, request: Request) -> Response:
        body = await self._seen(request)
        model, _, method = request.path_params["model_call"].partition(":")
        if method != "streamGenerateContent":
            return JSONResponse(self._google_error(f"unknown method {method}"), 404)
        bad = self._misbehave(model, request.headers.get("x-goog-api-key"), self._google_error)
        if bad is not None:
            return bad
        users = [c for c in body["contents"] if c["role"] == "user"]
        answer = reverse_words(users[-1]["parts"][0]["text"]) if users else ""
        words = answer.split(" ")
        events = []
        for i, word in enumerate(words):
            piece = word if i == 0 else " " + word
            candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": piece}]}}
            if i == len(words) - 1:
                candidate["finishReason"] = "STOP"
            chunk: dict[str, Any] = {"candidates": [candidate]}
            if i == len(words) - 1:
                chunk["usageMetadata"] = {"promptTokenCount": 5, "candidatesTokenCount": 2}
            events.append(f"data: {json.dumps(chunk)}\r\n\r\n")
        decls = (body.get("tools") or [{}])[0].get("functionDeclarations")
        if decls:
            call = {"functionCall": {"name": decls[0]["name"], "args": {"q": "x"}}}
            events.insert(
                0,
                f"data: {json.dumps({'candidates': [{'content': {'role': 'model', 'parts': [call]}}]})}\r\n\r\n",
            )
        if model == "bad-json":
            events.insert(1, "data: {oops\r\n\r\n")
        return self._sse(events, cut_after=1 if model == "cut" else None)


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Serve `app` with uvicorn on 127.0.0.1 (port 0) in this loop; yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 — uvicorn offers no startup event to await
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@contextlib.contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Serve `app` from a thread of its own (for synchronous tests); yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the fake provider server did not start")
        threading.Event().wait(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def provider_env(base: str, key: str = KEY) -> dict[str, str]:
    """An engine environment pointing every provider at the fake server."""
    env = {
        "OPENAI_API_KEY": key,
        "OPENAI_BASE_URL": f"{base}/oai/openai/v1",
        "AZURE_OPENAI_API_KEY": key,
        "AZURE_OPENAI_ENDPOINT": f"{base}/azure",
        "ANTHROPIC_API_KEY": key,
        "ANTHROPIC_BASE_URL": f"{base}/anthropic",
        "GOOGLE_AI_STUDIO_API_KEY": key,
        "GOOGLE_AI_STUDIO_BASE_URL": f"{base}/google/v1beta",
        "OPENAI_COMPATIBLE_BASE_URL": f"{base}/oai/openai_compatible/v1",
        "OPENAI_COMPATIBLE_API_KEY": key,
        "OLLAMA_BASE_URL": f"{base}/oai/ollama/v1",
    }
    for pid in ("mistral", "togetherai", "deepseek", "fireworks", "xai"):
        env[f"{pid.upper()}_API_KEY"] = key
        env[f"{pid.upper()}_BASE_URL"] = f"{base}/oai/{pid}/v1"
    return env
