"""What every LLM provider takes and gives back, shared by the `llm` and `chat` blocks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

# Called for each streamed piece: (event type, content) with type in "tokens", "reasoning_tokens",
# "function_call", "function_call_arguments_tokens"; content as the event's inner payload.
StreamSink = Callable[[str, Any], Awaitable[None]]


# Block config keys core forwards to providers as `extras` (blocks/llm.rs, blocks/chat.rs).
PROVIDER_EXTRAS = (
    "openai_user",
    "openai_organization_id",
    "reasoning_effort",
    "anthropic_beta_flags",
)


class ProviderError(Exception):
    """The provider could not answer: the message is safe to show (never holds an API key)."""


def llm_uses_chat(model_id: str) -> bool:
    """Whether core runs an `llm` block on this model through the chat API (else: completions).

    core/src/blocks/llm.rs: `gpt-3.5-turbo*` (but `gpt-3.5-turbo-instruct*`) and `gpt-4*` go
    to `chat` with the prompt as one user message; every other model id to `generate`.
    """
    return (
        model_id.startswith("gpt-3.5-turbo") and not model_id.startswith("gpt-3.5-turbo-instruct")
    ) or model_id.startswith("gpt-4")


@dataclass
class Tokens:
    """core's `Tokens`: a text with, when the completion API gives them, its tokens and logprobs."""

    text: str
    tokens: list[str] | None = None
    logprobs: list[float | None] | None = None
    top_logprobs: list[dict[str, float] | None] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape core serializes (every key, nulls kept)."""
        return {
            "text": self.text,
            "tokens": self.tokens,
            "logprobs": self.logprobs,
            "top_logprobs": self.top_logprobs,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Tokens:
        """Back from :meth:`to_dict` (the cache)."""
        return cls(
            text=str(d.get("text") or ""),
            tokens=d.get("tokens"),
            logprobs=d.get("logprobs"),
            top_logprobs=d.get("top_logprobs"),
        )


@dataclass
class GenerationRequest:
    """One completion asked of a model.

    `messages` are chat messages (an `llm` prompt is one user message). An `llm` block also sets
    `prompt`: when core would use the completion API for its model (see :func:`llm_uses_chat`),
    providers that have one use it with `prompt`, and the others refuse as core does.
    """

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
    prompt: str | None = None
    top_logprobs: int | None = None
    logprobs: bool | None = None
    # Provider options from the block config core forwards (openai_user, openai_organization_id,
    # reasoning_effort, anthropic_beta_flags).
    extras: dict[str, Any] = field(default_factory=dict)
    # Seconds between streamed tokens, for providers that pace themselves (the offline one).
    pace: float = 0.0

    @property
    def completion_api(self) -> bool:
        """True when this request goes to a completion API (an `llm` block on a non-chat model)."""
        return self.prompt is not None and not llm_uses_chat(self.model_id)

    def cache_payload(self, provider_id: str) -> dict[str, Any]:
        """What identifies this request in the cache (everything but the pace)."""
        payload: dict[str, Any] = {
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
        # Only when set, so the keys of entries written before these fields existed still match.
        for key in ("prompt", "top_logprobs", "logprobs"):
            if getattr(self, key) is not None:
                payload[key] = getattr(self, key)
        if self.extras:
            payload["extras"] = self.extras
        return payload


@dataclass
class Generation:
    """A model's answer: its text, token usage, request id and any function calls.

    From a completion API, `prompt` and `completion` also carry tokens and logprobs.
    """

    text: str
    usage: dict[str, int] | None = None
    request_id: str | None = None
    function_calls: list[dict[str, Any]] = field(default_factory=list)
    prompt: Tokens | None = None
    completion: Tokens | None = None
    reasoning: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form, for the cache."""
        d: dict[str, Any] = {
            "text": self.text,
            "usage": self.usage,
            "request_id": self.request_id,
            "function_calls": self.function_calls,
        }
        if self.prompt is not None:
            d["prompt"] = self.prompt.to_dict()
        if self.completion is not None:
            d["completion"] = self.completion.to_dict()
        if self.reasoning is not None:
            d["reasoning"] = self.reasoning
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Generation:
        """Back from :meth:`to_dict`."""
        prompt, completion = d.get("prompt"), d.get("completion")
        return cls(
            text=d.get("text") or "",
            usage=d.get("usage"),
            request_id=d.get("request_id"),
            function_calls=list(d.get("function_calls") or []),
            prompt=Tokens.from_dict(prompt) if isinstance(prompt, dict) else None,
            completion=Tokens.from_dict(completion) if isinstance(completion, dict) else None,
            reasoning=d.get("reasoning"),
        )


class Provider(Protocol):
    """An LLM provider: answers a request, streaming through `sink` when one is given."""

    provider_id: str

    async def generate(self, request: GenerationRequest, sink: StreamSink | None) -> Generation: ...
