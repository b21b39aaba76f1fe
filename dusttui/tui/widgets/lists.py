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
        """Show these apps (keeping the filter and, when still there, the selection)."""
        self._apps = list(apps)
        self._refill()

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
        option_list.set_options(Option(Text(safe.line(app.name)), id=app.sId) for app in shown)
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
