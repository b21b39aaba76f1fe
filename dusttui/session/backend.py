"""Opening a backend: a client for a remote workspace, or the local engine and a client to it.

Shared by the CLI and the TUI, so both reach dust.tt and the local engine the same way. The
:class:`Connector` is the one place that starts the local engine, notices it died and starts a
new one; nothing else in the front ends touches the engine's life.
"""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import Future
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from dusttui.config import Backend, ConfigError, Settings, data_dir

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from dusttui.api.client import DustClient
    from dusttui.api.requestlog import RequestLog
    from dusttui.engine.embedded import EmbeddedEngine

ENGINE_THREAD_ENV = "DUSTTUI_ENGINE_THREAD"

# The request log of every client this process opens when none is given (`dusttui --verbose`).
_process_log: list[RequestLog] = []


def set_process_request_log(log: RequestLog | None) -> None:
    """Record every API call of the clients this process opens from now on into ``log``
    (the CLI's ``--verbose``); None stops it."""
    _process_log[:] = [log] if log is not None else []


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


def client_for(
    backend: Backend,
    *,
    engine: Any = None,
    local_client: bool = False,
    request_log: RequestLog | None = None,
) -> DustClient:
    """A client for the backend; for the embedded one, ``engine`` (anything with ``url`` and
    ``api_key``) must be ready. ``request_log``: where its calls are recorded (default: the
    process's, see :func:`set_process_request_log`)."""
    client = _client_for(backend, engine, local_client)
    if request_log is None and _process_log:  # not `or`: an empty log is falsy (it has a length)
        request_log = _process_log[0]
    client.request_log = request_log
    return client


