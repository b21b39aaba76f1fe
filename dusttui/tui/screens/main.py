"""The main screen: apps and runs on the left; config, inputs, spec and the live run on the right.

It shows and gathers. It subscribes to what the App publishes (the run signals, the apps, the
connection and the mode) and asks the App for launches, cancels and the rest; the App never
calls into it.
"""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Container, Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Input, Static, TabbedContent, TabPane, TextArea

from dusttui.specs import saved_specification_hash
from dusttui.tui.keys import SCREEN_KEYS, bindings, shown_key
from dusttui.tui.runs import MODES, TrackedRun
from dusttui.tui.screens.confirm import ConfirmScreen
from dusttui.tui.screens.editing import EditingScreen
from dusttui.tui.validation import spec_blocks
from dusttui.tui.widgets.app_line import AppLine, Clipped
from dusttui.tui.widgets.block_table import BlockTable
from dusttui.tui.widgets.editors import ConfigEditor, InputsEditor, JsonEditor
from dusttui.tui.widgets.lists import AppsList, AppsPane, RunsList
from dusttui.tui.widgets.run_panel import Hints, RunPanel
from dusttui.tui.widgets.run_rows import input_count
from dusttui.tui.widgets.status_line import StatusLine

if TYPE_CHECKING:
    from dusttui.api.models import App


def curl_note(key_source: str | None, base_url: str) -> str:
    """What copying a launch as curl says: where the key comes from and, for the local engine,
    that its port is temporary (never the key itself)."""
    if key_source is None:
        return "Copied the launch as curl (the key reads $DUST_API_KEY)."
    where = (
        f'export DUST_API_KEY="$(cat {key_source})"'
        if not key_source.startswith("$")
        else f'export DUST_API_KEY="{key_source}"'
    )
    port = base_url.rsplit(":", 1)[-1].strip("/")
    return (
        "Copied the launch as curl. It reads the key from $DUST_API_KEY: the local engine's key "
        f"is in {key_source} ({where}). Port {port} is temporary: the local engine gets a new "
        "one when it starts again (`dusttui engine status` shows it)."
    )


def hints_for(keymap: dict[str, str]) -> Hints:
    """The keys the run pane names, after the user's keymap."""
    return Hints(**{field.name: shown_key(field.name, keymap) for field in fields(Hints)})


