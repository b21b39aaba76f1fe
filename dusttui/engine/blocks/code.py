"""`code` block: runs `_fun(env)` in the JavaScript sandbox; value is what it returns."""

from __future__ import annotations

from dusttui.engine.blocks.base import BlockCall, BlockError, BlockResult


async def execute(call: BlockCall) -> BlockResult:
    """`_fun(env)`'s return value, meta `{logs}`; errors read "Error in `code`: …"."""
    value, logs = await call.run_js(call.block.get("code"), "code")
    return BlockResult(value, {"logs": logs})


async def execute_many(calls: list[BlockCall]) -> list[BlockResult | BlockError]:
    """Several executions of one code block in one sandbox hop (same results as `execute`)."""
    executor = calls[0].run.ctx.executor()
    outcomes = await executor.run_many(calls[0].block.get("code"), [c.js_env() for c in calls])
    return [
        BlockResult(o.value, {"logs": o.logs})  # each result has a list of its own
        if not isinstance(o, Exception)
        else BlockError(f"Error in `code`: {o}")
        for o in outcomes
    ]
