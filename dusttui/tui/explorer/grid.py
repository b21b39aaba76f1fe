"""The grid: inputs × blocks, one status cell each, drawn line by line on demand.

A loop block's cell counts successes and errors over its iterations. Enter opens the cell's
execution in the tree. With ``errors_only`` the rows are the inputs with at least one error.
"""

from __future__ import annotations

from bisect import bisect_left

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from dusttui.tui.explorer.data import Pos, TraceData
from dusttui.tui.explorer.safe_text import one_line
from dusttui.tui.explorer.summary import grid_cell, input_label

LABEL_WIDTH = 28


class TraceGrid(ScrollView, can_focus=True):
    """Inputs down, blocks across; a header line stays on top."""

    BINDINGS = [
        Binding("up", "move(-1, 0)", "Up", show=False),
        Binding("down", "move(1, 0)", "Down", show=False),
        Binding("left", "move(0, -1)", "Left", show=False),
        Binding("right", "move(0, 1)", "Right", show=False),
        Binding("pageup", "move(-20, 0)", "Page up", show=False),
        Binding("pagedown", "move(20, 0)", "Page down", show=False),
        Binding("home", "move(-1000000000, 0)", "First", show=False),
        Binding("end", "move(1000000000, 0)", "Last", show=False),
        Binding(
            "enter",
            "open",
            "Open in tree",
            id="explorer.grid.open",
            tooltip="Open this execution in the tree",
            show=False,  # the footer keeps its room for the explorer's own keys (help lists it)
        ),
    ]
    COMPONENT_CLASSES = {
        "trace-grid--ok",
        "trace-grid--err",
        "trace-grid--running",
        "trace-grid--none",
        "trace-grid--header",
        "trace-grid--cursor",
    }
    DEFAULT_CSS = """
    TraceGrid { height: 1fr; }
    TraceGrid > .trace-grid--ok { color: $block-succeeded; }
    TraceGrid > .trace-grid--err { color: $block-errored; text-style: bold; }
    TraceGrid > .trace-grid--running { color: $block-running; }
    TraceGrid > .trace-grid--none { color: $text-muted; }
    TraceGrid > .trace-grid--header { text-style: bold; background: $boost; }
    TraceGrid > .trace-grid--cursor { background: $block-cursor-background; color: $block-cursor-foreground; }
    """

    class CellOpened(Message):
        """Enter on a cell: open this execution in the tree."""

        def __init__(self, pos: Pos) -> None:
            self.pos = pos
            super().__init__()

    class CursorMoved(Message):
        """The cursor moved to another cell (``pos``: its execution, None on an empty grid)."""

        def __init__(self, pos: Pos | None) -> None:
            self.pos = pos
            super().__init__()

    def __init__(
        self,
        data: TraceData,
        *,
        errors_only: bool = False,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.trace = data
        self.errors_only = errors_only
        self._inputs: list[int] | None = None  # the rows' inputs when filtered; None: every input
        self.row = 0  # a row of the grid (not an input index when filtered)
        self.col = 0
        self._widths: list[int] = []
        self._headers: list[str] = []
        self._layout()

    def _layout(self) -> None:
        names = [info.name for info in self.trace.blocks]
        # a map and its reduce share a name: say which is which
        self._headers = [
            one_line(info.name if names.count(info.name) == 1 else f"{info.block_type} {info.name}")
            for info in self.trace.blocks
        ]
        self._widths = [max(5, len(h) + 1) for h in self._headers]
        if self.errors_only:
            self._inputs = sorted({i for _b, i, _j in self.trace.errors})
        else:
            self._inputs = None
        self.virtual_size = Size(self.natural_width, self.row_count + 1)

    @property
    def natural_width(self) -> int:
        """Columns the grid needs to show every block without scrolling sideways."""
        return LABEL_WIDTH + sum(w + 1 for w in self._widths)

    @property
    def row_count(self) -> int:
        """How many input rows the grid shows."""
        return self.trace.num_inputs if self._inputs is None else len(self._inputs)

    def input_at(self, row: int) -> int:
        """The input index shown on grid row ``row``."""
        return row if self._inputs is None else self._inputs[row]

    def _row_of(self, i: int) -> int:
        """The grid row of input ``i`` (the next shown one when it is filtered out)."""
        if self._inputs is None:
            return i
        return min(bisect_left(self._inputs, i), max(0, len(self._inputs) - 1))

    def sync(self, data: TraceData) -> None:
        """Take a newer snapshot; the cursor stays on the same cell."""
        i = self.input_at(self.row) if self.row < self.row_count else self.row
        self.trace = data
        self._layout()
        self.row = self._row_of(i)
        self.refresh()

    def set_errors_only(self, on: bool) -> None:
        """Show only inputs with an error (or every input again), keeping the cursor's input."""
        if on == self.errors_only:
            return
        i = self.input_at(self.row) if self.row < self.row_count else 0
        self.errors_only = on
        self._layout()
        self.row = self._row_of(i)
        self.action_move(0, 0)

    @property
    def cursor_pos(self) -> Pos | None:
        """The execution under the cursor (first iteration for loop cells)."""
        if not self.trace.blocks or self.row_count == 0:
            return None
        cell = grid_cell(self.trace, self.col, self.input_at(self.row))
        return (self.col, cell.input_index, 0)

    def action_move(self, drow: int, dcol: int) -> None:
        """Move the cursor, keeping it on screen."""
        before = (self.row, self.col)
        rows, cols = self.row_count, len(self.trace.blocks)
        self.row = max(0, min(rows - 1, self.row + drow))
        self.col = max(0, min(cols - 1, self.col + dcol))
        top = self.scroll_offset.y
        height = max(1, self.size.height - 1)
        if self.row < top:
            self.scroll_to(y=self.row, animate=False)
        elif self.row >= top + height:
            self.scroll_to(y=self.row - height + 1, animate=False)
        self.refresh()
        if (self.row, self.col) != before:
            self.post_message(self.CursorMoved(self.cursor_pos))

    def move_to(self, b: int, i: int) -> None:
        """Put the cursor on block ``b``, input ``i`` (or the next shown input)."""
        self.action_move(self._row_of(i) - self.row, b - self.col)

    def action_open(self) -> None:
        """Ask the screen to open the cell in the tree."""
        pos = self.cursor_pos
        if pos is not None:
            self.post_message(self.CellOpened(pos))

    def on_click(self, event: events.Click) -> None:
        """Click a cell to put the cursor there; click it again to open it."""
        row = event.y + self.scroll_offset.y - 1
        x = event.x + self.scroll_offset.x - LABEL_WIDTH
        if row < 0 or x < 0 or row >= self.row_count:
            return
        for b, w in enumerate(self._widths):
            if x < w + 1:
                if (row, b) == (self.row, self.col):
                    self.action_open()
                else:
                    self.action_move(row - self.row, b - self.col)
                return
            x -= w + 1

    def render_line(self, y: int) -> Strip:
        """Line 0 is the header; the others are inputs from the scroll offset down."""
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        base = self.rich_style
        if y == 0:
            segments = self._header(base)
        else:
            row = y - 1 + scroll_y
            if row >= self.row_count:
                return Strip.blank(width, base)
            segments = self._row(row, base)
        strip = Strip(segments).crop(scroll_x, scroll_x + width)
        return strip.extend_cell_length(width, base) if strip.cell_length < width else strip

    def _header(self, base: Style) -> list[Segment]:
        # not partial: $boost is translucent, and only the full style blends it with what is
        # under it (a partial one paints it opaque: white)
        style = base + self.get_component_rich_style("trace-grid--header")
        label = "input"
        if self._inputs is not None:
            label = f"inputs with errors {len(self._inputs)}/{self.trace.num_inputs}"
        segments = [Segment(label[: LABEL_WIDTH - 1].ljust(LABEL_WIDTH), style)]
        for header, w in zip(self._headers, self._widths, strict=False):
            segments.append(Segment(header[:w].ljust(w) + " ", style))
        return segments

    def _row(self, row: int, base: Style) -> list[Segment]:
        comp = self.get_component_rich_style
        i = self.input_at(row)
        label = input_label(self.trace, i, LABEL_WIDTH - 6)
        label = label[: LABEL_WIDTH - 1].ljust(LABEL_WIDTH)
        segments = [Segment(label, base)]
        cursor = comp("trace-grid--cursor", partial=True)
        for b, w in enumerate(self._widths):
            cell = grid_cell(self.trace, b, i)
            style = base + comp(f"trace-grid--{cell.kind}", partial=True)
            if (row, b) == (self.row, self.col):
                style += cursor
            segments.append(Segment(cell.text[:w].center(w), style))
            segments.append(Segment(" ", base))
        return segments
