"""Live runs: each run is its own asyncio task; stream clients are queues that come and go.

A client that disconnects only drops its queue; the run goes on. Runs are written to the store
when they start, whenever a block starts or ends (writes coalesce), and when they end; while a
block runs, its live counts are saved every second (an engine killed mid-block keeps them).

A run the engine itself ends carries why on its record (``end_reason`` and ``error``, shown in the
run JSON's ``dusttui`` extension): ``cancelled`` (a client asked), ``interrupted`` (the engine
stopped) or ``engine_error`` (something failed inside the engine, e.g. a value JSON cannot carry).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from dusttui.engine.blocks.base import BlockError
from dusttui.engine.context import EngineContext
from dusttui.engine.record import RunRecord
from dusttui.engine.runner import execute_run
from dusttui.engine.spec import Spec
from dusttui.engine.store import STOPPED_MESSAGE, Store
from dusttui.engine.wirejson import EncodeError, dumps

log = logging.getLogger(__name__)

FINAL_EVENT: dict[str, Any] = {"type": "final", "content": None}
CANCELLED_MESSAGE = "Run cancelled."
PROGRESS_SAVE_SECONDS = 1.0  # a running block's counts are saved this often (when they moved)

Frame = bytes  # one event's JSON, encoded once for every subscriber


class RunFailure(BlockError):
    """Raised into the runner to stop a run the engine cannot carry on (the record says why).

    A BlockError: raised inside an execution (a streamed token), it is that execution's error.
    """


@dataclass(eq=False)
class LiveRun:
    """A run being executed in this process."""

    app: str
    record: RunRecord
    tag: str | None = None
    subscribers: list[asyncio.Queue[Frame | None]] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    _dirty: bool = False
    _writer: asyncio.Task[None] | None = None

    def wire(
        self, block_filter: list[str] | None = None, *, blocking: bool = False
    ) -> dict[str, Any]:
        """The run's wire JSON now."""
        return self.record.to_wire(block_filter, blocking=blocking)

    def listing_wire(self) -> dict[str, Any]:
        """The run without traces, for the listing (and the status endpoint)."""
        return self.record.to_listing_wire()

    def subscribe(self) -> asyncio.Queue[Frame | None]:
        """A queue that receives every event from now on, then None when the stream is over."""
        queue: asyncio.Queue[Frame | None] = asyncio.Queue()
        self.subscribers.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Frame | None]) -> None:
        """Stop delivering to a queue (its client went away)."""
        if queue in self.subscribers:
            self.subscribers.remove(queue)

    def publish(self, frame: Frame | None) -> None:
        """Deliver an encoded event (None: the stream is over) to every subscriber."""
        for queue in self.subscribers:
            queue.put_nowait(frame)


