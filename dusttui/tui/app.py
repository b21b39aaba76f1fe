"""The composition root of the TUI: the App is handed its client, settings and journal.

Every I/O happens here, in named workers (``exit_on_error=False``); one ``Worker.StateChanged``
handler turns a failure into a notification. Screens only show things and call these methods.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import App
from textual.worker import Worker, WorkerState

from dusttui.api.errors import DustError
from dusttui.config import Backend, ConfigError, Settings, data_dir
from dusttui.tui import keys
from dusttui.tui.app_runs import RunsMixin
from dusttui.tui.commands import DustCommands
from dusttui.tui.messages import RunsChanged
from dusttui.tui.runs import MODES, LiveRun, short_id
from dusttui.tui.screens.confirm import ConfirmScreen
from dusttui.tui.screens.help import HelpScreen
from dusttui.tui.screens.start import StartScreen
from dusttui.tui.themes import (
    DEFAULT_THEME,
    block_variable_defaults,
    bundled_themes_dir,
    load_themes,
)

if TYPE_CHECKING:
    from dusttui.api.client import DustClient
    from dusttui.api.journal import Journal, JournalEntry
    from dusttui.api.models import App as DustAppModel
    from dusttui.engine.process import EngineProcess
    from dusttui.tui.screens.main import MainScreen


class DustApp(RunsMixin, App[int]):
    """dusttui: pick an app, edit config and inputs, launch, watch every block live."""

    CSS_PATH = "dusttui.tcss"
    TITLE = "dusttui"
    BINDINGS = keys.bindings(keys.APP_KEYS)
    COMMANDS = App.COMMANDS | {DustCommands}

    def __init__(
        self,
        settings: Settings,
        *,
        backend: Backend,
        client: DustClient | Callable[[], Awaitable[DustClient]],
        journal: Journal | None = None,
        clock: Callable[[], float] = time.time,
        theme_dirs: tuple[Path | None, ...] | None = None,
        data_path: Path | None = None,
        cursor_blink: bool = True,
    ) -> None:
        """``client``: a DustClient, or an async callable giving one (e.g. after starting the
        embedded engine, so the first frame does not wait for it)."""
        super().__init__()
        self.settings = settings
        self.backend = backend
        self.clock = clock
        self.journal = journal
        self.mode = "stream"
        self.apps: list[DustAppModel] = []
        self.runs: dict[str, LiveRun] = {}
        self.client: DustClient | None = None
        self._client_source = client
        self._client_ready = asyncio.Event()
        self.loaded = asyncio.Event()
        """Set once the apps are listed (or listing them failed)."""
        self._theme_dirs = theme_dirs
        self._data_path = data_path
        self.cursor_blink = cursor_blink
        self._counter = 0
        self._pending: set[str] = set()
        self._last_post: dict[str, float] = {}
        self._history: list[JournalEntry] = []
        self._load_themes()

    # ------------------------------------------------------------------ start

    def _load_themes(self) -> None:
        dirs = self._theme_dirs
        if dirs is None:
            from dusttui.config import themes_dir

            dirs = (bundled_themes_dir(), themes_dir())
        loaded = load_themes(*dirs)
        for theme in loaded.themes.values():
            self.register_theme(theme)
        self._theme_errors = loaded.errors
        wanted = self.settings.theme
        if wanted not in self.available_themes:
            self._theme_errors.append(f"no theme named `{wanted}`")
            wanted = DEFAULT_THEME
        self.theme = wanted

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return block_variable_defaults(self.current_theme)

    async def on_mount(self) -> None:
        if self._theme_errors:
            self.say(
                "Theme problem — using " + self.theme + ": " + "; ".join(self._theme_errors),
                severity="warning",
                timeout=8,
            )
        known = {k for k in self.settings.keymap if keys.is_binding_id(k)}
        unknown = sorted(set(self.settings.keymap) - known)
        if unknown:
            self.say(
                f"keymap: no binding with id {', '.join(unknown)} (see ? for ids).",
                severity="warning",
            )
        self.set_keymap({k: v for k, v in self.settings.keymap.items() if k in known})
        # First frame: the layout and the keys. The main screen (editors, table) and the
        # engine (imports, a thread, a port) come once that frame is on screen.
        await self.push_screen(StartScreen(self.backend.label))
        self.call_after_refresh(self._install_main)

    def _install_main(self) -> None:
        from dusttui.tui.screens.main import MainScreen

        self.switch_screen(MainScreen())  # it calls main_ready() once mounted

    def main_ready(self, main: MainScreen) -> None:
        """The main screen is mounted: fill it in and connect."""
        main.query_one("#apps-list").focus()
        main.query_one("StatusLine").backend = self.backend.label
        if not self.cursor_blink:
            for widget in main.query("TextArea, Input"):
                widget.cursor_blink = False
        self._load_history()
        self.connect()

    @property
    def main(self) -> MainScreen:
        """The main screen (always at the bottom of the stack once installed)."""
        from dusttui.tui.screens.main import MainScreen

        return next(s for s in self.screen_stack if isinstance(s, MainScreen))

    def say(
        self, message: str, *, severity: str = "information", timeout: float | None = None
    ) -> None:
        """A notification whose text is never read as markup (it may come from the server)."""
        self.notify(message, severity=severity, timeout=timeout, markup=False)  # type: ignore[arg-type]

    @work(name="connect", exclusive=True, exit_on_error=False, group="connect")
    async def connect(self) -> None:
        """Get the client (starting the embedded engine if needed), then list the apps."""
        source = self._client_source
        self.main.query_one("StatusLine").connection = "connecting"
        self.client = source if not callable(source) else await source()
        self._client_ready.set()
        self.main.query_one("StatusLine").connection = "idle"
        await self._list_apps()

    async def _list_apps(self) -> None:
        assert self.client is not None
        self.apps = await self.client.list_apps()
        self.main.show_apps(self.apps)
        self.loaded.set()
        # Everything built so far lives as long as the app: keep it out of the cyclic GC's
        # full collections, which otherwise stall frames for ~100 ms under a fast stream.
        gc.freeze()

    async def on_unmount(self) -> None:
        if self.client is not None and self.client is not self._client_source:
            await self.client.aclose()

    # ------------------------------------------------------------------ workers

    @on(Worker.StateChanged)
    def _worker_state(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if isinstance(error, DustError):
            text = error.user_message
        elif isinstance(error, ConfigError) or type(error).__name__ == "EngineStartError":
            text = str(error)  # already a sentence for the user (no engine import needed)
        else:
            text = f"{type(error).__name__}: {error}"
        if event.worker.name == "connect":
            text = f"Cannot reach {self.backend.label}: {text}"
            self.main.query_one("StatusLine").connection = "offline"
            self.main.query_one("#app-line").update(Text(f"✗ {text}"))
            self.loaded.set()
        self.say(text, severity="error", timeout=10)

    # ------------------------------------------------------------------ other actions

    @work(name="load inputs", exclusive=True, exit_on_error=False, thread=True)
    def load_inputs_file(self, path: str) -> None:
        """Read an inputs file in a thread; errors become a notification."""
        from dusttui.tui.validation import InputsFileError
        from dusttui.tui.validation import load_inputs_file as read

        try:
            text = read(Path(path))
        except InputsFileError as exc:
            self.call_from_thread(self.say, f"Inputs not loaded — {exc}", severity="error")
            return
        self.call_from_thread(self.main.inputs_loaded, text, Path(path).name)

    def export_run(self, key: str | None) -> None:
        """Write the run JSON into `<data dir>/exports/`."""
        live = self.runs.get(key or "")
        if live is None or live.state is None or live.state.run_id is None:
            self.say("No run to export yet.", severity="warning")
            return
        folder = (self._data_path or data_dir()) / "exports"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"run-{live.state.run_id[:12]}.json"

        path.write_text(json.dumps(live.state.to_wire(), indent=2), encoding="utf-8")
        self.say(f"Exported to {path}")

    def open_explorer(self, key: str | None) -> None:
        """Push the trace explorer on a run."""
        live = self.runs.get(key or "")
        if live is None or live.state is None or live.state.run_id is None:
            self.say("No run to explore yet: launch or open one first.", severity="warning")
            return
        from dusttui.tui.explorer import ExplorerScreen

        title = f"{live.app_name} · run {short_id(live.run_id)}"
        exports = (self._data_path or data_dir()) / "exports"
        self.push_screen(ExplorerScreen(live.state, title=title, export_dir=exports))

    def set_mode(self, mode: str) -> None:
        """Choose how the next runs are launched and watched."""
        if mode in MODES:
            self.mode = mode
            self.main._show_app_line()

    def set_theme(self, name: str) -> None:
        """Switch the theme (and re-colour the status cells)."""
        self.theme = name

    def watch_theme(self, theme: str) -> None:
        # Status cells and the runs list carry theme colours as styles: repaint them.
        if "dusttui.tui.screens.main" not in sys.modules:
            return  # before the first frame: nothing painted with the old theme yet
        from dusttui.tui.screens.main import MainScreen

        main = next((s for s in self.screen_stack if isinstance(s, MainScreen)), None)
        if main is None or not main.is_mounted:
            return
        shown = self.runs.get(main.shown_key or "")
        if shown is not None:
            main.refresh_run(shown)
        self.post_message(RunsChanged())

    def palette_launch(self) -> None:
        self.main.action_launch()

    def palette_rerun(self) -> None:
        self.main.action_rerun()

    def palette_copy_curl(self) -> None:
        self.main.action_copy_curl()

    def palette_traces(self) -> None:
        self.main.action_traces()

    def palette_app(self, app_id: str) -> None:
        app = next((a for a in self.apps if a.sId == app_id), None)
        if app is not None:
            self.main.query_one("AppsPane").select(app_id) or self.main.select_app(app)

    def action_help(self) -> None:
        """Show every key."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.settings.keymap))

    async def action_quit(self) -> None:
        """Quit; ask first while a run is still being watched."""
        watching = [r for r in self.runs.values() if not r.done]
        if not watching:
            self.exit(0)
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.exit(0)

        self.push_screen(
            ConfirmScreen(
                f"{len(watching)} run(s) still being watched. Quit anyway? (the runs go on on the server)"
            ),
            answer,
        )


