"""Live runs: each run is its own asyncio task; stream clients are queues that come and go.

A client that disconnects only drops its queue; the run goes on. Runs are written to the store
when they start, whenever a block starts or ends (writes coalesce), and when they end.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import orjson

from dusttui.engine.context import EngineContext
from dusttui.engine.record import RunRecord
from dusttui.engine.runner import execute_run
from dusttui.engine.spec import Spec
from dusttui.engine.store import STOPPED_MESSAGE, Store

log = logging.getLogger(__name__)

FINAL_EVENT: dict[str, Any] = {"type": "final", "content": None}


def dumps(value: Any) -> bytes:
    """Compact JSON bytes; falls back to the json module for values orjson refuses (huge ints)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(eq=False)
class LiveRun:
    """A run being executed in this process."""

    app: str
    record: RunRecord
    subscribers: list[asyncio.Queue[dict[str, Any] | None]] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    error: str | None = None  # why the engine itself failed the run (not a block error)
    _dirty: bool = False
    _writer: asyncio.Task[None] | None = None

    def wire(self, block_filter: list[str] | None = None, *, blocking: bool = False) -> dict:
        """The run's wire JSON now."""
        run = self.record.to_wire(block_filter, blocking=blocking)
        if self.error is not None:
            run["error"] = self.error
        return run

    def listing_wire(self) -> dict:
        """The run without traces, for the listing."""
        run = self.record.to_listing_wire()
        if self.error is not None:
            run["error"] = self.error
        return run

    def subscribe(self) -> asyncio.Queue[dict[str, Any] | None]:
        """A queue that receives every event from now on, then None when the stream is over."""
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.subscribers.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        """Stop delivering to a queue (its client went away)."""
        if queue in self.subscribers:
            self.subscribers.remove(queue)

    def publish(self, event: dict[str, Any] | None) -> None:
        for queue in self.subscribers:
            queue.put_nowait(event)


class RunHub:
    """Starts runs as tasks, fans their events out, and keeps the store up to date."""

    def __init__(self, store: Store, ctx: EngineContext) -> None:
        self.store = store
        self.ctx = ctx
        self._live: dict[str, LiveRun] = {}
        self._closing = False

    def live(self, run_id: str) -> LiveRun | None:
        """The run if it is executing (or finishing) in this process."""
        return self._live.get(run_id)

    def live_runs(self, app: str) -> dict[str, LiveRun]:
        """This process's live runs of an app, by id."""
        return {rid: run for rid, run in self._live.items() if run.app == app}

    async def start(
        self,
        *,
        app: str,
        spec: Spec,
        config: dict[str, Any],
        inputs: list[Any],
        subscribe: bool = False,
        run_type: str = "deploy",
    ) -> tuple[LiveRun, asyncio.Queue[dict[str, Any] | None] | None]:
        """Record a new run, start its task, and optionally subscribe before the first event."""
        if self._closing:
            raise RuntimeError("The engine is shutting down")
        record = RunRecord.new(spec.hash, app, config, run_type=run_type)
        live = LiveRun(app=app, record=record)
        queue = live.subscribe() if subscribe else None
        await asyncio.to_thread(
            self.store.insert_run,
            run_id=record.run_id,
            app=app,
            run_type=run_type,
            created=record.created,
            specification_hash=spec.hash,
            status="running",
            run_json=dumps(live.wire()),
            listing_json=dumps(live.listing_wire()),
        )
        self._live[record.run_id] = live
        live.task = asyncio.create_task(
            self._run(live, spec, config, inputs), name=f"run-{record.run_id[:12]}"
        )
        return live, queue

    async def _emit(self, live: LiveRun, event: dict[str, Any]) -> None:
        live.publish(event)
        # A block starting or ending is saved, so a crash leaves the last block known.
        if event.get("type") in ("block_status", "run_status"):
            self._request_write(live)

    def _request_write(self, live: LiveRun) -> None:
        live._dirty = True
        if live._writer is None or live._writer.done():
            live._writer = asyncio.create_task(self._write_loop(live))

    async def _write_loop(self, live: LiveRun) -> None:
        # Snapshots are taken on the loop (consistent), written in a thread (the loop never waits).
        while live._dirty:
            live._dirty = False
            status = live.record.status
            run_json, listing_json = dumps(live.wire()), dumps(live.listing_wire())
            try:
                await asyncio.to_thread(
                    self.store.update_run, live.record.run_id, status, run_json, listing_json
                )
            except Exception:
                log.exception("Could not save run %s", live.record.run_id)

    async def _run(
        self, live: LiveRun, spec: Spec, config: dict[str, Any], inputs: list[Any]
    ) -> None:
        record = live.record
        try:
            await execute_run(spec, config, inputs, record, partial(self._emit, live), self.ctx)
        except asyncio.CancelledError:
            self._fail(live, STOPPED_MESSAGE)
        except Exception as exc:
            log.exception("Run %s failed inside the engine", record.run_id)
            self._fail(live, f"Internal engine error: {type(exc).__name__}: {exc}")
        if record.status == "running":  # the runner returned without a final status
            self._fail(live, "Internal engine error: the run ended without a final status.")
        live.publish(FINAL_EVENT)
        live.publish(None)
        live.subscribers.clear()
        try:
            if live._writer is not None:
                await asyncio.shield(live._writer)
            live._dirty = True
            await asyncio.shield(self._write_loop(live))
        except asyncio.CancelledError:
            pass
        finally:
            live.done.set()
            self._live.pop(record.run_id, None)

    def _fail(self, live: LiveRun, message: str) -> None:
        live.error = message
        record = live.record
        if record.status == "running":
            record.status = "errored"
            for block in record.blocks:
                if block.get("status") == "running":
                    block["status"] = "errored"
            record.results = None
            live.publish(
                {"type": "run_status", "content": {"status": "errored", "run_id": record.run_id}}
            )

    async def shutdown(self, wait: float = 5.0) -> None:
        """Stop every live run (marked errored, streams closed), then wait for them to be saved."""
        self._closing = True
        runs = list(self._live.values())
        for live in runs:
            if live.task is not None:
                live.task.cancel()
        waiters = [asyncio.ensure_future(live.done.wait()) for live in runs]
        if waiters:
            await asyncio.wait(waiters, timeout=wait)
        for waiter in waiters:
            waiter.cancel()
        # Anything not saved in time is closed in the database directly.
        await asyncio.to_thread(self.store.interrupt_owned, STOPPED_MESSAGE)
