"""The explorer's help overlay: its own keys, read from the bindings themselves (not the main screen's)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from rich.table import Table
from rich.text import Text
from textual.binding import Binding, BindingType

from dusttui.tui.explorer.bindings import SCREEN_BINDINGS
from dusttui.tui.explorer.grid import TraceGrid
from dusttui.tui.explorer.value_view import ValueView
from dusttui.tui.keys import display_keys

# Keys of Textual's own widgets (tree, lists) that the explorer relies on.
OTHER_ROWS: tuple[tuple[str, str], ...] = (
    ("up / down, enter", "Move in the tree or a list; enter opens a block or a value"),
    ("tab / shift+tab", "Between the left pane and the value view"),
)


def _rows(bindings: Iterable[BindingType]) -> list[tuple[str, str]]:
    """(keys, what they do) for each binding with an id, in declaration order."""
    rows = []
    for binding in bindings:
        if isinstance(binding, Binding) and binding.id:
            keys = re.sub(r"\bf(\d+)\b", r"F\1", display_keys(binding.key))  # shift+f3 → shift+F3
            rows.append((keys, binding.tooltip or binding.description))
    return rows


def explorer_key_rows() -> list[tuple[str, str, str]]:
    """(section, keys, help) rows: the screen's keys, then the grid's and the value view's."""
    rows = [("", keys, text) for keys, text in _rows(SCREEN_BINDINGS)]
    rows += [("grid", keys, text) for keys, text in _rows(TraceGrid.BINDINGS)]
    rows += [("value", keys, text) for keys, text in _rows(ValueView.BINDINGS)]
    rows += [("", keys, text) for keys, text in OTHER_ROWS]
    return rows


def explorer_key_table() -> Table:
    """The explorer's keys as a two-column table (widget keys say where they apply)."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for section, keys, text in explorer_key_rows():
        where = f"{section}: " if section else ""
        table.add_row(Text(keys), Text(where + text))
    return table
