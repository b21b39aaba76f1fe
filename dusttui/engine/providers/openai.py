"""OpenAI's wire format: chat completions, and the legacy completion API for `llm` blocks.

Serves `openai`, `azure_openai` (see :mod:`.azure`) and every provider core reaches through an
OpenAI-compatible endpoint (`mistral`, `deepseek`, `fireworks`, `togetherai`, `xai`), plus local
servers (`openai_compatible`, `ollama`). As core does (core/src/providers/
openai_compatible_helpers.rs): `function_call` becomes `tool_choice` (`any` → `required`), Dust
chat messages become OpenAI ones (`function` results → `tool` messages, `function_calls` →
`tool_calls`), `max_tokens: -1` means no limit, and the answer's text is trimmed. Streamed answers
forward `tokens` (and `reasoning_tokens`, `function_call`, `function_call_arguments_tokens`)
events as they arrive. Keys go in headers only and never appear in an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from dusttui.engine.providers.base import (
    Generation,
    GenerationRequest,
    ProviderError,
    StreamSink,
)
from dusttui.engine.providers.http import ProviderHTTP, openai_error
from dusttui.engine.providers.openai_wire import (
    ChatStreamReader,
    context_size,
    raise_stream_error,
    split_echo,
    usage_of,
)


@dataclass(frozen=True)
class Endpoint:
    """Where a provider lives and how it is configured, for messages that say what to set."""

    provider_id: str
    label: str  # core's provider name in messages: OpenAI, Mistral, DeepSeek…
    base_url: str | None
    api_key: str | None
    base_url_env: str
    api_key_env: str | None  # None: no key needed (a local server)
    # Why an `llm` block on a non-chat model is refused (None: the completion API exists).
    no_completion_api: str | None = None
    tool_choice_any: str = "required"
    # Ours, not core's (local servers): an `llm` block always goes through chat completions.
    llm_via_chat: bool = False


def to_openai_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Dust chat messages (chat block `messages_code`) as OpenAI chat messages."""
    out: list[dict[str, Any]] = []
    for m in messages:
        role = m.get("role")
        if role == "function":
            out.append(
                {
                    "role": "tool",
                    "content": m.get("content"),
                    "tool_call_id": m.get("function_call_id") or m.get("tool_call_id"),
                }
            )
            continue
        msg: dict[str, Any] = {"role": role, "content": m.get("content")}
        if m.get("name"):
            msg["name"] = m["name"]
        calls = m.get("function_calls") or ([m["function_call"]] if m.get("function_call") else [])
        if role == "assistant" and calls:
            msg["tool_calls"] = [
                {
                    "id": c.get("id"),
                    "type": "function",
                    "function": {"name": c.get("name"), "arguments": c.get("arguments", "")},
                }
                for c in calls
                if isinstance(c, dict)
            ]
        out.append(msg)
    return out


def response_format(value: Any) -> Any:
    """core accepts an object, and older configs a bare type name."""
    return {"type": value} if isinstance(value, str) else value


