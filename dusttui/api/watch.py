"""watch_run: one async iterator that owns a run's life, from creation to the server's final word.

Streamed runs are followed on the stream. If the stream breaks, goes idle past ``idle_timeout``,
or ends without ``final`` (or without the run leaving ``running``), the watch switches to polling
``GET`` with backoff (``poll_initial`` doubling up to ``poll_max``) until the run leaves
``running``. It always ends with a GET reconciled into the state, so the final state is the
server's own. Non-streamed runs are followed by polling; blocking runs wait for the full answer.

Each :class:`WatchUpdate` carries the (shared, mutable) :class:`RunState`, the connection kind
for the status line, the event just applied (streaming only), and the malformed-event count::

    async for update in watch_run(client, app, request=(spec_hash, config, inputs)):
        render(update.state, update.connection)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from dusttui.api.client import DustClient
from dusttui.api.errors import (
    DustConnectionError,
    DustError,
    DustTimeoutError,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    StreamProtocolError,
)
from dusttui.api.models import Event
from dusttui.api.offload import is_big_execution, read_in_worker
from dusttui.api.sse import EventStream, decode_event
from dusttui.api.state import RunState

__all__ = ["Connection", "RunRequest", "WatchMode", "WatchUpdate", "watch_run"]

WatchMode = Literal["stream", "poll", "blocking"]
RunRequest = tuple[str, dict[str, Any], list[Any]]  # (specification_hash, config, inputs)

# Failures worth waiting out while polling; anything else (auth, not found...) is final.
_TRANSIENT = (DustConnectionError, DustTimeoutError, ServerError, RateLimitedError)


class Connection(StrEnum):
    """How the watch is following the run, for the UI's status line."""

    CONNECTING = "connecting"
    STREAMING = "streaming"
    POLLING = "polling"
    RECONNECTING = "reconnecting"
    DONE = "done"


class WatchUpdate:
    """One step of a watch. ``state`` is the same object on every update (it is mutated).

    ``event`` is the stream event just applied (None when polling); ``event_type`` is its type,
    cheap to read: the event's model is only built when ``event`` is first read.
    """

    __slots__ = (
        "_event",
        "_raw",
        "connection",
        "dropped_events",
        "error",
        "event_type",
        "note",
        "problems",
        "retry",
        "retry_in",
        "state",
    )

    def __init__(
        self,
        state: RunState,
        connection: Connection,
        event: Event | None = None,
        dropped_events: int = 0,
        problems: list[str] | None = None,
        note: str | None = None,
        error: DustError | None = None,
        *,
        raw: bytes | None = None,
        event_type: str | None = None,
        retry: int = 0,
        retry_in: float | None = None,
    ) -> None:
        self.state = state
        self.connection = connection
        self._event = event
        self._raw = raw
        self.event_type = event.type if event is not None else event_type
        self.dropped_events = dropped_events
        self.problems = problems if problems is not None else []  # why events were dropped
        self.note = note  # why the connection changed, in a sentence
        self.error = error  # the transient failure being waited out (RECONNECTING)
        self.retry = retry  # which retry comes next (RECONNECTING), 1 for the first
        self.retry_in = retry_in  # seconds until it

    @property
    def event(self) -> Event | None:
        """The stream event just applied, as its model (built on first read)."""
        if self._event is None and self._raw is not None:
            self._event = decode_event(self._raw)
        return self._event

    def __repr__(self) -> str:
        return (
            f"WatchUpdate(connection={self.connection!s}, event_type={self.event_type!r}, "
            f"dropped_events={self.dropped_events}, note={self.note!r})"
        )


