"""A scrollable view of a few hundred lines of Text, drawn without a layout per update.

A ``Static`` whose text changes asks for a layout of the screen (its height may change); the
detail pane changes at every ``n``. This view keeps its lines and draws only the visible ones;
a new text changes its virtual size, nothing else.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

__all__ = ["LinesView"]


class LinesView(ScrollView, can_focus=True):
    """Lines of ``Text`` (never markup), scrolled; ``show`` replaces them."""

    DEFAULT_CSS = """
    LinesView { overflow-x: hidden; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lines: list[Text] = []
        self._strips: dict[int, Strip] = {}

    @property
    def plain(self) -> str:
        """What the view shows, as plain text."""
        return "\n".join(line.plain for line in self._lines)

    def show(self, text: Text) -> None:
        """Show ``text`` (one line per newline) from its top."""
        self._lines = list(text.split("\n", allow_blank=True)) if text.plain else []
        self._strips = {}
        self.virtual_size = Size(self.size.width, len(self._lines))
        self.scroll_to(0, 0, animate=False)
        self.refresh()

    def on_resize(self) -> None:
        """Lines are cut to the new width."""
        self._strips = {}
        self.virtual_size = Size(self.size.width, len(self._lines))

    def render_line(self, y: int) -> Strip:
        """One line, cut to the width (drawn once per text and width)."""
        k = self.scroll_offset.y + y
        width = self.size.width
        if k >= len(self._lines):
            return Strip.blank(width)
        strip = self._strips.get(k)
        if strip is None:
            line = self._lines[k].copy()
            line.no_wrap = True
            line.truncate(width, overflow="ellipsis", pad=True)
            strip = Strip(list(line.render(self.app.console)), width).crop(0, width).simplify()
            self._strips[k] = strip
        return strip
