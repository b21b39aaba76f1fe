"""How the explorer's trees draw their lines (the drawing half of :class:`FastTree`).

Textual's Tree re-renders every visible line after any change (its line cache is keyed by a global
counter), recomputes the widget's style for each line, and tags every segment with per-line mouse
meta, so no style is ever shared and every cache downstream misses. Here a line's strip is cached
under the state of the nodes on its path and drawn from the tree's few visual styles only (mouse
events find their line from coordinates, in :class:`FastTree`); styles are resolved once per
style change, the widget's state once per frame. Colours and glyphs are Textual's Tree's.
"""

from __future__ import annotations

from typing import Any, NamedTuple, TypeVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text, TextType
from textual.cache import LRUCache
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from dusttui.tui.explorer.textual_private import TreeLine

T = TypeVar("T")
STRIPS = 256  # cached line strips per tree: a few screens of rows (a strip with its caches is ~kB)
_NARROW = str.maketrans("", "", "→…✓✗●·▶▼│├└─")  # glyphs of our lines, one cell each


def text_width(text: str) -> int:
    """Cells ``text`` takes: Rich counts char by char as soon as one is not ASCII; ours are
    mostly ASCII plus a few one-cell glyphs, so those are measured at C speed."""
    if text.translate(_NARROW).isascii():
        return len(text)
    return cell_len(text)


class _Look(NamedTuple):
    """Every style a line needs, computed once per style change."""

    base: Style
    hover_line: Style
    label: Style
    highlight: Style
    cursor: Style
    guide: Style
    guide_hover: Style
    guide_selected: Style
    base_hidden: bool
    hover_hidden: bool
    selected_hidden: bool


class _Frame(NamedTuple):
    """What every line of one frame needs, read once (widget properties are not cheap)."""

    width: int
    scroll_x: int
    scroll_y: int
    look: _Look
    lines: list[TreeLine[Any]]
    hover_line: int
    cursor_line: int
    focused: bool