class RunHub:
    """Starts runs as tasks, fans their events out, and keeps the store up to date."""

    def __init__(self, store: Store, ctx: EngineContext) -> None:
        self.store = store
        self.ctx = ctx
        self._live: dict[str, LiveRun] = {}
        self._closing = False

    @property
    def running(self) -> int:
        """How many runs this process is executing (or finishing)."""
        return len(self._live)

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
        tag: str | None = None,
    ) -> tuple[LiveRun, asyncio.Queue[Frame | None] | None]:
        """Record a new run, start its task, and optionally subscribe before the first event."""
        if self._closing:
            raise RuntimeError("The engine is shutting down")
        record = RunRecord.new(spec.hash, app, config, run_type=run_type)
        live = LiveRun(app=app, record=record, tag=tag)
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
            tag=tag,
        )
        self._live[record.run_id] = live
        live.task = asyncio.create_task(
            self._run(live, spec, config, inputs), name=f"run-{record.run_id[:12]}"
        )
        return live, queue

    async def _emit(self, live: LiveRun, event: dict[str, Any]) -> None:
        try:
            frame = dumps(event)
        except EncodeError as exc:
            live.publish(self._refuse(live, event, str(exc)))
            raise RunFailure(live.record.error) from None
        live.publish(frame)
        # A block starting or ending is saved, so a crash leaves the last block known.
        if event.get("type") in ("block_status", "run_status"):
            self._request_write(live)

    def _refuse(self, live: LiveRun, event: dict[str, Any], problem: str) -> Frame | None:
        """An event JSON cannot carry: the run ends errored, saying which block produced what."""
        content = event.get("content") or {}
        block = content.get("block_name") or content.get("name") or "?"
        record = live.record
        record.end_reason = "engine_error"
        record.error = f"Run stopped: block `{block}` produced {problem}."
        if event.get("type") != "block_execution":
            return None  # a token or a status: dropped, the run stops right after
        # The executions are the record's own dicts: fixing them in place fixes the saved trace.
        message = f"Output refused: {problem}."
        refused = 0
        for row in content.get("execution") or []:
            for execution in row:
                try:
                    dumps(execution)
                except EncodeError:
                    refused += execution.get("error") is None
                    execution.update(value=None, error=message, meta=None)
        for status in record.blocks:  # the refused executions count as errors
            if (status["block_type"], status["name"]) == (content.get("block_type"), block):
                status["success_count"] = max(0, status["success_count"] - refused)
                status["error_count"] += refused
        try:
            return dumps(event)
        except EncodeError:  # not in an execution (cannot happen with the runner's events)
            return None

    def _request_write(self, live: LiveRun) -> None:
        live._dirty = True
        if live._writer is None or live._writer.done():
            live._writer = asyncio.create_task(self._write_loop(live))

    async def _write_loop(self, live: LiveRun) -> None:
        # Snapshots are taken on the loop (consistent), written in a thread (the loop never waits).
        while live._dirty:
            live._dirty = False
            status = live.record.status
            try:
                run_json, listing_json = dumps(live.wire()), dumps(live.listing_wire())
                await asyncio.to_thread(
                    self.store.update_run, live.record.run_id, status, run_json, listing_json
                )
            except Exception:
                log.exception("Could not save run %s", live.record.run_id)

    async def _run(
        self, live: LiveRun, spec: Spec, config: dict[str, Any], inputs: list[Any]
    ) -> None:
        record = live.record
        progress = asyncio.create_task(self._save_progress(live))
        try:
            await execute_run(spec, config, inputs, record, partial(self._emit, live), self.ctx)
        except asyncio.CancelledError:
            if record.end_reason is None:  # cancelled without a word: the engine is stopping
                record.end_reason, record.error = "interrupted", STOPPED_MESSAGE
        except Exception as exc:  # the runner catches its own failures; this is a safety net
            log.exception("Run %s failed inside the engine", record.run_id)
            record.end_reason = record.end_reason or "engine_error"
            record.error = record.error or f"Internal engine error: {type(exc).__name__}: {exc}"
        progress.cancel()
        if record.status == "running" and record.end_reason is None:
            record.end_reason = "engine_error"
            record.error = "Internal engine error: the run ended without a final status."
        self._finish(live)
        live.publish(dumps(FINAL_EVENT))
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

    async def _save_progress(self, live: LiveRun) -> None:
        """While the run runs, save its live counts every PROGRESS_SAVE_SECONDS when they moved:
        an engine killed mid-block then still says how far the block got."""
        record, last = live.record, None
        while True:
            await asyncio.sleep(PROGRESS_SAVE_SECONDS)
            counts = [(b.get("success_count"), b.get("error_count")) for b in record.blocks]
            if counts == last or record.status != "running":
                continue
            last = counts
            try:
                listing = dumps(live.listing_wire())
                await asyncio.to_thread(self.store.update_progress, record.run_id, listing)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Could not save the progress of run %s", record.run_id)

    def _finish(self, live: LiveRun) -> None:
        """A run the engine ended: running blocks and the run become errored, streams are told."""
        record = live.record
        for block in record.blocks:
            if block.get("status") == "running":
                block["status"] = "errored"
                live.publish(dumps({"type": "block_status", "content": dict(block)}))
        if record.status == "running":
            record.status = "errored"
            record.results = None
            status = {"status": "errored", "run_id": record.run_id}
            live.publish(dumps({"type": "run_status", "content": status}))

    async def end_run(self, live: LiveRun, end_reason: str, message: str) -> None:
        """Stop a live run (cancel or interruption) and wait until it is ended and saved."""
        if live.record.status == "running" and live.record.end_reason is None:
            live.record.end_reason, live.record.error = end_reason, message
            if live.task is not None:
                live.task.cancel()
        await live.done.wait()

    async def shutdown(self, message: str = STOPPED_MESSAGE, wait: float = 5.0) -> list[str]:
        """Interrupt every live run (errored with `message`, streams closed), wait for them to be
        saved; the ids of the runs that were interrupted. Idempotent."""
        self._closing = True
        runs = [live for live in self._live.values() if live.record.status == "running"]
        ended = [asyncio.ensure_future(self.end_run(live, "interrupted", message)) for live in runs]
        if ended:
            await asyncio.wait(ended, timeout=wait)
        for waiter in ended:
            waiter.cancel()
        # Anything not saved in time is closed in the database directly.
        await asyncio.to_thread(self.store.interrupt_owned, message)
        return [live.record.run_id for live in runs]
