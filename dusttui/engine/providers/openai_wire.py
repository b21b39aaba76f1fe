"""Reading OpenAI-format answers: a chat completions stream, stream error events, and the legacy
completion API's echoed prompt split into core's prompt and completion `Tokens`."""

from __future__ import annotations

from typing import Any

from dusttui.engine.providers.base import Generation, StreamSink, Tokens
from dusttui.engine.providers.http import ProviderHTTP, openai_error


def usage_of(raw: Any) -> dict[str, int] | None:
    """`{prompt_tokens, completion_tokens}` of an OpenAI usage object."""
    if not isinstance(raw, dict):
        return None
    return {
        "prompt_tokens": int(raw.get("prompt_tokens") or 0),
        "completion_tokens": int(raw.get("completion_tokens") or 0),
    }


class ChatStreamReader:
    """Reads a chat completions stream into a Generation, forwarding each piece to the sink."""

    def __init__(self, http: ProviderHTTP, sink: StreamSink) -> None:
        self._http = http
        self._sink = sink

    async def read(self, events: Any, request_id: str | None) -> Generation:
        """Consume the events; ProviderError on an error event, bad JSON or a cut stream."""
        text: list[str] = []
        reasoning: list[str] = []
        usage = None
        done = False
        calls: dict[int, dict[str, Any]] = {}
        async for data in events:
            if data.strip() == "[DONE]":
                done = True
                break
            chunk = self._http.loads(data)
            raise_stream_error(self._http, chunk)
            request_id = request_id or chunk.get("id")
            usage = usage_of(chunk.get("usage")) or usage
            for choice in chunk.get("choices") or []:
                done = done or bool(choice.get("finish_reason"))
                delta = choice.get("delta") or {}
                if isinstance(delta.get("content"), str) and delta["content"]:
                    text.append(delta["content"])
                    await self._sink("tokens", {"text": delta["content"]})
                thought = delta.get("reasoning_content") or delta.get("reasoning")
                if isinstance(thought, str) and thought:
                    reasoning.append(thought)
                    await self._sink("reasoning_tokens", {"text": thought})
                for tc in delta.get("tool_calls") or []:
                    await self._tool_call(calls, tc)
        if not done:
            raise self._http.cut()
        return Generation(
            text="".join(text).strip(),
            usage=usage,
            request_id=request_id,
            function_calls=[calls[i] for i in sorted(calls)],
            reasoning="".join(reasoning) or None,
        )

    async def _tool_call(self, calls: dict[int, dict[str, Any]], tc: Any) -> None:
        if not isinstance(tc, dict):
            return
        call = calls.setdefault(tc.get("index", 0), {"id": "", "name": "", "arguments": ""})
        fn = tc.get("function") or {}
        if tc.get("id"):
            call["id"] = tc["id"]
        if fn.get("name"):
            call["name"] += fn["name"]
            await self._sink("function_call", {"name": fn["name"]})
        if fn.get("arguments"):
            call["arguments"] += fn["arguments"]
            await self._sink("function_call_arguments_tokens", {"text": fn["arguments"]})


def raise_stream_error(http: ProviderHTTP, chunk: Any) -> None:
    """An `{"error": …}` event inside a stream ends it with the provider's message."""
    if not isinstance(chunk, dict):
        raise http.error(f"{http.label} sent an event that is not an object in its stream")
    if chunk.get("error"):
        raise http.error(openai_error(http.label)(200, chunk, ""))


def split_echo(prompt: str, text: str, logp: Any, echo: bool) -> tuple[Tokens, Tokens]:
    """Split an echoed completion into core's prompt and completion Tokens by `text_offset`."""
    n = len(prompt)
    completion_text = text[n:] if text.startswith(prompt) else text
    if not isinstance(logp, dict) or not isinstance(logp.get("tokens"), list):
        return Tokens(prompt), Tokens(completion_text)
    tokens = list(logp.get("tokens") or [])
    probs = list(logp.get("token_logprobs") or [None] * len(tokens))
    offsets = list(logp.get("text_offset") or [n] * len(tokens))
    top_raw = logp.get("top_logprobs")
    top = list(top_raw) if top_raw else None
    cut = sum(1 for o in offsets if o < n) if echo else 0
    return (
        Tokens(
            prompt,
            tokens[:cut],
            probs[:cut],
            top[:cut] if top is not None else None,
        ),
        Tokens(
            completion_text,
            tokens[cut:],
            probs[cut:],
            top[cut:] if top is not None else None,
        ),
    )


def context_size(model_id: str) -> int:
    """core's `openai_context_size` for the models the completion API serves."""
    if model_id.startswith("gpt-3.5-turbo-instruct"):
        return 4096
    if model_id in ("davinci-002", "babbage-002"):
        return 16384
    return 4096
