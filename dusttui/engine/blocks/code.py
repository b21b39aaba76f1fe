"""`code` block: runs `_fun(env)` in the JavaScript sandbox; value is what it returns."""

from __future__ import annotations

from dusttui.engine.blocks.base import BlockCall, BlockResult


async def execute(call: BlockCall) -> BlockResult:
    """`_fun(env)`'s return value, meta `{logs}`; errors read "Error in `code`: …"."""
    value, logs = await call.run_js(call.block.get("code"), "code")
    return BlockResult(value, {"logs": logs})
