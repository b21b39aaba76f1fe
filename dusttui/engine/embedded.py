"""Running the engine: in the background of this process (tests, CLI), or in the foreground.

``EmbeddedEngine`` serves on 127.0.0.1 (port 0 picks a free port) from a thread with its own event
loop. ``serve`` is ``dusttui serve``: it blocks until Ctrl-C or SIGTERM, which stop it gracefully.
``EngineProcess`` (process.py, light to import) serves from a child process; the local engine
shared by every front end is a detached process (local.py, daemon.py).
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from dusttui.engine.appstore import AppStore
from dusttui.engine.auth import ServerKey, check_bind, resolve_server_key
from dusttui.engine.context import BUNDLED_DATASETS_DIR, DatasetDirs, EngineContext
from dusttui.engine.envelope import BODY_TIMEOUT
from dusttui.engine.hub import RunHub
from dusttui.engine.life import EngineLife
from dusttui.engine.process import (  # noqa: F401 (EngineAddress, EngineProcess re-exported)
    EngineAddress,
    EngineProcess,
    EngineStartError,
)
from dusttui.engine.server import ServerOptions, create_app
from dusttui.engine.serving import (
    ConnectionLimits,
    EngineServer,
    bind,
    raise_open_files_limit,
    url_of,
)
from dusttui.engine.store import SqliteLLMCache, Store, StoreError

DB_FILE_NAME = "engine.sqlite3"
START_TIMEOUT = 15.0


@dataclass
class EngineParts:
    """An assembled engine, not yet listening."""

    store: Store
    apps: AppStore
    hub: RunHub
    key: ServerKey
    app: Any  # the ASGI app
    recovered: list[str]  # runs a previous engine left running, now marked errored
    life: EngineLife


SECRET_PREFIX = "DUSTTUI_SECRET_"


def secrets_from_env(environ: Mapping[str, str]) -> dict[str, str]:
    """Workspace secrets for `env.secrets`: `DUSTTUI_SECRET_NAME=value` gives `secrets.NAME`."""
    return {
        name[len(SECRET_PREFIX) :]: value
        for name, value in environ.items()
        if name.startswith(SECRET_PREFIX) and len(name) > len(SECRET_PREFIX)
    }


def build_engine(
    *,
    data_dir: Path,
    db_path: Path | None = None,
    apps_dir: Path | None = None,
    api_key: str | None = None,
    allow_network: bool = False,
    token_delay: float | None = None,
    keepalive_interval: float = 15.0,
    idle_stop_seconds: float | None = None,
    body_timeout: float = BODY_TIMEOUT,
) -> EngineParts:
    """Open the store (closing runs a dead engine left running), load apps, build the ASGI app."""
    data_dir = Path(data_dir)
    key = resolve_server_key(data_dir, api_key)
    try:
        store = Store(Path(db_path) if db_path is not None else data_dir / DB_FILE_NAME)
    except StoreError as exc:
        raise EngineStartError(str(exc)) from exc
    recovered = store.recover_interrupted()
    dataset_dirs = [BUNDLED_DATASETS_DIR]
    if apps_dir is not None:
        dataset_dirs.insert(0, Path(apps_dir) / "datasets")
    ctx = EngineContext(
        datasets=DatasetDirs(dataset_dirs),
        allow_network=allow_network,
        cache=SqliteLLMCache(store),
        secrets=secrets_from_env(os.environ),
    )
    if token_delay is not None:
        ctx.token_delay = token_delay
    apps = AppStore(store, apps_dir)
    apps.refresh()
    hub = RunHub(store, ctx)
    life = EngineLife(
        hub,
        data_dir=str(data_dir.resolve()),
        apps_dirs=[str(d.resolve()) for d in apps.dirs],
        idle_stop_seconds=idle_stop_seconds,
    )
    options = ServerOptions(keepalive_interval=keepalive_interval, body_timeout=body_timeout)
    app = create_app(hub, apps, key, options, life)
    return EngineParts(store, apps, hub, key, app, recovered, life)


def _close(parts: EngineParts) -> None:
    if parts.hub.ctx.js is not None:
        parts.hub.ctx.js.close()
    if parts.hub.ctx.templates is not None:
        parts.hub.ctx.templates.close()
    parts.store.close()


class EmbeddedEngine:
    """A real engine on a loopback port, served from a background thread.

    ``with EmbeddedEngine(data_dir=d) as engine: httpx.get(engine.url + ..., headers=...)``
    """

    def __init__(
        self,
        *,
        data_dir: Path,
        apps_dir: Path | None = None,
        db_path: Path | None = None,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        allow_network: bool = False,
        token_delay: float | None = None,
        keepalive_interval: float = 15.0,
        body_timeout: float = BODY_TIMEOUT,
        log_level: str = "warning",
        connection_limits: ConnectionLimits | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.apps_dir = apps_dir
        self.db_path = db_path
        self.host = host
        self.port = port
        self._api_key = api_key
        self._options = dict(
            allow_network=allow_network,
            token_delay=token_delay,
            keepalive_interval=keepalive_interval,
            body_timeout=body_timeout,
        )
        self._log_level = log_level
        self._limits = connection_limits
        self.parts: EngineParts | None = None
        self.url = ""
        self._server: EngineServer | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._error: BaseException | None = None

    def __repr__(self) -> str:
        return f"EmbeddedEngine(url={self.url!r}, data_dir={str(self.data_dir)!r})"

    @property
    def api_key(self) -> str:
        """The key clients must send (``Authorization: Bearer <key>``)."""
        if self.parts is None:
            raise RuntimeError("The engine is not started")
        return self.parts.key.value

    @property
    def key(self) -> ServerKey:
        """The key with where it came from (its file, when generated)."""
        if self.parts is None:
            raise RuntimeError("The engine is not started")
        return self.parts.key

    def start(self) -> None:
        """Start serving; returns once the server accepts connections."""
        if self._thread is not None:
            raise RuntimeError("The engine is already started")
        parts = build_engine(
            data_dir=self.data_dir,
            db_path=self.db_path,
            apps_dir=self.apps_dir,
            api_key=self._api_key,
            **self._options,  # type: ignore[arg-type]
        )
        try:
            check_bind(self.host, parts.key)
            sock = bind(self.host, self.port)
        except Exception:
            parts.store.close()
            raise
        self.parts = parts
        self.url = parts.life.url = url_of(sock)
        self._server = EngineServer(
            parts.app, parts.life, log_level=self._log_level, limits=self._limits
        )
        self._thread = threading.Thread(
            target=self._serve, args=(sock,), name="dusttui-engine", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise EngineStartError(f"The engine did not start: {self._error or 'timed out'}")
            time.sleep(0.005)

    def _serve(self, sock: socket.socket) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            assert self._server is not None
            await self._server.serve(sockets=[sock])

        try:
            asyncio.run(main())
        except BaseException as exc:  # reported by start()
            self._error = exc
        finally:
            sock.close()

    def stop(self) -> None:
        """Stop live runs (saved as errored), stop serving, close the database. Idempotent."""
        if self._server is not None and self._loop is not None and self.parts is not None:
            if self._loop.is_running():
                future = asyncio.run_coroutine_threadsafe(self.parts.life.stop(None), self._loop)
                try:
                    future.result(timeout=10)
                except Exception:  # the server is stopping anyway
                    pass
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=15)
        self._thread = None
        self._server = None
        self._loop = None
        if self.parts is not None:
            _close(self.parts)
            self.parts = None

    def __enter__(self) -> EmbeddedEngine:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class ServeInfo:
    """What ``dusttui serve`` tells the user once the engine listens."""

    url: str
    key: ServerKey  # key.path is the key file when the key was generated
    db_path: Path
    apps_dirs: list[Path]
    recovered: list[str]


def serve(
    host: str = "127.0.0.1",
    port: int = 8787,
    apps_dir: Path | None = None,
    db_path: Path | None = None,
    *,
    data_dir: Path,
    api_key: str | None = None,
    allow_network: bool = False,
    token_delay: float | None = None,
    on_ready: Callable[[ServeInfo], None] | None = None,
    log_level: str = "info",
    access_log: bool = True,
) -> EngineLife:
    """Serve in the foreground until Ctrl-C or SIGTERM, which stop it gracefully (running runs
    saved errored, saying why). Prints nothing itself; the returned life says what stopped it.

    Raises ``EngineStartError`` or ``ServerKeyError`` when it cannot start. ``on_ready`` is called
    once the socket is bound, before serving, with the URL and where the key is.
    """
    parts = build_engine(
        data_dir=data_dir,
        db_path=db_path,
        apps_dir=apps_dir,
        api_key=api_key,
        allow_network=allow_network,
        token_delay=token_delay,
    )
    try:
        check_bind(host, parts.key)
        sock = bind(host, port)
        try:
            sock.listen(2048)  # connections queue from the moment the URL is announced
            parts.life.url = url_of(sock)
            if on_ready is not None:
                on_ready(
                    ServeInfo(
                        url=parts.life.url,
                        key=parts.key,
                        db_path=parts.store.path,
                        apps_dirs=parts.apps.dirs,
                        recovered=parts.recovered,
                    )
                )
            raise_open_files_limit()
            server = EngineServer(parts.app, parts.life, log_level=log_level, access_log=access_log)
            server.run(sockets=[sock])
        finally:
            sock.close()
    finally:
        _close(parts)
    return parts.life
