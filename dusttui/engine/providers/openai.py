"""Any OpenAI-compatible chat completions endpoint: OpenAI, Ollama, vLLM, llama.cpp server…

Both `llm` blocks (the prompt as one user message) and `chat` blocks go to
``POST {base_url}/chat/completions``; with ``use_stream`` the answer is read as Server-Sent Events
and each piece forwarded as it arrives. The API key is sent as a bearer header and never appears in
an error message.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from dusttui.engine.providers.base import Generation, GenerationRequest, ProviderError, StreamSink
from dusttui.engine.providers.sse import iter_sse_data


class OpenAICompatibleProvider:
    """A chat completions endpoint at `base_url`, with an optional bearer `api_key`."""

    def __init__(
        self,
        provider_id: str,
        base_url: str | None,
        api_key: str | None = None,
        *,
        base_url_env: str = "OPENAI_BASE_URL",
        api_key_env: str | None = "OPENAI_API_KEY",
        timeout: float = 120.0,
    ) -> None:
        self.provider_id = provider_id
        self.base_url = base_url.rstrip("/") if base_url else None
        self._api_key = api_key
        self._base_url_env = base_url_env
        self._api_key_env = api_key_env
        self.timeout = timeout

    def __repr__(self) -> str:  # the key stays out of reprs and logs
        return f"OpenAICompatibleProvider({self.provider_id!r}, base_url={self.base_url!r})"

    def _headers(self) -> dict[str, str]:
        if self.base_url is None:
            raise ProviderError(
                f"Provider `{self.provider_id}` has no endpoint: set {self._base_url_env} "
                "in the engine's environment"
            )
        if self._api_key_env and not self._api_key:
            raise ProviderError(
                f"Provider `{self.provider_id}` needs an API key: set {self._api_key_env} "
                "in the engine's environment"
            )
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _body(self, request: GenerationRequest, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": request.model_id,
            "messages": request.messages,
            "temperature": request.temperature,
        }
        if request.max_tokens is not None and request.max_tokens >= 0:
            body["max_tokens"] = request.max_tokens
        stops = [s for s in request.stop if s]
        if stops:
            body["stop"] = stops
        for key in ("top_p", "frequency_penalty", "presence_penalty"):
            if getattr(request, key) is not None:
                body[key] = getattr(request, key)
        if request.functions:
            body["tools"] = [{"type": "function", "function": f} for f in request.functions]
            choice = request.function_call
            if choice in ("auto", "none"):
                body["tool_choice"] = choice
            elif choice == "any":
                body["tool_choice"] = "required"
            elif choice:
                body["tool_choice"] = {"type": "function", "function": {"name": choice}}
        if request.response_format is not None:
            body["response_format"] = request.response_format
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    async def generate(self, request: GenerationRequest, sink: StreamSink | None) -> Generation:
        headers = self._headers()
        url = f"{self.base_url}/chat/completions"
        body = self._body(request, stream=sink is not None)
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                if sink is None:
                    response = await client.post(url, json=body, headers=headers)
                    await _raise_for_status(response)
                    return _parse_completion(response.json(), _request_id(response))
                async with client.stream("POST", url, json=body, headers=headers) as response:
                    await _raise_for_status(response)
                    return await _read_stream(response, sink)
        except httpx.HTTPError as exc:
            raise ProviderError(f"cannot reach {url}: {type(exc).__name__}: {exc}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderError(f"unexpected answer from {url}: {exc}") from None


def _request_id(response: httpx.Response) -> str | None:
    return response.headers.get("x-request-id")


async def _raise_for_status(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    raw = (await response.aread()).decode("utf-8", "replace")
    message = raw.strip()[:500]
    try:
        err = json.loads(raw).get("error")
        if isinstance(err, dict) and err.get("message"):
            message = str(err["message"])
        elif isinstance(err, str):
            message = err
    except (ValueError, AttributeError):
        pass
    raise ProviderError(f"HTTP {response.status_code}: {message}")


def _usage(raw: Any) -> dict[str, int] | None:
    if not isinstance(raw, dict):
        return None
    return {
        "prompt_tokens": int(raw.get("prompt_tokens") or 0),
        "completion_tokens": int(raw.get("completion_tokens") or 0),
    }


def _parse_completion(data: dict[str, Any], request_id: str | None) -> Generation:
    message = data["choices"][0]["message"]
    calls = [
        {
            "id": c.get("id", ""),
            "name": c["function"]["name"],
            "arguments": c["function"].get("arguments", ""),
        }
        for c in message.get("tool_calls") or []
    ]
    return Generation(
        text=message.get("content") or "",
        usage=_usage(data.get("usage")),
        request_id=request_id or data.get("id"),
        function_calls=calls,
    )


async def _read_stream(response: httpx.Response, sink: StreamSink) -> Generation:
    text: list[str] = []
    usage = None
    request_id = _request_id(response)
    calls: dict[int, dict[str, Any]] = {}
    async for data in iter_sse_data(response.aiter_lines()):
        if data.strip() == "[DONE]":
            break
        chunk = json.loads(data)
        if isinstance(chunk.get("error"), dict):
            raise ProviderError(str(chunk["error"].get("message") or chunk["error"]))
        request_id = request_id or chunk.get("id")
        if chunk.get("usage"):
            usage = _usage(chunk["usage"])
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if delta.get("content"):
                text.append(delta["content"])
                await sink("tokens", {"text": delta["content"]})
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if reasoning:
                await sink("reasoning_tokens", {"text": reasoning})
            for tc in delta.get("tool_calls") or []:
                call = calls.setdefault(tc.get("index", 0), {"id": "", "name": "", "arguments": ""})
                fn = tc.get("function") or {}
                if tc.get("id"):
                    call["id"] = tc["id"]
                if fn.get("name"):
                    call["name"] += fn["name"]
                    await sink("function_call", {"name": fn["name"]})
                if fn.get("arguments"):
                    call["arguments"] += fn["arguments"]
                    await sink("function_call_arguments_tokens", {"text": fn["arguments"]})
    return Generation(
        text="".join(text),
        usage=usage,
        request_id=request_id,
        function_calls=[calls[i] for i in sorted(calls)],
    )
