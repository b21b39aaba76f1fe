"""`map` block: the array to iterate over (1 to 64 elements), or a value repeated `repeat` times.

The map block runs once per input; the runner forks the iterations after it.
"""

from __future__ import annotations

from dusttui.engine.blocks.base import BlockCall, BlockError, BlockResult

MAP_MAX_ITERATIONS = 64


async def execute(call: BlockCall) -> BlockResult:
    """The `from` block's output checked as an array, or repeated (core's messages)."""
    source = call.block.get("from")
    repeat = call.block.get("repeat")
    if source not in call.env.state:
        raise BlockError(f"Map `from` block `{source}` output not found")
    value = call.env.state[source]
    if repeat is None:
        if not isinstance(value, list):
            raise BlockError(
                f"Map `from` block `{source}` output must be an array, or `repeat` must be defined"
            )
        if len(value) > MAP_MAX_ITERATIONS:
            raise BlockError(
                f"Map `from` block `{source}` output exceeds maximum size ({MAP_MAX_ITERATIONS})"
            )
        if not value:  # core/src/blocks/map.rs Map::execute
            raise BlockError(f"Map `from` block `{source}` output must be a non-empty array")
        return BlockResult(value)
    if repeat == 0:
        raise BlockError("Map `repeat` must be a positive integer, got 0")
    return BlockResult([value] * int(repeat))
