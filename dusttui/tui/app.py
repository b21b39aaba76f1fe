"""The composition root of the TUI: the App owns the run session and publishes what changes.

Data goes down, requests come up. The App holds the :class:`~dusttui.session.runs.RunSession`
(every launch, watch, journal line and cancel goes through it) and publishes run changes on
:attr:`DustApp.run_changed` (a Textual ``Signal``: each run at most ~30 times a second, and twice
a second while it runs, for its timers — never while its connection is lost) and list changes on
:attr:`DustApp.runs_changed`; the apps, the connection and the launch mode are reactives.
Screens subscribe and ask through the App's public methods; the App never calls into a screen.
"""

from __future__ import annotations

import asyncio
import gc
import json
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rich.text import Text
from textual import events, on, work
from textual.app import App
from textual.reactive import var
from textual.signal import Signal
from textual.timer import Timer
from textual.worker import Worker, WorkerState

from dusttui.api.errors import AuthError, DustError
from dusttui.config import Backend, ConfigError, Settings, config_path, data_dir
from dusttui.session.runs import Change, RunSession
from dusttui.session.tracked import MODES, TrackedRun, short_id
from dusttui.tui import keys
from dusttui.tui.apps_reload import AppsFolder
from dusttui.tui.commands import DustCommands
from dusttui.tui.runs import run_label
from dusttui.tui.screens.confirm import ConfirmScreen
from dusttui.tui.screens.help import HelpScreen
from dusttui.tui.screens.start import Carried, StartScreen
from dusttui.tui.themes import (
    DEFAULT_THEME,
    block_variable_defaults,
    bundled_themes_dir,
    load_themes,
)

if TYPE_CHECKING:
    from dusttui.api.client import DustClient
    from dusttui.api.journal import Journal, JournalSummary
    from dusttui.api.models import App as DustAppModel
    from dusttui.api.requestlog import RequestLog
    from dusttui.session.backend import Connector
    from dusttui.session.journal_io import JournalIO
    from dusttui.tui.screens.main import MainScreen

UPDATE_INTERVAL = 0.033  # at most ~30 repaints of a run per second, whatever the event rate
TICK_INTERVAL = 0.5  # running timers move twice a second
REPLAY_GUARD = 2.0  # seconds a held key may take to be handled before the rest go the usual way
HELD_NOTE_SECONDS = 3.0  # short: the toast would hide the run table once the keys went through
SETTLE_TURNS = 2000  # turns of the event loop a held key's effects may take (each is short)
STALE_CHECKS = 20  # history runs still marked running that are checked at start
KEEPALIVE_INTERVAL = 60.0  # a light request keeps the local engine from stopping while we are open
Severity = Literal["information", "warning", "error"]


