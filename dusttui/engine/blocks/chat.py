"""`chat` block: messages from `messages_code` (and functions from `functions_code`), answered by
the configured provider.

Value `{message: {content, function_calls?, role: "assistant"}}`, meta `{logs, token_usage,
provider_request_id}` (every key, nulls kept: core/src/blocks/chat.rs); with `use_stream`, `tokens`
(and reasoning / function call) events as the answer arrives. `messages_code` must return what
core deserializes into its `ChatMessage` type (see :mod:`chat_messages`).
"""

from __future__ import annotations

from typing import Any

from dusttui.engine.blocks.base import BlockCall, BlockError, BlockResult
from dusttui.engine.blocks.chat_messages import SerdeError, chat_messages
from dusttui.engine.blocks.model import generate, read_model_config, sampling, usage_meta
from dusttui.engine.blocks.text import render_field
from dusttui.engine.providers import GenerationRequest

STREAMED = frozenset(
    {
        "tokens",
        "reasoning_tokens",
        "reasoning_item",
        "function_call",
        "function_call_arguments_tokens",
    }
)
MESSAGES_CODE_OUTPUT = (
    "Invalid messages code output, expecting an array of objects with  fields `role`, possibly "
    "`name`, and `content` or `function_call(s)`."
)
FUNCTIONS_CODE_OUTPUT = (
    "Invalid functions code output, expecting an array of objects with fields `name`, "
    "`description`, and `parameters`."
)


def _function_call(call: BlockCall, raw: dict[str, Any]) -> str | None:
    value = raw.get("function_call")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BlockError(f"Invalid `function_call` in configuration for chat block `{call.name}`")
    return value


def _functions(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BlockError(FUNCTIONS_CODE_OUTPUT)
    functions = []
    for f in value:
        if not (
            isinstance(f, dict)
            and isinstance(f.get("name"), str)
            and isinstance(f.get("description"), str)
            and "parameters" in f
        ):
            raise BlockError(FUNCTIONS_CODE_OUTPUT)
        functions.append(
            {"name": f["name"], "description": f["description"], "parameters": f["parameters"]}
        )
    return functions


async def execute(call: BlockCall) -> BlockResult:
    """Run the chat; errors are core's texts (config, messages/functions code, provider)."""
    mc = read_model_config(call)
    function_call = _function_call(call, mc.raw)
    block = call.block

    code = block.get("messages_code").replace("<DUST_TRIPLE_BACKTICKS>", "```")
    value, logs = await call.run_js(code, "messages_code")
    if not isinstance(value, list):
        raise BlockError(MESSAGES_CODE_OUTPUT)
    try:
        messages = chat_messages(value)
    except SerdeError as exc:  # core: `serde_json::from_value(...)?`, serde's text as is
        raise BlockError(str(exc)) from None

    functions: list[dict[str, Any]] = []
    if block.get("functions_code") is not None:
        code = block.get("functions_code").replace("<DUST_TRIPLE_BACKTICKS>", "```")
        value, function_logs = await call.run_js(code, "functions_code")
        functions = _functions(value)
        logs.extend(function_logs)

    if function_call not in (None, "auto", "none", "any") and not any(
        f["name"] == function_call for f in functions
    ):
        raise BlockError(
            f"Invalid `function_call` in configuration for chat block `{call.name}`: function "
            f"name `{function_call}` not found in functions. Possible values are 'auto', 'none', "
            "'any' or the name of one of the functions."
        )

    if block.get("instructions") is not None:
        instructions = await render_field(call, block.get("instructions"), "instructions")
        instructions = instructions.replace("<DUST_TRIPLE_BACKTICKS>", "```")
        if instructions:
            messages.insert(0, {"role": "system", "content": instructions})

    request = GenerationRequest(
        model_id=mc.model_id,
        messages=messages,
        functions=functions,
        function_call=function_call,
        **sampling(block, mc),
    )
    generation = await generate(call, mc, request, STREAMED)
    # AssistantChatMessage's field order, `None` fields skipped (core/src/providers/chat_messages.rs)
    message: dict[str, Any] = {"content": generation.text}
    if generation.function_calls:
        message["function_calls"] = generation.function_calls
    message["role"] = "assistant"
    return BlockResult({"message": message}, {"logs": logs, **usage_meta(generation)})