@dataclass(slots=True)
class _Poller:
    client: DustClient
    app_id: str
    state: RunState
    initial: float
    maximum: float
    max_failures: int
    sleep: Callable[[float], Awaitable[None]]
    live_status: bool = False
    give_up: Callable[[DustError], bool] | None = None
    dropped: int = 0
    problems: list[str] = field(default_factory=list)

    async def run(
        self, *, announce: str | None, final_get: bool = True
    ) -> AsyncIterator[WatchUpdate]:
        """Poll until the run leaves ``running``; yields on change and on trouble.

        With ``live_status`` (the local engine) it polls the cheap status form while the run
        runs, then GETs the whole run once (unless ``final_get`` is False: the state already
        holds all of it); any other server is polled with GET throughout."""
        state = self.state
        assert state.run_id is not None
        delay = self.initial
        wait = 0.0
        failures = 0
        status_only = self.live_status
        if announce is not None:
            yield self.update(Connection.POLLING, note=announce)
        while True:
            if wait:
                await self.sleep(wait)
            version = state.version
            try:
                # This loop retries by itself (and says so): no retries hidden inside a request.
                if status_only:
                    body = await self.client.get_run_status_raw(
                        self.app_id, state.run_id, retries=0
                    )
                else:
                    # The answer's JSON text, reduced without models: big runs stay small.
                    body = await self.client.get_run_raw(self.app_id, state.run_id, retries=0)
            except (NotFoundError, InvalidRequestError):
                if not status_only:
                    raise
                status_only = False  # an engine without the status form: GET it is
                wait = 0.0
                continue
            except _TRANSIENT as exc:
                failures += 1
                if failures > self.max_failures or (self.give_up is not None and self.give_up(exc)):
                    raise
                yield self.update(
                    Connection.RECONNECTING,
                    error=exc,
                    note=exc.user_message,
                    retry=failures,
                    retry_in=delay,
                )
                wait, delay = delay, min(delay * 2, self.maximum)
                continue
            recovering = failures > 0
            failures = 0
            if status_only:
                if state.apply_status_json(body, structure=True) != "running":
                    if not final_get:
                        return
                    status_only, wait = False, 0.0  # over: the whole run, once
                    continue
            else:
                state.apply_run_json(body)
                if state.status != "running":
                    return
            del body
            moved = state.version != version
            if moved or recovering:
                yield self.update(Connection.POLLING)
            if moved and status_only:
                delay = self.initial  # cheap and moving: keep progress live (≤ 4 GETs a second)
            wait, delay = delay, min(delay * 2, self.maximum)

    def update(self, connection: Connection, **kw: Any) -> WatchUpdate:
        return WatchUpdate(self.state, connection, None, self.dropped, self.problems, **kw)


