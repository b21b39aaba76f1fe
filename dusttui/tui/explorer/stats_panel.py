"""Token usage and latency per block, with totals for the run."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from dusttui.costs import cached_prices
from dusttui.tui.explorer.data import TraceData
from dusttui.tui.explorer.safe_text import one_line
from dusttui.tui.explorer.summary import fmt_count, fmt_seconds, stats_rows


class StatsTable(DataTable[Text]):
    """One row per block and a total row."""

    def __init__(
        self,
        data: TraceData,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, name=name, id=id, classes=classes)
        self._trace_data = data

    def on_mount(self) -> None:
        """Columns, then the figures."""
        self.add_columns(
            "block",
            "name",
            "executions",
            "errors",
            "prompt tok",
            "completion tok",
            "latency",
            "cost (estimate)",
        )
        self.sync(self._trace_data)

    def sync(self, data: TraceData) -> None:
        """Redraw with the figures of a newer snapshot."""
        self._trace_data = data
        self.clear()
        for row in stats_rows(data, cached_prices()):
            bold = "bold" if row.block_type == "total" else ""
            self.add_row(
                Text(one_line(row.block_type), bold),
                Text(one_line(row.name), bold),
                Text(fmt_count(row.executions), bold, justify="right"),
                Text(fmt_count(row.errors), bold, justify="right"),
                Text(fmt_count(row.prompt_tokens), bold, justify="right"),
                Text(fmt_count(row.completion_tokens), bold, justify="right"),
                Text(fmt_seconds(row.latency), bold, justify="right"),
                Text(row.cost, bold, justify="right"),
            )
