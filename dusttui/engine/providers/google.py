"""`google_ai_studio`: Gemini's `streamGenerateContent` (Server-Sent Events) on Google AI Studio.

As core (core/src/providers/google_ai_studio.rs): every request is streamed from Google (the
events are forwarded only when the block streams), a first `system` message becomes
`systemInstruction`, assistant messages are `model` contents, `function` results
`functionResponse` parts; `function_call` becomes `toolConfig` (AUTO / ANY / NONE, or ANY with
the one allowed name); safety thresholds are core's (`BLOCK_ONLY_HIGH`). An `llm` block on a
non-chat model sends its prompt as one user content (core's `generate`); frequency / presence
penalties and `top_logprobs` are refused with core's texts. The key travels in the
`x-goog-api-key` header (core puts it in the URL; a header keeps it out of every URL and log).
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import quote

from dusttui.engine.providers.base import (
    Generation,
    GenerationRequest,
    ProviderError,
    StreamSink,
    Tokens,
)
from dusttui.engine.providers.http import ProviderHTTP, openai_error

SAFETY = [
    {"category": c, "threshold": "BLOCK_ONLY_HIGH"}
    for c in (
        "HARM_CATEGORY_HATE_SPEECH",
        "HARM_CATEGORY_SEXUALLY_EXPLICIT",
        "HARM_CATEGORY_DANGEROUS_CONTENT",
        "HARM_CATEGORY_HARASSMENT",
    )
]


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "\n".join(
            str(p.get("text", "")).strip()
            for p in content
            if isinstance(p, dict) and p.get("type") == "text"
        )
    return "" if content is None else str(content)


def _content(m: dict[str, Any]) -> dict[str, Any]:
    role = m.get("role")
    if role == "assistant":
        calls = m.get("function_calls") or ([m["function_call"]] if m.get("function_call") else [])
        text = m.get("content")
        if not calls:
            return {"role": "model", "parts": [{"text": text}]}
        parts = []
        for c in calls:
            try:
                args = json.loads(c.get("arguments") or "{}")
            except ValueError:
                raise ProviderError(
                    "GoogleAISudio function call arguments must be valid JSON"
                ) from None
            parts.append({"text": text, "functionCall": {"name": c.get("name"), "args": args}})
        return {"role": "model", "parts": parts}
    if role == "function":
        name = m.get("name") or ""
        response = {"name": name, "content": _text(m.get("content"))}
        return {
            "role": "function",
            "parts": [{"functionResponse": {"name": name, "response": response}}],
        }
    return {"role": "user", "parts": [{"text": _text(m.get("content"))}]}


class GoogleAIStudioProvider:
    """Gemini models on Google AI Studio at `base_url` (…/v1beta)."""

    provider_id = "google_ai_studio"

    def __init__(
        self,
        base_url: str | None,
        api_key: str | None,
        *,
        timeout: float = 180.0,
        retries: int = 3,
        backoff: float = 0.5,
    ) -> None:
        self.base_url = (base_url or "https://generativelanguage.googleapis.com/v1beta").rstrip("/")
        self._api_key = api_key or None
        self._http = ProviderHTTP(
            "GoogleAIStudio",
            (api_key,) if api_key else (),
            openai_error("GoogleAIStudio"),
            timeout=timeout,
            retries=retries,
            backoff=backoff,
        )

    def __repr__(self) -> str:  # the key stays out of reprs and logs
        return f"GoogleAIStudioProvider(base_url={self.base_url!r})"

    def body(self, request: GenerationRequest) -> dict[str, Any]:
        """The streamGenerateContent body of a request (core's refusals raised first)."""
        if request.frequency_penalty is not None:
            raise ProviderError("Frequency penalty not supported by GoogleAIStudio")
        if request.presence_penalty is not None:
            raise ProviderError("Presence penalty not supported by GoogleAIStudio")
        messages = request.messages
        system = None
        if request.completion_api:
            if request.top_logprobs is not None:
                raise ProviderError("Top logprobs not supported by GoogleAIStudio")
            messages = [{"role": "user", "content": request.prompt or ""}]
        elif messages and messages[0].get("role") == "system":
            system = {"role": "user", "parts": [{"text": _text(messages[0].get("content"))}]}
            messages = messages[1:]
        max_tokens = request.max_tokens
        config: dict[str, Any] = {
            "temperature": request.temperature,
            "topP": request.top_p if request.top_p is not None else 1.0,
        }
        if max_tokens is not None and max_tokens >= 0:
            config["maxOutputTokens"] = max_tokens
        stops = [s for s in request.stop if s]
        if stops:
            config["stopSequences"] = stops
        body: dict[str, Any] = {
            "contents": [_content(m) for m in messages],
            "generation_config": config,
            "safety_settings": SAFETY,
        }
        if request.functions:
            body["tools"] = [
                {
                    "functionDeclarations": [
                        {
                            "name": f["name"],
                            "description": f.get("description") or "",
                            "parameters": f.get("parameters"),
                        }
                        for f in request.functions
                    ]
                }
            ]
        choice = request.function_call
        if choice:
            mode = {"auto": "AUTO", "none": "NONE", "any": "ANY"}.get(choice, "ANY")
            calling: dict[str, Any] = {"mode": mode}
            if choice not in ("auto", "none", "any"):
                calling["allowedFunctionNames"] = [choice]
            body["toolConfig"] = {"functionCallingConfig": calling}
        if system is not None:
            body["systemInstruction"] = system
        return body

    async def generate(self, request: GenerationRequest, sink: StreamSink | None) -> Generation:
        """Stream from Google; forward pieces to `sink` when the block streams."""
        if not self._api_key:
            raise ProviderError(
                "Provider `google_ai_studio` needs an API key: set GOOGLE_AI_STUDIO_API_KEY "
                "in the engine's environment"
            )
        body = self.body(request)
        url = f"{self.base_url}/models/{quote(request.model_id, safe='')}:streamGenerateContent"
        headers = {"Content-Type": "application/json", "x-goog-api-key": self._api_key}
        text: list[str] = []
        calls: list[dict[str, Any]] = []
        usage: dict[str, int] | None = None
        done = False
        async with self._http.stream(f"{url}?alt=sse", body, headers) as (_, events):
            async for data in events:
                chunk = self._http.loads(data)
                if not isinstance(chunk, dict):
                    raise self._http.error("GoogleAIStudio sent an event that is not an object")
                if chunk.get("error"):
                    raise self._http.error(openai_error("GoogleAIStudio")(200, chunk, data))
                meta = chunk.get("usageMetadata")
                if isinstance(meta, dict):
                    usage = {
                        "prompt_tokens": int(meta.get("promptTokenCount") or 0),
                        "completion_tokens": int(meta.get("candidatesTokenCount") or 0),
                    }
                candidates = chunk.get("candidates") or []
                if not candidates:
                    done = True  # core: an event without candidates ends the answer
                    break
                if len(candidates) > 1:
                    raise self._http.error(f"Unexpected number of candidates: {len(candidates)}")
                candidate = candidates[0]
                done = done or bool(candidate.get("finishReason"))
                for part in (candidate.get("content") or {}).get("parts") or []:
                    await self._part(part, text, calls, sink)
        if not done:
            raise self._http.cut()
        answer = "".join(text)
        generation = Generation(text=answer, usage=usage, function_calls=calls)
        if request.completion_api:  # core's generate: empty token lists, no top logprobs
            generation.prompt = Tokens(request.prompt or "", [], [], None)
            generation.completion = Tokens(answer, [], [], None)
        return generation

    @staticmethod
    async def _part(
        part: Any, text: list[str], calls: list[dict[str, Any]], sink: StreamSink | None
    ) -> None:
        if not isinstance(part, dict):
            return
        if isinstance(part.get("text"), str) and part["text"]:
            text.append(part["text"])
            if sink is not None:
                await sink("tokens", {"text": part["text"]})
        call = part.get("functionCall")
        if isinstance(call, dict):
            calls.append(
                {
                    "id": f"fc_{uuid.uuid4().hex[:9]}",
                    "name": str(call.get("name") or ""),
                    "arguments": json.dumps(call.get("args") or {}),
                }
            )
            if sink is not None:
                await sink("function_call", {"name": str(call.get("name") or "")})
