"""The help overlay (`?` / F1): every key, as the user's keymap makes it."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from dusttui.tui.keys import OTHER_KEYS, display_keys, effective_keys

CLOSE = "escape, q, ? or F1 closes this"


def key_table(keymap: dict[str, str]) -> Table:
    """The keys as a table: keys, what they do, and the id to remap them by in `[keymap]`."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    table.add_column(style="dim", no_wrap=True)
    for key, keys in effective_keys(keymap):
        table.add_row(Text(display_keys(keys)), Text(key.help), Text(key.id))
    for keys, text in OTHER_KEYS:
        table.add_row(Text(keys), Text(text), Text(""))
    return table


class HelpScreen(ModalScreen[None]):
    """A scrollable list of every key; escape, q, ? or F1 closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 104; max-width: 95%; height: auto; max-height: 90%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    HelpScreen .title { text-style: bold; padding-bottom: 1; }
    """

    BINDINGS = [
        Binding(
            "escape,q,question_mark,f1",
            "dismiss",
            "close",
            id="close_help",
            tooltip="Close the help",
        ),
    ]

    def __init__(
        self, keymap: dict[str, str], *, title: str | None = None, table: Table | None = None
    ) -> None:
        super().__init__()
        self._keymap = keymap
        self._title = title  # another screen (the trace explorer) shows its own keys
        self._table = table

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            title = self._title or (
                f"dusttui keys — {CLOSE}\n"
                "Remap a key in the config file (dusttui locate config) under [keymap] by the id "
                'in the last column, e.g. launch = "f5".'
            )
            yield Static(Text(title), classes="title")
            yield Static(self._table if self._table is not None else key_table(self._keymap))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