class DustApp(App[int]):
    """dusttui: pick an app, edit config and inputs, launch, watch every block live."""

    CSS_PATH = "dusttui.tcss"
    TITLE = "dusttui"
    BINDINGS = keys.bindings(keys.APP_KEYS)
    COMMANDS = App.COMMANDS | {DustCommands}
    # Classes each screen gets by its size; dusttui.tcss adapts the layout to them.
    HORIZONTAL_BREAKPOINTS = [(0, "-cols-narrow"), (100, "-cols-mid"), (160, "-cols-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-rows-short"), (30, "-rows-tall"), (50, "-rows-huge")]

    apps: var[list[DustAppModel]] = var(list, always_update=True, init=False)
    """The backend's apps, once listed (the local apps: read from their folders until the local
    engine answers)."""
    apps_source: var[str | None] = var(None, init=False)
    """Who listed :attr:`apps`: None (nobody yet), "folder" (the local apps' files, while the local
    engine starts: launching waits for it) or "backend"."""
    connection: var[str] = var("starting", init=False)
    """The backend: starting, connecting, idle (connected) or offline."""
    connection_error: var[str | None] = var(None, init=False)
    """Why the backend cannot be reached, when it cannot."""
    mode: var[str] = var("stream", init=False)
    """How the next runs are launched and watched: stream, poll or blocking."""

    def __init__(
        self,
        settings: Settings,
        *,
        backend: Backend,
        client: DustClient | None = None,
        connector: Connector | None = None,
        journal: Journal | JournalIO | None = None,
        clock: Callable[[], float] = time.time,
        theme_dirs: tuple[Path | None, ...] | None = None,
        data_path: Path | None = None,
        cursor_blink: bool = True,
        settings_path: Path | None = None,
    ) -> None:
        """``connector``: the backend (the local engine started already, or getting ready);
        ``client``: a client made elsewhere instead (tests, benchmarks); ``settings_path``: the
        config file where a theme chosen in the palette is kept (None: not kept)."""
        super().__init__()
        from dusttui.session.backend import Connector
        from dusttui.session.journal_io import JournalIO

        if connector is None:
            if client is None:
                raise ValueError("Give the App a connector or a client.")
            connector = Connector.for_client(backend, client, settings)
        if journal is not None and not isinstance(journal, JournalIO):
            journal = JournalIO(journal)
        self.settings = settings
        self.backend = backend
        self.clock = clock
        self.connector = connector
        self.journal = journal
        self.session = RunSession(connector, journal=journal, clock=clock)
        self.session.subscribe(self._session_changed)
        self.history: list[JournalSummary] = []
        self.run_changed: Signal[TrackedRun] = Signal(self, "run-changed")
        """A run moved on (coalesced per run): repaint it if it is shown."""
        self.runs_changed: Signal[None] = Signal(self, "runs-changed")
        """A run was added, got its id or ended, or the history loaded: rebuild the list."""
        self.loaded = asyncio.Event()
        """Set once the apps are listed (or listing them failed)."""
        self.history_loaded = asyncio.Event()
        """Set once the history list is read (and published)."""
        self._theme_dirs = theme_dirs
        self._data_path = data_path
        self._settings_path = settings_path
        self._settings_lock = threading.Lock()
        self._theme_to_keep = settings.theme
        self.cursor_blink = cursor_blink
        self._pending: set[str] = set()
        self._last_post: dict[str, float] = {}
        self._ticker: Timer | None = None
        self.diff_mark: str | None = None
        """The run marked with D: what the next diff compares with."""
        self.keymap_in_use: dict[str, str] = {}
        self.request_log: RequestLog | None = None
        """Every API call of this session (`l` shows it), once the connection starts."""
        """The user's keymap as applied (entries refused at start left out)."""
        self.apps_folder = AppsFolder(self)
        """The apps folders watched; the versions seen; the engine's providers."""
        self._main_wanted = False
        self._connecting = False  # connect() started (it is exclusive: never twice)
        self._held_keys: list[events.Key] | None = None
        self._replay_guard: Timer | None = None
        self._settling: asyncio.Task[None] | None = None
        self.start_carried: Carried | None = None
        """What the user did on the start screen (filter, cursor, focus): the main screen's."""
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
        keymap, problems = keys.check_keymap(self.settings.keymap)
        for problem in problems:
            self.say(problem, severity="warning", timeout=12)
        self.keymap_in_use = keymap
        self.set_keymap(keymap)
        self._ticker = self.set_interval(TICK_INTERVAL, self._tick, name="run-timers", pause=True)
        self.watch(self, "theme", self._theme_chosen, init=False)
        # First frame: the layout and the keys. The main screen (editors, table), the history
        # and the connection come once that frame is on screen.
        await self.push_screen(StartScreen(self.backend.label, self.connector.folder_names))
        self.call_after_refresh(gc.enable)  # disabled by the CLI until the first frame is drawn
        if self.connector.lists_folder:
            # The local engine starts once the first frame is drawn (no-op if started already):
            # started earlier, its imports take the CPU the first frame needs (BENCHMARKS.md);
            # the connection is awaited from then on, not once the main screen is up.
            self.call_after_refresh(self._start_engine)
        if self.connector.lists_folder:
            # The start screen lists the names; the main screen comes with the whole apps.
            self.call_after_refresh(self.read_folder)
        else:
            self.call_after_refresh(self.install_main)

    def install_main(self) -> None:
        """The main screen replaces the start screen (once it is on top again, if a screen such
        as the help was opened over it meanwhile), taking over what the user did there; keys
        typed until it is mounted are held, then replayed in order (:meth:`main_screen_ready`)."""
        from dusttui.tui.screens.main import MainScreen

        self._main_wanted = True
        if not isinstance(self.screen, StartScreen):
            return
        self._main_wanted = False
        self.start_carried = self.screen.carried()
        if self._held_keys is None:  # else: keys held on the start screen, in order
            self._held_keys = []
        self.switch_screen(MainScreen())
        self.call_after_refresh(self._start_io)

    def main_screen_ready(self) -> None:
        """The main screen is mounted: the keys held meanwhile go to it once the focus it asked
        for is set (a callback queued after that focus)."""
        self.call_later(self._replay_held_key)

    async def _replay_held_key(self) -> None:
        """Route the oldest held key; the next once this one is fully handled.

        Held keys come in a burst, and Textual routes a key to the widget focused when it
        arrives: after `/` (the filter gets the focus once the key has bubbled to the bindings)
        `q` would quit; after enter in the filter (its Submitted message moves the focus) `r`
        would be typed in it. So each key waits until everything it set off is done
        (:meth:`_settle_then_replay`). Keys that come meanwhile are held behind."""
        if self._replay_guard is not None:
            self._replay_guard.stop()
        held = self._held_keys
        if not held:
            self._held_keys = None
            return
        await super().on_event(held.pop(0))
        # Never hold keys for good, whatever happens to the wait.
        self._replay_guard = self.set_timer(REPLAY_GUARD, self._release_held_keys)
        self._settling = asyncio.get_running_loop().create_task(self._settle_then_replay())

    async def _settle_then_replay(self) -> None:
        """Wait until no message is queued on the screen's widgets nor the App (a task of its
        own: the App must go on handling its queue meanwhile), then replay the next key."""
        for _ in range(SETTLE_TURNS):
            await asyncio.sleep(0)
            nodes = [self, *self.screen.walk_children(with_self=True)]
            if not any(node.message_queue_size for node in nodes):
                break
        self.call_later(self._replay_held_key)

    async def _release_held_keys(self) -> None:
        """The replay stalled: route what is left the usual way, in order."""
        held, self._held_keys = self._held_keys or [], None
        for key in held:
            await super().on_event(key)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            screen = self.screen
            on_start = isinstance(screen, StartScreen)
            if on_start and self._app_key(event):
                pass  # help, quit: at once
            elif self._held_keys is not None:
                self._held_keys.append(event)  # the main screen is coming: it gets it then
                return
            elif isinstance(screen, StartScreen) and screen.take_key(event):
                return  # taken now: nothing is in flight when the main screen takes over
            elif on_start:
                # A key for the main screen (r, e...): kept, with every key after it, for the
                # main screen to handle once it is up, in the order typed.
                self._held_keys = [event]
                self.say(
                    "Loading the apps: your keys go through as soon as they are read.",
                    timeout=HELD_NOTE_SECONDS,
                )
                return
        await super().on_event(event)

    def _app_key(self, event: events.Key) -> bool:
        """The key is one of the App's own bindings (help, quit), not the screen's."""
        active = self.screen.active_bindings.get(event.key)
        return active is not None and active.node is self

    def start_screen_resumed(self) -> None:
        """The start screen is on top again: replace it now if the main screen is ready."""
        if self._main_wanted:
            self.install_main()

    @work(name="folder apps", exclusive=True, exit_on_error=False, thread=True, group="folder")
    def read_folder(self) -> None:
        """Read the local apps from their files while the local engine starts (in a thread)."""
        from dusttui.session.folder_apps import read_folder_apps

        try:
            apps = read_folder_apps(self.settings.apps_dir)
            self.call_from_thread(self._folder_listed, apps)
        finally:
            self.call_from_thread(self.install_main)

    def _folder_listed(self, apps: list[DustAppModel]) -> None:
        if self.apps_source is None:  # the engine's own answer, when it came first, stays
            self.apps_source = "folder"
            self.apps = apps

    def _start_engine(self) -> None:
        self.connector.start()
        self._connecting = True
        self.connect()

    def _start_io(self) -> None:
        self.load_history()
        if not self._connecting:
            self.connect()

    @property
    def client(self) -> DustClient | None:
        """The backend's client, once connected."""
        return self.connector.client if self.connector.connected else None

    @property
    def main(self) -> MainScreen:
        """The main screen (for tests; the App itself never calls into it)."""
        from dusttui.tui.screens.main import MainScreen

        return next(s for s in self.screen_stack if isinstance(s, MainScreen))

    def say(
        self, message: str, *, severity: Severity = "information", timeout: float | None = None
    ) -> None:
        """A notification whose text is never read as markup (it may come from the server)."""
        self.notify(message, severity=severity, timeout=timeout, markup=False)

    @work(name="connect", exclusive=True, exit_on_error=False, group="connect")
    async def connect(self) -> None:
        """Reach the backend (the local engine gets ready meanwhile), then list the apps."""
        self.connection = "connecting"
        self._attach_request_log()
        client = await self.connector.ready()
        self.connection = "idle"
        if self.connector.mismatch:
            self.say(f"Note: {self.connector.mismatch}.", severity="warning", timeout=10)
        apps = await client.list_apps()
        self.apps_source = "backend"
        self.apps = apps
        self.loaded.set()
        await self.apps_folder.start()
        if self.connector.extensions:
            self.set_interval(KEEPALIVE_INTERVAL, self._keepalive, name="engine-keepalive")
            self.refresh_stale_history()
        # Everything built so far lives as long as the app: keep it out of the cyclic GC's
        # full collections, which otherwise stall frames for ~100 ms under a fast stream.
        gc.freeze()

    def _attach_request_log(self) -> None:
        # Here rather than at start: the log's module imports httpx, not needed for the first frame.
        from dusttui.api.requestlog import RequestLog

        log = self.connector.request_log
        if log is None:  # not `or`: an empty log is falsy (it has a length)
            log = RequestLog()
        self.connector.request_log = log  # kept for the clients of later engine restarts
        self.request_log = log
        if self.connector.connected and self.connector.client.request_log is None:
            self.connector.client.request_log = log  # a client made elsewhere (tests, benches)

    def open_requests(self) -> None:
        """Push the request log screen: every API call of this session."""
        if self.request_log is None:
            self.say("No API call yet: the connection has not started.", severity="warning")
            return
        from dusttui.tui.screens.requests import RequestsScreen

        self.push_screen(RequestsScreen(self.request_log))

    async def _keepalive(self) -> None:
        # A light request: the local engine stops by itself once nobody has asked it anything.
        if self.connector.connected:
            try:
                await self.connector.client.engine_info()
            except DustError:
                pass  # a run's watch says when the engine is gone

    @work(name="stale-history", exclusive=True, exit_on_error=False, group="stale-history")
    async def refresh_stale_history(self) -> None:
        """History runs still marked running (a CLI detached from them, the TUI quit while they
        ran) that have ended since: say how they ended (one cheap status request each)."""
        await self.history_loaded.wait()
        stale = [s for s in self.history if s.status in (None, "running")][:STALE_CHECKS]
        ended: dict[str, str] = {}
        for summary in stale:
            try:
                body = await self.connector.client.get_run_status_raw(
                    summary.app_id, summary.run_id, retries=0
                )
                status = ((json.loads(body).get("run") or {}).get("status") or {}).get("run")
            except (DustError, ValueError, AttributeError):
                continue  # unknown here (another engine's, or gone): left as it was
            if status in ("succeeded", "errored") and self.journal is not None:
                await self.journal.record_status(summary.run_id, status)
                ended[summary.run_id] = status
        if ended:
            self.history = [
                replace(s, status=ended[s.run_id]) if s.run_id in ended else s for s in self.history
            ]
            self.runs_changed.publish(None)

    @work(name="history", exclusive=True, exit_on_error=False, group="history")
    async def load_history(self) -> None:
        """Read the history list (only what it shows) in the journal's thread."""
        if self.journal is None:
            self.history_loaded.set()
            return
        summaries = await self.journal.summaries(200)
        backend = self.backend
        self.history = [
            s
            for s in summaries
            if s.workspace_id == backend.workspace_id and s.base_url == backend.base_url
        ]
        self.runs_changed.publish(None)
        self.history_loaded.set()

    async def on_unmount(self) -> None:
        await self.session.aclose()
        await self.connector.aclose(leave_engine=True)

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
            # A refused key means the backend was reached: say that, not "cannot reach".
            refused = isinstance(error, AuthError)
            if refused:
                text = f"Reached {self.connector.host}, but {text[:1].lower()}{text[1:]}"
            else:
                text = f"Cannot reach {self.backend.label}: {text}"
            self.connection_error = text
            self.connection = "refused" if refused else "offline"
            self.loaded.set()
        self.say(text, severity="error", timeout=10)

    # ------------------------------------------------------------------ runs: publishing

    @property
    def runs(self) -> dict[str, TrackedRun]:
        """The runs of this session (launched here or opened), by key."""
        return self.session.runs

    def _session_changed(self, run: TrackedRun, change: Change) -> None:
        if change == Change.UPDATED:
            self._poke(run)
            return
        self._pending.discard(run.key)
        self._last_post[run.key] = time.monotonic()
        self.run_changed.publish(run)
        self.runs_changed.publish(None)
        if change == Change.ENDED:
            self._announce_end(run)
        self._tick_while_running()

    def _poke(self, run: TrackedRun) -> None:
        """Coalesce: at most one publication of a run per UPDATE_INTERVAL, the latest wins."""
        if run.key in self._pending:
            return
        wait = self._last_post.get(run.key, 0.0) + UPDATE_INTERVAL - time.monotonic()
        if wait <= 0:
            self._publish(run)
        else:
            self._pending.add(run.key)
            self.set_timer(wait, lambda: self._publish(run))

    def _publish(self, run: TrackedRun) -> None:
        self._pending.discard(run.key)
        self._last_post[run.key] = time.monotonic()
        self.run_changed.publish(run)

    def _tick(self) -> None:
        ticking = False
        for run in self.session.runs.values():
            if not run.done and run.lost_at is None:  # frozen while the connection is lost
                ticking = True
                self._poke(run)
        if not ticking and self._ticker is not None:
            self._ticker.pause()

    def _tick_while_running(self) -> None:
        if self._ticker is not None and any(not r.done for r in self.session.runs.values()):
            self._ticker.resume()

    def _announce_end(self, run: TrackedRun) -> None:
        end = run.end
        if end is None or not (run.followed or end.reason == "failed"):
            return  # a run opened already over: nothing happened to announce
        severity: Severity = "information" if end.reason in ("succeeded", "detached") else "error"
        said = end.reason not in ("succeeded", "errored") or (
            run.state is not None and run.state.end_message
        )
        detail = f": {end.message}" if said else ""
        self.say(
            f"Run {short_id(run.run_id)} of {run.app_name} {run.status}{detail}", severity=severity
        )
        if self.settings.bell:
            self.bell()

    # ------------------------------------------------------------------ runs: requests

    def launch_run(
        self, app: DustAppModel, spec_hash: str, config: dict[str, Any], inputs: list[Any]
    ) -> TrackedRun:
        """Launch a run in the current mode (several can run at once); before the local engine
        answers, the run waits for it (its title and the status line say so)."""
        return self.session.launch(app, spec_hash, config, inputs, self.mode)

    def rerun(self, key: str) -> TrackedRun | None:
        """Launch a run again with the same app, hash, config and inputs."""
        run = self.session.runs.get(key)
        if run is None or not run.can_rerun:
            self.say(
                "This run cannot be re-run: its config or inputs are unknown.", severity="warning"
            )
            return None
        app = next((a for a in self.apps if a.sId == run.app_id), None)
        if app is None:
            from dusttui.api.models import App as DustAppModel

            app = DustAppModel(id=0, sId=run.app_id, name=run.app_name)
        assert run.specification_hash is not None and run.config is not None
        return self.launch_run(app, run.specification_hash, run.config, run.inputs or [])

    def open_history(self, run_id: str) -> TrackedRun | None:
        """Open a run of the history (read from the server; followed if it still runs)."""
        for run in self.session.runs.values():
            if run.run_id == run_id:
                return run
        summary = next((s for s in self.history if s.run_id == run_id), None)
        if summary is None:
            return None
        return self.session.open(
            run_id,
            summary.app_id,
            summary.app_name or summary.app_id,
            mode=summary.mode or "stream",
            from_journal=True,
        )

    def cancel_question(self, run: TrackedRun) -> str:
        """What cancelling ``run`` does on this backend, as the confirmation asks it."""
        name = f"run {short_id(run.run_id)} of {run.app_name}"
        if self.connector.extensions:
            return f"Cancel {name}? The local engine stops it; it ends errored (cancelled)."
        return (
            f"{self.connector.host} cannot cancel runs (its API has no cancel). Stop watching "
            f"{name}? It continues there."
        )

    @work(name="cancel", exit_on_error=False, group="cancel")
    async def cancel_run(self, key: str) -> None:
        """Cancel a run (or, where the API has no cancel, stop watching it)."""
        run = self.session.runs.get(key)
        if run is not None:
            message = await self.session.cancel(run)
            state = run.state
            ended = run.end is not None or (
                state is not None and state.status in ("succeeded", "errored")
            )
            if not ended:  # else the notification of its end says it all, with the reason
                self.say(message)

    @work(name="export", exit_on_error=False, thread=True)
    def export_run(self, key: str | None) -> None:
        """Write the run JSON into `<data dir>/exports/` (in a thread: big runs are megabytes)."""
        run = self.session.runs.get(key or "")
        state = run.state if run is not None else None
        if state is None or state.run_id is None or state.status is None:
            self.call_from_thread(self.say, "No run to export yet.", severity="warning")
            return
        folder = (self._data_path or data_dir()) / "exports"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"run-{state.run_id[:12]}.json"
        path.write_bytes(state.to_wire_json())
        self.call_from_thread(self.say, f"Exported to {path}")

    def open_explorer(self, key: str | None) -> None:
        """Push the trace explorer on a run."""
        run = self.session.runs.get(key or "")
        if run is None or run.state is None or run.state.run_id is None:
            self.say("No run to explore yet: launch or open one first.", severity="warning")
            return
        from dusttui.tui.explorer import ExplorerScreen

        title = f"{run.app_name} · run {short_id(run.run_id)}"
        exports = (self._data_path or data_dir()) / "exports"
        self.push_screen(ExplorerScreen(run.state, title=title, export_dir=exports))

    @work(name="diff", exclusive=True, exit_on_error=False, group="diff")
    async def open_diff(self, key: str | None) -> None:
        """Push the diff of run ``key`` against the run before it (or the one marked)."""
        from dusttui.tui.iterate import open_diff

        await open_diff(self, key)

    def mark_for_diff(self, key: str | None) -> None:
        """Mark run ``key`` as the "before" of the next diff."""
        from dusttui.tui.iterate import mark_for_diff

        mark_for_diff(self, key)

    @work(name="rerun-failed", exit_on_error=False, group="rerun-failed")
    async def rerun_failed(self, key: str | None, show: Callable[[str], None]) -> None:
        """Re-run the failed inputs of run ``key``, then merge; ``show`` each new run's key."""
        from dusttui.tui.iterate import rerun_failed

        await rerun_failed(self, key, show)

    def try_configs(
        self, app: DustAppModel, spec_hash: str, configs: list[dict[str, Any]], inputs: list[Any]
    ) -> None:
        """Launch one run per config on the same inputs; show them side by side."""
        from dusttui.tui.iterate import try_configs

        try_configs(self, app, spec_hash, configs, inputs)

    def set_mode(self, mode: str) -> None:
        """Choose how the next runs are launched and watched."""
        if mode in MODES:
            self.mode = mode

    def set_theme(self, name: str) -> None:
        """Switch the theme (kept in the config file, see :meth:`_theme_chosen`)."""
        self.theme = name

    def _theme_chosen(self, name: str) -> None:
        if self._settings_path is not None:
            self._theme_to_keep = name
            self.keep_theme(self._settings_path)

    @work(name="keep theme", exit_on_error=False, thread=True, group="settings")
    def keep_theme(self, path: Path) -> None:
        """Write the latest theme chosen into the config file (in a thread), so the next start
        uses it; writes one at a time, the last one with the last choice."""
        from dusttui.tui.settings_file import save_theme

        with self._settings_lock:
            problem = save_theme(path, self._theme_to_keep)
        if problem is not None:
            self.call_from_thread(self.say, problem, severity="warning", timeout=10)

    def no_app_reason(self) -> str:
        """Why there is no app to launch: the connection's problem, or that none is picked."""
        if self.connection in ("offline", "refused") and self.connection_error:
            return f"Nothing to launch: {self.connection_error}"
        if self.connection in ("starting", "connecting"):
            return f"Not yet: the apps of {self.backend.label} are still being listed."
        return "Pick an app first."

    def deliver_screenshot(
        self, filename: str | None = None, path: str | None = None, time_format: str | None = None
    ) -> str | None:
        """The palette's "Screenshot": into Downloads, else the data folder, saying where
        (Textual's own says only "Failed" when Downloads is missing)."""
        from dusttui.tui.screenshot import screenshot_name

        svg = self.export_screenshot()  # the screen as it is now; the file is written in a thread
        self.write_screenshot(svg, filename or screenshot_name(self.title), path)
        return None

    @work(name="screenshot", exit_on_error=False, thread=True, group="screenshot")
    def write_screenshot(self, svg: str, name: str, folder: str | None) -> None:
        """Write a screenshot (in a thread) and say where it went, or why it did not."""
        from platformdirs import user_downloads_path

        from dusttui.tui.screenshot import save_screenshot

        downloads = Path(folder) if folder else user_downloads_path()
        fallback = (self._data_path or data_dir()) / "screenshots"
        saved, message = save_screenshot(svg, name, downloads, fallback)
        severity: Severity = "information" if saved else "error"
        self.call_from_thread(self.say, message, severity=severity, timeout=10)

    # ------------------------------------------------------------------ the runs list

    def run_labels(self) -> list[tuple[str, str]]:
        """(key, plain label) of every run in the runs list, newest first."""
        return [(key, text.plain) for key, text in self.run_labels_text()]

    def run_labels_text(self) -> list[tuple[str, Text]]:
        """The runs list: this session's runs, then the history's, newest first."""
        colours = self.theme_variables
        items: list[tuple[str, Text]] = []
        live_ids = set()
        for run in reversed(self.session.runs.values()):
            live_ids.add(run.run_id)
            # A run opened from the history shows when it was created, not when it was opened.
            created = run.state.created if run.state is not None else None
            when = created / 1000 if created else run.started
            items.append((run.key, run_label(run.run_id, run.status, when, run.app_name, colours)))
        for entry in self.history:
            if entry.run_id in live_ids:
                continue
            label = run_label(
                entry.run_id,
                entry.status or "running",
                entry.recorded_at,
                entry.app_name or entry.app_id,
                colours,
            )
            items.append((f"j:{entry.run_id}", label))
        return items

    # ------------------------------------------------------------------ other actions

    def action_reload_apps(self) -> None:
        """Re-read the apps (a changed .dust is what the next launch runs)."""
        self.apps_folder.ask_reload()

    @property
    def data_folder(self) -> Path:
        """Where dusttui keeps its files (exports, drafts)."""
        return self._data_path or data_dir()

    def action_help(self) -> None:
        """Show every key."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.keymap_in_use))

    async def action_quit(self) -> None:
        """Quit; ask first while a run is still being watched (saying what becomes of it)."""
        watching = [r for r in self.session.runs.values() if not r.done]
        if not watching:
            self.exit(0)
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.exit(0)

        self.push_screen(ConfirmScreen(self.quit_question(len(watching))), answer)

    def quit_question(self, running: int) -> str:
        """The quit confirmation, true for this backend."""
        runs = f"{running} run{'s' if running != 1 else ''} still running"
        if self.connector.outlives_front_end:
            where = self.connector.host
            return (
                f"{runs}. Quit anyway? They go on in {where}; "
                "`dusttui watch RUN_ID --app APP` follows one again."
            )
        return (
            f"{runs}. Quit anyway? The local engine stops with dusttui: "
            f"{'they' if running != 1 else 'it'} will end interrupted."
        )


def run_tui(settings: Settings, backend: Backend, *, connector: Connector | None = None) -> int:
    """Run the TUI until the user quits.

    ``connector``: the backend, its local apps' names listed (the CLI lists them before
    importing Textual); the App starts the local engine once its first frame is drawn.
    """
    from dusttui.session.backend import Connector
    from dusttui.session.journal_io import JournalIO

    if connector is None:
        connector = Connector(backend, settings)
        connector.list_folder()  # the App starts the local engine once its first frame is up
    journal = JournalIO(data_dir() / "journal.sqlite")
    gc.freeze()  # what is imported stays: spare the first frame full collections over it
    app = DustApp(
        settings,
        backend=backend,
        connector=connector,
        journal=journal,
        settings_path=config_path(),
    )
    try:
        app.run()
    finally:
        journal.close()
        connector.close_engine()
    return app.return_code or 0