def run_tui(settings: Settings, backend: Backend, *, engine: EngineProcess | None = None) -> int:
    """Run the TUI until the user quits; the embedded engine starts behind the first frame.

    ``engine``: the embedded engine's child process, when the caller started it already (the CLI
    does, before importing Textual). ``DUSTTUI_ENGINE_THREAD=1`` serves it from a thread instead.
    """
    from dusttui.api.journal import Journal
    from dusttui.session import client_for, engine_in_thread, make_engine, start_engine_process

    thread_engine = None
    if backend.kind == "embedded" and engine is None and not engine_in_thread():
        engine = start_engine_process(settings)

    async def connect() -> DustClient:
        nonlocal thread_engine
        if engine is not None:
            import dusttui.api.client  # noqa: F401 (its import overlaps the engine's last steps)

            await engine.ready()
            return client_for(backend, engine=engine)
        if backend.kind == "embedded":
            thread_engine = await asyncio.to_thread(make_engine, settings)
            await asyncio.to_thread(thread_engine.start)
        return client_for(backend, engine=thread_engine)

    journal = Journal(data_dir() / "journal.sqlite")
    gc.freeze()  # what is imported stays: spare the first frame full collections over it
    app = DustApp(settings, backend=backend, client=connect, journal=journal)
    try:
        app.run()
    finally:
        if engine is not None:
            engine.stop()
        if thread_engine is not None:
            thread_engine.stop()
        journal.close()
    return app.return_code or 0
