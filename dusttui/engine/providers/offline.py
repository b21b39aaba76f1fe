"""The offline provider: deterministic text transforms for demos and tests — NOT a language model.

provider_id ``offline``. It answers instantly, with no network and no key, from the prompt (an `llm`
block) or the last user message (a `chat` block, its content as text):

- ``echo``    — the text unchanged;
- ``upper``   — the text in upper case;
- ``reverse`` — the text's words in reverse order.

Tokens are whitespace-separated words (each with the spaces before it). The completion is cut to
``max_tokens`` tokens and at the first ``stop`` sequence. ``token_usage`` counts words:
``prompt_tokens`` in all messages, ``completion_tokens`` in the answer. With ``use_stream`` each token
is sent as a ``tokens`` event, ``request.pace`` seconds apart. Temperature and the other sampling
parameters are ignored: the same request always gives the same answer.

An `llm` block goes through core's completion path (its model ids are not chat models), so its
value has core's shape: ``{prompt: Tokens, completion: Tokens}`` with the word tokens and
``logprobs`` a null per token (there are no probabilities), meta ``{token_usage,
provider_request_id: null}``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

from dusttui.engine.providers.base import (
    Generation,
    GenerationRequest,
    ProviderError,
    StreamSink,
    Tokens,
)

_TOKEN_RE = re.compile(r"\s*\S+|\s+$")


def _reverse(text: str) -> str:
    return " ".join(reversed(text.split()))


MODELS: dict[str, Callable[[str], str]] = {
    "echo": lambda text: text,
    "upper": str.upper,
    "reverse": _reverse,
}


def tokenize(text: str) -> list[str]:
    """Split text into word tokens that join back to the same text."""
    return _TOKEN_RE.findall(text)


def count_tokens(text: str) -> int:
    """How many word tokens a text has."""
    return len(text.split())


def _message_text(message: dict[str, object]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content blocks: keep their text parts
        return "".join(c.get("text", "") for c in content if isinstance(c, dict))
    return ""


class OfflineProvider:
    """Deterministic stand-in for a model (see the module docstring)."""

    provider_id = "offline"

    async def generate(self, request: GenerationRequest, sink: StreamSink | None) -> Generation:
        transform = MODELS.get(request.model_id)
        if transform is None:
            raise ProviderError(
                f"Unknown offline model `{request.model_id}`, expecting one of "
                + ", ".join(f"`{m}`" for m in MODELS)
            )
        users = [m for m in request.messages if m.get("role") == "user"]
        source = _message_text(users[-1]) if users else ""
        text = transform(source)
        for stop in request.stop:
            if stop and stop in text:
                text = text[: text.index(stop)]
        tokens = tokenize(text)
        if request.max_tokens is not None and request.max_tokens >= 0:
            tokens = tokens[: request.max_tokens]
        text = "".join(tokens)
        if sink is not None:
            for i, token in enumerate(tokens):
                if i and request.pace > 0:
                    await asyncio.sleep(request.pace)
                await sink("tokens", {"text": token})
        prompt_tokens = sum(count_tokens(_message_text(m)) for m in request.messages)
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": count_tokens(text)}
        if not request.completion_api:
            return Generation(text=text, usage=usage)
        # an llm block's completion path: core's Tokens, with word tokens and no probabilities
        prompt = request.prompt or ""
        return Generation(
            text=text,
            usage=usage,
            prompt=Tokens(prompt, tokenize(prompt), [None] * len(tokenize(prompt))),
            completion=Tokens(text, tokens, [None] * len(tokens)),
        )
