"""The list of a RunDiff's differences, one line each, drawn only where visible.

A diff can hold hundreds of thousands of differences: this list never builds a widget or a line
per difference, only the strips of the rows on screen (the diff finds the k-th difference by a
bisect). It posts :class:`DiffList.Moved` when its cursor moves.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from dusttui.compare.render import GLYPH, KIND_TITLES, where

__all__ = ["DiffList"]

_KIND_STYLE = {
    "changed": "yellow",
    "broken": "red",
    "fixed": "green",
    "only_a": "magenta",
    "only_b": "cyan",
}


class DiffList(ScrollView, can_focus=True):
    """A cursor over the differences of ``diff`` (any :class:`~dusttui.compare.RunDiff`)."""

    BINDINGS = [
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
    ]
    DEFAULT_CSS = """
    DiffList { height: 1fr; overflow-x: hidden; }
    """

    cursor: reactive[int] = reactive(0, always_update=True)

    class Moved(Message):
        """The cursor is on difference ``index`` (or the list is empty: -1)."""

        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, diff: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.diff = diff
        self._count = len(diff)
        self._strips: dict[tuple[int, bool, bool, int], Strip] = {}  # rows drawn: n redraws two

    def sync(self) -> None:
        """The diff moved: a new length, every visible row drawn again."""
        self._count = len(self.diff)
        self._strips = {}
        self.virtual_size = Size(self.size.width, self._count)
        if self._count and self.cursor >= self._count:
            self.cursor = self._count - 1
        self.refresh()

    def on_mount(self) -> None:
        """The list's height is the number of differences."""
        self.virtual_size = Size(self.size.width, self._count)

    def on_resize(self) -> None:
        """Rows are as wide as the list."""
        self.virtual_size = Size(self.size.width, self._count)

    # ------------------------------------------------------------------ drawing

    def render_line(self, y: int) -> Strip:
        """One difference: its kind's glyph and where it is."""
        k = self.scroll_offset.y + y
        width = self.size.width
        if k >= self._count:
            return Strip.blank(width)
        key = (k, k == self.cursor, self.has_focus, width)
        strip = self._strips.get(key)
        if strip is not None:
            return strip
        if len(self._strips) > 4 * max(self.size.height, 50):
            self._strips = {}
        d = self.diff[k]
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(f"{GLYPH[d.kind]} ", _KIND_STYLE.get(d.kind, ""))
        text.append(where(self.diff, d))
        if k == self.cursor:
            text.stylize("reverse" if self.has_focus else "underline")
        text.truncate(width, overflow="ellipsis", pad=True)
        segments = list(text.render(self.app.console))
        strip = Strip(segments, width).crop(0, width).simplify()
        self._strips[key] = strip
        return strip

    def title(self, k: int) -> str:
        """The kind of difference ``k`` in words (for the title bar)."""
        return KIND_TITLES[self.diff[k].kind]

    # ------------------------------------------------------------------ moving

    def watch_cursor(self, old: int, new: int) -> None:
        """Repaint the two rows, keep the cursor in view, say where it is."""
        top = self.scroll_offset.y
        for row in (old, new):
            if top <= row < top + self.size.height:
                self.refresh(Region(0, row - top, self.size.width, 1))
        if new < top:
            self.scroll_to(y=new, animate=False)
        elif new >= top + self.size.height > 0:
            self.scroll_to(y=new - self.size.height + 1, animate=False)
        self.post_message(self.Moved(new if self._count else -1))

    def move_to(self, k: int) -> None:
        """Put the cursor on difference ``k`` (clamped)."""
        if self._count:
            self.cursor = max(0, min(k, self._count - 1))

    def action_move(self, delta: int) -> None:
        """One row up or down."""
        self.move_to(self.cursor + delta)

    def action_page(self, pages: int) -> None:
        """One screen up or down."""
        self.move_to(self.cursor + pages * max(1, self.size.height - 1))

    def action_jump(self, k: int) -> None:
        """To the first (0) or the last (-1) difference."""
        self.move_to(self._count - 1 if k < 0 else k)

    def on_click(self, event: Any) -> None:
        """A click puts the cursor on the row clicked."""
        self.move_to(self.scroll_offset.y + event.y)

    def on_focus(self) -> None:
        """The cursor row shows focus."""
        self.refresh()

    def on_blur(self) -> None:
        """The cursor row shows focus."""
        self.refresh()
