"""Block executors, one module per block type: `execute(call) -> BlockResult` raising BlockError."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from dusttui.engine.blocks import chat, code, curl, data, end, input, llm, loop, map, reduce
from dusttui.engine.blocks.base import BlockCall, BlockError, BlockResult

Executor = Callable[[BlockCall], Awaitable[BlockResult]]

EXECUTORS: dict[str, Executor] = {
    "input": input.execute,
    "data": data.execute,
    "code": code.execute,
    "llm": llm.execute,
    "chat": chat.execute,
    "map": map.execute,
    "reduce": reduce.execute,
    "while": loop.execute,
    "end": end.execute,
    "curl": curl.execute,
}

__all__ = ["EXECUTORS", "BlockCall", "BlockError", "BlockResult", "Executor"]
