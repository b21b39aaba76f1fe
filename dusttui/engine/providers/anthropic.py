"""`anthropic`: Anthropic's Messages API (`POST {ANTHROPIC_BASE_URL}/v1/messages`).

As core (core/src/providers/anthropic/): a first `system` message becomes the `system` field,
Dust `function` results become `tool_result` blocks and assistant `function_calls` `tool_use`
blocks (consecutive messages of one role merged, as the API wants them alternating);
`function_call` becomes `tool_choice` (`auto`, `any`, `none`, or `{type: tool, name}`);
`max_tokens` absent or -1 takes core's per-model default. Streaming reads the API's typed
events (`content_block_delta` text / tool input / thinking). There is no completion API: an `llm`
block runs on Anthropic only through a chat model id, and otherwise fails with core's text.
"""

from __future__ import annotations

import json
from typing import Any

from dusttui.engine.providers.base import Generation, GenerationRequest, ProviderError, StreamSink
from dusttui.engine.providers.http import ProviderHTTP, openai_error

API_VERSION = "2023-06-01"
NO_COMPLETION_API = (
    "Completion API not available for provider `anthropic`: run this prompt in a `chat` block "
    "(an `llm` block uses Anthropic only with a `gpt-4*` / `gpt-3.5-turbo*` model id)"
)


def default_max_tokens(model_id: str) -> int:
    """core's `get_max_tokens` (anthropic.rs), used when the block sets none or -1."""
    if model_id.startswith(
        ("claude-3-7-sonnet", "claude-4-sonnet", "claude-sonnet-4-", "claude-haiku-4-5-")
    ):
        return 64000
    if model_id.startswith("claude-4-opus"):
        return 32000
    if model_id.startswith("claude-3-5-sonnet"):
        return 8192
    return 4096


def _text_blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if isinstance(content, list):  # mixed content: keep text and image-url parts
        out: list[dict[str, Any]] = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text":
                out.append({"type": "text", "text": str(part.get("text", ""))})
            elif isinstance(part, dict) and part.get("type") == "image_url":
                url = (part.get("image_url") or {}).get("url", "")
                out.append({"type": "image", "source": {"type": "url", "url": url}})
        return out
    return []


def _arguments(raw: Any) -> Any:
    try:
        return json.loads(raw) if isinstance(raw, str) and raw else (raw or {})
    except ValueError:
        raise ProviderError(
            "Anthropic function call arguments must be valid JSON (an assistant message's "
            "`function_calls[].arguments`)"
        ) from None


def to_anthropic(messages: list[dict[str, Any]]) -> tuple[str | None, list[dict[str, Any]]]:
    """(system, messages) in Anthropic's form from Dust chat messages."""
    system = None
    if messages and messages[0].get("role") == "system":
        system = str(messages[0].get("content") or "")
        messages = messages[1:]
    out: list[dict[str, Any]] = []
    for m in messages:
        role = m.get("role")
        if role == "function":
            role, blocks = (
                "user",
                [
                    {
                        "type": "tool_result",
                        "tool_use_id": m.get("function_call_id") or m.get("tool_call_id"),
                        "content": str(m.get("content") or ""),
                    }
                ],
            )
        elif role == "assistant":
            blocks = _text_blocks(m.get("content"))
            calls = m.get("function_calls") or (
                [m["function_call"]] if m.get("function_call") else []
            )
            for c in calls:
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": c.get("id"),
                        "name": c.get("name"),
                        "input": _arguments(c.get("arguments")),
                    }
                )
        else:  # user, and any later system message (Anthropic has one system field)
            role, blocks = "user", _text_blocks(m.get("content"))
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    return system, out


