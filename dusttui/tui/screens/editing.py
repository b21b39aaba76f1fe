"""The main screen's app side: the selected app, its config and inputs drafts, its Spec tab and
the version the next launch runs.

Drafts are kept per app across restarts (:mod:`dusttui.tui.drafts`, read and written in a
thread); an app's files changing (the apps folder is watched) update what is shown without
losing what the user typed; ``S`` saves a draft back as the app's saved config and sample
inputs on the local engine.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.screen import Screen
from textual.widgets import Static, TabbedContent

from dusttui.specs import engine_extension, saved_specification_hash
from dusttui.tui import safe
from dusttui.tui.app_files import defaults_of, replace_file, same_text, spec_source
from dusttui.tui.drafts import Draft, DraftStore, backend_key
from dusttui.tui.screens.hash import HashScreen, Version
from dusttui.tui.screens.prompt import PromptScreen
from dusttui.tui.validation import spec_blocks
from dusttui.tui.widgets.app_line import AppLine, AppLineData, Clipped
from dusttui.tui.widgets.editors import ConfigEditor, InputsEditor
from dusttui.tui.widgets.lists import AppsList, AppsPane
from dusttui.tui.widgets.run_panel import RunPanel
from dusttui.tui.widgets.spec_view import parse_problem, source_view

if TYPE_CHECKING:
    from dusttui.api.models import App
    from dusttui.tui.app import DustApp
    from dusttui.tui.screens.start import Carried


class EditingScreen(Screen[None]):
    """What the main screen knows of the selected app (it composes the widgets)."""

    def __init__(self) -> None:
        super().__init__()
        self.current_app: App | None = None
        self.drafts: dict[str, Draft] = {}
        self._defaults: dict[str, tuple[str, str]] = {}  # app sId → its defaults when shown
        self._default_values: dict[str, tuple[object, object]] = {}  # the same, parsed
        self._verdicts: dict[str, Draft | None] = {}  # what the drafts file keeps of each app
        self._hashes: dict[tuple[str, str | None], str | None] = {}
        self._stored: dict[str, Draft] | None = None  # the drafts file, once read
        self._writing = False
        self._dirty = False
        self._carried: Carried | None = None  # the start screen's apps list, until listed here

    @property
    def dust(self) -> DustApp:
        """The App, typed."""
        return self.app  # type: ignore[return-value]

    # ------------------------------------------------------------------ the selected app

    def blocks(self) -> list[tuple[str, str]] | None:
        """The blocks of the selected app (None: unknown, names go unchecked)."""
        return spec_blocks(self.current_app.savedSpecification) if self.current_app else None

    def providers(self) -> list[str] | None:
        """The provider ids the engine knows (None: not known, provider_id goes unchecked)."""
        return self.dust.apps_folder.providers

    def apps_listed(self, apps: list[App]) -> None:
        """The apps were (re-)listed: update the list and the selected app's tabs."""
        pane = self.query_one(AppsPane)
        pane.set_apps(apps)
        carried, self._carried = self._carried, None
        if carried is not None:  # the start screen's filter, cursor and focus (h10)
            app = pane.restore(carried.filter, carried.app_name, focus=carried.focus)
            if app is not None:  # now: keys typed meanwhile are replayed right after this
                self.select_app(app)
        elif self.focused is None:
            self.query_one(AppsList).focus()
        if not apps:
            self.query_one(AppLine).show_message("No apps in this workspace.")
        current = self.current_app
        if current is not None:
            now = next((a for a in apps if a.sId == current.sId), None)
            if now is not None and now is not current:
                self._app_changed(now)

    def _app_changed(self, app: App) -> None:
        """The selected app's files changed: keep the user's edits, take the new defaults."""
        self._save_draft()
        old = self._defaults.get(app.sId)
        new = defaults_of(app)
        draft = self.drafts[app.sId]
        self.current_app = app
        self._defaults[app.sId] = new
        self._default_values.pop(app.sId, None)
        config, inputs = self.query_one(ConfigEditor), self.query_one(InputsEditor)
        if old is not None and same_text(draft.config, old[0]) and new[0] != old[0]:
            draft.config = new[0]
            config.load(new[0])
        if old is not None and same_text(draft.inputs, old[1]) and new[1] != old[1]:
            draft.inputs = new[1]
            inputs.load(new[1])
        config.recheck()
        self._show_app(app)
        self.keep_drafts()

    def select_app(self, app: App) -> None:
        """Show an app: its draft (or saved config and sample inputs), its spec and hash."""
        self._save_draft()
        self.current_app = app
        self._defaults[app.sId] = defaults = defaults_of(app)
        self._default_values.pop(app.sId, None)
        draft = self.drafts.get(app.sId)
        if draft is None:
            draft = Draft(*defaults)
            self.drafts[app.sId] = draft
        self.query_one(ConfigEditor).load(draft.config)
        self.query_one(InputsEditor).load(draft.inputs)
        self._show_app(app)

    def _show_app(self, app: App) -> None:
        self.query_one("#app-description", Clipped).show(app.description or "(no description)")
        self._show_app_line()
        self.query_one("#spec", Static).update(Text("Reading the specification…", style="dim"))
        self._read_spec(app)

    @work(name="spec", exit_on_error=False, thread=True, group="spec")
    def _read_spec(self, app: App) -> None:
        """The Spec tab: the .dust source, highlighted, any parse error at its line."""
        text, where = spec_source(app)
        error = engine_extension(app).get("specificationError")
        problem = parse_problem(error) if isinstance(error, str) and error else None
        spec_hash = saved_specification_hash(app)
        # One line (the short hash: the full one is in the h dialog): at 80×24 the tab is short.
        version = f"version {spec_hash[:12]}" if spec_hash else "no runnable version"
        shown = Text(f"{safe.line(where)} · {version}\n\n", style="dim")
        if text is None:
            if problem is not None:
                shown.append(f"✗ {safe.line(problem.message)}", style="bold red")
        else:
            shown.append_text(source_view(text, problem))
        self.app.call_from_thread(self._spec_read, app.sId, shown)

    def _spec_read(self, app_id: str, shown: Text) -> None:
        if self.current_app is not None and self.current_app.sId == app_id:
            self.query_one("#spec", Static).update(shown)

    def _save_draft(self) -> None:
        if self.current_app is None:
            return
        draft = self.drafts[self.current_app.sId]
        draft.config = self.query_one(ConfigEditor).text
        draft.inputs = self.query_one(InputsEditor).text

    def hash_to_run(self) -> str:
        """The specification hash the next launch uses."""
        app = self.current_app
        if app is None:
            return "latest"
        choice = self.drafts[app.sId].hash_choice
        if choice:
            return choice
        key = (app.sId, app.savedSpecification)  # a new version is a new key
        if key not in self._hashes:
            self._hashes[key] = saved_specification_hash(app)
        return self._hashes[key] or "latest"

    def app_problem(self) -> str | None:
        """Why the selected app's file does not parse, if it does not."""
        problem = (
            engine_extension(self.current_app).get("specificationError")
            if self.current_app
            else None
        )
        return problem if isinstance(problem, str) and problem else None

    def _show_app_line(self) -> None:
        app = self.current_app
        if app is None:
            return
        spec_hash = self.hash_to_run()
        origin = "typed" if self.drafts[app.sId].hash_choice else "saved"
        if spec_hash == "latest":
            origin = "latest"
        hints = self.query_one(RunPanel).hints
        self.query_one(AppLine).show_app(
            AppLineData(
                app.name,
                spec_hash,
                origin,
                self.dust.mode,
                hash_key=hints.hash,
                mode_key=hints.mode,
                spec_key=hints.focus_spec,
                problem=self.app_problem(),
            )
        )

    def action_change_hash(self) -> None:
        """Ask which version of the app to run: a known version, latest or a typed hash."""
        app = self.current_app
        if app is None:
            self.dust.say("Pick an app first.", severity="warning")
            return
        saved = saved_specification_hash(app)
        now = f" (now {saved[:8]})" if saved else ""
        follows = "the file" if engine_extension(app).get("path") else "the saved spec"
        versions = [Version("", f"saved version: follows {follows}{now}")]
        seen = self.dust.apps_folder.versions(app.sId)
        for spec_hash, when in seen:
            today = time.strftime("%Y-%m-%d") == time.strftime("%Y-%m-%d", time.localtime(when))
            at = time.strftime("%H:%M:%S" if today else "%Y-%m-%d %H:%M", time.localtime(when))
            what = (
                "this version, pinned" if spec_hash == saved else f"an earlier version, seen {at}"
            )
            versions.append(Version(spec_hash, what))
        for run in reversed(self.dust.runs.values()):
            asked = run.specification_hash
            if run.app_id == app.sId and asked and len(asked) == 64:
                if all(v.hash != asked for v in versions):
                    versions.append(Version(asked, f"run by {safe.line(run.run_id or '')[:8]}"))
        versions.append(Version("latest", "whatever the app's file holds at launch"))

        def done(answer: str | None) -> None:
            if answer is not None:
                self.drafts[app.sId].hash_choice = answer
                self._show_app_line()
                self.keep_drafts()

        question = f"Which version of {app.name} should the next launch run?"
        choice = self.drafts[app.sId].hash_choice
        self.app.push_screen(HashScreen(question, value=choice, versions=versions), done)

    def action_focus_config(self) -> None:
        """Focus the config editor."""
        self.query_one(TabbedContent).active = "tab-config"
        self.query_one(ConfigEditor).text_area.focus()

    def action_focus_inputs(self) -> None:
        """Focus the inputs editor."""
        self.query_one(TabbedContent).active = "tab-inputs"
        self.query_one(InputsEditor).text_area.focus()

    def action_focus_spec(self) -> None:
        """Show the Spec tab (the .dust source) and give it the keys (to scroll it)."""
        self.query_one(TabbedContent).active = "tab-spec"
        self.query_one("#spec-scroll").focus()

    def action_load_inputs(self) -> None:
        """Ask for a file and load inputs from it."""

        def done(answer: str | None) -> None:
            if answer and answer.strip():
                self.load_inputs_file(answer.strip())

        self.app.push_screen(
            PromptScreen(
                "Load inputs from a file",
                placeholder="path to a .json, .jsonl or .csv file",
                hint="a JSON array, JSON lines, or CSV with a header row · escape to cancel",
            ),
            done,
        )

    @work(name="load inputs", exclusive=True, exit_on_error=False, thread=True)
    def load_inputs_file(self, path: str) -> None:
        """Read an inputs file in a thread; errors become a notification."""
        from pathlib import Path

        from dusttui.tui.validation import InputsFileError
        from dusttui.tui.validation import load_inputs_file as read

        try:
            text = read(Path(path))
        except InputsFileError as exc:
            self.app.call_from_thread(self.dust.say, f"Inputs not loaded — {exc}", severity="error")
            return
        self.app.call_from_thread(self.inputs_loaded, text, Path(path).name)

    def inputs_loaded(self, text: str, source: str) -> None:
        """An inputs file was read: put it in the editor."""
        self.query_one(TabbedContent).active = "tab-inputs"
        editor = self.query_one(InputsEditor)
        editor.load(text)
        count = editor.check.count
        self.dust.say(f"Loaded {count} input{'s' if count != 1 else ''} from {source}.")

    # ------------------------------------------------------------------ drafts across restarts

    @property
    def _store(self) -> DraftStore:
        return DraftStore(self.dust.data_folder / "drafts.json")

    def _backend(self) -> str:
        return backend_key(self.dust.backend.base_url, self.dust.backend.workspace_id)

    @work(name="drafts-read", exit_on_error=False, thread=True, group="drafts")
    def read_drafts(self) -> None:
        """Read last session's drafts (in a thread), then restore them."""
        stored = self._store.load(self._backend())
        self.app.call_from_thread(self._drafts_read, stored)

    def _drafts_read(self, stored: dict[str, Draft]) -> None:
        self._stored = stored
        current = self.current_app.sId if self.current_app else None
        for sid, draft in stored.items():
            mine = self.drafts.get(sid)
            defaults = self._defaults.get(sid)
            untouched = mine is None or (
                defaults is not None
                and same_text(mine.config, defaults[0])
                and same_text(mine.inputs, defaults[1])
                and not mine.hash_choice
            )
            if untouched:
                self.drafts[sid] = draft
                if sid == current:
                    self.query_one(ConfigEditor).load(draft.config)
                    self.query_one(InputsEditor).load(draft.inputs)
                    self._show_app_line()
                    key = self.query_one(RunPanel).hints.save_back
                    self.dust.say(
                        f"Your config and inputs of the last session are back ({key} saves them "
                        "as the app's own).",
                        timeout=6,
                    )

    def keep_drafts(self) -> None:
        """Write the drafts that differ from their app's defaults (in a thread, one at a time)."""
        if self._stored is None:
            return  # the file is not read yet: writing now would lose last session's drafts
        self._save_draft()
        if self._writing:
            self._dirty = True
            return
        self._verdict()
        changes = dict(self._verdicts)
        self._writing = True
        self._write_drafts(changes)

    def _verdict(self) -> None:
        """The selected app's entry in the drafts file: None while it is the app's defaults.

        Compared through what the editors parsed already (an inputs text of megabytes is not
        parsed again at each key)."""
        app = self.current_app
        if app is None or app.sId not in self._defaults:
            return
        draft, (config, inputs) = self.drafts[app.sId], self._defaults[app.sId]
        values = self._default_values.get(app.sId)
        if values is None:
            values = self._default_values[app.sId] = (_parsed(config), _parsed(inputs))
        checks = (self.query_one(ConfigEditor).check, self.query_one(InputsEditor).check)
        same = not draft.hash_choice and all(
            text == default or (check.ok and check.value == value)
            for text, default, check, value in zip(
                (draft.config, draft.inputs), (config, inputs), checks, values, strict=True
            )
        )
        self._verdicts[app.sId] = (
            None if same else Draft(draft.config, draft.inputs, draft.hash_choice)
        )

    async def on_unmount(self) -> None:
        """Quitting while a write was under way: the last edits are written too (in a thread)."""
        if self._stored is not None and self._dirty:
            self._dirty = False
            await asyncio.to_thread(self._store.save, self._backend(), dict(self._verdicts))

    @work(name="drafts-write", exit_on_error=False, thread=True, group="drafts")
    def _write_drafts(self, changes: dict[str, Draft | None]) -> None:
        try:
            self._store.save(self._backend(), changes)
        except OSError as exc:
            why = f"Drafts not kept — {self._store.path}: {exc.strerror or exc}"
            self.app.call_from_thread(self.dust.say, why, severity="error")
        self.app.call_from_thread(self._written)

    def _written(self) -> None:
        self._writing = False
        if self._dirty:
            self._dirty = False
            self.keep_drafts()

    # ------------------------------------------------------------------ save back

    def action_save_back(self) -> None:
        """Save the config and inputs as the app's saved config and sample inputs (asks first)."""
        app = self.current_app
        if app is None:
            self.dust.say("Pick an app first.", severity="warning")
            return
        config, inputs = self.query_one(ConfigEditor), self.query_one(InputsEditor)
        for editor, tab in ((config, "tab-config"), (inputs, "tab-inputs")):
            editor.recheck()
            if not editor.check.ok or (isinstance(editor.check.value, list) and editor is config):
                self.query_one(TabbedContent).active = tab
                why = editor.check.message or "a list of configs: keep one with K in its grid"
                self.dust.say(f"Not saved — {why}", severity="error")
                return
        from dusttui.compare.grid import SaveError, config_target
        from dusttui.tui.screens.confirm import ConfirmScreen

        try:
            target = config_target(app, self.dust.settings.apps_dir)
        except SaveError as exc:
            self.dust.say(f"Not saved — {exc}", severity="warning", timeout=10)
            return
        inputs_file = target.with_name(target.name.removesuffix(".config.json") + ".inputs.jsonl")
        values = (config.check.value, inputs.check.value)

        def answer(yes: bool | None) -> None:
            if yes:
                self._save_back(target, inputs_file, *values)

        question = (
            f"Save this config as {target.name} and these {len(values[1])} inputs as "
            f"{inputs_file.name} in {target.parent}? They become {app.name}'s saved config and "
            "sample inputs (the files are replaced)."
        )
        self.app.push_screen(ConfirmScreen(safe.lines(question)), answer)

    @work(name="save-back", exit_on_error=False, thread=True, group="save-back")
    def _save_back(
        self, target: Path, inputs_file: Path, config: dict[str, Any], inputs: list[Any]
    ) -> None:
        from dusttui.compare.grid import SaveError, write_config

        try:
            write_config(target, config)
            lines = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in inputs)
            replace_file(inputs_file, lines)
        except (SaveError, OSError) as exc:
            self.app.call_from_thread(self.dust.say, f"Not saved — {exc}", severity="error")
            return
        said = f"Saved {target.name} and {inputs_file.name}: the app's own config and inputs now."
        self.app.call_from_thread(self.dust.say, said)
        self.app.call_from_thread(self.dust.apps_folder.ask_reload)


def _parsed(text: str) -> object:
    """A default's JSON value (a text that is not JSON stands for itself)."""
    try:
        return json.loads(text)
    except ValueError:
        return text
