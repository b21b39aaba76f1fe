"""ConfigsScreen: one set of inputs run with N configs, as a grid inputs × configs.

Each column is a config's run (status, latency, tokens, how its config differs from config 1);
each cell an input's output (or error) and tokens — live while the runs stream. Below the grid,
the diff of two cells: the cell under the cursor against config 1's for the same input, or against
the cell marked with ``m``. ``K`` keeps the cursor's config as the app's saved config (an app of
the user's own apps folder: ``NAME.config.json``).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from dusttui.compare.grid import ConfigGrid, SaveError, cell_diff, row_texts, save_config
from dusttui.compare.render import change_line
from dusttui.compare.text import one_line, plural, safe
from dusttui.compare.values import diff_values
from dusttui.tui.diff.styled import mark, styled

__all__ = ["ConfigsScreen"]

BINDINGS: list[BindingType] = [
    Binding("escape", "back", "Back", id="configs.back", tooltip="Close the grid"),
    Binding(
        "m",
        "mark",
        "Mark cell",
        id="configs.mark",
        tooltip="Mark the cell under the cursor: the diff shows it against the cursor's cell",
    ),
    Binding(
        "K",
        "keep",
        "Keep config",
        id="configs.keep",
        tooltip="Keep the cursor's config as the app's saved config (asks first)",
    ),
]


class ConfigsScreen(Screen[None]):
    """The runs of ``configs`` on ``inputs`` (``runs[k]`` is config ``k``'s tracked run)."""

    BINDINGS = BINDINGS
    DEFAULT_CSS = """
    ConfigsScreen #configs-title { height: 1; padding: 0 1; background: $panel; text-style: bold; }
    ConfigsScreen #configs-head { height: auto; max-height: 10; padding: 0 1; }
    ConfigsScreen DataTable { height: 2fr; }
    ConfigsScreen #configs-diff { height: 1fr; padding: 0 1; border-top: solid $panel-lighten-2; }
    """

    def __init__(self, app_model: Any, runs: list[Any], inputs: list[Any]) -> None:
        super().__init__()
        self.app_model = app_model
        self.runs = runs
        self.inputs = inputs
        self.marked: tuple[int, int] | None = None
        self._versions: tuple[int, ...] | None = None
        self.grid: ConfigGrid | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="configs-title", markup=False)
        yield Static("", id="configs-head", markup=False)
        yield DataTable(id="configs-table", cursor_type="cell", zebra_stripes=True)
        with VerticalScroll(id="configs-diff"):
            yield Static("", id="configs-diff-text", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        """The grid's columns, then its cells as the runs come."""
        table = self.query_one(DataTable)
        table.add_column(Text("input"), key="input", width=28)
        for k in range(len(self.runs)):
            table.add_column(Text(f"config {k + 1}"), key=f"c{k}", width=36)
        for i, value in enumerate(self.inputs):
            table.add_row(
                Text(f"#{i} {one_line(value)}"), *([Text("…")] * len(self.runs)), key=f"i{i}"
            )
        self._poll()
        self.set_interval(0.25, self._poll, name="configs-live")
        table.focus()

    # ------------------------------------------------------------------ live

    def _states(self) -> list[Any] | None:
        states = [run.state for run in self.runs]
        return None if any(s is None for s in states) else states

    def _poll(self) -> None:
        states = self._states()
        if states is None:
            self._title()
            return
        versions = tuple(s.version for s in states)
        if versions == self._versions:
            return
        self._versions = versions
        if self.grid is None or any(
            a is not b for a, b in zip(self.grid.states, states, strict=True)
        ):
            self.grid = ConfigGrid(
                states, [f"config {k + 1}" for k in range(len(states))], self.inputs
            )
        table = self.query_one(DataTable)
        for i in range(len(self.inputs)):
            for k, text in enumerate(row_texts(self.grid, i)):
                table.update_cell(f"i{i}", f"c{k}", Text(text))
        self._head()
        self._title()
        self._show_diff()

    def _title(self) -> None:
        done = sum(1 for run in self.runs if run.done)
        text = Text(
            f"{self.app_model.name} · {plural(len(self.inputs), 'input')} × "
            f"{plural(len(self.runs), 'config')}"
        )
        text.append(" · all done" if done == len(self.runs) else f" · {done}/{len(self.runs)} done")
        if self.marked is not None:
            text.append(f" · marked #{self.marked[0]} config {self.marked[1] + 1}", "bold")
        self.query_one("#configs-title", Static).update(text)

    def _head(self) -> None:
        grid = self.grid
        if grid is None:
            return
        lines = []
        columns = grid.columns
        for k, col in enumerate(columns, 1):
            took = "–" if col.latency is None else f"{col.latency:.1f} s"
            tokens = col.prompt_tokens + col.completion_tokens
            lines.append(
                f"config {k}: run {safe((col.run_id or '?')[:8])}… · {col.status or 'starting'} · "
                f"{took} · {tokens:,} tokens"
            )
            if k > 1:
                changes, _ = diff_values(columns[0].config, col.config, limit=3)
                lines += [f"  vs config 1: {change_line(c, mark)}" for c in changes]
        self.query_one("#configs-head", Static).update(styled(lines))

    # ------------------------------------------------------------------ the diff of two cells

    @on(DataTable.CellHighlighted)
    def _moved(self, event: DataTable.CellHighlighted) -> None:
        self._show_diff()

    def _cursor(self) -> tuple[int, int] | None:
        row, column = self.query_one(DataTable).cursor_coordinate
        if column == 0 or not 0 <= row < len(self.inputs):
            return None
        return row, column - 1

    def _show_diff(self) -> None:
        grid, here = self.grid, self._cursor()
        out = self.query_one("#configs-diff-text", Static)
        if grid is None or here is None:
            out.update(Text("Move to a cell: its diff against config 1 (or the marked cell)."))
            return
        there = self.marked if self.marked is not None else (here[0], 0)
        if there == here:
            found = grid.cell(*here)
            what = found.error if found.error is not None else one_line(found.value)
            out.update(Text(f"#{here[0]} config {here[1] + 1}: {safe(str(what))}"))
            return
        changes, total = cell_diff(grid.cell(*there), grid.cell(*here))
        title = f"#{there[0]} config {there[1] + 1} → #{here[0]} config {here[1] + 1}"
        lines = [mark(title, "title")]
        lines += ["  " + change_line(c, mark) for c in changes] or ["  the same output"]
        if total > len(changes):
            lines.append(f"  … and {total - len(changes)} more changes")
        out.update(styled(lines))

    # ------------------------------------------------------------------ actions

    def action_back(self) -> None:
        """Close the grid (the runs stay in the runs list)."""
        self.app.pop_screen()

    def action_mark(self) -> None:
        """Mark the cell under the cursor (again: unmark)."""
        here = self._cursor()
        self.marked = None if here is None or here == self.marked else here
        self._title()
        self._show_diff()

    def action_keep(self) -> None:
        """Keep the cursor's config as the app's saved config, once confirmed."""
        here = self._cursor()
        if here is None:
            self.app.notify("Move to a config's column first.", severity="warning", markup=False)
            return
        k = here[1]
        config = self.runs[k].config or {}
        from dusttui.tui.screens.confirm import ConfirmScreen

        def answer(yes: bool | None) -> None:
            if yes:
                self._keep(config, k)

        question = f"Keep config {k + 1} as the saved config of {self.app_model.name}?"
        self.app.push_screen(ConfirmScreen(question), answer)

    @work(thread=True, exit_on_error=False, group="configs-keep")
    def _keep(self, config: dict[str, Any], k: int) -> None:
        settings = getattr(self.app, "settings", None)
        try:
            path = save_config(self.app_model, config, getattr(settings, "apps_dir", None))
        except SaveError as exc:
            self.app.call_from_thread(self.app.notify, str(exc), severity="error", markup=False)
            return
        said = f"Config {k + 1} kept as the saved config of {self.app_model.name}: {path}"
        self.app.call_from_thread(self.app.notify, said, markup=False)