class AnthropicProvider:
    """Anthropic's Messages API at `base_url` (https://api.anthropic.com)."""

    provider_id = "anthropic"

    def __init__(
        self,
        base_url: str | None,
        api_key: str | None,
        *,
        timeout: float = 180.0,
        retries: int = 3,
        backoff: float = 0.5,
    ) -> None:
        self.base_url = (base_url or "https://api.anthropic.com").rstrip("/")
        self._api_key = api_key or None
        self._http = ProviderHTTP(
            "Anthropic",
            (api_key,) if api_key else (),
            openai_error("Anthropic"),
            timeout=timeout,
            retries=retries,
            backoff=backoff,
        )

    def __repr__(self) -> str:  # the key stays out of reprs and logs
        return f"AnthropicProvider(base_url={self.base_url!r})"

    def _headers(self, request: GenerationRequest) -> dict[str, str]:
        if not self._api_key:
            raise ProviderError(
                "Provider `anthropic` needs an API key: set ANTHROPIC_API_KEY "
                "in the engine's environment"
            )
        headers = {
            "Content-Type": "application/json",
            "x-api-key": self._api_key,
            "anthropic-version": API_VERSION,
        }
        flags = request.extras.get("anthropic_beta_flags")
        if isinstance(flags, list) and flags:
            headers["anthropic-beta"] = ",".join(str(f) for f in flags)
        return headers

    def body(self, request: GenerationRequest, stream: bool) -> dict[str, Any]:
        """The Messages API body of a request."""
        system, messages = to_anthropic(request.messages)
        max_tokens = request.max_tokens
        if max_tokens is None or max_tokens < 0:
            max_tokens = default_max_tokens(request.model_id)
        body: dict[str, Any] = {
            "model": request.model_id,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": request.temperature,
        }
        if request.top_p is not None:
            body["top_p"] = request.top_p
        stops = [s for s in request.stop if s]
        if stops:
            body["stop_sequences"] = stops
        if system is not None:
            body["system"] = system
        if request.functions:
            body["tools"] = [
                {
                    "name": f["name"],
                    "description": f.get("description"),
                    "input_schema": f.get("parameters"),
                }
                for f in request.functions
            ]
            choice = request.function_call
            if choice in ("auto", "any", "none"):
                body["tool_choice"] = {"type": choice}
            elif choice:
                body["tool_choice"] = {"type": "tool", "name": choice}
        if stream:
            body["stream"] = True
        return body

    async def generate(self, request: GenerationRequest, sink: StreamSink | None) -> Generation:
        """Answer a chat request (the completion API does not exist here)."""
        if request.completion_api:
            raise ProviderError(NO_COMPLETION_API)
        headers = self._headers(request)
        url = f"{self.base_url}/v1/messages"
        if sink is None:
            data, resp_headers = await self._http.post_json(url, self.body(request, False), headers)
            return self._parse(data, resp_headers.get("request-id"))
        async with self._http.stream(url, self.body(request, True), headers) as (
            resp_headers,
            events,
        ):
            return await self._read_stream(events, resp_headers.get("request-id"), sink)

    def _parse(self, data: Any, request_id: str | None) -> Generation:
        if not isinstance(data, dict) or not isinstance(data.get("content"), list):
            raise self._http.error("Anthropic answered without a `content` list")
        text, thinking, calls = [], [], []
        for block in data["content"]:
            kind = block.get("type") if isinstance(block, dict) else None
            if kind == "text":
                text.append(str(block.get("text", "")))
            elif kind == "thinking":
                thinking.append(str(block.get("thinking", "")))
            elif kind == "tool_use":
                calls.append(
                    {
                        "id": block.get("id") or "",
                        "name": block.get("name") or "",
                        "arguments": json.dumps(block.get("input") or {}),
                    }
                )
        usage = data.get("usage") or {}
        return Generation(
            text="".join(text),
            usage={
                "prompt_tokens": int(usage.get("input_tokens") or 0),
                "completion_tokens": int(usage.get("output_tokens") or 0),
            },
            request_id=request_id or data.get("id"),
            function_calls=calls,
            reasoning="".join(thinking) or None,
        )

    async def _read_stream(
        self, events: Any, request_id: str | None, sink: StreamSink
    ) -> Generation:
        text: list[str] = []
        thinking: list[str] = []
        blocks: dict[int, dict[str, Any]] = {}
        prompt_tokens = completion_tokens = 0
        done = False
        async for data in events:
            event = self._http.loads(data)
            kind = event.get("type") if isinstance(event, dict) else None
            if kind == "error":
                raise self._http.error(openai_error("Anthropic")(200, event, data))
            if kind == "message_start":
                message = event.get("message") or {}
                request_id = request_id or message.get("id")
                prompt_tokens = int((message.get("usage") or {}).get("input_tokens") or 0)
            elif kind == "content_block_start":
                block = event.get("content_block") or {}
                blocks[int(event.get("index", 0))] = {**block, "json": ""}
                if block.get("type") == "tool_use":
                    await sink("function_call", {"name": block.get("name", "")})
            elif kind == "content_block_delta":
                delta = event.get("delta") or {}
                block = blocks.setdefault(int(event.get("index", 0)), {"json": ""})
                if delta.get("type") == "text_delta" and delta.get("text"):
                    text.append(delta["text"])
                    await sink("tokens", {"text": delta["text"]})
                elif delta.get("type") == "thinking_delta" and delta.get("thinking"):
                    thinking.append(delta["thinking"])
                    await sink("reasoning_tokens", {"text": delta["thinking"]})
                elif delta.get("type") == "input_json_delta" and delta.get("partial_json"):
                    block["json"] += delta["partial_json"]
                    await sink("function_call_arguments_tokens", {"text": delta["partial_json"]})
            elif kind == "message_delta":
                usage = event.get("usage") or {}
                completion_tokens = int(usage.get("output_tokens") or completion_tokens)
            elif kind == "message_stop":
                done = True
                break
        if not done:
            raise self._http.cut()
        calls = [
            {"id": b.get("id") or "", "name": b.get("name") or "", "arguments": b["json"] or "{}"}
            for _, b in sorted(blocks.items())
            if b.get("type") == "tool_use"
        ]
        return Generation(
            text="".join(text),
            usage={"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens},
            request_id=request_id,
            function_calls=calls,
            reasoning="".join(thinking) or None,
        )
