"""Block executors, one module per block type: `execute(call) -> BlockResult` raising BlockError."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from dusttui.engine.blocks import (
    chat,
    code,
    curl,
    data,
    end,
    hosted,
    input,
    llm,
    loop,
    map,
    reduce,
)
from dusttui.engine.blocks.base import BlockCall, BlockError, BlockResult

Executor = Callable[[BlockCall], Awaitable[BlockResult]]
# Executes several calls of one block in one go; each outcome is a result or the error it raised,
# also given to the callback (call index, outcome) as soon as it is known (live progress).
OnOutcome = Callable[[int, BlockResult | BlockError], None]
BatchExecutor = Callable[
    [list[BlockCall], OnOutcome | None], Awaitable[list[BlockResult | BlockError]]
]

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
    **dict.fromkeys(hosted.NEEDS, hosted.execute),
}

# Block types whose executions are batched into one sandbox hop (many short scripts).
BATCH_EXECUTORS: dict[str, BatchExecutor] = {"code": code.execute_many}

__all__ = [
    "BATCH_EXECUTORS",
    "EXECUTORS",
    "BatchExecutor",
    "BlockCall",
    "BlockError",
    "BlockResult",
    "Executor",
]
