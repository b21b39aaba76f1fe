"""Blocks only the hosted Dust service can run: `search`, `browser`, `data_source`,
`database_schema`, `database`.

The parser reads and hashes them as core does (an app keeps its hash here); an execution of one
fails with a sentence naming the block and what it needs, so a run stops only when one is reached.
"""

from __future__ import annotations

from dusttui.engine.blocks.base import BlockCall, BlockError, BlockResult

NEEDS = {
    "search": "a web search through Dust's SerpAPI or Serper credentials",
    "browser": "a page scraped through Dust's Browserless service",
    "data_source": "a search in the workspace's data sources",
    "database_schema": "the workspace's tables",
    "database": "a query over the workspace's tables",
}


async def execute(call: BlockCall) -> BlockResult:
    """Always fails: the local engine has no workspace data sources, tables or search keys."""
    kind = call.block.type
    raise BlockError(
        f"Block `{call.name}` of type `{kind}` needs the hosted Dust service ({NEEDS[kind]}) "
        "and cannot run in the local engine; run this app against a Dust workspace"
    )
