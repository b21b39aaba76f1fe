"""`input` block: each input stream's value is its element of the run's `inputs`."""

from __future__ import annotations

from dusttui.engine.blocks.base import BlockCall, BlockResult


async def execute(call: BlockCall) -> BlockResult:
    """The input object of this stream."""
    return BlockResult(call.env.input_value)
