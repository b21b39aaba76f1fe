"""`mistral`: Mistral's OpenAI-compatible chat API, with core's two differences
(core/src/providers/mistral.rs): `function_call: any` is Mistral's `any`, and naming one function
works only when it is the only one (then it is `any` too). No completion API."""

from __future__ import annotations

from typing import Any

import httpx

from dusttui.engine.providers.base import GenerationRequest, ProviderError
from dusttui.engine.providers.openai import OpenAICompatibleProvider


class MistralProvider(OpenAICompatibleProvider):
    """Mistral AI at `base_url` (https://api.mistral.ai/v1)."""

    def chat_body(self, request: GenerationRequest, stream: bool) -> dict[str, Any]:
        """The chat body, with Mistral's tool choice."""
        body = super().chat_body(request, stream)
        choice = request.function_call
        if request.functions and choice not in (None, "auto", "none", "any"):
            if len(request.functions) != 1:
                raise ProviderError(
                    "Mistral only supports specified function when there is exactly one "
                    "function possible."
                )
            body["tool_choice"] = "any"
        return body

    def request_id(self, headers: httpx.Headers) -> str | None:
        """Mistral's request id header."""
        value = headers.get("x-kong-request-id") or headers.get("x-request-id")
        return str(value) if value else None