class TreePaint(Tree[T]):
    """Textual's Tree, drawn from cached line strips and styles."""

    def __init__(
        self,
        label: TextType,
        data: T | None = None,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        self._rich_styles: dict[tuple[tuple[str, ...], bool], Style] = {}
        self._strips: LRUCache[tuple[object, ...], Strip] = LRUCache(STRIPS)
        self._guide_sets: dict[tuple[Style, bool], tuple[str, str, str, str]] = {}
        self._look: _Look | None = None
        self._frame: _Frame | None = None
        self._blank: tuple[tuple[int, Style], Strip] | None = None
        super().__init__(label, data, name=name, id=id, classes=classes, disabled=disabled)

    # ------------------------------------------------------------------ styles

    def get_component_rich_style(
        self, *names: str, partial: bool = False, default: Style | None = None
    ) -> Style:
        """The rich style of component classes, cached until the styles change."""
        if default is not None:
            return super().get_component_rich_style(*names, partial=partial, default=default)
        key = (names, partial)
        style = self._rich_styles.get(key)
        if style is None:
            style = self._rich_styles[key] = super().get_component_rich_style(
                *names, partial=partial
            )
        return style

    def notify_style_update(self) -> None:
        """Theme, CSS or pseudo-class changed: recompute styles and lines, repaint every row."""
        self._rich_styles.clear()
        self._look = None
        self._strips.clear()
        super().notify_style_update()
        self.refresh()

    def _make_look(self) -> _Look:
        component = self.get_component_rich_style
        hidden = self.get_component_styles
        guide = component("tree--guides", partial=True)
        self._look = look = _Look(
            base=self.rich_style,
            hover_line=component("tree--highlight-line"),
            label=component("tree--label", partial=True),
            highlight=component("tree--highlight", partial=True),
            cursor=component("tree--cursor", partial=False),
            guide=guide,
            guide_hover=guide + component("tree--guides-hover", partial=True),
            guide_selected=guide + component("tree--guides-selected", partial=True),
            base_hidden=hidden("tree--guides").color.a == 0,
            hover_hidden=hidden("tree--guides-hover").color.a == 0,
            selected_hidden=hidden("tree--guides-selected").color.a == 0,
        )
        return look

    def _guides(self, style: Style, hidden: bool) -> tuple[str, str, str, str]:
        """Space, vertical, terminator and cross guide strings for a guide style."""
        key = (style, hidden)
        found = self._guide_sets.get(key)
        if found is None:
            if self.show_guides and not hidden:
                chars = self.LINES["default"]
                if style.bold:
                    chars = self.LINES["bold"]
                elif style.underline2:
                    chars = self.LINES["double"]
            else:
                chars = ("  ", "  ", "  ", "  ")
            depth = max(0, self.guide_depth - 2)
            space, vertical, terminator, cross = (f"{c[0]}{c[1] * depth} " for c in chars)
            found = self._guide_sets[key] = (space, vertical, terminator, cross)
        return found

    def refresh_lines_now(self) -> None:
        """Labels changed without their nodes knowing (e.g. highlights): redraw every line."""
        self._strips.clear()
        self.refresh()

    def watch_guide_depth(self, guide_depth: int) -> None:
        self._guide_sets.clear()
        self._strips.clear()
        super().watch_guide_depth(guide_depth)

    def watch_show_guides(self, show_guides: bool) -> None:
        self._guide_sets.clear()
        self._strips.clear()

    # ------------------------------------------------------------------ rendering

    def render_lines(self, crop: Region) -> list[Strip]:
        """Render the visible lines; what every line needs is read once for the whole frame.

        A tree without border, padding, outline, tint or transparency (ours) skips Textual's
        styles cache, which would rebuild every row it repaints: the rows come from the strip
        cache and the line filters' results are cached on those strips.
        """
        self._frame = frame = self._frame_state()
        try:
            if not self._plain_box():
                return super().render_lines(crop)
            filters = self.get_line_filters()
            background = self.background_colors[1]
            x1, x2 = crop.column_span
            whole = (x1, x2) == (0, frame.width)
            strips: list[Strip] = []
            for y in crop.line_range:
                strip = self.render_line(y)
                for line_filter in filters:
                    strip = strip.apply_filter(line_filter, background)
                strips.append(strip if whole else strip.crop(x1, x2))
            return strips
        finally:
            self._frame = None

    def _plain_box(self) -> bool:
        """No border, padding, outline, hatch, tint or transparency: rows are drawn as they are."""
        styles = self.styles
        return (
            styles.gutter.totals == (0, 0)
            and not any(edge[0] for edge in styles.outline)
            and not styles.tint.a
            and styles.text_opacity == 1
            and not styles.has_rule("hatch")
            and self.opacity == 1
        )

    def _frame_state(self) -> _Frame:
        scroll_x, scroll_y = self.scroll_offset
        return _Frame(
            self.size.width,
            scroll_x,
            scroll_y,
            self._look or self._make_look(),
            self._tree_lines,
            self.hover_line,
            self.cursor_line,
            self.has_focus,
        )

    def render_line(self, y: int) -> Strip:
        """Row ``y`` of the visible area, from the strip cache when its nodes did not change."""
        frame = self._frame or self._frame_state()
        lines = frame.lines
        line_no = y + frame.scroll_y
        if line_no >= len(lines):
            blank_key = (frame.width, frame.look.base)
            if self._blank is None or self._blank[0] != blank_key:
                self._blank = (blank_key, Strip.blank(frame.width, frame.look.base))
            return self._blank[1]  # one object: the line filters' result is cached on it
        line = lines[line_no]
        path = line.path
        hover_line = frame.hover_line
        is_hover = hover_line >= 0 and any(node._hover_ for node in path)
        right = frame.scroll_x + frame.width
        key = (
            line.last,
            is_hover,
            hover_line == line_no,
            frame.cursor_line == line_no,
            right,
            frame.focused,
            *[(node._id, node._updates, node.is_last) for node in path],
        )
        strip = self._strips.get(key)
        if strip is None:
            strip = self._strips[key] = self._render_tree_line(line_no, line, is_hover, frame)
        return strip.crop(frame.scroll_x, right)

    def _render_tree_line(self, y: int, line: TreeLine[T], is_hover: bool, frame: _Frame) -> Strip:
        """Guides, fold icon and label of line ``y``, in the colours Textual's Tree gives them,
        padded to the right edge of the view."""
        look = frame.look
        base = look.hover_line if is_hover else look.base
        segments: list[Segment] = []
        width = 0
        path = line.path
        focused = frame.focused
        hover = path[0]._hover_
        selected = path[0]._selected_ and focused
        guide_style = look.guide
        hidden = True
        last = path[-1]
        for node in path[1:]:
            hidden = look.base_hidden
            if hover:
                guide_style = look.guide_hover
                hidden = look.hover_hidden
            if selected:
                guide_style = look.guide_selected
                hidden = look.selected_hidden
            if node is not last:
                space, vertical, _, _ = self._guides(guide_style, hidden)
                guide = space if node.is_last else vertical
                segments.append(Segment(guide, base + guide_style))
                width += len(guide)
            hover = hover or node._hover_
            selected = (selected or node._selected_) and focused
        if len(path) > 1:
            _, _, terminator, cross = self._guides(guide_style, hidden)
            guide = terminator if line.last else cross
            segments.append(Segment(guide, base + guide_style))
            width += len(guide)
        label_style = look.label
        if frame.hover_line == y:
            label_style += look.highlight
        if frame.cursor_line == y:
            label_style += look.cursor
        label, label_width = self.label_segments(last, base, label_style)
        segments.extend(label)
        width += label_width
        right = frame.scroll_x + frame.width
        if width < right:
            segments.append(Segment(" " * (right - width), base))
            width = right
        return Strip(segments, width)

    def label_segments(
        self, node: TreeNode[T], base: Style, label_style: Style
    ) -> tuple[list[Segment], int]:
        """A node's label on a line of style ``base`` (``render_label``, rendered), and its width."""
        text = Text(style=base)
        text.append(self.render_label(node, base, label_style))
        segments = list(text.render(self.app.console))
        return segments, sum(text_width(segment.text) for segment in segments)

    def fold_icon(self, node: TreeNode[T]) -> str:
        """The fold icon in front of a node's label ("" for a leaf)."""
        if node._allow_expand:
            return self.ICON_NODE_EXPANDED if node._expanded else self.ICON_NODE
        return ""
