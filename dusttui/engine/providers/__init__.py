"""LLM providers of the engine, found by a block config's `provider_id`.

Every provider id Dust core accepts (core/src/providers/provider.rs), each over its own wire
format, plus three of ours. Keys and base URLs are read from the engine's environment when the
registry is built (base URLs are overridable for proxies and tests):

| id | wire | key | base URL (default) |
|---|---|---|---|
| `openai` | OpenAI | `OPENAI_API_KEY` | `OPENAI_BASE_URL` (https://api.openai.com/v1) |
| `azure_openai` | OpenAI on a deployment | `AZURE_OPENAI_API_KEY` | `AZURE_OPENAI_ENDPOINT` (none) |
| `anthropic` | Messages API | `ANTHROPIC_API_KEY` | `ANTHROPIC_BASE_URL` (https://api.anthropic.com) |
| `mistral` | OpenAI-compatible | `MISTRAL_API_KEY` | `MISTRAL_BASE_URL` (https://api.mistral.ai/v1) |
| `google_ai_studio` | Gemini SSE | `GOOGLE_AI_STUDIO_API_KEY` | `GOOGLE_AI_STUDIO_BASE_URL` |
| `togetherai` | OpenAI-compatible | `TOGETHERAI_API_KEY` | `TOGETHERAI_BASE_URL` |
| `deepseek` | OpenAI-compatible | `DEEPSEEK_API_KEY` | `DEEPSEEK_BASE_URL` |
| `fireworks` | OpenAI-compatible | `FIREWORKS_API_KEY` | `FIREWORKS_BASE_URL` |
| `xai` | OpenAI-compatible | `XAI_API_KEY` | `XAI_BASE_URL` (https://api.x.ai/v1) |
| `offline` | none: deterministic text transforms, not a model (see `offline.py`) | | |
| `openai_compatible` | OpenAI | `OPENAI_COMPATIBLE_API_KEY` (optional) | `OPENAI_COMPATIBLE_BASE_URL` |
| `ollama` | OpenAI | none | `OLLAMA_BASE_URL` (http://127.0.0.1:11434/v1) |

`openai_compatible` and `ollama` run `llm` blocks through chat completions whatever the model
(core's completion-API rule applies to core's providers only). Any other id is refused by the
`llm` / `chat` block, naming it and listing these.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from dusttui.engine.providers.anthropic import AnthropicProvider
from dusttui.engine.providers.azure import AzureOpenAIProvider
from dusttui.engine.providers.base import (
    PROVIDER_EXTRAS,
    Generation,
    GenerationRequest,
    Provider,
    ProviderError,
    StreamSink,
    Tokens,
    llm_uses_chat,
)
from dusttui.engine.providers.google import GoogleAIStudioProvider
from dusttui.engine.providers.mistral import MistralProvider
from dusttui.engine.providers.offline import OfflineProvider
from dusttui.engine.providers.openai import OpenAICompatibleProvider

__all__ = [
    "CORE_PROVIDER_IDS",
    "PROVIDER_EXTRAS",
    "AnthropicProvider",
    "AzureOpenAIProvider",
    "Generation",
    "GenerationRequest",
    "GoogleAIStudioProvider",
    "MistralProvider",
    "OfflineProvider",
    "OpenAICompatibleProvider",
    "Provider",
    "ProviderError",
    "ProviderRegistry",
    "StreamSink",
    "Tokens",
    "llm_uses_chat",
]

# core's ProviderID, in its order (provider.rs).
CORE_PROVIDER_IDS = (
    "openai",
    "azure_openai",
    "anthropic",
    "mistral",
    "google_ai_studio",
    "togetherai",
    "deepseek",
    "fireworks",
    "xai",
)


def _no_completion(provider_id: str, label: str) -> str:
    return (
        f"{label} has no completion API in Dust (provider `{provider_id}`): run this prompt in a "
        f"`chat` block (an `llm` block uses `{provider_id}` only with a `gpt-4*` / "
        "`gpt-3.5-turbo*` model id)"
    )


# (id, label, default base URL, key variables in order of preference) of the OpenAI-compatible
# providers core reaches at their documented endpoints.
_COMPATIBLE = (
    (
        "togetherai",
        "TogetherAI",
        "https://api.together.xyz/v1",
        ("TOGETHERAI_API_KEY", "TOGETHER_API_KEY"),
    ),
    ("deepseek", "DeepSeek", "https://api.deepseek.com/v1", ("DEEPSEEK_API_KEY",)),
    ("fireworks", "Fireworks", "https://api.fireworks.ai/inference/v1", ("FIREWORKS_API_KEY",)),
)


def _first(env: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        if env.get(name):
            return env[name]
    return None


class ProviderRegistry:
    """The providers a run may use, by id."""

    def __init__(self, providers: Mapping[str, Provider]) -> None:
        self._providers = dict(providers)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ProviderRegistry:
        """Every provider, configured from `environ` (the process environment by default)."""
        env = os.environ if environ is None else environ
        providers: dict[str, Provider] = {
            "offline": OfflineProvider(),
            "openai": OpenAICompatibleProvider(
                "openai",
                env.get("OPENAI_BASE_URL") or "https://api.openai.com/v1",
                env.get("OPENAI_API_KEY"),
            ),
            "azure_openai": AzureOpenAIProvider(
                env.get("AZURE_OPENAI_ENDPOINT"),
                env.get("AZURE_OPENAI_API_KEY"),
                api_version=env.get("AZURE_OPENAI_API_VERSION"),
            ),
            "anthropic": AnthropicProvider(
                env.get("ANTHROPIC_BASE_URL"), env.get("ANTHROPIC_API_KEY")
            ),
            "mistral": MistralProvider(
                "mistral",
                env.get("MISTRAL_BASE_URL") or "https://api.mistral.ai/v1",
                env.get("MISTRAL_API_KEY"),
                label="MistralAI",
                base_url_env="MISTRAL_BASE_URL",
                api_key_env="MISTRAL_API_KEY",
                no_completion_api=_no_completion("mistral", "Mistral AI"),
                tool_choice_any="any",
            ),
            "google_ai_studio": GoogleAIStudioProvider(
                env.get("GOOGLE_AI_STUDIO_BASE_URL"),
                _first(env, "GOOGLE_AI_STUDIO_API_KEY", "GEMINI_API_KEY"),
            ),
        }
        for pid, label, default_url, keys in _COMPATIBLE:
            providers[pid] = OpenAICompatibleProvider(
                pid,
                env.get(f"{pid.upper()}_BASE_URL") or default_url,
                _first(env, *keys),
                label=label,
                base_url_env=f"{pid.upper()}_BASE_URL",
                api_key_env=keys[0],
                no_completion_api=_no_completion(pid, label),
            )
        providers["xai"] = OpenAICompatibleProvider(
            "xai",
            env.get("XAI_BASE_URL") or "https://api.x.ai/v1",
            env.get("XAI_API_KEY"),
            label="xAI",
            base_url_env="XAI_BASE_URL",
            api_key_env="XAI_API_KEY",
            no_completion_api=(
                "xAI Grok models do not support text completions, only chat completions: run "
                "this prompt in a `chat` block"
            ),
        )
        providers["openai_compatible"] = OpenAICompatibleProvider(
            "openai_compatible",
            env.get("OPENAI_COMPATIBLE_BASE_URL"),
            env.get("OPENAI_COMPATIBLE_API_KEY"),
            base_url_env="OPENAI_COMPATIBLE_BASE_URL",
            api_key_env=None,
            llm_via_chat=True,
        )
        providers["ollama"] = OpenAICompatibleProvider(
            "ollama",
            env.get("OLLAMA_BASE_URL") or "http://127.0.0.1:11434/v1",
            label="Ollama",
            base_url_env="OLLAMA_BASE_URL",
            api_key_env=None,
            llm_via_chat=True,
        )
        return cls(providers)

    def get(self, provider_id: str) -> Provider | None:
        """The provider with this id, or None."""
        return self._providers.get(provider_id)

    def ids(self) -> list[str]:
        """Known provider ids, in registration order."""
        return list(self._providers)

    def __repr__(self) -> str:
        return f"ProviderRegistry({self.ids()})"
