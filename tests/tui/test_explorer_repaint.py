"""The explorer repaints only what changed: the terminal must still show what a full repaint shows.

A stand-in terminal applies every update the app sends (as a real terminal would); after each key
its cells are compared with a composition of the whole screen, every widget repainted from scratch.
"""

from __future__ import annotations

import asyncio

import pytest
from rich.cells import cell_len
from rich.segment import ControlType
from textual.widget import Widget

from dusttui.api.models import Run
from dusttui.tui.explorer.app import ExplorerApp
from dusttui.tui.explorer.fast_tree import FastTree

from .test_explorer import SIZE, _runs, explorer, value_text
from .test_explorer_pure import looped_run

SHORT = (96, 14)  # the trees scroll and show their scrollbars


@pytest.fixture(scope="module")
def runs(engine) -> dict[str, Run]:
    """Blocking runs of the demo apps on the real engine."""
    return asyncio.run(_runs(engine))


class Terminal:
    """The cells a terminal would show, from the updates the app writes to it."""

    def __init__(self, app: ExplorerApp) -> None:
        self.cells: dict[tuple[int, int], tuple[str, object]] = {}
        self.app = app
        display = app._display

        def capture(screen, renderable) -> None:
            if renderable is not None and not app._batch_count:
                self.apply(renderable)
            display(screen, renderable)

        app._display = capture  # type: ignore[method-assign]

    def apply(self, renderable) -> None:
        """Write an update's segments at the cursor positions it moves to."""
        x = y = 0
        console = self.app.console
        for segment in console.render(renderable, console.options):
            if segment.control:
                for control in segment.control:
                    if control[0] == ControlType.CURSOR_MOVE_TO:
                        x, y = control[1], control[2]
                continue
            if segment.text == "\n":
                x, y = 0, y + 1
                continue
            for char in segment.text:
                self.cells[(y, x)] = (char, segment.style)
                x += cell_len(char)


def full_repaint(app: ExplorerApp) -> dict[tuple[int, int], tuple[str, object]]:
    """The cells of the whole screen with every widget and scrollbar repainted from scratch."""
    for widget in app.screen.walk_children(Widget, with_self=True):
        if isinstance(widget, FastTree):
            widget.refresh_lines_now()
        widget.refresh(widget.size.region)
        for shown, bar in (
            (widget.show_vertical_scrollbar, "vertical_scrollbar"),
            (widget.show_horizontal_scrollbar, "horizontal_scrollbar"),
        ):
            if shown:
                getattr(widget, bar).refresh(getattr(widget, bar).size.region)
    cells = {}
    for y, strip in enumerate(app.screen._compositor.render_strips()):
        x = 0
        for segment in strip:
            for char in segment.text:
                cells[(y, x)] = (char, segment.style)
                x += cell_len(char)
    return cells


async def keys_paint_as_a_full_repaint(app: ExplorerApp, keys: list[str]) -> bool:
    """Press each key; after each, the terminal must show what a full repaint shows.

    Returns whether the tree scrolled (had a vertical scrollbar) at some point."""
    terminal = Terminal(app)
    scrolled = False
    async with app.run_test(size=SHORT) as pilot:
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
            shown = dict(terminal.cells)
            scrolled = scrolled or explorer(app).trace_tree.show_vertical_scrollbar
            expected = full_repaint(app)
            stale = sorted(
                {
                    y
                    for y in range(SHORT[1])
                    for x in range(SHORT[0])
                    if shown.get((y, x)) != expected.get((y, x))
                }
            )
            assert not stale, f"rows {stale} stale after {key!r}"
    return scrolled


async def test_only_changed_rows_are_repainted_and_none_is_left_stale(runs):
    keys = ["space", "down", "down", "down", "space", "down", "space", "pagedown"]
    keys += ["up", "space", "home", "tab", "down", "down", "space", "shift+tab", "end"]
    assert await keys_paint_as_a_full_repaint(ExplorerApp(runs["map-reduce-demo"]), keys)
    keys = ["n", "n", "n", "N", "f", "n", "f", "2", "right", "1", "n"]
    await keys_paint_as_a_full_repaint(ExplorerApp(runs["flaky-demo"]), keys)
    # jumps between the iterations of loop inputs fold and unload what the last one opened
    keys = ["n", "n", "n", "n", "N", "N", "up", "space", "n"]
    await keys_paint_as_a_full_repaint(ExplorerApp(looped_run()), keys)


async def test_mouse_folds_on_the_icon_and_opens_on_the_label(runs):
    app = ExplorerApp(runs["flaky-demo"])
    async with app.run_test(size=SIZE) as pilot:
        screen = explorer(app)
        tree = screen.trace_tree
        parse = tree.root.children[1]
        await pilot.click(tree, offset=(0, 1))  # the ▶ of "code PARSE", on the second line
        await pilot.pause()
        assert parse.is_expanded
        assert tree.cursor_line == 0  # folding does not move the cursor
        await pilot.hover(tree, offset=(12, 3))
        assert tree.hover_line == 3
        await pilot.click(tree, offset=(12, 3))  # the label of input #1 of PARSE
        await pilot.pause()
        assert tree.cursor_line == 3
        assert screen.current == (1, 1, 0)
        assert "✗ code PARSE · input #1" in value_text(app)
        await pilot.click(tree, offset=(0, 1))
        await pilot.pause()
        assert not parse.is_expanded
