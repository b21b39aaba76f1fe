"""`llm` block: a prompt built from the state, completed by the configured provider.

Value `{prompt: Tokens, completion: Tokens}` with core's `Tokens = {text, tokens, logprobs,
top_logprobs}` (every key, nulls kept). As in core/src/blocks/llm.rs, a chat model (`gpt-4*`,
`gpt-3.5-turbo*` but `-instruct`) gets the prompt as one user message and the meta is null; any
other model goes through the completion path: the provider's tokens when it has them, and meta
`{token_usage, provider_request_id}`. With `use_stream` the completion arrives as `tokens` events
routed by input index and map iteration.
"""

from __future__ import annotations

from dusttui.engine.blocks.base import BlockCall, BlockError, BlockResult
from dusttui.engine.blocks.model import generate, read_model_config, sampling, usage_meta
from dusttui.engine.blocks.text import few_shot_texts, render_field
from dusttui.engine.providers import GenerationRequest
from dusttui.engine.providers.base import Tokens, llm_uses_chat

STREAMED = frozenset({"tokens"})


async def build_prompt(call: BlockCall) -> str:
    """few_shot_preprompt, then `few_shot_count` examples, then prompt (core's order)."""
    block, state = call.block, call.env.state
    parts: list[str] = []
    if block.get("few_shot_preprompt") is not None:
        parts.append(await render_field(call, block.get("few_shot_preprompt"), "prompt"))
    if block.get("few_shot_prompt") is not None:
        count = block.get("few_shot_count")
        if count is None:
            raise BlockError("If `few_shot_prompt` is defined, `few_shot_count` is required")
        parts.extend(few_shot_texts(block.get("few_shot_prompt"), state)[: int(count)])
    if block.get("prompt") is not None:
        parts.append(await render_field(call, block.get("prompt"), "prompt"))
    return "".join(parts).replace("<DUST_TRIPLE_BACKTICKS>", "```")


async def execute(call: BlockCall) -> BlockResult:
    """Complete the prompt; errors are core's texts (missing config, templates, provider)."""
    mc = read_model_config(call)
    prompt = await build_prompt(call)
    block = call.block
    request = GenerationRequest(
        model_id=mc.model_id,
        messages=[{"role": "user", "content": prompt}],
        # The prompt lets providers use their completion API where core does (non-chat models).
        prompt=prompt,
        top_logprobs=block.get("top_logprobs"),
        **sampling(block, mc),
    )
    generation = await generate(call, mc, request, STREAMED)
    if llm_uses_chat(mc.model_id):
        value = {
            "prompt": Tokens(prompt).to_dict(),
            "completion": Tokens(generation.text).to_dict(),
        }
        return BlockResult(value, None)
    value = {
        "prompt": (generation.prompt or Tokens(prompt)).to_dict(),
        "completion": (generation.completion or Tokens(generation.text)).to_dict(),
    }
    return BlockResult(value, usage_meta(generation))
