"""The block status pane: one row per block, each line re-rendered only when its cells change.

A Line-API widget rather than a DataTable: a DataTable re-renders every cell when any cell
changes, which costs frames under a fast stream; here each row's strip is cached and only the
rows whose text changed are repainted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

GLYPHS = {
    "running": "●",
    "succeeded": "✓",
    "errored": "✗",
    "pending": "·",
    "waiting": "·",  # a block of the spec the running run has not reached yet
    "not run": "–",  # a block of the spec the run ended without reaching
}
# States without a colour of their own in the themes: they read as pending.
COLOUR_OF = {"waiting": "pending", "not run": "pending"}
BAR_WIDTH = 10
# (label, natural width): None for "as wide as the widest value"; widths only grow within a run,
# so columns never jump while it runs. Narrow panes drop pace, then time, then the bar, then the
# block type (in that order), and cut names last (with an ellipsis).
COLUMNS = (
    ("block", None),
    ("name", None),
    ("status", 11),
    ("ok", None),
    ("err", None),
    ("progress", None),
    ("time", 7),
    ("pace", 16),
)
RIGHT = {3, 4, 6}  # right-aligned columns: ok, err, time
PROGRESS, TIME, PACE, BLOCK, NAME = 5, 6, 7, 0, 1
MIN_NAME = 6
Pacer = Callable[[Any, float], Any]  # (block, now) → an object with ``rate`` and ``eta``


class BlockLike(Protocol):
    """What the pane reads of a block (``dusttui.api.state.BlockState`` has it)."""

    block_type: str
    name: str
    status: str
    success_count: int
    error_count: int
    expected: int | None
    started_at: float | None
    ended_at: float | None


def row_key(block: BlockLike) -> str:
    """Row key: a `map` and its `reduce` share a name, so the type is part of it."""
    return f"{block.block_type}:{block.name}"


def progress_count(done: int, expected: int | None) -> str:
    """`6/10`, or just the count when the total is unknown (nothing before the first)."""
    if not expected:
        return f"{done}" if done else ""
    return f"{done}/{expected}"


def progress_bar(done: int, expected: int | None, width: int = BAR_WIDTH) -> str:
    """`██████░░░░ 6/10` (full only once all ran), or just the count when the total is unknown."""
    count = progress_count(done, expected)
    if not expected or width <= 0:
        return count
    filled = max(0, min(width, width * done // expected))
    return "█" * filled + "░" * (width - filled) + f" {count}"


def elapsed(block: BlockLike, now: float) -> str:
    """Seconds the block has run (so far, when still running); `—` when nobody knows."""
    if block.started_at is None:
        return "—"
    end = block.ended_at if block.ended_at is not None else now
    return f"{max(0.0, end - block.started_at):.1f} s"


def pace(rate: float | None, eta: float | None) -> str:
    """`120/s · 6 s left`, `1.2k/s · 2 min`: how fast a running block goes, when known."""
    parts = []
    if rate is not None:
        parts.append(
            f"{rate / 1000:.1f}k/s"
            if rate >= 10_000
            else f"{rate:.0f}/s"
            if rate >= 10
            else f"{rate:.1f}/s"
        )
    if eta is not None:
        seconds = int(eta + 0.5)
        parts.append(
            f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60:02d} s"
        )
    return " · ".join(parts)


def status_text(status: str, colours: dict[str, str]) -> Text:
    """`✓ succeeded` in the theme's colour for that state; the glyph reads without colour."""
    glyph = GLYPHS.get(status, "?")
    return Text(f"{glyph} {status}", style=colours.get(COLOUR_OF.get(status, status), ""))


def progress_of(block: BlockLike) -> tuple[int, int | None]:
    """(done, out of) for the progress column: a running loop body shows its current pass;
    a loop body that is over, its executions in all (its total was its last pass's)."""
    done = block.success_count + block.error_count
    in_loop = getattr(block, "in_loop", False)
    if in_loop and block.status == "running":
        passed = getattr(block, "pass_done", None)
        return (passed if passed is not None else done), block.expected
    if in_loop:
        return done, None
    return done, block.expected


def fit_columns(natural: list[int], width: int) -> tuple[list[int], int]:
    """Column widths (0: hidden) and the bar's width that fit ``width`` cells.

    ``natural[PROGRESS]`` is the count part of the progress column only (the bar comes on top)."""
    sizes = list(natural)
    bar = BAR_WIDTH

    def total() -> int:
        shown = [progress_room(s, bar) if c == PROGRESS else s for c, s in enumerate(sizes)]
        return 1 + sum(s + 2 for s in shown if s)

    for column in (PACE, TIME):
        if total() > width:
            sizes[column] = 0
    while total() > width and bar > 3:
        bar -= 1
    if total() > width:
        bar = 0
    if total() > width:
        sizes[BLOCK] = 0
    if total() > width:
        sizes[NAME] = max(MIN_NAME, sizes[NAME] - (total() - width))
    return sizes, bar


