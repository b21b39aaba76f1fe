"""`azure_openai`: OpenAI's wire format on an Azure OpenAI resource.

As core (core/src/providers/azure_openai.rs): the block's `model_id` is the *deployment* name,
requests go to `{AZURE_OPENAI_ENDPOINT}/openai/deployments/{model_id}/chat/completions` (or
`/completions` for an `llm` block on a non-chat model) with the key in an `api-key` header.
The API version is `AZURE_OPENAI_API_VERSION` (default below). Core also asks Azure for the
deployment's underlying model first; we do not (that listing API is retired), so the chat /
completion choice follows the deployment name as it does for every other provider.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from dusttui.engine.providers.base import GenerationRequest
from dusttui.engine.providers.openai import OpenAICompatibleProvider

DEFAULT_API_VERSION = "2024-10-21"


class AzureOpenAIProvider(OpenAICompatibleProvider):
    """An Azure OpenAI resource at `endpoint` (https://NAME.openai.azure.com)."""

    def __init__(
        self,
        endpoint: str | None,
        api_key: str | None,
        *,
        api_version: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            "azure_openai",
            endpoint,
            api_key,
            label="AzureOpenAI",
            base_url_env="AZURE_OPENAI_ENDPOINT",
            api_key_env="AZURE_OPENAI_API_KEY",
            **kwargs,
        )
        self.api_version = api_version or DEFAULT_API_VERSION

    def _deployment_url(self, model_id: str, path: str) -> str:
        base = self._check()
        version = quote(self.api_version, safe="")
        return f"{base}/openai/deployments/{quote(model_id, safe='')}/{path}?api-version={version}"

    def chat_url(self, model_id: str) -> str:
        """The deployment's chat completions URL."""
        return self._deployment_url(model_id, "chat/completions")

    def completions_url(self, model_id: str) -> str:
        """The deployment's completions URL."""
        return self._deployment_url(model_id, "completions")

    def headers(self, request: GenerationRequest) -> dict[str, str]:
        """Azure takes its key in `api-key`, not as a bearer token."""
        headers = {"Content-Type": "application/json"}
        if self.endpoint.api_key:
            headers["api-key"] = self.endpoint.api_key
        return headers

    def request_id(self, headers: httpx.Headers) -> str | None:
        """Azure's request id (`apim-request-id` when the gateway sets it)."""
        value = headers.get("x-request-id") or headers.get("apim-request-id")
        return str(value) if value else None
