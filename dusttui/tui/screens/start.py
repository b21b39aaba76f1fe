"""The first frame: the layout, the backend and the keys, drawn before anything heavy loads.

It is replaced by the main screen right after it is on screen (the editors, the block table and
the engine come then), so a user sees where they are at once.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from dusttui.tui.keys import SCREEN_KEYS, bindings
from dusttui.tui.widgets.status_line import StatusLine


class StartScreen(Screen[None]):
    """Same frame as the main screen (status line, panes, footer), with the panes still empty."""

    BINDINGS = bindings(SCREEN_KEYS)  # the footer shows the keys that will work a moment later

    def __init__(self, backend_label: str) -> None:
        super().__init__()
        self._backend_label = backend_label

    def compose(self) -> ComposeResult:
        yield StatusLine(self._backend_label, id="status")
        with Horizontal(id="body"):
            with Vertical(id="sidebar"):
                yield Static(Text("Apps"), classes="pane-title")
                yield Static(Text(" loading…"), id="apps")
                yield Static(Text("Runs"), classes="pane-title")
                yield Static(id="runs")
            with Vertical(id="work"):
                yield Static(Text("Loading apps…"), id="app-line")
        yield Footer()
