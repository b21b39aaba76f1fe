"""RunSession: the one place that launches, follows, journals, cancels and ends runs.

Both front ends consume it. Each run is followed by a task of its own (``watch_run`` feeding one
``RunState``); against the local engine a second task fetches its live counts beside the stream
(or, in blocking mode, finds the run by its tag and polls them beside the long request), at most
four times a second and only while a block runs. Listeners hear every change
(:class:`Change`); the TUI coalesces them into repaints, the CLI prints them. The journal is
written in its own thread (:class:`~dusttui.session.journal_io.JournalIO`).

If the local engine dies while a run is followed (its connection refused and its process gone),
the session starts a new engine (which marks the orphaned run interrupted) and reads the run's
real end from it.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from contextlib import aclosing, suppress
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from dusttui.api.errors import (
    DustConnectionError,
    DustError,
    DustTimeoutError,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
    RunError,
    ServerError,
    StreamProtocolError,
)
from dusttui.engine.process import EngineStartError
from dusttui.session.ends import EndReason, RunEnd, end_of
from dusttui.session.tracked import TrackedRun, short_id

if TYPE_CHECKING:
    from dusttui.api.client import DustClient
    from dusttui.api.models import App, Event
    from dusttui.api.state import RunState
    from dusttui.api.watch import WatchUpdate
    from dusttui.session.backend import Connector
    from dusttui.session.journal_io import JournalIO

__all__ = ["Change", "NoCancel", "RunSession"]

LIVE_INTERVAL = 0.25  # live counts are fetched at most four times a second
YIELD_EVERY = 32  # stream updates handled between two turns of the event loop, at most
_TRANSIENT = (DustConnectionError, DustTimeoutError, ServerError, RateLimitedError)
_NOT_AN_ENGINE = (NotFoundError, InvalidRequestError, StreamProtocolError)
_NO_LIMIT = 1 << 30  # failures are not counted: a lost connection is retried for a time


class Change(StrEnum):
    """What happened to a run, for listeners."""

    ADDED = "added"  # the session follows a new run
    STARTED = "started"  # its run id is known
    UPDATED = "updated"  # progress, connection
    ENDED = "ended"  # the watch is over: ``run.end`` says how


Listener = Callable[[TrackedRun, Change], None]


class NoCancel(Exception):
    """This backend cannot cancel runs (dust.tt's API has no cancel); the message says so."""


class RunSession:
    """The runs a front end follows, over one :class:`~dusttui.session.backend.Connector`."""

    def __init__(
        self,
        connector: Connector,
        *,
        journal: JournalIO | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.connector = connector
        self.journal = journal
        self.clock = clock
        self.runs: dict[str, TrackedRun] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._listeners: list[Listener] = []
        self._detach: dict[str, str] = {}
        self._journaled: set[str] = set()
        self._restart_lock: asyncio.Lock | None = None
        self._counter = 0
        self.event_sink: Callable[[TrackedRun, Event], None] | None = None
        """Called with every stream event as it arrives (``dusttui run --jsonl``)."""

    # ------------------------------------------------------------------ listening

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(run, change)`` on every change of every run (on the event loop)."""
        self._listeners.append(listener)

    def _notify(self, run: TrackedRun, change: Change) -> None:
        for listener in list(self._listeners):
            listener(run, change)

    # ------------------------------------------------------------------ starting

    def _new(self, app_id: str, app_name: str, mode: str, **fields: Any) -> TrackedRun:
        self._counter += 1
        run = TrackedRun(
            key=f"run-{self._counter}",
            app_id=app_id,
            app_name=app_name,
            mode=mode,
            started=self.clock(),
            host=self.connector.host,
            **fields,
        )
        self.runs[run.key] = run
        return run

    def launch(
        self,
        app: App,
        spec_hash: str,
        config: dict[str, Any],
        inputs: list[Any],
        mode: str,
        *,
        block_filter: list[str] | None = None,
    ) -> TrackedRun:
        """Create a run and follow it to its end (several can run at once)."""
        from dusttui.api.state import RunState

        run = self._new(
            app.sId,
            app.name,
            mode,
            specification_hash=spec_hash,
            config=config,
            inputs=inputs,
        )
        spec = None if spec_hash == "latest" else spec_hash
        run.state = RunState(specification_hash=spec, config=config, clock=self.clock)
        request = (spec_hash, config, inputs)
        self._start(run, self._follow(run, request, block_filter))
        return run

    def open(
        self,
        run_id: str,
        app_id: str,
        app_name: str,
        *,
        mode: str = "poll",
        specification_hash: str | None = None,
        config: dict[str, Any] | None = None,
        inputs: list[Any] | None = None,
        from_journal: bool = False,
    ) -> TrackedRun:
        """Read a run by id and, while it runs, follow it (a resumed watch).

        Nothing is journaled unless the server knows the run. ``from_journal``: the run is in
        the history; if the server cannot give it, the journal's copy of its end is shown.
        """
        run = self._new(
            app_id,
            app_name,
            mode,
            specification_hash=specification_hash,
            config=config,
            inputs=inputs,
            opened=True,
        )
        if from_journal:
            self._journaled.add(run_id)
        self._start(run, self._open(run, run_id, from_journal))
        return run

    def _start(self, run: TrackedRun, body: Any) -> None:
        self._tasks[run.key] = asyncio.get_running_loop().create_task(
            self._guard(run, body), name=f"dusttui run {run.key}"
        )
        self._notify(run, Change.ADDED)

    # ------------------------------------------------------------------ waiting, stopping

    async def wait(self, run: TrackedRun) -> RunEnd:
        """Until the watch of ``run`` is over; how it ended."""
        task = self._tasks.get(run.key)
        if task is not None:
            await asyncio.wait({task})
        assert run.end is not None
        return run.end

    async def idle(self) -> None:
        """Until every watch is over."""
        while True:
            pending = [t for t in self._tasks.values() if not t.done()]
            if not pending:
                return
            await asyncio.wait(pending)

    def detach(self, run: TrackedRun, message: str | None = None) -> None:
        """Stop following ``run``; where it runs, it goes on (``message``: what to tell)."""
        task = self._tasks.get(run.key)
        if task is None or task.done():
            return
        self._detach[run.key] = message or self.detached_sentence(run)
        task.cancel()

    def detached_sentence(self, run: TrackedRun) -> str:
        """What stopping to watch ``run`` means on this backend, in a sentence."""
        resume = resume_command(run)
        if self.connector.outlives_front_end:
            where = self.connector.host
            return f"Stopped watching; the run goes on in {where}: {resume}"
        return (
            "Stopped watching. The local engine stops with this dusttui, "
            "and the run with it (it will read interrupted)."
        )

    async def cancel(self, run: TrackedRun) -> str:
        """Stop ``run`` where it runs (the local engine) — or, on a backend without cancel,
        stop watching it; returns the sentence to show."""
        if run.done:
            return f"Run {short_id(run.run_id)} is already over ({run.status})."
        await self.connector.ready()  # a server reached by URL: whether it is a dusttui engine
        if not self.connector.extensions:
            message = (
                f"{self.connector.host} cannot cancel runs (its API has no cancel): "
                f"stopped watching; the run continues there. {resume_command(run)}"
            )
            self.detach(run, message)
            return message
        if run.run_id is None:
            return "The run has no id yet: cancel again in a moment."
        body = await self.connector.client.cancel_run_raw(run.app_id, run.run_id)
        if run.state is not None:  # the watch sees the end by itself; show it at once
            run.state.apply_status_json(body, structure=True)
            self._notify(run, Change.UPDATED)
        return f"Run {short_id(run.run_id)} cancelled."

    async def cancel_by_id(self, app_id: str, run_id: str) -> tuple[RunState, bool]:
        """Cancel a run this session does not follow (``dusttui cancel``): the run afterwards,
        and whether this call cancelled it (False: it was over already)."""
        from dusttui.api.state import RunState

        await self.connector.ready()  # a server reached by URL: whether it is a dusttui engine
        if not self.connector.extensions:
            raise NoCancel(
                f"{self.connector.host} cannot cancel runs (its API has no cancel): "
                "the run continues there."
            )
        client = self.connector.client
        probe = RunState(run_id=run_id)
        running = probe.apply_status_json(
            await client.get_run_status_raw(app_id, run_id), structure=True
        )
        if running == "running":
            await client.cancel_run_raw(app_id, run_id)
        state = await self.fetch(app_id, run_id)
        return state, running == "running" and state.end_reason == "cancelled"

    async def fetch(self, app_id: str, run_id: str) -> RunState:
        """One run as the server has it now (parsed in a thread: big runs are megabytes)."""
        from dusttui.api.state import RunState

        body = await self.connector.client.get_run_raw(app_id, run_id)
        return await asyncio.to_thread(RunState.from_run_json, body, clock=self.clock)

    async def fetch_kept(self, app_id: str, run_id: str) -> tuple[RunState, str | None]:
        """:meth:`fetch`, else the journal's copy of the run's end when the server has no such
        run (a merged run lives only there; a wiped engine); with a note when it came from the
        journal."""
        from dusttui.api.state import RunState

        try:
            return await self.fetch(app_id, run_id), None
        except RunError as exc:
            if exc.code != "run_not_found" or self.journal is None:
                raise
            entry = await self.journal.entry(run_id)
            stored = await self.journal.final_run(run_id) if entry is not None else None
            if entry is None or entry.app_id != app_id or stored is None:
                raise
        state = await asyncio.to_thread(RunState.from_run_json, stored, clock=self.clock)
        return state, f"run {run_id}: from this machine's history (the server has no such run)"

    async def aclose(self) -> None:
        """Stop following every run (they go on where they run)."""
        for run in list(self.runs.values()):
            self.detach(run)
        tasks = [t for t in self._tasks.values() if not t.done()]
        if tasks:
            await asyncio.wait(tasks)

    # ------------------------------------------------------------------ following

    async def _guard(self, run: TrackedRun, body: Any) -> None:
        """Run a watch; whatever happens, the run gets its end, its journal line, its last
        notification."""
        cancelled = False
        try:
            await body
            run.end = end_of(run.state)
        except asyncio.CancelledError:
            cancelled = True
            message = self._detach.pop(run.key, None) or self.detached_sentence(run)
            run.end = end_of(run.state, detached=message)
        except DustError as exc:
            run.error = exc
            lost = None
            if isinstance(exc, _TRANSIENT) and run.run_id is not None:
                lost = (
                    f"Connection lost to {self.connector.host}: {exc.user_message} "
                    f"The run may go on there: {resume_command(run)}"
                )
            run.end = end_of(run.state, error=exc, connection_lost=lost)
        except EngineStartError as exc:  # the run waited for a local engine that never answered
            run.error = exc
            run.end = RunEnd(EndReason.FAILED, str(exc))
        finally:
            if run.end is None:  # an unexpected failure: say it rather than hang
                run.end = RunEnd(EndReason.FAILED, "The watch stopped unexpectedly.")
            run.finished = run.lost_at if run.lost_at is not None else self.clock()
            run.connection = "done"
            state = run.state
            if state is not None and run.end.reason in (
                EndReason.DETACHED,
                EndReason.CONNECTION_LOST,
            ):
                state.set_end(run.end.reason.value, run.end.message)
            self._notify(run, Change.ENDED)
        if not cancelled and state is not None and state.done and state.run_id is not None:
            await self._journal_final(state)
        if cancelled:
            raise asyncio.CancelledError

    async def _journal_final(self, state: RunState) -> None:
        if self.journal is None or state.status not in ("succeeded", "errored"):
            return
        with suppress(OSError, RuntimeError):  # a history that cannot be written loses no run
            await self.journal.record_final(state)

    async def _open(self, run: TrackedRun, run_id: str, from_journal: bool) -> None:
        if from_journal and self.journal is not None:  # what re-running it needs
            entry = await self.journal.entry(run_id)
            if entry is not None:
                run.specification_hash = entry.specification_hash or run.specification_hash
                run.config = entry.config if entry.config is not None else run.config
                run.inputs = entry.inputs if entry.inputs is not None else run.inputs
        client = await self.connector.ready()
        try:
            run.state = await self.fetch(run.app_id, run_id)
        except DustError as exc:
            if not from_journal or self.journal is None:
                raise
            stored = await self.journal.final_run(run_id)
            if stored is None:
                raise
            from dusttui.api.state import RunState

            run.state = await asyncio.to_thread(RunState.from_run_json, stored, clock=self.clock)
            run.note = f"From the history: {client.base_url} did not give it ({exc.user_message})"
        await self._journal_launch(run)
        self._notify(run, Change.STARTED)
        if run.state.status == "running":
            await self._follow(run, None, None)

    async def _follow(
        self,
        run: TrackedRun,
        request: tuple[str, dict[str, Any], list[Any]] | None,
        block_filter: list[str] | None,
    ) -> None:
        from dusttui.api.watch import watch_run

        connector = self.connector
        if connector.local and not connector.connected:
            run.connection = "starting"  # the run waits for the local engine, and says so
            self._notify(run, Change.UPDATED)
        await connector.ready()
        extensions = connector.extensions
        run.followed = True

        def give_up(error: DustError) -> bool:
            return self._give_up(run, error)

        while True:
            client = connector.client
            tag = None
            if extensions and request is not None and run.mode == "blocking":
                tag = secrets.token_hex(8)
            side = None
            if extensions and request is not None and run.mode != "poll":
                side = asyncio.create_task(self._live(run, client, tag))
            try:
                if request is None:
                    updates = watch_run(
                        client,
                        run.app_id,
                        run_id=run.run_id,
                        state=run.state,
                        live_status=extensions,
                        give_up=give_up,
                        max_poll_failures=_NO_LIMIT,
                    )
                else:
                    updates = watch_run(
                        client,
                        run.app_id,
                        request=request,
                        mode=run.mode,  # type: ignore[arg-type]
                        block_filter=block_filter,
                        state=run.state,
                        live_status=extensions,
                        tag=tag,
                        give_up=give_up,
                        max_poll_failures=_NO_LIMIT,
                    )
                count = 0
                async with aclosing(updates):
                    async for update in updates:
                        count += 1
                        if count % YIELD_EVERY == 0:
                            # Events already buffered arrive without a pause: let keys in.
                            await asyncio.sleep(0)
                        await self._on_update(run, update)
                return
            except _TRANSIENT:
                if not (extensions and connector.engine_alive() is False):
                    raise
                if run.run_id is None:
                    raise DustConnectionError(
                        "The local engine stopped before the run started."
                    ) from None
                if side is not None:  # it holds the dead engine's client: stop it first
                    side.cancel()
                    with suppress(asyncio.CancelledError):
                        await side
                    side = None
                await self._restart_engine(run, client)
                request = None  # the run exists: read its end from the new engine
            finally:
                if side is not None:
                    side.cancel()
                    with suppress(asyncio.CancelledError):
                        await side

    def _give_up(self, run: TrackedRun, error: DustError) -> bool:
        # A refused connection to a local engine whose process is gone will not come back.
        if self.connector.extensions and self.connector.engine_alive() is False:
            return True
        limit = self.connector.settings.reconnect_seconds
        return run.lost_at is not None and self.clock() - run.lost_at >= limit

    async def _restart_engine(self, run: TrackedRun, dead: DustClient) -> None:
        if self._restart_lock is None:
            self._restart_lock = asyncio.Lock()
        run.connection = "reconnecting"
        run.note = "The local engine stopped; starting a new one."
        if run.lost_at is None:
            run.lost_at = self.clock()
        self._notify(run, Change.UPDATED)
        async with self._restart_lock:
            if self.connector.client is dead:  # nobody restarted it meanwhile
                await self.connector.restart()
        run.lost_at = None

    async def _on_update(self, run: TrackedRun, update: WatchUpdate) -> None:
        from dusttui.api.watch import Connection

        run.state = update.state
        connection = update.connection
        if connection == Connection.RECONNECTING:
            if run.lost_at is None:
                run.lost_at = self.clock()
            run.retry, run.retry_in = update.retry, update.retry_in
        else:
            run.lost_at = None
            run.retry, run.retry_in = 0, None
        if connection != Connection.DONE:
            run.connection = str(connection)
        if update.note:
            run.note = update.note
        elif connection == Connection.STREAMING:
            run.note = None
        run.waiting = run.mode == "blocking" and connection == Connection.CONNECTING
        if self.event_sink is not None and update.event_type is not None:
            event = update.event
            if event is not None:
                self.event_sink(run, event)
        if update.state.run_id is not None and update.state.run_id not in self._journaled:
            await self._journal_launch(run)
            self._notify(run, Change.STARTED)
        self._changed(run)

    def _changed(self, run: TrackedRun) -> None:
        run.sample(self.clock())
        self._notify(run, Change.UPDATED)

    async def _journal_launch(self, run: TrackedRun) -> None:
        run_id = run.run_id
        if run_id is None or run_id in self._journaled:
            return
        self._journaled.add(run_id)
        if self.journal is None:
            return
        backend = self.connector.backend
        with suppress(OSError, RuntimeError):
            await self.journal.record_launch(
                run_id=run_id,
                workspace_id=backend.workspace_id,
                app_id=run.app_id,
                app_name=run.app_name,
                profile=backend.profile,
                base_url=backend.base_url,
                space_id=backend.space_id,
                specification_hash=run.specification_hash,
                mode=run.mode,
                config=run.config,
                inputs=run.inputs,
                origin="opened" if run.opened else "launched",
            )

    async def _live(self, run: TrackedRun, client: DustClient, tag: str | None) -> None:
        """The local engine's live counts beside the stream (or the blocking request)."""
        state = run.state
        assert state is not None
        blocking = tag is not None
        try:
            while blocking and state.run_id is None:  # find the run by its tag
                await asyncio.sleep(LIVE_INTERVAL)
                try:
                    ids = await client.run_ids_with_tag(run.app_id, tag or "")
                except _TRANSIENT:
                    continue
                except RuntimeError:
                    if client.is_closed:  # the engine was replaced: the watch takes over
                        return
                    raise
                if ids and state.run_id is None:
                    state.run_id = ids[0]
                    state.version += 1
                    await self._journal_launch(run)
                    self._notify(run, Change.STARTED)
                    self._changed(run)
            while not state.done:
                await asyncio.sleep(LIVE_INTERVAL)
                if client.is_closed:  # another run replaced the engine: its watch takes over
                    return
                run_id = state.run_id
                if run_id is None or state.done:
                    continue
                if not blocking and (
                    run.connection != "streaming"
                    or not any(b.status == "running" for b in state.blocks)
                ):
                    continue  # only while a block runs on a stream (polling does its own)
                try:
                    body = await client.get_run_status_raw(run.app_id, run_id)
                except _TRANSIENT:
                    continue  # the watch itself says when the connection is lost
                except RuntimeError:
                    if client.is_closed:  # closed under the request: the watch takes over
                        return
                    raise
                version = state.version
                state.apply_status_json(body, structure=blocking)
                if state.version != version:
                    self._changed(run)
        except _NOT_AN_ENGINE:
            return  # an engine without these extensions: progress comes with the blocks


def resume_command(run: TrackedRun) -> str:
    """The command that follows ``run`` again from any terminal."""
    if run.run_id is None:
        return "(no run id yet)"
    app = run.app_name if run.app_name and " " not in run.app_name else run.app_id
    return f"dusttui watch {run.run_id} --app {app}"