async def watch_run(
    client: DustClient,
    app_id: str,
    *,
    request: RunRequest | None = None,
    run_id: str | None = None,
    mode: WatchMode = "stream",
    block_filter: list[str] | None = None,
    state: RunState | None = None,
    idle_timeout: float | None = 60.0,
    poll_initial: float = 0.25,
    poll_max: float = 2.0,
    max_poll_failures: int = 8,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    live_status: bool = False,
    tag: str | None = None,
    give_up: Callable[[DustError], bool] | None = None,
) -> AsyncGenerator[WatchUpdate, None]:
    """Create (``request``) or open (``run_id``) a run and follow it until it ends.

    ``mode``: ``stream`` (SSE, polling fallback), ``poll`` (non-blocking create, then GET) or
    ``blocking`` (one long POST; ``block_filter`` applies). Errors that end the watch are raised
    as :class:`DustError` subclasses; a run refused before it started ends with
    ``state.prerun_error`` set (see ``PrerunError.as_exception``). The last update has
    ``connection == Connection.DONE``.

    Against the local engine: ``live_status`` polls its cheap status form instead of GET while
    the run runs, and ``tag`` labels the created run (blocking mode finds it by it).
    ``give_up(error)`` may end the wait for a lost connection early (True: raise it now).
    """
    if (request is None) == (run_id is None):
        raise ValueError("Give either a run request or a run id to watch.")
    if state is None:
        spec, config = (request[0], request[1]) if request else (None, None)
        state = RunState(
            specification_hash=None if spec == "latest" else spec, config=config, run_id=run_id
        )
    poller = _Poller(
        client,
        app_id,
        state,
        poll_initial,
        poll_max,
        max_poll_failures,
        sleep,
        live_status=live_status,
        give_up=give_up,
    )

    if request is None:  # an existing run: there is no stream to join, only GETs
        yield poller.update(Connection.CONNECTING)
        async for update in poller.run(announce=None):
            yield update
        yield poller.update(Connection.DONE)
        return

    spec, config, inputs = request
    yield poller.update(Connection.CONNECTING)
    if mode == "blocking":
        run = await client.create_run(
            app_id, spec, config, inputs, blocking=True, block_filter=block_filter, tag=tag
        )
        state.apply_run(run)
        del run  # the state keeps the executions as JSON text: let the models go
        if block_filter is None:  # the GET is the canonical form (a filtered answer is not)
            async for update in poller.run(announce=None):
                yield update
        yield poller.update(Connection.DONE)
        return
    if mode == "poll":
        state.apply_run(await client.create_run(app_id, spec, config, inputs, tag=tag))
        yield poller.update(Connection.POLLING)
        async for update in poller.run(announce=None):
            yield update
        yield poller.update(Connection.DONE)
        return
    if mode != "stream":
        raise ValueError(f"Unknown watch mode {mode!r}: use stream, poll or blocking.")

    broke: DustError | None = None
    stream: EventStream | None = None
    try:
        async with client.stream_run(
            app_id, spec, config, inputs, idle_timeout=idle_timeout, tag=tag
        ) as stream:
            poller.problems = stream.problems
            apply = state.apply_fast
            decode = stream.decode_fast
            streaming = Connection.STREAMING
            async with aclosing(stream.data_batches()) as batches:
                async for datas in batches:
                    for raw in datas:
                        if is_big_execution(raw) and not state.in_loop:
                            # Megabytes of JSON: read in a worker process, the loop stays free.
                            summary = await read_in_worker(raw)
                            if summary is not None:
                                stream.events += 1
                                state.apply_execution_summary(summary, raw)
                                yield WatchUpdate(
                                    state,
                                    streaming,
                                    None,
                                    stream.dropped,
                                    stream.problems,
                                    raw=raw,
                                    event_type="block_execution",
                                )
                                continue
                        got = decode(raw)
                        if got is None:
                            continue
                        kind, content, event = got
                        apply(kind, content, event, raw)
                        yield WatchUpdate(
                            state,
                            streaming,
                            event,
                            stream.dropped,
                            stream.problems,
                            raw=raw,
                            event_type=kind,
                        )
                        if stream.saw_final:
                            break
                    if stream.saw_final:
                        break
    except (DustConnectionError, DustTimeoutError, StreamProtocolError) as exc:
        if state.run_id is None:
            raise
        broke = exc
    saw_final = stream is not None and stream.saw_final
    if stream is not None:
        poller.dropped = stream.dropped

    if state.prerun_error is not None:
        yield poller.update(Connection.DONE)
        return
    if state.run_id is None:
        raise StreamProtocolError(
            "The stream ended before the run started (no run id arrived); the run may not exist."
        )
    if broke is not None:
        note = f"The stream broke ({broke.user_message}); following the run by polling."
    elif not saw_final:
        note = "The stream ended early; following the run by polling."
    elif state.status == "running":
        note = "The stream ended while the run was still running; following it by polling."
    else:
        note = None  # a clean end: the last GET below only confirms it
    # The local engine's stream is its own truth: after a clean end, only its status form (the
    # engine's `error` and `dusttui` keys), not the whole run parsed again.
    clean = note is None and live_status
    async for update in poller.run(announce=note, final_get=not clean):
        yield update
    yield poller.update(Connection.DONE)
