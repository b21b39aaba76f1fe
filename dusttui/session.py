"""Opening a backend: a client for a remote workspace, or the embedded engine and a client to it.

Shared by the CLI and the TUI, so both reach dust.tt and the local engine the same way.
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from dusttui.config import Backend, ConfigError, Settings, data_dir

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from dusttui.api.client import DustClient
    from dusttui.engine.embedded import EmbeddedEngine
    from dusttui.engine.process import EngineProcess

ENGINE_THREAD_ENV = "DUSTTUI_ENGINE_THREAD"


def engine_data_dir() -> Path:
    """Where the embedded engine keeps its SQLite database and its key."""
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
    """True when ``DUSTTUI_ENGINE_THREAD=1`` asks the TUI for the engine in its own process."""
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


def client_for(
    backend: Backend, *, engine: EmbeddedEngine | EngineProcess | None = None
) -> DustClient:
    """A client for the backend; for the embedded one, ``engine`` must be started (and ready)."""
    from dusttui.api.client import DustClient

    if backend.kind == "embedded":
        if engine is None:
            raise ValueError("the embedded backend needs a started engine")
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


@asynccontextmanager
async def open_client(backend: Backend, settings: Settings) -> AsyncIterator[DustClient]:
    """A client ready to use; starts (and afterwards stops) the embedded engine when needed."""
    engine = None
    if backend.kind == "embedded":
        import asyncio

        engine = make_engine(settings)
        await asyncio.to_thread(engine.start)
    try:
        async with client_for(backend, engine=engine) as client:
            yield client
    finally:
        if engine is not None:
            import asyncio

            await asyncio.to_thread(engine.stop)
