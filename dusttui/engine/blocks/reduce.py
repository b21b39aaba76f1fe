"""`reduce` block: closes a map; the runner gathers the in-map outputs into arrays before it."""

from __future__ import annotations

from dusttui.engine.blocks.base import BlockCall, BlockResult


async def execute(call: BlockCall) -> BlockResult:
    """Always null: the work is the runner's regrouping of the map's iterations."""
    return BlockResult(None)
