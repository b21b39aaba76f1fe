"""The apps, kept current: the apps folders are watched (and ``ctrl+r`` re-reads them), each
listing is compared with the one before and what changed is said; every version seen is kept so
the hash dialog can offer it.

The App owns one :class:`AppsFolder`; screens read :attr:`DustApp.apps` and :meth:`versions`.
Folder checks run in a thread (a few ``stat`` calls a second), never on the event loop.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dusttui.api.errors import DustError
from dusttui.api.inputs import LOCAL_ENGINE_PROVIDER_IDS
from dusttui.specs import engine_extension, saved_specification_hash
from dusttui.tui.apps_watch import (
    describe_changes,
    folder_signature,
    load_versions,
    save_versions,
)
from dusttui.tui.drafts import backend_key

if TYPE_CHECKING:
    from textual.worker import Worker

    from dusttui.api.models import App
    from dusttui.tui.app import DustApp

__all__ = ["WATCH_INTERVAL", "AppsFolder"]

WATCH_INTERVAL = 1.0  # seconds between two looks at the apps folders


class AppsFolder:
    """Watches the local engine's apps folders and re-lists the apps when a file changes."""

    def __init__(self, app: DustApp) -> None:
        self._app = app
        self._signature: tuple[Any, ...] | None = None
        self._looking = False
        self._reloading = False
        self._worker: Worker[None] | None = None  # the latest look or reload
        self._seen: dict[str, dict[str, float]] = {}  # app sId → version hash → first seen
        self.providers: list[str] | None = None
        """The provider ids the engine knows (local engine only; None: unknown)."""

    # ------------------------------------------------------------------ versions

    def record(self, apps: list[App]) -> bool:
        """Remember each app's current version (the hash dialog offers them); True if one is new."""
        now = time.time()
        new = False
        for app in apps:
            spec_hash = saved_specification_hash(app)
            seen = self._seen.setdefault(app.sId, {})
            if spec_hash is not None and spec_hash not in seen:
                seen[spec_hash] = now
                new = True
        return new

    @property
    def _versions_file(self) -> Path:
        return self._app.data_folder / "versions.json"

    def _backend(self) -> str:
        backend = self._app.backend
        return backend_key(backend.base_url, backend.workspace_id)

    async def _remember(self, apps: list[App]) -> None:
        """Record the versions listed; write the file (in a thread) when one is new."""
        if self.record(apps):
            seen = {sid: dict(versions) for sid, versions in self._seen.items()}
            try:
                await asyncio.to_thread(save_versions, self._versions_file, self._backend(), seen)
            except OSError as exc:  # the hash dialog then offers this session's versions only
                self._app.say(f"Versions not kept — {exc}", severity="warning")

    def versions(self, app_id: str) -> list[tuple[str, float]]:
        """(hash, first seen) of every version of an app seen (this session or before), newest
        first."""
        seen = self._seen.get(app_id, {})
        return sorted(seen.items(), key=lambda item: item[1], reverse=True)

    # ------------------------------------------------------------------ watching

    def folders(self) -> list[Path]:
        """The folders the apps come from, the user's apps folder first."""
        found: list[Path] = []
        apps_dir = self._app.settings.apps_dir
        if apps_dir is not None:
            found.append(Path(apps_dir).expanduser())
        for app in self._app.apps:
            where = engine_extension(app).get("path")
            if isinstance(where, str) and where:
                folder = Path(where).parent
                if folder not in found:
                    found.append(folder)
        return found

    async def start(self) -> None:
        """After the first listing: remember it, learn the engine's providers, start watching."""
        app = self._app
        stored = await asyncio.to_thread(load_versions, self._versions_file, self._backend())
        for sid, versions in stored.items():
            self._seen.setdefault(sid, {}).update(versions)
        await self._remember(app.apps)
        if not app.connector.extensions:
            return  # a remote workspace: ctrl+r only
        try:
            info = await app.connector.client.engine_info()
        except DustError:
            info = {}
        providers = info.get("providers")
        if isinstance(providers, list) and all(isinstance(p, str) for p in providers):
            self.providers = providers
        else:  # an engine from before it listed them: those of this version
            self.providers = list(LOCAL_ENGINE_PROVIDER_IDS)
        self._signature = await asyncio.to_thread(folder_signature, self.folders())
        app.set_interval(WATCH_INTERVAL, self._tick, name="apps-folder-watch")

    def _tick(self) -> None:
        # A worker, not an awaited callback: the App's messages (keys) never wait for it.
        if not (self._looking or self._reloading):
            self._looking = True
            # The coroutine function, not a coroutine: a worker the App never starts (it is
            # closing) then leaves nothing unawaited.
            self._worker = self._app.run_worker(
                self._look, name="apps-look", group="apps", exit_on_error=False
            )

    def ask_reload(self) -> None:
        """``ctrl+r``: re-list the apps in a worker, and say what changed (or that nothing did)."""

        async def reload() -> None:
            await self.reload(asked=True)

        self._worker = self._app.run_worker(
            reload, name="apps-reload", group="apps", exit_on_error=False
        )

    async def _look(self) -> None:
        try:
            signature = await asyncio.to_thread(folder_signature, self.folders())
        finally:
            self._looking = False
        if signature != self._signature:
            self._signature = signature
            await self.reload(asked=False)

    async def reload(self, *, asked: bool) -> None:
        """List the apps again; say what changed (``asked``: say so even when nothing did)."""
        app = self._app
        if self._reloading:
            return
        if not app.connector.connected:
            if asked:
                app.say("Not connected yet: the apps are listed once the backend answers.")
            return
        self._reloading = True
        try:
            before = list(app.apps)
            try:
                after = await app.connector.client.list_apps()
            except DustError as exc:
                app.say(f"Apps not re-read — {exc.user_message}", severity="error")
                return
            await self._remember(after)
            if app.connector.extensions:
                self._signature = await asyncio.to_thread(folder_signature, self.folders())
            changes = describe_changes(before, after)
            app.apps = after
            for change in changes:
                broken = "does not parse" in change
                app.say(change, severity="error" if broken else "information", timeout=8)
            if asked and not changes:
                app.say(
                    f"Apps re-read: {len(after)} app{'s' if len(after) != 1 else ''}, none changed."
                )
        finally:
            self._reloading = False
