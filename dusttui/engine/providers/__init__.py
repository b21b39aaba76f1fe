"""LLM providers of the engine, found by a block config's `provider_id`.

- ``offline`` — deterministic text transforms for demos and tests, not a model
  (see :mod:`dusttui.engine.providers.offline`);
- ``openai`` — OpenAI's API, or any compatible server: ``OPENAI_API_KEY`` (required) and
  ``OPENAI_BASE_URL`` (default ``https://api.openai.com/v1``);
- ``openai_compatible`` — a compatible server (vLLM, llama.cpp, LM Studio…):
  ``OPENAI_COMPATIBLE_BASE_URL`` (required) and ``OPENAI_COMPATIBLE_API_KEY`` (optional);
- ``ollama`` — a local Ollama: ``OLLAMA_BASE_URL`` (default ``http://127.0.0.1:11434/v1``), no key.

Endpoints and keys are read from the engine's environment when the registry is built.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from dusttui.engine.providers.base import (
    Generation,
    GenerationRequest,
    Provider,
    ProviderError,
    StreamSink,
)
from dusttui.engine.providers.offline import OfflineProvider
from dusttui.engine.providers.openai import OpenAICompatibleProvider

__all__ = [
    "Generation",
    "GenerationRequest",
    "OfflineProvider",
    "OpenAICompatibleProvider",
    "Provider",
    "ProviderError",
    "ProviderRegistry",
    "StreamSink",
]


class ProviderRegistry:
    """The providers a run may use, by id."""

    def __init__(self, providers: Mapping[str, Provider]) -> None:
        self._providers = dict(providers)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ProviderRegistry:
        """The offline provider plus the OpenAI-compatible ones, configured from `environ`."""
        env = os.environ if environ is None else environ
        return cls(
            {
                "offline": OfflineProvider(),
                "openai": OpenAICompatibleProvider(
                    "openai",
                    env.get("OPENAI_BASE_URL") or "https://api.openai.com/v1",
                    env.get("OPENAI_API_KEY"),
                ),
                "openai_compatible": OpenAICompatibleProvider(
                    "openai_compatible",
                    env.get("OPENAI_COMPATIBLE_BASE_URL"),
                    env.get("OPENAI_COMPATIBLE_API_KEY"),
                    base_url_env="OPENAI_COMPATIBLE_BASE_URL",
                    api_key_env=None,
                ),
                "ollama": OpenAICompatibleProvider(
                    "ollama",
                    env.get("OLLAMA_BASE_URL") or "http://127.0.0.1:11434/v1",
                    base_url_env="OLLAMA_BASE_URL",
                    api_key_env=None,
                ),
            }
        )

    def get(self, provider_id: str) -> Provider | None:
        """The provider with this id, or None."""
        return self._providers.get(provider_id)

    def ids(self) -> list[str]:
        """Known provider ids, in registration order."""
        return list(self._providers)

    def __repr__(self) -> str:
        return f"ProviderRegistry({self.ids()})"
