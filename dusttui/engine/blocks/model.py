"""What `llm` and `chat` blocks share: reading the model config, calling the provider with cache
and streaming."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from blake3 import blake3

from dusttui.engine.blocks.base import BlockCall, BlockError, config_flag
from dusttui.engine.providers import (
    PROVIDER_EXTRAS,
    Generation,
    GenerationRequest,
    Provider,
    ProviderError,
)

# Where each streamed event type carries its payload in the event content.
PAYLOAD_KEYS = {
    "tokens": "tokens",
    "reasoning_tokens": "tokens",
    "reasoning_item": "item",
    "function_call": "function_call",
    "function_call_arguments_tokens": "tokens",
}


@dataclass
class ModelConfig:
    """A block's model config, read the way core reads it."""

    provider_id: str
    provider: Provider
    model_id: str
    temperature: float | None
    use_cache: bool
    use_stream: bool
    raw: dict[str, Any]


def read_model_config(call: BlockCall) -> ModelConfig:
    """Parse the block's config entry, with core's error messages for what is missing or wrong."""
    kind, name = call.block.type, call.name
    config = call.config
    if config is None:
        raise BlockError(
            f"Missing configuration for {kind} block `{name}`, "
            'expecting `{ "provider_id": ..., "model_id": ... }`'
        )
    raw = config if isinstance(config, dict) else {}
    provider_id = raw.get("provider_id")
    if provider_id is None:
        raise BlockError(f"Missing `provider_id` in configuration for {kind} block `{name}`")
    if not isinstance(provider_id, str):
        raise BlockError(
            f"Invalid `provider_id` in configuration for {kind} block `{name}`: string expected"
        )
    provider = call.run.ctx.providers.get(provider_id)
    if provider is None:
        known = ", ".join(f"`{p}`" for p in call.run.ctx.providers.ids())
        raise BlockError(
            f"Invalid `provider_id` `{provider_id}` in configuration for {kind} block `{name}`: "
            f"unknown provider, expecting one of {known}"
        )
    model_id = raw.get("model_id")
    if model_id is None:
        raise BlockError(f"Missing `model_id` in configuration for {kind} block `{name}`")
    if not isinstance(model_id, str):
        raise BlockError(f"Invalid `model_id` in configuration for {kind} block `{name}`")
    temperature = raw.get("temperature")
    if temperature is not None and (
        isinstance(temperature, bool) or not isinstance(temperature, int | float)
    ):
        raise BlockError(f"Invalid `temperature` in configuration for {kind} block `{name}`")
    return ModelConfig(
        provider_id=provider_id,
        provider=provider,
        model_id=model_id,
        temperature=None if temperature is None else float(temperature),
        use_cache=config_flag(raw, "use_cache", True),
        use_stream=config_flag(raw, "use_stream", False),
        raw=raw,
    )


def sampling(block: Any, mc: ModelConfig) -> dict[str, Any]:
    """The sampling fields llm and chat blocks share: from the spec, temperature overridable."""
    return {
        "temperature": mc.temperature
        if mc.temperature is not None
        else float(block.get("temperature")),
        "max_tokens": block.get("max_tokens"),
        "stop": list(block.get("stop") or []),
        "top_p": block.get("top_p"),
        "frequency_penalty": block.get("frequency_penalty"),
        "presence_penalty": block.get("presence_penalty"),
        "response_format": mc.raw.get("response_format"),
        "extras": {k: mc.raw[k] for k in PROVIDER_EXTRAS if k in mc.raw},
    }


def cache_key(kind: str, payload: dict[str, Any]) -> str:
    """A stable cache key for a request payload."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{kind}:{blake3(text.encode()).hexdigest()}"


async def generate(
    call: BlockCall, mc: ModelConfig, request: GenerationRequest, streamed: frozenset[str]
) -> Generation:
    """Ask the provider; stream the event types in `streamed` when `use_stream`, else use the cache.

    As in core, a streamed request is never served from (nor written to) the cache.
    """
    request.pace = call.run.ctx.token_delay
    try:
        if mc.use_stream:

            async def sink(event_type: str, content: Any) -> None:
                if event_type in streamed:
                    await call.emit_token_event(event_type, PAYLOAD_KEYS[event_type], content)

            return await mc.provider.generate(request, sink)
        key = cache_key(call.block.type, request.cache_payload(mc.provider_id))
        cache = call.run.ctx.cache
        if mc.use_cache:
            hit = await cache.get(key)
            if hit is not None:
                return Generation.from_dict(hit)
        generation = await mc.provider.generate(request, None)
        await cache.put(key, generation.to_dict())
        return generation
    except ProviderError as exc:
        raise BlockError(f"Error querying `{mc.provider_id}:{mc.model_id}`: error={exc}") from None


def usage_meta(generation: Generation) -> dict[str, Any]:
    """`{token_usage, provider_request_id}` as core's meta has them: both keys, null when unknown.

    `token_usage` is core's `LLMTokenUsage`: exactly `prompt_tokens` and `completion_tokens`.
    """
    usage = generation.usage
    token_usage = (
        None
        if usage is None
        else {
            "prompt_tokens": usage.get("prompt_tokens", 0),
            "completion_tokens": usage.get("completion_tokens", 0),
        }
    )
    return {"token_usage": token_usage, "provider_request_id": generation.request_id}
