"""The diff screen's keys, each with an id (remappable: ``diff.*``) and a tooltip."""

from __future__ import annotations

from textual.binding import Binding, BindingType

SCREEN_BINDINGS: list[BindingType] = [
    Binding("escape", "back", "Back", id="diff.back", tooltip="Close the diff"),
    Binding(
        "n",
        "next_difference",
        "Next",
        id="diff.next",
        tooltip="Jump to the next difference",
    ),
    Binding(
        "N",
        "prev_difference",
        "Prev",
        id="diff.prev",
        tooltip="Jump to the previous difference",
    ),
    Binding(
        "b",
        "toggle_blocks",
        "Blocks",
        id="diff.blocks",
        tooltip="Show each block's counts, latency and tokens (again: the differences)",
    ),
    Binding(
        "k",
        "next_kind",
        "Next kind",
        id="diff.next_kind",
        tooltip="Jump to the first difference of the next kind (changed, broken, fixed, only A, only B)",
        show=False,
    ),
    Binding(
        "question_mark,f1",
        "help",
        "Help",
        id="diff.help",
        tooltip="Show the diff's keys (this overlay)",
    ),
]