class OpenAICompatibleProvider:
    """A provider speaking OpenAI's chat completions (and completions) at `base_url`."""

    def __init__(
        self,
        provider_id: str,
        base_url: str | None,
        api_key: str | None = None,
        *,
        label: str = "OpenAI",
        base_url_env: str = "OPENAI_BASE_URL",
        api_key_env: str | None = "OPENAI_API_KEY",
        no_completion_api: str | None = None,
        tool_choice_any: str = "required",
        llm_via_chat: bool = False,
        timeout: float = 180.0,
        retries: int = 3,
        backoff: float = 0.5,
    ) -> None:
        self.provider_id = provider_id
        self.endpoint = Endpoint(
            provider_id,
            label,
            base_url.rstrip("/") if base_url else None,
            api_key or None,
            base_url_env,
            api_key_env,
            no_completion_api,
            tool_choice_any,
            llm_via_chat,
        )
        self._http = ProviderHTTP(
            label,
            (api_key,) if api_key else (),
            openai_error(label),
            timeout=timeout,
            retries=retries,
            backoff=backoff,
        )

    @property
    def base_url(self) -> str | None:
        """The endpoint's base URL (`…/v1`), or None when not configured."""
        return self.endpoint.base_url

    def __repr__(self) -> str:  # the key stays out of reprs and logs
        return f"{type(self).__name__}({self.provider_id!r}, base_url={self.base_url!r})"

    # ------------------------------------------------------------------ where and how

    def _check(self) -> str:
        ep = self.endpoint
        if ep.base_url is None:
            raise ProviderError(
                f"Provider `{ep.provider_id}` has no endpoint: set {ep.base_url_env} "
                "in the engine's environment"
            )
        if ep.api_key_env and not ep.api_key:
            raise ProviderError(
                f"Provider `{ep.provider_id}` needs an API key: set {ep.api_key_env} "
                "in the engine's environment"
            )
        return ep.base_url

    def chat_url(self, model_id: str) -> str:
        """The chat completions URL for a model."""
        return f"{self._check()}/chat/completions"

    def completions_url(self, model_id: str) -> str:
        """The legacy completions URL for a model."""
        return f"{self._check()}/completions"

    def headers(self, request: GenerationRequest) -> dict[str, str]:
        """Auth and content headers of a request."""
        headers = {"Content-Type": "application/json"}
        if self.endpoint.api_key:
            headers["Authorization"] = f"Bearer {self.endpoint.api_key}"
        org = request.extras.get("openai_organization_id")
        if isinstance(org, str) and org:
            headers["OpenAI-Organization"] = org
        return headers

    def request_id(self, headers: httpx.Headers) -> str | None:
        """The provider's request id header."""
        value = headers.get("x-request-id")
        return str(value) if value else None

    # ------------------------------------------------------------------ bodies

    def _sampling(self, body: dict[str, Any], request: GenerationRequest) -> None:
        if request.max_tokens is not None and request.max_tokens >= 0:
            body["max_tokens"] = request.max_tokens
        stops = [s for s in request.stop if s]
        if stops:
            body["stop"] = stops
        for key in ("top_p", "frequency_penalty", "presence_penalty"):
            if getattr(request, key) is not None:
                body[key] = getattr(request, key)
        user = request.extras.get("openai_user")
        if isinstance(user, str) and user:
            body["user"] = user

    def chat_body(self, request: GenerationRequest, stream: bool) -> dict[str, Any]:
        """The chat completions body of a request."""
        body: dict[str, Any] = {
            "model": request.model_id,
            "messages": to_openai_messages(request.messages),
            "temperature": request.temperature,
        }
        self._sampling(body, request)
        if request.functions:
            body["tools"] = [{"type": "function", "function": f} for f in request.functions]
            choice = request.function_call
            if choice in ("auto", "none"):
                body["tool_choice"] = choice
            elif choice == "any":
                body["tool_choice"] = self.endpoint.tool_choice_any
            elif choice:
                body["tool_choice"] = {"type": "function", "function": {"name": choice}}
        if request.response_format is not None:
            body["response_format"] = response_format(request.response_format)
        effort = request.extras.get("reasoning_effort")
        if isinstance(effort, str) and effort:
            body["reasoning_effort"] = effort
        if request.logprobs is not None:
            body["logprobs"] = request.logprobs
        if request.top_logprobs is not None and request.logprobs:
            body["top_logprobs"] = request.top_logprobs
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    def completion_body(self, request: GenerationRequest, stream: bool) -> dict[str, Any]:
        """The legacy completions body: the prompt echoed back with logprobs, as core asks."""
        prompt = request.prompt or ""
        body: dict[str, Any] = {
            "model": request.model_id,
            "prompt": prompt,
            "temperature": request.temperature,
            "n": 1,
            "logprobs": request.top_logprobs if request.top_logprobs is not None else 0,
            "echo": self._echo(request),
        }
        self._sampling(body, request)
        if request.max_tokens == -1:
            # core: the context left after the prompt. A prompt has at most one token per byte.
            body["max_tokens"] = max(1, context_size(request.model_id) - len(prompt.encode()))
        if stream:
            body["stream"] = True
        return body

    @staticmethod
    def _echo(request: GenerationRequest) -> bool:
        # OpenAI refuses echo with logprobs on gpt-3.5-turbo-instruct: no prompt tokens there.
        return not request.model_id.startswith("gpt-3.5-turbo-instruct")

    # ------------------------------------------------------------------ generate

    async def generate(self, request: GenerationRequest, sink: StreamSink | None) -> Generation:
        """Answer through the chat API, or the completion API for an `llm` non-chat model."""
        if request.completion_api and not self.endpoint.llm_via_chat:
            if self.endpoint.no_completion_api:
                raise ProviderError(self.endpoint.no_completion_api)
            return await self._completion(request, sink)
        return await self._chat(request, sink)

    async def _chat(self, request: GenerationRequest, sink: StreamSink | None) -> Generation:
        url = self.chat_url(request.model_id)
        headers = self.headers(request)
        if sink is None:
            data, resp_headers = await self._http.post_json(
                url, self.chat_body(request, False), headers
            )
            return self._parse_chat(data, self.request_id(resp_headers))
        reader = ChatStreamReader(self._http, sink)
        async with self._http.stream(url, self.chat_body(request, True), headers) as (
            resp_headers,
            events,
        ):
            return await reader.read(events, self.request_id(resp_headers))

    def _parse_chat(self, data: Any, request_id: str | None) -> Generation:
        try:
            message = data["choices"][0]["message"]
            calls = [
                {
                    "id": c.get("id") or "",
                    "name": c["function"]["name"],
                    "arguments": c["function"].get("arguments") or "",
                }
                for c in message.get("tool_calls") or []
            ]
            reasoning = message.get("reasoning_content") or message.get("reasoning")
            return Generation(
                text=(message.get("content") or "").strip(),
                usage=usage_of(data.get("usage")),
                request_id=request_id or data.get("id"),
                function_calls=calls,
                reasoning=reasoning if isinstance(reasoning, str) else None,
            )
        except (KeyError, IndexError, TypeError, AttributeError):
            raise self._http.error(
                f"{self._http.label} answered without a message (no `choices[0].message`)"
            ) from None

    async def _completion(self, request: GenerationRequest, sink: StreamSink | None) -> Generation:
        url = self.completions_url(request.model_id)
        headers = self.headers(request)
        prompt = request.prompt or ""
        echo = self._echo(request)
        if sink is None:
            data, resp_headers = await self._http.post_json(
                url, self.completion_body(request, False), headers
            )
            try:
                choice = data["choices"][0]
                text, logp = str(choice.get("text") or ""), choice.get("logprobs")
            except (KeyError, IndexError, TypeError, AttributeError):
                raise self._http.error(
                    f"{self._http.label} answered without a completion (no `choices[0]`)"
                ) from None
            usage, rid = usage_of(data.get("usage")), data.get("id")
            rid = self.request_id(resp_headers) or rid
        else:
            text, logp, usage, rid = await self._stream_completion(
                url, self.completion_body(request, True), headers, prompt, echo, sink
            )
        p, c = split_echo(prompt, text if echo else prompt + text, logp, echo)
        return Generation(text=c.text, usage=usage, request_id=rid, prompt=p, completion=c)

    async def _stream_completion(
        self,
        url: str,
        body: dict[str, Any],
        headers: dict[str, str],
        prompt: str,
        echo: bool,
        sink: StreamSink,
    ) -> tuple[str, dict[str, list[Any]], dict[str, int] | None, str | None]:
        text = ""
        logp: dict[str, list[Any]] = {
            "tokens": [],
            "token_logprobs": [],
            "top_logprobs": [],
            "text_offset": [],
        }
        usage, done, rid = None, False, None
        async with self._http.stream(url, body, headers) as (resp_headers, events):
            rid = self.request_id(resp_headers)
            async for data in events:
                if data.strip() == "[DONE]":
                    done = True
                    break
                chunk = self._http.loads(data)
                raise_stream_error(self._http, chunk)
                rid = rid or chunk.get("id")
                usage = usage_of(chunk.get("usage")) or usage
                for choice in chunk.get("choices") or []:
                    piece = str(choice.get("text") or "")
                    seen = len(text)
                    text += piece
                    # With echo the first pieces repeat the prompt: stream only what is new.
                    start = max(0, len(prompt) - seen) if echo else 0
                    if piece[start:]:
                        await sink("tokens", {"text": piece[start:]})
                    lp = choice.get("logprobs") or {}
                    for key in logp:
                        logp[key].extend(lp.get(key) or [])
                    done = done or bool(choice.get("finish_reason"))
        if not done:
            raise self._http.cut()
        return text, logp, usage, rid
