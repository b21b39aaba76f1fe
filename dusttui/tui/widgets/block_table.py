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

GLYPHS = {"running": "●", "succeeded": "✓", "errored": "✗", "pending": "·"}
BAR_WIDTH = 10
# (label, width): fixed widths where values change while running, so columns never jump;
# None: as wide as the widest value (block types and names do not change once shown).
COLUMNS = (
    ("block", None),
    ("name", None),
    ("status", 11),
    ("ok", 6),
    ("err", 6),
    ("progress", 20),
    ("time", 8),
    ("pace", 16),
)
RIGHT = {3, 4, 6}  # right-aligned columns: ok, err, time
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


def progress_bar(done: int, expected: int | None, width: int = BAR_WIDTH) -> str:
    """`██████░░░░ 6/10` (full only once all ran), or just the count when the total is unknown."""
    if not expected:
        return f"{done}" if done else ""
    filled = min(width, width * done // expected)
    return "█" * filled + "░" * (width - filled) + f" {done}/{expected}"


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
    return Text(f"{glyph} {status}", style=colours.get(status, ""))


@dataclass
class _Row:
    cells: tuple[Text, ...]
    signature: tuple[tuple[str, str], ...]


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
        self._widths: list[int] = [len(label) for label, _ in COLUMNS]
        self._strips: dict[int, tuple[tuple[Any, ...], Strip]] = {}

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
            self._rows[key] = _Row(cells, signature)
            if row is None:
                self._keys.append(key)
                for column in (0, 1):
                    self._widths[column] = max(self._widths[column], cells[column].cell_len)
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
        self._widths = [len(label) for label, _ in COLUMNS]
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
        self.move_cursor(row=self.cursor_row + step)

    def action_cursor_to(self, row: int) -> None:
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

    def _cells(
        self, block: BlockLike, now: float, colours: dict[str, str], pacer: Pacer | None
    ) -> tuple[Text, ...]:
        done = block.success_count + block.error_count
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
            Text(progress_bar(done, block.expected)),
            Text(elapsed(block, now)),
            Text(speed, style="dim"),
        )

    # ------------------------------------------------------------------ rendering

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.rich_style
        if y == 0:
            header = tuple(Text(label) for label, _ in COLUMNS)
            style = base + self.get_component_rich_style("block-table--header")
            return self._strip(header, style, width)
        index = y - 1 + int(self.scroll_y)
        if index >= len(self._keys):
            return Strip.blank(width, base)
        row = self._rows[self._keys[index]]
        style = base
        if index == self.cursor_row:
            style = base + self.get_component_rich_style("block-table--cursor")
        signature = (row.signature, tuple(self._widths), str(style), width)
        cached = self._strips.get(index)
        if cached is not None and cached[0] == signature:
            return cached[1]
        strip = self._strip(row.cells, style, width)
        self._strips[index] = (signature, strip)
        return strip

    def _strip(self, cells: tuple[Text, ...], style: Style, width: int) -> Strip:
        line = Text(" ", no_wrap=True, end="")
        for column, cell in enumerate(cells):
            size = COLUMNS[column][1] or self._widths[column]
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
