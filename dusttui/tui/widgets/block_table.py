"""The block status pane: one row per block, cells updated in place as the run progresses."""

from __future__ import annotations

from typing import Protocol

from rich.text import Text
from textual.widgets import DataTable

GLYPHS = {"running": "●", "succeeded": "✓", "errored": "✗", "pending": "·"}
BAR_WIDTH = 10
# (key, label, width): fixed widths where values change while running, so columns never jump.
COLUMNS = (
    ("type", "block", None),
    ("name", "name", None),
    ("status", "status", 11),
    ("ok", "ok", 6),
    ("err", "err", 6),
    ("progress", "progress", 20),
    ("time", "time", 8),
)


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
    """`██████░░░░ 6/10`, or just the count when the expected total is unknown."""
    if not expected:
        return f"{done}" if done else ""
    filled = min(width, round(width * done / expected))
    return "█" * filled + "░" * (width - filled) + f" {done}/{expected}"


def elapsed(block: BlockLike, now: float) -> str:
    """Seconds the block has run (so far, when still running)."""
    if block.started_at is None:
        return ""
    end = block.ended_at if block.ended_at is not None else now
    return f"{max(0.0, end - block.started_at):.1f} s"


def status_text(status: str, colours: dict[str, str]) -> Text:
    """`✓ succeeded` in the theme's colour for that state; the glyph reads without colour."""
    glyph = GLYPHS.get(status, "?")
    return Text(f"{glyph} {status}", style=colours.get(status, ""))


class BlockTable(DataTable):
    """Rows keyed by block; only the cells whose text changed are repainted."""

    DEFAULT_CSS = """
    BlockTable { height: 1fr; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self._shown: dict[tuple[str, str], object] = {}

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    def show_rows(self, blocks: list[BlockLike], now: float) -> None:
        """Bring the table to ``blocks``: new ones are appended, changed cells updated in place."""
        keys = [row_key(b) for b in blocks]
        if [k.value for k in self.rows] != keys[: len(self.rows)]:
            self.reset()  # another run (or blocks re-ordered by a GET): start over
        colours = self.colours
        for key, block in zip(keys, blocks, strict=True):
            cells = self._cells(block, now, colours)
            if key not in self.rows:
                self.add_row(*cells, key=key)
                for (column, _, _), value in zip(COLUMNS, cells, strict=True):
                    self._shown[key, column] = _plain(value)
                continue
            for (column, _, _), value in zip(COLUMNS, cells, strict=True):
                plain = _plain(value)
                if self._shown.get((key, column)) != plain:
                    self._shown[key, column] = plain
                    self.update_cell(key, column, value)

    def reset(self) -> None:
        """Remove every row."""
        self.clear()
        self._shown.clear()

    @property
    def colours(self) -> dict[str, str]:
        """State → colour, from the current theme's block-* variables."""
        variables = self.app.theme_variables
        return {s: variables.get(f"block-{s}", "") for s in GLYPHS}

    def _cells(self, block: BlockLike, now: float, colours: dict[str, str]) -> tuple[Text, ...]:
        done = block.success_count + block.error_count
        return (
            Text(block.block_type),
            Text(block.name),
            status_text(block.status, colours),
            Text(str(block.success_count), justify="right"),
            Text(str(block.error_count), justify="right"),
            Text(progress_bar(done, block.expected)),
            Text(elapsed(block, now), justify="right"),
        )

    def selected_key(self) -> str | None:
        """The row key under the cursor, if any."""
        if not self.row_count:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value

    def select_key(self, key: str) -> None:
        """Put the cursor on a block's row."""
        if key in self.rows:
            self.move_cursor(row=self.get_row_index(key))


def _plain(value: object) -> object:
    # Style matters too (a theme change recolours), so compare text and style.
    if isinstance(value, Text):
        return (value.plain, str(value.style))
    return value
