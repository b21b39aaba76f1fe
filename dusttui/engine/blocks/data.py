"""`data` block: a dataset stored beside the apps, by id and version hash."""

from __future__ import annotations

from dusttui.engine.blocks.base import BlockCall, BlockError, BlockResult


async def execute(call: BlockCall) -> BlockResult:
    """The dataset's records as an array (core's message when that version is unknown)."""
    dataset_id = call.block.get("dataset_id")
    version = call.block.get("hash")
    records = call.run.ctx.datasets(dataset_id, version)
    if records is None:
        raise BlockError(f"Version `{version}` not found for dataset `{dataset_id}`")
    return BlockResult(list(records))