def progress_room(count_width: int, bar: int) -> int:
    """Cells of the progress column: the bar, a space and the widest count (or its label)."""
    return max(len("progress"), count_width + (bar + 1 if bar else 0))


@dataclass
class _Row:
    cells: tuple[Text, ...]
    signature: tuple[tuple[str, str], ...]
    progress: tuple[int, int | None]


class BlockTable(ScrollView, can_focus=True):
    """The blocks of one run; a header line stays on top, the cursor selects a block."""

    COMPONENT_CLASSES = {"block-table--header", "block-table--cursor"}
    DEFAULT_CSS = """
    BlockTable { height: 1fr; overflow-x: hidden; overflow-y: auto; }
    BlockTable > .block-table--header { color: $text-muted; text-style: bold; }
    BlockTable > .block-table--cursor { background: $panel; }
    BlockTable:focus > .block-table--cursor { background: $primary 35%; }
    """
    BINDINGS = [
        Binding("up,k", "cursor(-1)", "up", show=False, id="blocks_up", tooltip="Previous block"),
        Binding("down,j", "cursor(1)", "down", show=False, id="blocks_down", tooltip="Next block"),
        Binding(
            "home", "cursor_to(0)", "first", show=False, id="blocks_first", tooltip="First block"
        ),
        Binding("end", "cursor_to(-1)", "last", show=False, id="blocks_last", tooltip="Last block"),
    ]

    cursor_row: reactive[int] = reactive(0, init=False)

    @dataclass
    class Highlighted(Message):
        """The cursor moved to another block."""

        table: BlockTable
        key: str | None

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._keys: list[str] = []
        self._rows: dict[str, _Row] = {}
        self._widths: list[int] = _header_widths()
        self._strips: dict[int, tuple[tuple[Any, ...], Strip]] = {}
        self.user_moved = False
        """The user moved the cursor (until then it follows the run)."""

    # ------------------------------------------------------------------ reading

    @property
    def rows(self) -> list[str]:
        """Row keys, in order."""
        return list(self._keys)

    @property
    def row_count(self) -> int:
        """How many blocks are shown."""
        return len(self._keys)

    def get_row(self, key: str) -> list[Text]:
        """The cells of a row."""
        return list(self._rows[key].cells)

    def selected_key(self) -> str | None:
        """The row key under the cursor, if any."""
        return self._keys[self.cursor_row] if 0 <= self.cursor_row < len(self._keys) else None

    @property
    def colours(self) -> dict[str, str]:
        """State → colour, from the current theme's block-* variables."""
        variables = self.app.theme_variables
        return {s: variables.get(f"block-{s}", "") for s in GLYPHS}

    # ------------------------------------------------------------------ updating

    def show_rows(
        self, blocks: Sequence[BlockLike], now: float, pacer: Pacer | None = None
    ) -> None:
        """Bring the table to ``blocks``: new ones are appended, changed rows repainted.

        ``now``: the time timers read (frozen while the connection is lost); ``pacer``: the rate
        and time left of a running block."""
        keys = [row_key(b) for b in blocks]
        if keys[: len(self._keys)] != self._keys:
            self.reset()  # another run (or blocks re-ordered by a GET): start over
        colours = self.colours
        widths_before = list(self._widths)
        changed: list[int] = []
        for index, (key, block) in enumerate(zip(keys, blocks, strict=True)):
            cells = self._cells(block, now, colours, pacer)
            signature = tuple((c.plain, str(c.style)) for c in cells)
            row = self._rows.get(key)
            if row is not None and row.signature == signature:
                continue
            done, expected = progress_of(block)
            self._rows[key] = _Row(cells, signature, (done, expected))
            if row is None:
                self._keys.append(key)
            self._grow(cells, done, expected)
            changed.append(index)
        if not changed:
            return
        self.virtual_size = Size(self.size.width, len(self._keys) + 1)
        if self._widths != widths_before:
            self.refresh()
            return
        for index in changed:
            self._refresh_row(index)

    def reset(self) -> None:
        """Remove every row."""
        self._keys.clear()
        self._rows.clear()
        self._strips.clear()
        self._widths = _header_widths()
        self.user_moved = False
        self.cursor_row = 0
        self.virtual_size = Size(self.size.width, 1)
        self.refresh()

    def move_cursor(self, *, row: int) -> None:
        """Put the cursor on a row (clamped)."""
        if self._keys:
            self.cursor_row = max(0, min(row, len(self._keys) - 1))

    def select_key(self, key: str) -> None:
        """Put the cursor on a block's row."""
        if key in self._rows:
            self.cursor_row = self._keys.index(key)

    def action_cursor(self, step: int) -> None:
        self.user_moved = True
        self.move_cursor(row=self.cursor_row + step)

    def action_cursor_to(self, row: int) -> None:
        self.user_moved = True
        self.move_cursor(row=row if row >= 0 else len(self._keys) - 1)

    def watch_cursor_row(self, old: int, new: int) -> None:
        visible = max(1, self.size.height - 1)
        if new < self.scroll_y:
            self.scroll_to(y=new, animate=False)
        elif new >= self.scroll_y + visible:
            self.scroll_to(y=new - visible + 1, animate=False)
        self._refresh_row(old)
        self._refresh_row(new)
        self.post_message(self.Highlighted(self, self.selected_key()))

    def _refresh_row(self, index: int) -> None:
        y = index - int(self.scroll_y) + 1
        if 1 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    def _grow(self, cells: tuple[Text, ...], done: int, expected: int | None) -> None:
        """Widths only grow (columns never jump back and forth while a run goes on); a known
        total reserves the room of its own count (`1000/1000`) from the first row."""
        widths = self._widths
        for column in (BLOCK, NAME, 3, 4):
            widths[column] = max(widths[column], cells[column].cell_len)
        count = len(progress_count(expected, expected)) if expected else len(str(done))
        widths[PROGRESS] = max(widths[PROGRESS], count, len(progress_count(done, expected)))

    def _cells(
        self, block: BlockLike, now: float, colours: dict[str, str], pacer: Pacer | None
    ) -> tuple[Text, ...]:
        done, expected = progress_of(block)
        speed = ""
        if pacer is not None and block.status == "running":
            measured = pacer(block, now)
            speed = pace(measured.rate, measured.eta)
        return (
            Text(block.block_type),
            Text(block.name),
            status_text(block.status, colours),
            Text(str(block.success_count)),
            Text(str(block.error_count)),
            Text(progress_bar(done, expected)),
            Text(elapsed(block, now)),
            Text(speed, style="dim"),
        )

    # ------------------------------------------------------------------ rendering

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        sizes, bar = fit_columns(self._natural(), width)
        if y == 0:
            header = tuple(Text(label) for label, _ in COLUMNS)
            style = base + self.get_component_rich_style("block-table--header")
            return self._strip(header, None, style, width, sizes, bar)
        index = y - 1 + int(self.scroll_y)
        if index >= len(self._keys):
            return Strip.blank(width, base)
        row = self._rows[self._keys[index]]
        style = base
        if index == self.cursor_row:
            style = base + self.get_component_rich_style("block-table--cursor")
        signature = (row.signature, tuple(sizes), bar, str(style), width)
        cached = self._strips.get(index)
        if cached is not None and cached[0] == signature:
            return cached[1]
        strip = self._strip(row.cells, row.progress, style, width, sizes, bar)
        self._strips[index] = (signature, strip)
        return strip

    def _natural(self) -> list[int]:
        """Each column's natural width (the progress column: its count part)."""
        return [
            size if size is not None else self._widths[column]
            for column, (_, size) in enumerate(COLUMNS)
        ]

    def _strip(
        self,
        cells: tuple[Text, ...],
        progress: tuple[int, int | None] | None,
        style: Style,
        width: int,
        sizes: list[int],
        bar: int,
    ) -> Strip:
        line = Text(" ", no_wrap=True, end="")
        for column, cell in enumerate(cells):
            size = progress_room(sizes[column], bar) if column == PROGRESS else sizes[column]
            if not size:
                continue
            if column == PROGRESS:
                piece = self._progress_cell(cell, progress, bar)
            else:
                piece = cell.copy()
            piece.truncate(size, overflow="ellipsis")
            if column in RIGHT:
                piece.pad_left(size - piece.cell_len)
            else:
                piece.pad_right(size - piece.cell_len)
            line.append_text(piece)
            line.append("  ")
        segments = [
            Segment(seg.text, style + seg.style if seg.style else style)
            for seg in line.render(self.app.console)
        ]
        return Strip(segments).adjust_cell_length(width, style)

    @staticmethod
    def _progress_cell(cell: Text, progress: tuple[int, int | None] | None, bar: int) -> Text:
        """The bar (as wide as there is room for) and the whole count, never cut."""
        if progress is None:  # the header
            return cell.copy()
        done, expected = progress
        if not expected or not bar:
            return Text(progress_count(done, expected))
        return Text(progress_bar(done, expected, bar))


def _header_widths() -> list[int]:
    widths = [len(label) for label, _ in COLUMNS]
    widths[PROGRESS] = 0  # the count part only: the column's label has room of its own
    return widths
