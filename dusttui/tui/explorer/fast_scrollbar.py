"""A scrollbar that repaints only the rows whose look changed.

Textual renders a scrollbar through Rich every time it repaints it, and repaints both of a
widget's bars after every layout and every scroll. A jump in the trace tree moves the thumb by a
few rows: here the bar's rows are computed once per change (with Textual's own ``render_bar``,
so they look the same) and only the rows that differ are repainted.
"""

from __future__ import annotations

from typing import NamedTuple, Self

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.scrollbar import ScrollBar, ScrollBarRender
from textual.strip import Strip

BAR_BACK = Color.parse("#555555")  # Textual's fallbacks when the scrollbar style has no colours
BAR_COLOR = Color.parse("bright_magenta")


class _BarKey(NamedTuple):
    """What a bar's look depends on."""

    width: int
    height: int
    virtual_size: int
    window_size: int
    position: float
    style: Style
    base: Style


class FastScrollBar(ScrollBar):
    """Textual's ScrollBar, drawn from cached rows, repainted row by row."""

    def __init__(
        self, vertical: bool = True, name: str | None = None, *, thickness: int = 1
    ) -> None:
        super().__init__(vertical, name, thickness=thickness)
        self._bar_key: _BarKey | None = None
        self._bar_lines: list[Strip] = []

    def _key(self) -> _BarKey | None:
        """What the bar's look depends on, or None when Textual draws it another way."""
        if self.parent is None or not self.is_mounted:
            return None
        renderable = self.render()
        if not isinstance(renderable, ScrollBarRender) or not isinstance(renderable.style, Style):
            return None
        width, height = self.size
        base = self.visual_style.rich_style  # what Textual's render puts under the bar
        return _BarKey(
            width,
            height,
            renderable.virtual_size,
            renderable.window_size,
            renderable.position,
            renderable.style,
            base,
        )

    def _rows(self, key: _BarKey) -> list[Strip]:
        """The bar's rows for ``key``, from Textual's own bar renderer."""
        width, height, virtual_size, window_size, position, style, base = key
        size, thickness = (height, width) if self.vertical else (width, height)
        bar = ScrollBarRender.render_bar(
            size=size,
            virtual_size=virtual_size,
            window_size=window_size,
            position=position,
            thickness=thickness,
            vertical=self.vertical,
            back_color=style.bgcolor or BAR_BACK,
            bar_color=style.color or BAR_COLOR,
        )
        segments = [Segment(text, base + bar_style) for text, bar_style, _ in bar.segments]
        if self.vertical:
            # Textual's bar can have more rows than the bar is high (a thumb at the very end of
            # a long list): the extra rows are cropped on screen, so they are dropped here
            return [Strip([segment], width) for segment in segments[:height]]
        return [Strip(line, width) for line in Segment.split_lines(segments)][:height]

    def refresh(
        self, *regions: Region, repaint: bool = True, layout: bool = False, recompose: bool = False
    ) -> Self:
        """Repaint only the rows that change (none when the bar looks the same)."""
        if not repaint or regions or layout or recompose or self._bar_key is None:
            return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)
        key = self._key()
        if key is None or key[:2] != self._bar_key[:2]:
            return super().refresh()
        if key == self._bar_key:
            return self
        rows = self._rows(key)
        changed = [
            y for y, (old, new) in enumerate(zip(self._bar_lines, rows, strict=True)) if old != new
        ]
        self._bar_key, self._bar_lines = key, rows
        width = self.size.width
        if changed:
            super().refresh(*[Region(0, y, width, 1) for y in changed])
        return self

    def render_lines(self, crop: Region) -> list[Strip]:
        """Bring the cached rows up to date, then let Textual draw them."""
        key = self._key()
        if key is not None and key != self._bar_key:
            self._bar_lines = self._rows(key)
            self._styles_cache.clear()  # changed without a refresh: draw every row again
        self._bar_key = key
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        """Row ``y`` of the bar."""
        if self._bar_key is None:
            return super().render_line(y)
        if y < len(self._bar_lines):
            return self._bar_lines[y]
        return Strip.blank(self.size.width)