class MainScreen(EditingScreen):
    """The launcher and live monitor."""

    BINDINGS = bindings(SCREEN_KEYS)
    AUTO_FOCUS = "#apps-list"

    def __init__(self) -> None:
        super().__init__()
        self.shown_key: str | None = None
        self.input_index = 0
        self._stepped_run: str | None = None  # the run n / N last stepped through
        self._follow_key: str | None = None  # a run just launched: the runs list moves to it

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        with Horizontal(id="body"):
            with Vertical(id="sidebar"):
                yield Static(Text("Apps"), classes="pane-title")
                yield AppsPane(id="apps")
                yield Clipped(lines=3, id="app-description")
                yield Static(Text("Runs"), classes="pane-title")
                yield RunsList(id="runs")
            with Vertical(id="work"):
                yield AppLine(id="app-line")
                with Container(id="panes"):  # stacked; side by side on wide screens
                    with TabbedContent(id="tabs"):
                        with TabPane("Config", id="tab-config"):
                            yield ConfigEditor(
                                "{}", blocks=self.blocks, providers=self.providers, id="config"
                            )
                        with TabPane("Inputs", id="tab-inputs"):
                            yield InputsEditor("[]", id="inputs")
                        with TabPane("Spec", id="tab-spec"), VerticalScroll(id="spec-scroll"):
                            yield Static(id="spec")
                    yield RunPanel(id="run")
        yield Footer()

    def on_mount(self) -> None:
        self.call_after_refresh(self._settle)

    def _settle(self) -> None:
        """Once the panes' own children exist: subscribe to what the App publishes, fill in."""
        dust = self.dust
        self.query_one(StatusLine).backend = dust.backend.label
        if not dust.cursor_blink:
            for widget in self.query("TextArea, Input"):
                widget.cursor_blink = False  # type: ignore[attr-defined]
        # What the user did on the start screen is taken over once the apps are listed
        # (apps_listed), the focus with it: no other focus meanwhile, it would flicker.
        self._carried = dust.start_carried
        if self._carried is None and self.focused is None:
            self.query_one("#apps-list").focus()
        panel = self.query_one(RunPanel)
        panel.hints = hints_for(dust.keymap_in_use)
        panel.clear(self.no_run_text())
        tabs = self.query_one(TabbedContent)
        for pane, label, key in (
            ("tab-config", "Config", panel.hints.focus_config),
            ("tab-inputs", "Inputs", panel.hints.focus_inputs),
            ("tab-spec", "Spec", panel.hints.focus_spec),
        ):
            tabs.get_tab(pane).label = Text.assemble((key, "bold"), f" {label}")
        dust.run_changed.subscribe(self, self._run_changed)
        dust.runs_changed.subscribe(self, self._runs_changed)
        self.watch(dust, "apps", self.apps_listed, init=dust.apps_source is not None)
        self.read_drafts()
        self.watch(dust, "connection", self._connection_changed)
        self.watch(dust, "mode", self._mode_changed, init=False)
        self.watch(dust, "theme", self._theme_changed, init=False)
        self._runs_changed(None)
        self._show_connection()
        dust.main_screen_ready()

    # ------------------------------------------------------------------ apps

    @on(AppsPane.Highlighted)
    def _app_highlighted(self, event: AppsPane.Highlighted) -> None:
        self.select_app(event.app)
        self.keep_drafts()

    @on(JsonEditor.Edited)
    def _edited(self, event: JsonEditor.Edited) -> None:
        self.keep_drafts()

    def _mode_changed(self, mode: str) -> None:
        self._show_app_line()

    def _connection_changed(self, connection: str) -> None:
        error = self.dust.connection_error
        if error is not None:
            self.query_one(AppLine).show_message(f"✗ {error}")
        self._show_connection()

    def _theme_changed(self, theme: str) -> None:
        # Status cells and the runs list carry theme colours as styles: repaint them.
        shown = self.shown_run
        if shown is not None:
            self.query_one(RunPanel).table.reset()
            self.refresh_run(shown)
        self._runs_changed(None)

    # ------------------------------------------------------------------ runs

    @property
    def shown_run(self) -> TrackedRun | None:
        """The run in the run pane."""
        return self.dust.runs.get(self.shown_key or "")

    def show_run(self, run: TrackedRun | None) -> None:
        """Make ``run`` the run shown in the run pane."""
        panel = self.query_one(RunPanel)
        if run is None:
            self.shown_key = None
            panel.clear(self.no_run_text())
            self._show_connection()
            return
        if run.key != self.shown_key:
            self.shown_key = run.key
            self.input_index = 0
            panel.error_cursor = 0
            self._stepped_run = None
            panel.table.reset()
        self.refresh_run(run)

    def no_run_text(self) -> str:
        """What the run pane says before any run, with the launch key as the keymap makes it."""
        return f"No run yet: pick an app and press {self.query_one(RunPanel).hints.launch} to launch one."

    def refresh_run(self, run: TrackedRun) -> None:
        """The run changed: update the pane (if it is the one shown) and the status line."""
        if run.key != self.shown_key:
            return
        panel = self.query_one(RunPanel)
        panel.show(run, self.dust.clock(), self.input_index, self._spec_of(run))
        self._show_connection()

    def _spec_of(self, run: TrackedRun) -> list[tuple[str, str]] | None:
        """The blocks of the run's app, when the run ran the version the app has now (blocks the
        run never reached are then listed as not run)."""
        app = next((a for a in self.dust.apps if a.sId == run.app_id), None)
        if app is None:
            return None
        asked = run.specification_hash
        if asked not in (None, "latest") and asked != saved_specification_hash(app):
            return None
        return spec_blocks(app.savedSpecification)

    def _show_connection(self) -> None:
        """The status line: the shown run's connection while it is followed, else the app's."""
        run = self.shown_run
        line = self.query_one(StatusLine)
        starting = self.dust.connector.lists_folder and self.dust.connection in (
            "starting",
            "connecting",
        )
        if run is None or run.done:
            line.show(self.dust.connection, "local engine starting" if starting else None)
        elif run.connection == "starting":
            line.show("connecting", "local engine starting")
        elif run.connection == "reconnecting":
            wait = f" in {run.retry_in:g} s" if run.retry_in is not None else ""
            retry = f" · retry {run.retry}{wait}" if run.retry else ""
            line.show("reconnecting", f"connection lost to {run.host}{retry}")
        elif run.waiting:
            line.show("waiting", "waiting for the answer")
        else:
            line.show(run.connection)

    def _run_changed(self, run: TrackedRun) -> None:
        self.refresh_run(run)

    def _runs_changed(self, _: None) -> None:
        runs = self.query_one(RunsList)
        follow, self._follow_key = self._follow_key, None
        items = self.dust.run_labels_text()
        runs.set_items(items)
        keys = [key for key, _ in items]
        if follow in keys:  # a run launched from here: the list moves to it, even when focused
            runs.highlighted = keys.index(follow)
        elif follow is not None:
            self._follow_key = follow  # not listed yet: next time

    @on(RunsList.Chosen)
    def _run_chosen(self, event: RunsList.Chosen) -> None:
        if event.key in self.dust.runs or event.opened:
            self.open_run(event.key)

    def open_run(self, key: str) -> None:
        """Show a run of this session, or open one of the history (read from the server)."""
        if key in self.dust.runs:
            self.show_run(self.dust.runs[key])
        elif key.startswith("j:"):
            run = self.dust.open_history(key[2:])
            if run is not None:
                self._follow_key = run.key
                self.show_run(run)

    def pick_app(self, app_id: str) -> None:
        """Select an app (clearing a filter that hides it)."""
        pane = self.query_one(AppsPane)
        if not pane.select(app_id):
            app = next((a for a in self.dust.apps if a.sId == app_id), None)
            if app is not None:
                self.select_app(app)

    @on(BlockTable.Highlighted)
    def _block_highlighted(self, event: BlockTable.Highlighted) -> None:
        run = self.shown_run
        if run is not None:
            self.refresh_run(run)

    # ------------------------------------------------------------------ actions

    def _valid_request(self, refusal: str) -> tuple[App, dict[str, Any], list[Any]] | None:
        """The app, config and inputs of the next launch, or None (and why) if one is invalid."""
        app = self.current_app
        if app is None:
            self.dust.say(self.dust.no_app_reason(), severity="warning")
            return None
        config, inputs = self.query_one(ConfigEditor), self.query_one(InputsEditor)
        for editor, tab in ((config, "tab-config"), (inputs, "tab-inputs")):
            editor.recheck()
            if not editor.check.ok:
                self.query_one(TabbedContent).active = tab
                self.dust.say(f"{refusal} — {editor.check.message}", severity="error")
                return None
        problem = self.app_problem()
        if problem is not None and self.hash_to_run() == "latest":
            self.query_one(TabbedContent).active = "tab-spec"
            self.dust.say(
                f"{refusal} — {problem}. Fix the file (the Spec tab shows where), or pick an "
                f"earlier version with {self.query_one(RunPanel).hints.hash}.",
                severity="error",
                timeout=10,
            )
            return None
        return app, config.check.value, inputs.check.value

    def action_launch(self) -> None:
        """Launch a run with the editors' config and inputs, if both are valid."""
        request = self._valid_request("Not sent")
        if request is None:
            return
        app, config, inputs = request
        if isinstance(config, list):  # a list of configs: one run each, side by side
            self.dust.try_configs(app, self.hash_to_run(), config, inputs)
            return
        run = self.dust.launch_run(app, self.hash_to_run(), config, inputs)
        self._follow_key = run.key  # the runs list moves to it too
        self.show_run(run)

    def action_copy_curl(self) -> None:
        """Copy the next launch as a curl command; the key stays `$DUST_API_KEY`."""
        request = self._valid_request("Not copied")
        if request is None:
            return
        if not self.dust.connector.connected:
            self.dust.say(
                f"Not copied — {self.dust.connector.host} is not connected yet: try again in a "
                "moment.",
                severity="warning",
            )
            return
        client = self.dust.connector.client
        from dusttui.api.client import as_curl

        app, config, inputs = request
        if isinstance(config, list):
            self.dust.say("Several configs: copy one run at a time.", severity="warning")
            return
        mode = self.dust.mode
        http_request = client.build_create_run_request(
            app.sId,
            self.hash_to_run(),
            config,
            inputs,
            stream=mode == "stream",
            blocking=mode == "blocking",
        )
        self.app.copy_to_clipboard(as_curl(http_request))
        self.dust.say(
            curl_note(self.dust.connector.local_key_source(), client.base_url), timeout=15
        )

    def action_rerun(self) -> None:
        """Launch the shown run again with its hash, config and inputs."""
        if self.shown_key is None:
            self.dust.say("Select a run in the runs list first.", severity="warning")
            return
        run = self.dust.rerun(self.shown_key)
        if run is not None:
            self._follow_key = run.key  # the runs list moves to it (even while it has the keys)
            self.show_run(run)

    def action_cancel(self) -> None:
        """Cancel the shown run, once confirmed (on dust.tt: stop watching it)."""
        run = self.shown_run
        if run is None or run.done:
            self.dust.say("No running run to cancel here.", severity="warning")
            return
        key = run.key

        def answer(yes: bool | None) -> None:
            if yes:
                self.dust.cancel_run(key)

        self.app.push_screen(ConfirmScreen(self.dust.cancel_question(run)), answer)

    def action_cycle_mode(self) -> None:
        """stream → poll → blocking → stream."""
        self.dust.set_mode(MODES[(MODES.index(self.dust.mode) + 1) % len(MODES)])
        self.dust.say(f"Launch mode: {self.dust.mode}")

    def action_traces(self) -> None:
        """Open the trace explorer on the shown run."""
        self.dust.open_explorer(self.shown_key)

    def action_diff(self) -> None:
        """Compare the shown run with the run before it (or the one marked with D)."""
        self.dust.open_diff(self.shown_key)

    def action_mark_diff(self) -> None:
        """Mark the shown run as the "before" of the next diff."""
        self.dust.mark_for_diff(self.shown_key)

    def action_rerun_failed(self) -> None:
        """Re-run the shown run's failed inputs; show the re-run, then the merged run."""

        def show(key: str) -> None:
            self._follow_key = key  # the runs list moves to it
            self.open_run(key)

        self.dust.rerun_failed(self.shown_key, show)

    def _step_error(self, step: int) -> None:
        run = self.shown_run
        errors = run.state.errors if run is not None and run.state is not None else []
        if run is None or not errors:
            self.dust.say("This run has no errors.")
            return
        panel = self.query_one(RunPanel)
        if self._stepped_run != run.key:  # the first n shows the first error, N the last
            self._stepped_run = run.key
            panel.error_cursor = 0 if step > 0 else len(errors) - 1
        else:
            panel.error_cursor = (panel.error_cursor + step) % len(errors)
        ref = errors[panel.error_cursor]
        self.input_index = ref.input_index
        panel.table.user_moved = True
        panel.table.select_key(f"{ref.block_type}:{ref.block_name}")
        self.refresh_run(run)

    def action_full_error(self) -> None:
        """The error panel: the whole message, or one line of it again."""
        self.query_one(RunPanel).toggle_errors()
        run = self.shown_run
        if run is not None:
            self.refresh_run(run)

    def action_next_error(self) -> None:
        """Select the next block that errored."""
        self._step_error(1)

    def action_prev_error(self) -> None:
        """Select the previous block that errored."""
        self._step_error(-1)

    def _step_input(self, step: int) -> None:
        run = self.shown_run
        count = input_count(run.state) if run is not None and run.state is not None else 0
        index = max(0, min(self.input_index + step, count - 1))
        if index == self.input_index and count:
            edge = "last" if step > 0 else "first"
            self.dust.say(f"Input {index} is the {edge} of {count}.")
        self.input_index = index
        if run is not None:
            self.refresh_run(run)

    def action_next_input(self) -> None:
        """Tokens of the next input."""
        self._step_input(1)

    def action_prev_input(self) -> None:
        """Tokens of the previous input."""
        self._step_input(-1)

    def action_filter(self) -> None:
        """Focus the apps filter."""
        self.query_one("#apps-filter", Input).focus()

    def action_leave_editor(self) -> None:
        """Back from an editor or the filter to the apps list; the filter is cleared."""
        focused = self.focused
        if isinstance(focused, Input) and focused.id == "apps-filter":
            self.query_one(AppsPane).clear_filter()
        if isinstance(focused, TextArea | Input) or focused is self.query_one("#spec-scroll"):
            self.query_one(AppsList).focus()

    def action_copy(self) -> None:
        """Copy the shown run's id."""
        run = self.shown_run
        if run is None or run.run_id is None:
            self.dust.say("No run id to copy yet.", severity="warning")
            return
        self.app.copy_to_clipboard(run.run_id)
        self.dust.say(f"Copied run id {run.run_id[:12]}… to the clipboard.")

    def action_requests(self) -> None:
        """Open the request log: every API call of this session."""
        self.dust.open_requests()

    def action_export(self) -> None:
        """Write the shown run as JSON into the data folder."""
        self.dust.export_run(self.shown_key)
