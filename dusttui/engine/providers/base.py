"""What every LLM provider takes and gives back, shared by the `llm` and `chat` blocks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

# Called for each streamed piece: (event type, content) with type in "tokens", "reasoning_tokens",
# "function_call", "function_call_arguments_tokens"; content as the event's inner payload.
StreamSink = Callable[[str, Any], Awaitable[None]]


class ProviderError(Exception):
    """The provider could not answer: the message is safe to show (never holds an API key)."""


@dataclass
class GenerationRequest:
    """One completion asked of a model: chat messages (an `llm` prompt is one user message)."""

    model_id: str
    messages: list[dict[str, Any]]
    temperature: float
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    top_p: float | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    functions: list[dict[str, Any]] = field(default_factory=list)
    function_call: str | None = None
    response_format: Any = None
    # Seconds between streamed tokens, for providers that pace themselves (the offline one).
    pace: float = 0.0

    def cache_payload(self, provider_id: str) -> dict[str, Any]:
        """What identifies this request in the cache (everything but the pace)."""
        return {
            "provider_id": provider_id,
            "model_id": self.model_id,
            "messages": self.messages,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stop": self.stop,
            "top_p": self.top_p,
            "frequency_penalty": self.frequency_penalty,
            "presence_penalty": self.presence_penalty,
            "functions": self.functions,
            "function_call": self.function_call,
            "response_format": self.response_format,
        }


@dataclass
class Generation:
    """A model's answer: its text, token usage, request id and any function calls."""

    text: str
    usage: dict[str, int] | None = None
    request_id: str | None = None
    function_calls: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "usage": self.usage,
            "request_id": self.request_id,
            "function_calls": self.function_calls,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Generation:
        return cls(
            text=d.get("text") or "",
            usage=d.get("usage"),
            request_id=d.get("request_id"),
            function_calls=list(d.get("function_calls") or []),
        )


class Provider(Protocol):
    """An LLM provider: answers a request, streaming through `sink` when one is given."""

    provider_id: str

    async def generate(self, request: GenerationRequest, sink: StreamSink | None) -> Generation: ...
