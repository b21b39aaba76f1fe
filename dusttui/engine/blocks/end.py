"""`end` block: closes a while loop; the runner decides whether to loop again."""

from __future__ import annotations

from dusttui.engine.blocks.base import BlockCall, BlockResult


async def execute(call: BlockCall) -> BlockResult:
    """Always null."""
    return BlockResult(None)
