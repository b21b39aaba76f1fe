"""The journal, read and written in a thread of its own: SQLite and big JSON never on the loop.

One worker thread keeps the writes in order (a run's launch before its end). Every method is a
coroutine the event loop awaits without blocking; :meth:`JournalIO.close` waits for what was
queued.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from dusttui.api.journal import Journal, JournalEntry, JournalSummary
    from dusttui.api.state import RunState

__all__ = ["JournalIO"]

T = TypeVar("T")


class JournalIO:
    """A :class:`~dusttui.api.journal.Journal` behind one worker thread.

    ``source``: the journal's file (opened in the worker), or a journal already open.
    """

    def __init__(self, source: Path | Journal) -> None:
        self._path: Path | None = None
        self._journal: Journal | None = None
        if isinstance(source, Path):
            self._path = source
        else:
            self._journal = source
        self._owned = self._journal is None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dusttui-journal")
        self._closed = False

    def _open(self) -> Journal:
        if self._journal is None:
            from dusttui.api.journal import Journal

            assert self._path is not None
            self._journal = Journal(self._path)
        return self._journal

    async def _call(self, func: Callable[[Journal], T]) -> T:
        if self._closed:
            raise RuntimeError("The journal is closed.")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: func(self._open()))

    async def record_launch(self, **fields: Any) -> None:
        """Record a run as soon as its id is known (see ``Journal.record_launch``)."""
        await self._call(lambda j: j.record_launch(**fields))

    async def record_final(self, state: RunState) -> None:
        """Store the run as it ended (its wire JSON, written in the worker)."""
        run_id = state.run_id
        if run_id is None:
            return

        def write(j: Journal) -> None:
            text = state.to_wire_json()  # megabytes for a big run: built here, in the worker
            j.record_final_text(run_id, text, state.status, state.specification_hash)

        await self._call(write)

    async def record_status(self, run_id: str, status: str) -> None:
        """Note how a run ended (see :meth:`Journal.record_status`)."""
        await self._call(lambda j: j.record_status(run_id, status))

    async def summaries(self, limit: int = 200) -> list[JournalSummary]:
        """The history list, newest first (without configs, inputs or final runs)."""
        return await self._call(lambda j: j.list_summaries(limit))

    async def entry(self, run_id: str) -> JournalEntry | None:
        """One run's full entry (config and inputs included)."""
        return await self._call(lambda j: j.get(run_id))

    async def final_run(self, run_id: str) -> bytes | None:
        """The stored final run's JSON text, or None."""

        def read(j: Journal) -> bytes | None:
            return j.final_run_bytes(run_id)

        return await self._call(read)

    def close(self) -> None:
        """Finish what is queued, then close the journal (when this object opened it)."""
        if self._closed:
            return
        self._closed = True
        self._pool.shutdown(wait=True)
        if self._owned and self._journal is not None:
            self._journal.close()
