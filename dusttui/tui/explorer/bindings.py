"""The trace explorer screen's keys, each with an id and a tooltip (the help overlay lists them).

The footer shows them in this order and cuts what does not fit: closing and help come first.
"""

from __future__ import annotations

from textual.binding import Binding, BindingType

SCREEN_BINDINGS: list[BindingType] = [
    Binding(
        "escape",
        "back",
        "Close",
        id="explorer.back",
        tooltip="Close the trace explorer (in the search box: leave the box)",
    ),
    Binding(
        "question_mark,f1",
        "help",
        "Help",
        id="explorer.help",
        tooltip="Show the explorer's keys (this overlay)",
    ),
    Binding(
        "n",
        "next_error",
        "Next error",
        id="explorer.next_error",
        tooltip="Jump to the next error of the run",
    ),
    Binding(
        "N",
        "prev_error",
        "Prev error",
        id="explorer.prev_error",
        tooltip="Jump to the previous error of the run",
        show=False,
    ),
    Binding(
        "slash",
        "search",
        "Search",
        id="explorer.search",
        tooltip="Search every value and error",
    ),
    Binding(
        "f",
        "errors_only",
        "Errors only",
        id="explorer.errors_only",
        tooltip="Show only inputs with errors (tree and grid)",
    ),
    Binding(
        "y",
        "copy('value')",
        "Copy",
        id="explorer.copy_value",
        tooltip="Copy what the cursor is on: an execution's value (its error if it failed), "
        "the value under the JSON cursor, or the error box (OSC 52)",
    ),
    Binding(
        "Y",
        "copy('path')",
        "Copy path",
        id="explorer.copy_path",
        tooltip="Copy the JSON path under the value view's cursor",
        show=False,
    ),
    Binding(
        "x",
        "export",
        "Export",
        id="explorer.export",
        tooltip="Export executions to JSON, JSONL or CSV",
    ),
    Binding(
        "1",
        "view('tree')",
        "Tree",
        id="explorer.view_tree",
        tooltip="View 1: the tree of blocks, inputs and iterations",
        show=False,
    ),
    Binding(
        "2",
        "view('grid')",
        "Grid",
        id="explorer.view_grid",
        tooltip="View 2: the grid of inputs × blocks",
        show=False,
    ),
    Binding(
        "3",
        "view('errors')",
        "Errors",
        id="explorer.view_errors",
        tooltip="View 3: errors grouped by message",
        show=False,
    ),
    Binding(
        "4",
        "view('search')",
        "Search",
        id="explorer.view_search",
        tooltip="View 4: search results (/ types a new search)",
        show=False,
    ),
    Binding(
        "5",
        "view('stats')",
        "Stats",
        id="explorer.view_stats",
        tooltip="View 5: tokens and latency per block",
        show=False,
    ),
]
