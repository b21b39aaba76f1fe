"""The first frame: the layout, the backend, the local apps' names and the keys, before anything
heavy loads.

It is replaced by the main screen as soon as that is ready (the local apps read whole from their
files, or at once for a remote backend). Until then the apps list already works: the cursor
moves, `/` filters; the main screen takes over the filter, the app under the cursor and the focus
(:class:`Carried`). Those keys are taken at once, as the App receives them (:meth:`take_key`), so
none is still on its way through the widgets when the main screen takes over. Keys that need the
main screen say plainly that it is loading.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input, OptionList, Static
from textual.widgets.option_list import Option

from dusttui.tui import safe
from dusttui.tui.keys import SCREEN_KEYS, bindings
from dusttui.tui.widgets.status_line import StatusLine

if TYPE_CHECKING:
    from dusttui.tui.app import DustApp

# What the start screen does itself; every other key of the main screen waits for it.
OWN_ACTIONS = frozenset({"filter", "leave_editor"})


@dataclass(frozen=True)
class Carried:
    """What the user did on the start screen, for the main screen to take over."""

    filter: str
    app_name: str | None  # the app under the cursor
    focus: str  # "filter", "list", or "" (the focus was elsewhere)


class StartScreen(Screen[None]):
    """Same frame as the main screen (status line, panes, footer); the apps list shows the local
    apps' names when they are known (read from their folder: no engine needed), else waits."""

    DEFAULT_CSS = """
    StartScreen #apps { height: 1fr; }
    StartScreen #apps > Input { height: 1; border: none; padding: 0 1; background: $surface; }
    StartScreen #apps > Input:focus { border: none; background: $primary 20%; }
    StartScreen #apps > OptionList { height: 1fr; border: none; }
    """
    BINDINGS = bindings(SCREEN_KEYS)  # the footer shows the keys of the main screen
    AUTO_FOCUS = "#apps-list"

    def __init__(self, backend_label: str, app_names: list[str] | None = None) -> None:
        super().__init__()
        self._backend_label = backend_label
        self._names = app_names or []

    def compose(self) -> ComposeResult:
        yield StatusLine(self._backend_label, id="status")
        with Horizontal(id="body"):
            with Vertical(id="sidebar"):
                yield Static(Text("Apps"), classes="pane-title")
                if self._names:
                    with Vertical(id="apps"):  # drawn as the main screen's apps pane
                        yield Input(
                            placeholder="/ filter apps", id="apps-filter", select_on_focus=False
                        )
                        yield OptionList(
                            *(Option(Text(safe.line(n)), id=n) for n in self._names), id="apps-list"
                        )
                else:
                    yield Static(Text(" loading…"), id="apps")
                yield Static(Text("Runs"), classes="pane-title")
                yield Static(id="runs")
            with Vertical(id="work"):
                yield Static(Text("Loading apps…"), id="app-line")
        yield Footer()

    def on_mount(self) -> None:
        if self._names:
            self.query_one(OptionList).highlighted = 0

    def on_screen_resume(self) -> None:
        self._dust.start_screen_resumed()

    @property
    def _dust(self) -> DustApp:
        return cast("DustApp", self.app)

    def carried(self) -> Carried | None:
        """The filter, the app under the cursor and which of the two has the keys (None: no
        apps were listed here)."""
        if not self._names:
            return None
        apps_list, filter_box = self.query_one(OptionList), self.query_one(Input)
        option = apps_list.highlighted_option
        focused = self.focused
        focus = "filter" if focused is filter_box else "list" if focused is apps_list else ""
        return Carried(filter_box.value, option.id if option is not None else None, focus)

    # ------------------------------------------------------------------ the list works already

    _LIST_MOVES = {
        "up": "cursor_up",
        "down": "cursor_down",
        "home": "first",
        "end": "last",
        "pageup": "page_up",
        "pagedown": "page_down",
    }

    def take_key(self, event: events.Key) -> bool:
        """Handle a key of the apps list or its filter now (True), or leave it to the usual
        way (False: bindings, which say the main screen is loading)."""
        if not self._names:
            return False
        apps_list, filter_box = self.query_one(OptionList), self.query_one(Input)
        key = event.key
        if key in self._LIST_MOVES:
            getattr(apps_list, f"action_{self._LIST_MOVES[key]}")()
        elif self.focused is filter_box:
            if key in ("enter", "escape", "tab"):
                self.set_focus(apps_list)
            elif key == "backspace":
                filter_box.action_delete_left()
                self._refilter()
            elif event.is_printable and event.character:
                filter_box.insert_text_at_cursor(event.character)
                self._refilter()
            else:
                return False
        elif key == "slash" or (key == "tab" and self.focused is apps_list):
            self.set_focus(filter_box)
        else:
            return False
        return True

    def _refilter(self) -> None:
        apps_list = self.query_one(OptionList)
        current = apps_list.highlighted_option
        needle = self.query_one(Input).value.strip().lower()
        shown = [n for n in self._names if needle in n.lower()]
        apps_list.set_options(Option(Text(safe.line(n)), id=n) for n in shown)
        if shown:
            keep = current.id if current is not None else None
            apps_list.highlighted = shown.index(keep) if keep in shown else 0

    @on(Input.Changed, "#apps-filter")
    def _filter_changed(self) -> None:
        self._refilter()  # a paste (typed keys were filtered as they came)

    def action_filter(self) -> None:
        """Focus the apps filter."""
        if self._names:
            self.query_one(Input).focus()

    def action_leave_editor(self) -> None:
        """Back from the filter to the apps list."""
        if self._names:
            self.query_one(OptionList).focus()

    def _not_yet(self) -> None:
        self._dust.say("The apps are still loading: press it again in a moment.")


def _waits(action: str) -> None:
    setattr(StartScreen, f"action_{action}", lambda self: self._not_yet())


for _key in SCREEN_KEYS:
    if _key.action not in OWN_ACTIONS:
        _waits(_key.action)
