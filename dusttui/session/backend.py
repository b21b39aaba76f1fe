"""Opening a backend: a client for a remote workspace, or the local engine and a client to it.

Shared by the CLI and the TUI, so both reach dust.tt and the local engine the same way. The
:class:`Connector` is the one place that starts the local engine, notices it died and starts a
new one; nothing else in the front ends touches the engine's life.
"""

from __future__ import annotations

import asyncio
import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dusttui.config import Backend, ConfigError, Settings, data_dir

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from dusttui.api.client import DustClient
    from dusttui.engine.embedded import EmbeddedEngine
    from dusttui.engine.process import EngineProcess

ENGINE_THREAD_ENV = "DUSTTUI_ENGINE_THREAD"


def engine_data_dir() -> Path:
    """Where the local engine keeps its SQLite database and its key."""
    return data_dir() / "engine"


def make_engine(settings: Settings) -> EmbeddedEngine:
    """The embedded engine as the settings describe it (not started)."""
    from dusttui.engine.embedded import EmbeddedEngine

    return EmbeddedEngine(
        data_dir=engine_data_dir(),
        apps_dir=settings.apps_dir,
        token_delay=settings.token_delay_ms / 1000.0,
    )


def engine_in_thread() -> bool:
    """True when ``DUSTTUI_ENGINE_THREAD=1`` asks for the engine in the front end's process."""
    return os.environ.get(ENGINE_THREAD_ENV, "").strip() in {"1", "true", "yes"}


def start_engine_process(settings: Settings) -> EngineProcess:
    """The embedded engine in a child process, started (it gets ready while the caller goes on).

    Cheap to call: the engine's imports happen in the child, on the other core.
    """
    from dusttui.engine.process import EngineProcess

    process = EngineProcess(
        data_dir=engine_data_dir(),
        apps_dir=settings.apps_dir,
        token_delay=settings.token_delay_ms / 1000.0,
    )
    process.start()
    return process


def client_for(backend: Backend, *, engine: Any = None, local_client: bool = False) -> DustClient:
    """A client for the backend; for the embedded one, ``engine`` (anything with ``url`` and
    ``api_key``) must be ready."""
    from dusttui.api.client import DustClient

    if backend.kind == "embedded":
        if engine is None:
            raise ValueError("the embedded backend needs a started engine")
        if local_client:  # on loopback a refused connection is final: notice it fast
            return DustClient(
                engine.url,
                engine.api_key,
                backend.workspace_id,
                backend.space_id,
                max_retries=1,
                backoff=0.1,
            )
        return DustClient(engine.url, engine.api_key, backend.workspace_id, backend.space_id)
    if not backend.api_key:
        raise ConfigError(
            f"No API key for {backend.label}: set DUST_API_KEY, or store one in the keyring "
            "for this profile."
        )
    return DustClient(
        backend.base_url or "",
        backend.api_key.get_secret_value(),
        backend.workspace_id,
        backend.space_id,
        url_style="spaces" if backend.space_id else "workspace",
    )


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` runs (a child of ours that died is reaped, not counted)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:  # not our child: ask the system
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Connector:
    """The client of a backend; for the local engine, also the engine's life.

    The local engine's process is started by :meth:`start` (returns at once: the CLI calls it
    before importing anything heavy, the TUI before Textual) and waited for by
    :meth:`wait_ready` (sync, before an event loop) or :meth:`ready` (async). If it dies while a
    run is followed, :meth:`engine_alive` says so and :meth:`restart` starts a new one.
    A connector built with :meth:`for_client` just holds a client (tests, benchmarks).
    """

    def __init__(self, backend: Backend, settings: Settings) -> None:
        self.backend = backend
        self.settings = settings
        self.local = backend.kind == "embedded"
        self._process: EngineProcess | None = None
        self._thread_engine: EmbeddedEngine | None = None
        self._client: DustClient | None = None
        self._fixed = False

    @classmethod
    def for_client(cls, backend: Backend, client: DustClient) -> Connector:
        """A connector around a client made elsewhere (no engine to start or watch)."""
        connector = cls(backend, Settings())
        connector._client = client
        connector._fixed = True
        return connector

    # ------------------------------------------------------------------ facts

    @property
    def extensions(self) -> bool:
        """The backend is the local engine: its extensions (status, cancel, tags) answer."""
        return self.local

    @property
    def outlives_front_end(self) -> bool:
        """Runs go on once this front end exits (true of any remote; of the engine when it is
        not this process's child)."""
        return not self.local or self._fixed

    @property
    def host(self) -> str:
        """Where runs run, for messages: `dust.tt`, `the local engine`..."""
        if self.local:
            return "the local engine"
        url = self._client.base_url if self._client is not None else self.backend.base_url
        return (url or "").split("://", 1)[-1]

    # ------------------------------------------------------------------ life

    def start(self) -> None:
        """Start what the backend needs, without waiting (the local engine's process)."""
        if not self.local or self._fixed or self._process is not None:
            return
        if not engine_in_thread():
            self._process = start_engine_process(self.settings)

    def wait_ready(self) -> None:
        """Block until the backend can be reached (raises EngineStartError with a sentence)."""
        if self._fixed or self._client is not None:
            return
        if self.local:
            self.start()
            if self._process is not None:
                self._process.wait_ready()
            elif self._thread_engine is None:
                engine = make_engine(self.settings)
                engine.start()
                self._thread_engine = engine
        self._client = self._make_client()

    async def ready(self) -> DustClient:
        """:meth:`wait_ready` without blocking the event loop; the client."""
        if self._client is None:
            await asyncio.to_thread(self.wait_ready)
        return self.client

    def _make_client(self) -> DustClient:
        engine = self._process if self._process is not None else self._thread_engine
        return client_for(self.backend, engine=engine, local_client=True)

    @property
    def client(self) -> DustClient:
        """The client (once ready)."""
        if self._client is None:
            raise RuntimeError("The backend is not connected yet.")
        return self._client

    @property
    def connected(self) -> bool:
        """True once the client exists."""
        return self._client is not None

    def engine_alive(self) -> bool | None:
        """Whether the local engine still runs (None: not ours to know)."""
        if self._process is not None and self._process.pid is not None:
            return pid_alive(self._process.pid)
        return None

    async def restart(self) -> DustClient:
        """A new local engine and client, after the last one died."""
        old = self._client
        self._client = None
        if self._process is not None:
            dead = self._process
            self._process = None
            await asyncio.to_thread(dead.stop, 1.0)
        if old is not None:
            await old.aclose()
        return await self.ready()

    async def aclose(self, *, leave_engine: bool = False) -> None:
        """Close the client; stop the engine this front end started (unless ``leave_engine``:
        it notices this process is gone by itself)."""
        if self._client is not None and not self._fixed:
            await self._client.aclose()
        if leave_engine:
            return
        if self._process is not None:
            await asyncio.to_thread(self._process.stop)
        if self._thread_engine is not None:
            await asyncio.to_thread(self._thread_engine.stop)

    def close_engine(self) -> None:
        """Stop the engine this front end started (sync, after the event loop ended)."""
        if self._process is not None:
            self._process.stop()
            self._process = None
        if self._thread_engine is not None:
            self._thread_engine.stop()
            self._thread_engine = None


@asynccontextmanager
async def open_client(backend: Backend, settings: Settings) -> AsyncIterator[DustClient]:
    """A client ready to use; starts (and afterwards stops) the local engine when needed."""
    connector = Connector(backend, settings)
    client = await connector.ready()
    try:
        yield client
    finally:
        await connector.aclose()
