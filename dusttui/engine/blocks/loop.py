"""`while` block: evaluates `condition_code` once per input per iteration (module named `loop`
because `while` is a Python keyword).

At iteration `max_iterations` the answer is false without running the code; the runner skips the
inputs whose condition went false and leaves the loop once all are skipped.
"""

from __future__ import annotations

from dusttui.engine.blocks.base import BlockCall, BlockError, BlockResult


async def execute(call: BlockCall) -> BlockResult:
    """The condition as a boolean, meta `{logs}` (none when `max_iterations` is reached)."""
    iteration = (call.env.map or {}).get("iteration", 0)
    if iteration >= int(call.block.get("max_iterations")):
        return BlockResult(False)
    code = call.block.get("condition_code").replace("<DUST_TRIPLE_BACKTICKS>", "```")
    value, logs = await call.run_js(code, "condition_code")
    if not isinstance(value, bool):
        raise BlockError("Invalid return value from `condition_code`, expecting boolean")
    return BlockResult(value, {"logs": logs})
