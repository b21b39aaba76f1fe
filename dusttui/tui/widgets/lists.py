"""The left column: the apps list with filter-as-you-type, and the runs list (live + history)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from dusttui.tui import safe

if TYPE_CHECKING:
    from dusttui.api.models import App


class CursorList(OptionList):
    """An option list whose cursor shows as soon as it gets the focus (enter then acts on it)."""

    def on_focus(self, event: events.Focus) -> None:
        # Textual calls each class's handler along the MRO: no super() call here.
        if self.highlighted is None and self.option_count:
            self.highlighted = 0


def app_label(app: App) -> Text:
    """The app's name, with ` ✗` when the local engine says its files have a problem."""
    extension = (app.model_extra or {}).get("dusttui")
    broken = isinstance(extension, dict) and bool(
        extension.get("specificationError") or extension.get("problems")
    )
    name = safe.line(app.name)
    return Text(f"{name} ✗") if broken else Text(name)


class AppsList(CursorList):
    """The apps, one line each."""


class AppsPane(Vertical):
    """A filter box above the apps list; posts :class:`AppsPane.Highlighted` as the cursor moves."""

    DEFAULT_CSS = """
    AppsPane { height: 1fr; }
    AppsPane > Input { height: 1; border: none; padding: 0 1; background: $surface; }
    AppsPane > Input:focus { border: none; background: $primary 20%; }
    AppsPane > AppsList { height: 1fr; border: none; }
    """

    @dataclass
    class Highlighted(Message):
        """The app under the cursor changed."""

        app: App

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._apps: list[App] = []
        self._current: str | None = None

    def compose(self) -> ComposeResult:
        yield Input(placeholder="/ filter apps", id="apps-filter")
        yield AppsList(id="apps-list")

    @property
    def apps(self) -> list[App]:
        """Every app (unfiltered)."""
        return list(self._apps)

    @property
    def shown_apps(self) -> list[App]:
        """The apps the filter lets through, in order (not ``visible``: Textual's, a bool, says
        whether the pane shows at all; shadowing it took an empty list's pane out of focus)."""
        needle = self.query_one(Input).value.strip().lower()
        if not needle:
            return list(self._apps)
        return [a for a in self._apps if needle in a.name.lower() or needle in a.sId.lower()]

    def set_apps(self, apps: list[App]) -> None:
        """Show these apps (keeping the filter and, when still there, the selection). The same
        apps listed again (the local engine answering after their files were read) leave the
        rows as they are: nothing flickers."""
        rows = [(a.sId, app_label(a).plain) for a in apps]
        same = rows == [(a.sId, app_label(a).plain) for a in self._apps]
        self._apps = list(apps)
        if not same or not self.query_one(AppsList).option_count:
            self._refill()

    def restore(self, needle: str, app_name: str | None, *, focus: str) -> App | None:
        """Take over the start screen's apps list: its filter, the app under its cursor (returned,
        for the caller to show: it is not announced) and its focus ("filter", "list" or "" for
        neither), given now rather than a callback later, so the next key goes there."""
        filter_box = self.query_one(Input)
        with self.prevent(Input.Changed):
            filter_box.value = needle
        shown = self.shown_apps
        app = next((a for a in shown if a.name == app_name), shown[0] if shown else None)
        self._current = app.sId if app is not None else None
        self._refill()
        if focus == "filter":
            filter_box.select_on_focus = False  # what they typed stays, the cursor after it
            self.screen.set_focus(filter_box)
        elif focus == "list":
            self.screen.set_focus(self.query_one(AppsList))
        return app

    def select(self, app_id: str) -> bool:
        """Move the cursor to an app; False when it is not in the (filtered) list."""
        option_list = self.query_one(AppsList)
        try:
            option_list.highlighted = option_list.get_option_index(app_id)
        except Exception:  # OptionDoesNotExist: filtered out or unknown
            return False
        return True

    def clear_filter(self) -> None:
        """Empty the filter box: every app is listed again (the selection stays)."""
        box = self.query_one(Input)
        if box.value:
            box.value = ""  # Input.Changed refills the list
            self._refill()

    def _refill(self) -> None:
        option_list = self.query_one(AppsList)
        shown = self.shown_apps
        option_list.set_options(Option(app_label(app), id=app.sId) for app in shown)
        if not shown:
            return
        ids = [a.sId for a in shown]
        option_list.highlighted = ids.index(self._current) if self._current in ids else 0

    @on(Input.Changed, "#apps-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._refill()

    @on(Input.Submitted, "#apps-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one(AppsList).focus()

    @on(OptionList.OptionHighlighted, "#apps-list")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option is not self.query_one(AppsList).highlighted_option:
            return  # the list was refilled since: its own event says where the cursor is
        app = next((a for a in self._apps if a.sId == event.option.id), None)
        if app is not None and app.sId != self._current:
            self._current = app.sId
            self.post_message(self.Highlighted(app))


class RunsList(CursorList):
    """Runs of this session and of the journal, newest first; enter opens one."""

    BINDINGS = [Binding("enter", "select", "open run", show=False, id="open_run")]

    @dataclass
    class Chosen(Message):
        """The user asked to open a run (enter), or moved onto one (highlight)."""

        key: str
        opened: bool

    def set_items(self, items: list[tuple[str, Text]]) -> None:
        """Replace the items (key, label), keeping the cursor on the same key when possible."""
        current = self.highlighted_option.id if self.highlighted_option else None
        self.set_options(Option(label, id=key) for key, label in items)
        keys = [key for key, _ in items]
        if current in keys:
            self.highlighted = keys.index(current)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(self.Chosen(event.option.id, opened=False))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.post_message(self.Chosen(event.option.id, opened=True))
