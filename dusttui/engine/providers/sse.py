"""A minimal Server-Sent Events reader for provider streams (the engine does not use httpx_sse).

Only what OpenAI-compatible servers send matters: `data:` fields joined per event, comment lines
(starting with `:`) and other fields ignored, an event ends at a blank line.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator


async def iter_sse_data(lines: AsyncIterable[str]) -> AsyncIterator[str]:
    """Yield the data of each event from an async iterable of text lines (without line ends)."""
    data: list[str] = []
    async for raw in lines:
        line = raw.rstrip("\r\n")
        if line == "":
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if name != "data":
            continue
        data.append(value[1:] if value.startswith(" ") else value)
    if data:
        yield "\n".join(data)