def _client_for(backend: Backend, engine: Any, local_client: bool) -> DustClient:
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

    The local engine (contract B: one detached process per data dir, shared by every dusttui,
    stopping by itself once idle) is found or started by :meth:`start` in a thread of its own
    (the TUI calls it before importing Textual, so the engine gets ready behind the first frame)
    or by :meth:`wait_ready` (the CLI, before any event loop: Ctrl-C stays immediate);
    :meth:`ready` awaits it. If it dies while a run is followed, :meth:`engine_alive` says so and
    :meth:`restart` finds or starts a new one. ``DUSTTUI_ENGINE_THREAD=1`` serves the engine from
    a thread of this process instead (benchmarks). A connector built with :meth:`for_client` just
    holds a client (tests, benchmarks).
    """

    def __init__(
        self, backend: Backend, settings: Settings, *, request_log: RequestLog | None = None
    ) -> None:
        self.backend = backend
        self.settings = settings
        self.request_log = request_log
        """Where the clients it makes record their calls (kept across engine restarts)."""
        self.local = backend.kind == "embedded"
        self.mismatch: str | None = None
        """When the local engine was reused although started with other options: what differs."""
        self.folder_names: list[str] | None = None
        """The local apps' names, read from their folders by :meth:`start` (None until then)."""
        self._engine: Any = None  # a LocalEngine (or an EmbeddedEngine in thread mode)
        self._thread_engine: EmbeddedEngine | None = None
        self._starting: threading.Thread | None = None
        self._started: Future[None] | None = None  # done once the start thread is over
        self._start_error: BaseException | None = None
        self._client: DustClient | None = None
        self._fixed = False
        # A server reached by URL that answers GET /dusttui/v1/engine is a dusttui engine (a
        # `dusttui serve`): asked once per connection by ready(); None until asked.
        self._served_engine: bool | None = None

    @classmethod
    def for_client(
        cls, backend: Backend, client: DustClient, settings: Settings | None = None
    ) -> Connector:
        """A connector around a client made elsewhere (no engine to start or watch)."""
        connector = cls(backend, settings or Settings())
        connector._client = client
        connector._fixed = True
        return connector

    # ------------------------------------------------------------------ facts

    @property
    def extensions(self) -> bool:
        """The backend is a dusttui engine — the local one, or a ``dusttui serve`` reached by
        URL (found out by :meth:`ready`) — whose extensions (status, cancel, tags) answer."""
        return self.local or self._served_engine is True

    async def _probe_engine(self, client: DustClient) -> bool:
        """True when the server reached by URL is a dusttui engine (one light request; never for
        dust.tt, whose API has no such extension)."""
        from dusttui.api.errors import DustError

        host = (urlsplit(client.base_url).hostname or "").lower()
        if host == "dust.tt" or host.endswith(".dust.tt"):
            return False
        try:
            await client.engine_info(retries=0)
        except (DustError, OSError):
            return False
        return True

    @property
    def outlives_front_end(self) -> bool:
        """Runs go on once this front end exits: true of any remote and of the local engine,
        not of an engine served from a thread of this process."""
        return self._thread_engine is None

    @property
    def lists_folder(self) -> bool:
        """This connector starts the local engine: its apps can be read from their folders
        before it answers (not for a remote backend, nor around a client made elsewhere)."""
        return self.local and not self._fixed

    @property
    def host(self) -> str:
        """Where runs run, for messages: `dust.tt`, `the local engine`..."""
        if self.local:
            return "the local engine"
        url = self._client.base_url if self._client is not None else self.backend.base_url
        return (url or "").split("://", 1)[-1]

    def local_key_source(self) -> str | None:
        """Where the local engine's key can be read, for messages (never the key itself): the
        key file, or ``$DUSTTUI_SERVER_KEY`` when that chose it; None for a remote backend."""
        if not self.local:
            return None
        from dusttui.engine.auth import KEY_ENV, key_file

        if os.environ.get(KEY_ENV, "").strip():
            return f"${KEY_ENV}"
        return str(key_file(engine_data_dir()))

    @property
    def engine_pid(self) -> int | None:
        """The local engine's process id, once found or started."""
        pid = getattr(self._engine, "pid", None)
        return pid if isinstance(pid, int) else None

    # ------------------------------------------------------------------ life

    def list_folder(self) -> None:
        """List the local apps' names (:attr:`folder_names`) now: a directory listing, well
        under a millisecond (no-op when this connector does not start the local engine)."""
        if not self.lists_folder or self.folder_names is not None:
            return
        from dusttui.engine.appfolder import app_names

        try:
            self.folder_names = app_names(self.settings.apps_dir)
        except OSError:
            self.folder_names = []

    def start(self) -> None:
        """List the local apps' names (:attr:`folder_names`) if not done yet, then find or
        start the local engine, in a thread, without waiting (no-op for other backends)."""
        if not self.local or self._fixed or self._engine is not None or self._starting:
            return
        self._started = Future()
        self._starting = threading.Thread(
            target=self._find_or_start, name="dusttui-engine-start", daemon=True
        )
        self._starting.start()

    def _find_or_start(self) -> None:
        self.list_folder()
        try:
            self._engine = self._local_engine()
        except BaseException as exc:  # handed to whoever waits for it
            self._start_error = exc
        finally:
            if self._started is not None:
                self._started.set_result(None)

    def _local_engine(self) -> Any:
        """The one place the front ends start an engine."""
        if engine_in_thread():
            engine = make_engine(self.settings)
            engine.start()
            self._thread_engine = engine
            return engine
        from dusttui.engine.local import ensure_local_engine

        found = ensure_local_engine(
            engine_data_dir(),
            apps_dir=self.settings.apps_dir,
            token_delay=self.settings.token_delay_ms / 1000.0,
        )
        self.mismatch = found.mismatch
        return found

    def wait_ready(self) -> None:
        """Block until the backend can be reached (raises EngineStartError with a sentence)."""
        if self._fixed or self._client is not None:
            return
        if self.local:
            if self._starting is not None:
                self._starting.join()
                self._starting = None
                if self._start_error is not None:
                    error, self._start_error = self._start_error, None
                    raise error
            if self._engine is None:
                self._engine = self._local_engine()
        self._client = client_for(
            self.backend, engine=self._engine, local_client=True, request_log=self.request_log
        )

    async def ready(self) -> DustClient:
        """:meth:`wait_ready` without blocking the event loop; the client. The first time, a
        server reached by URL is asked whether it is a dusttui engine (see :attr:`extensions`)."""
        if self._client is None:
            started = self._started
            if started is not None:  # no executor thread waits for it: quitting stays immediate
                # (shielded: a caller cancelled must not cancel the start for the next caller)
                await asyncio.shield(asyncio.wrap_future(started))
            await asyncio.to_thread(self.wait_ready)
        client = self.client
        if not self.local and self._served_engine is None:
            self._served_engine = await self._probe_engine(client)
        return client

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
        """Whether the local engine's process still runs (None: not ours to know)."""
        if self._thread_engine is not None:
            return True
        pid = self.engine_pid
        return None if pid is None else pid_alive(pid)

    async def restart(self) -> DustClient:
        """A local engine again (found or started) and a new client, after the last one died."""
        old = self._client
        self._client = None
        self._served_engine = None
        self._engine = None
        if old is not None:
            await old.aclose()
        return await self.ready()

    async def aclose(self, *, leave_engine: bool = True) -> None:
        """Close the client. The local engine goes on (it stops by itself once idle); an engine
        served from a thread of this process stops unless ``leave_engine``."""
        if self._client is not None and not self._fixed:
            await self._client.aclose()
        if not leave_engine and self._thread_engine is not None:
            await asyncio.to_thread(self._thread_engine.stop)
            self._thread_engine = None

    def close_engine(self) -> None:
        """Stop an engine served from a thread of this process (sync, after the event loop).
        The local engine is not this front end's to stop."""
        if self._thread_engine is not None:
            self._thread_engine.stop()
            self._thread_engine = None


@asynccontextmanager
async def open_client(backend: Backend, settings: Settings) -> AsyncIterator[DustClient]:
    """A client ready to use; finds or starts the local engine when needed."""
    connector = Connector(backend, settings)
    client = await connector.ready()
    try:
        yield client
    finally:
        await connector.aclose(leave_engine=False)
