"""A Tree that redraws cheaply: only the rows that can have changed, no layout per change.

Textual's Tree repaints every row and asks for a screen layout whenever a node is added or
toggled, repaints every row after a resize, and finds the line under the mouse from segment meta.
A jump in a big run changes a handful of nodes. Here (lines are drawn by :class:`TreePaint`):

- the lines are rebuilt when needed and only the rows up to the longer of the old and new line
  lists are repainted; a change of height alone repaints nothing (rows do not depend on it);
- a layout happens only when the virtual size really changes (Textual's reactive does that);
  the virtual width is the widest line shown since the last ``clear`` (not the widest line shown
  now) and never less than the viewport, so folding and unfolding do not ask for one each time;
- clicks and hovers find their line from the coordinates; scrollbars repaint the rows that change.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar, Self, TypeVar

from rich.text import Text, TextType
from textual import events
from textual.geometry import Region, Size
from textual.scrollbar import ScrollBar
from textual.widgets.tree import TreeNode

from dusttui.tui.explorer.fast_scrollbar import FastScrollBar
from dusttui.tui.explorer.textual_private import TreeLine
from dusttui.tui.explorer.tree_paint import TreePaint

T = TypeVar("T")


class FastTree(TreePaint[T]):
    """Textual's Tree, drawn by :class:`TreePaint`, repainting and laying out only what changed."""

    ICON_TOGGLES: ClassVar[bool] = True
    """A click on a node's fold icon folds or unfolds it (elsewhere on a line: selects it)."""

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
        self._built_width = -1
        self._built_count = -1
        self._repaint_rows = False
        self._widest = 0  # widest line shown since the last clear: the virtual width
        self._measured: dict[int, tuple[Text, bool]] = {}  # node id → (label, foldable) measured
        super().__init__(label, data, name=name, id=id, classes=classes, disabled=disabled)

    # ------------------------------------------------------------------ invalidation

    def process_label(self, label: TextType) -> Text:
        """A one-line Text label is kept as it is (Textual copies every label to cut it)."""
        if isinstance(label, Text) and "\n" not in label.plain:
            return label
        return super().process_label(label)

    def _invalidate(self) -> None:
        # Nodes changed: the lines are rebuilt on the next read (at the latest when idle, which
        # Textual's Tree does), and ``_build`` repaints the rows that may have changed. Cached
        # strips stay valid (their keys hold the nodes' state). A layout only if the virtual
        # size changed (``_build`` sets it through Textual's reactive).
        self._clear_line_cache()
        self._updates += 1
        self.root._reset()
        self._repaint_rows = True
        self.check_idle()

    def _build(self) -> None:
        """The lines of the expanded nodes, as Textual builds them; the virtual width is the
        widest line shown since the last clear, and at least the viewport's."""
        # a loop, not Textual's recursive closure: that closure holds itself in a reference
        # cycle, and with it every line list it built, until the cyclic GC runs
        lines: list[TreeLine[T]] = []
        add_line = lines.append
        stack: list[tuple[list[TreeNode[T]], TreeNode[T], bool]]
        if self.show_root:
            stack = [([], self.root, True)]
        else:
            stack = [([], node, True) for node in reversed(self.root._children)]
        pop, push = stack.pop, stack.append
        while stack:
            path, node, last = pop()
            child_path = [*path, node]
            node._line = len(lines)
            add_line(TreeLine(child_path, last))
            if node._expanded:
                children = node._children
                final = len(children) - 1
                for k in range(final, -1, -1):
                    push((child_path, children[k], k == final))
        self._tree_lines_cached = lines
        if self._repaint_rows:
            # rows past both the old and the new last line were blank and stay blank
            self._repaint_rows = False
            rows = max(self._built_count, len(lines)) - self.scroll_offset.y
            if self._built_count < 0:
                self.refresh()
            elif rows > 0:
                self.refresh(Region(0, 0, self.size.width, rows))
        self._built_count = len(lines)
        # the virtual width only grows: only lines not measured yet (or relabelled) can widen it
        depth, show_root, label_width = self.guide_depth, self.show_root, self.get_label_width
        measured = self._measured
        widest = self._widest
        for line in lines:
            node = line.node
            seen = measured.get(node._id)
            if seen is None or seen[0] is not node._label or seen[1] != node._allow_expand:
                measured[node._id] = (node._label, node._allow_expand)
                width = label_width(node) + line._get_guide_width(depth, show_root)
                if width > widest:
                    widest = width
        self._widest = widest
        self._built_width = self.size.width
        floor = self._built_width - self.styles.scrollbar_size_vertical
        self.virtual_size = Size(max(self._widest, floor, 0), len(lines))
        if self.cursor_line != -1:
            if self.cursor_node is not None:
                self.cursor_line = self.cursor_node._line
            if self.cursor_line >= len(lines):
                self.cursor_line = -1

    def _size_updated(
        self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True
    ) -> bool:
        # Textual repaints every row of a resized ScrollView. A tree's row does not depend on
        # the height (the value view's tree gets shorter or taller as the error above it does):
        # keep the painted rows; rows that appear are painted as they are not cached yet.
        old = self._size
        if not (old.width == size.width and old.height and size.height and old != size):
            return super()._size_updated(size, virtual_size, container_size, layout)
        self._scrollbar_changes.clear()
        self._size = size
        self._container_size = size - self.styles.gutter.totals
        self._scroll_update(self.virtual_size)
        return True

    def _on_resize(self, event: events.Resize) -> None:
        # Textual's Tree redraws every line after a resize; the layout that resized us already
        # redrew what moved. Only the width matters to the lines (the virtual width's floor).
        event.prevent_default()
        if self.size.width != self._built_width:
            self._invalidate()

    def clear(self) -> Self:
        """Remove every node: Textual's ``clear`` without its repaint of every row (node ids
        start again, so the cached strips go too)."""
        self._strips.clear()
        self._clear_line_cache()
        self._widest = 0
        self._measured.clear()
        self._current_id = 0
        old = self.root
        for node in self._tree_nodes.values():
            node._children = []  # break parent ↔ child cycles: refcounting frees the old nodes
        self._tree_nodes = {}
        self.root = self._add_node(None, old._label, old.data, expand=old.is_expanded)
        self._updates += 1
        self._repaint_rows = True
        self.check_idle()
        return self

    def forget_nodes(self, ids: Iterable[int]) -> None:
        """Drop what is cached for nodes that were removed (ids are not reused until ``clear``)."""
        for node_id in ids:
            self._measured.pop(node_id, None)

    # ------------------------------------------------------------------ mouse

    def _line_under(self, event: events.MouseEvent) -> tuple[int, int] | None:
        """(line number, column in the tree) under the mouse, if on a line."""
        offset = event.get_content_offset(self)
        if offset is None:
            return None
        scroll_x, scroll_y = self.scroll_offset
        line_no = offset.y + scroll_y
        if not 0 <= line_no < len(self._tree_lines):
            return None
        return line_no, offset.x + scroll_x

    def _on_mouse_move(self, event: events.MouseMove) -> None:
        event.prevent_default()  # Textual's Tree reads the line from segment meta we do not set
        found = self._line_under(event)
        self.hover_line = -1 if found is None else found[0]

    async def _on_click(self, event: events.Click) -> None:
        # Textual's Tree handler finds no line meta and does nothing after this one.
        found = self._line_under(event)
        if found is None:
            return
        line_no, x = found
        async with self.lock:
            line = self._tree_lines[line_no]
            start = line._get_guide_width(self.guide_depth, self.show_root)
            icon = self.fold_icon(line.node)
            if self.ICON_TOGGLES and icon and start <= x < start + len(icon):
                self._toggle_node(line.node)
            else:
                self.cursor_line = line_no
                await self.run_action("select_cursor")

    # ------------------------------------------------------------------ scrollbars and nodes

    @property
    def vertical_scrollbar(self) -> ScrollBar:
        """The vertical scrollbar (created on first use, as Textual does), repainted row by row."""
        if self._vertical_scrollbar is None:
            bar = FastScrollBar(
                vertical=True, name="vertical", thickness=self.scrollbar_size_vertical
            )
            bar.display = False
            self._vertical_scrollbar = bar
            self.app._start_widget(self, bar)
        return self._vertical_scrollbar

    @property
    def horizontal_scrollbar(self) -> ScrollBar:
        """The horizontal scrollbar (created on first use), repainted only when it changes."""
        if self._horizontal_scrollbar is None:
            bar = FastScrollBar(
                vertical=False, name="horizontal", thickness=self.scrollbar_size_horizontal
            )
            bar.display = False
            self._horizontal_scrollbar = bar
            self.app._start_widget(self, bar)
        return self._horizontal_scrollbar

    def is_current(self, node: TreeNode[T]) -> bool:
        """False for a node that was cleared away (its messages may arrive after a change)."""
        parent = node.parent
        while parent is not None:
            node, parent = parent, parent.parent
        return node is self.root
