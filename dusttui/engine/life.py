"""The engine's own life inside its process: who it is, whether anyone uses it, and stopping well.

:class:`EngineLife` counts open requests (a stream is a request until it ends) and remembers the
last activity; the idle watch stops the engine once nothing has happened for
``idle_stop_seconds`` (no running run, no open request). A stop, whatever asked for it (a signal,
``POST /dusttui/v1/engine/stop``, the idle watch, the parent quitting), goes the same way: live runs
are interrupted first (streams get their last events and close, runs are saved errored with the
reason), then the server stops listening.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from dusttui import __version__
from dusttui.engine.hub import RunHub
from dusttui.engine.store import now_ms

log = logging.getLogger(__name__)


def stopped_message(why: str | None) -> str:
    """The `error` of a run the engine's stop interrupted, saying what stopped it."""
    if why is None:
        return "Run interrupted: the engine was stopped while this run was running."
    return f"Run interrupted: the engine was stopped ({why}) while this run was running."


class EngineLife:
    """Identity, activity and stopping of one engine process (see the module docstring)."""

    def __init__(
        self,
        hub: RunHub,
        *,
        data_dir: str = "",
        apps_dirs: list[str] | None = None,
        idle_stop_seconds: float | None = None,
    ) -> None:
        self.hub = hub
        self.pid = os.getpid()
        self.started = now_ms()
        self.url = ""
        self.data_dir = data_dir
        self.apps_dirs = list(apps_dirs or [])
        self.idle_stop_seconds = idle_stop_seconds
        self.open_requests = 0
        self.last_activity = time.monotonic()
        self.stopping = False
        self.stop_reason: str | None = None  # what stopped the engine, e.g. "SIGTERM"
        self.interrupted: list[str] = []  # runs the stop interrupted
        # Set by whoever serves: makes the server stop listening (after runs are interrupted).
        self.stop_server: Callable[[], None] | None = None
        # Asked (with the limit) before an idle stop; False vetoes it (someone is about to use
        # the engine, or a request came meanwhile).
        self.may_idle_stop: Callable[[float], bool] = self._still_idle
        self._idle_task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Future[None]] = set()

    # ------------------------------------------------------------ activity

    def touch(self) -> None:
        """Something happened: the idle countdown starts again."""
        self.last_activity = time.monotonic()

    def idle_for(self) -> float | None:
        """Seconds since the last activity, or None while a run runs or a request is open."""
        if self.open_requests or self.hub.running:
            return None
        return time.monotonic() - self.last_activity

    def _still_idle(self, limit: float) -> bool:
        idle = self.idle_for()
        return idle is not None and idle >= limit

    def info(self) -> dict[str, Any]:
        """The ``GET /dusttui/v1/engine`` answer's ``engine`` object."""
        return {
            "version": __version__,
            "pid": self.pid,
            "started": self.started,
            "url": self.url,
            "data_dir": self.data_dir,
            "apps_dirs": self.apps_dirs,
            "running_runs": self.hub.running,
            "idle_stop_seconds": self.idle_stop_seconds,
            "providers": self.hub.ctx.providers.ids(),  # the TUI checks provider_id before launch
        }

    # ------------------------------------------------------------ stopping

    async def stop(self, reason: str | None) -> None:
        """Interrupt live runs (saved errored, saying `reason`), then stop serving. Idempotent."""
        if self.stopping:
            return
        self.stopping = True
        self.stop_reason = reason
        try:
            self.interrupted = await self.hub.shutdown(stopped_message(reason))
        finally:
            if self.stop_server is not None:
                self.stop_server()

    def start_idle_watch(self) -> None:
        """Stop by itself once idle for ``idle_stop_seconds`` (nothing when that is None)."""
        if self.idle_stop_seconds is not None and self._idle_task is None:
            self._idle_task = asyncio.create_task(self._idle_watch(self.idle_stop_seconds))

    async def _idle_watch(self, limit: float) -> None:
        tick = min(1.0, max(0.05, limit / 10))
        while not self.stopping:
            await asyncio.sleep(tick)
            idle = self.idle_for()
            if idle is None or idle < limit:
                continue
            # The final word (taken under the engine's file lock, off the loop) may say no.
            if await asyncio.to_thread(self.may_idle_stop, limit):
                await self.stop(f"idle for {limit:g} s")

    def run_in_background(self, coro: Callable[[], Awaitable[None]]) -> None:
        """Schedule a coroutine on the running loop, keeping a reference until it ends."""
        task = asyncio.ensure_future(coro())
        self._background.add(task)
        task.add_done_callback(self._background.discard)


class ActivityMiddleware:
    """ASGI middleware: every request counts as activity; open ones keep the engine alive.

    While the engine stops, a request the server cancels ends quietly (no "Exception in ASGI
    application" traceback for a stream cut at shutdown).
    """

    def __init__(self, app: ASGIApp, life: EngineLife) -> None:
        self.app = app
        self.life = life

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        life = self.life
        life.open_requests += 1
        life.touch()
        try:
            await self.app(scope, receive, send)
        except asyncio.CancelledError:
            if not life.stopping:
                raise
        finally:
            life.open_requests -= 1
            life.touch()
