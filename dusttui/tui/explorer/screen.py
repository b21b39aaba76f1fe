"""ExplorerScreen: every execution and error of a run, a few keys away, live while it streams.

Live updates: a 10 Hz timer compares ``state.version`` with the last one drawn and, when it moved,
takes a new snapshot (O(blocks + errors)) and syncs the views; the host may also call
:meth:`ExplorerScreen.refresh_from_state` directly after applying events.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Static, Tree

from dusttui.api.models import Run
from dusttui.tui.explorer.bindings import SCREEN_BINDINGS
from dusttui.tui.explorer.data import Pos, TraceData
from dusttui.tui.explorer.errors import next_error, prev_error
from dusttui.tui.explorer.errors_panel import ErrorGroups
from dusttui.tui.explorer.export import ExportError, default_filename, write_export
from dusttui.tui.explorer.export_dialog import ExportDialog, ExportRequest
from dusttui.tui.explorer.grid import TraceGrid
from dusttui.tui.explorer.help_keys import explorer_key_table
from dusttui.tui.explorer.search import Query, SearchError, SearchResult, parse_query, search
from dusttui.tui.explorer.search_panel import SearchPanel
from dusttui.tui.explorer.stats_panel import StatsTable
from dusttui.tui.explorer.trace_tree import NodeRef, TraceTree
from dusttui.tui.explorer.value_view import ValueView
from dusttui.tui.screens.help import HelpScreen

VIEWS: tuple[str, ...] = ("tree", "grid", "errors", "search", "stats")


class ExplorerScreen(Screen[None]):
    """The trace explorer over a ``RunState`` (live) or a finished wire ``Run``."""

    BINDINGS = SCREEN_BINDINGS
    DEFAULT_CSS = """
    ExplorerScreen #explorer-title { height: 1; padding: 0 1; background: $panel; text-style: bold; }
    ExplorerScreen #explorer-views { width: 1fr; min-width: 30; border-right: solid $panel-lighten-2; }
    ExplorerScreen ValueView { width: 1fr; }
    ExplorerScreen #explorer-body { height: 1fr; }
    """

    def __init__(
        self, state: Any, *, title: str | None = None, export_dir: Path | None = None
    ) -> None:
        super().__init__()
        self.state = state
        self.title_text = title
        self.export_dir = export_dir or Path.cwd()
        self.trace = self._snapshot()
        self.view = "tree"
        self.current: Pos | None = None
        self.current_block: int | None = None
        self.search_result: SearchResult | None = None
        self.errors_only = False  # the `f` filter, on the tree and the grid alike

    # ------------------------------------------------------------------ snapshot

    def _snapshot(self) -> TraceData:
        if isinstance(self.state, Run):
            return TraceData.from_run(self.state)
        return TraceData.from_state(self.state)

    def refresh_from_state(self) -> None:
        """Re-read the state now (the timer does this whenever ``state.version`` moves)."""
        if isinstance(self.state, Run):
            return
        data = self._snapshot()
        self.trace = data
        self.tree.sync(data)
        for view in self.query(TraceGrid):
            view.sync(data)
        for errors in self.query(ErrorGroups):
            errors.sync(data)
        for stats in self.query(StatsTable):
            stats.sync(data)
        if self.current is not None and self.query_one(ValueView).pos == self.current:
            self.query_one(ValueView).show(data, self.current)
        self._update_title()

    def _poll(self) -> None:
        version = getattr(self.state, "version", None)
        if version is not None and version != self.trace.version:
            self.refresh_from_state()

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Static("", id="explorer-title", markup=False)
        with Horizontal(id="explorer-body"):
            with ContentSwitcher(initial="view-tree", id="explorer-views"):
                yield TraceTree(self.trace, id="view-tree")
            yield ValueView(id="value-view")
        yield Footer()

    def on_mount(self) -> None:
        """Title, focus on the tree, and the live timer."""
        self._update_title()
        self.tree.focus()
        self.tree.cursor_line = 0  # on the first block, so arrows and enter act at once
        if not isinstance(self.state, Run):
            self.set_interval(0.1, self._poll, name="explorer-live")

    @property
    def tree(self) -> TraceTree:
        """The trace tree."""
        return self.query_one(TraceTree)

    def _update_title(self) -> None:
        data = self.trace
        run = (data.run_id or "")[:6]
        title = self.title_text or (f"Traces · run {run}…" if run else "Traces")
        text = Text(title)
        text.append(f" · {data.run_status}")
        n = len(data.errors)
        if n:
            text.append(f" · {n} error{'s' if n != 1 else ''}", "bold red")
            k = data.error_index_at(self.current) if self.current is not None else None
            if k is not None:
                text.append(f" · error {k + 1}/{n}")
        else:
            text.append(" · no errors")
        if self.errors_only:
            text.append(" · errors only", "bold")
        text.append("   ")
        for k, name in enumerate(VIEWS, 1):
            text.append(f" {k} {name} ", "reverse" if name == self.view else "dim")
        title_bar = self.query_one("#explorer-title", Static)
        if title_bar.content != text:
            title_bar.update(text, layout=False)  # one line high, whatever it says

    def _ensure_view(self, name: str) -> Any:
        switcher = self.query_one(ContentSwitcher)
        found = switcher.query(f"#view-{name}")
        if found:
            return found.first()
        widget: Any
        if name == "grid":
            widget = TraceGrid(self.trace, errors_only=self.errors_only, id="view-grid")
        elif name == "errors":
            widget = ErrorGroups(self.trace, id="view-errors")
        elif name == "search":
            widget = SearchPanel(id="view-search")
        else:
            widget = StatsTable(self.trace, id="view-stats")
        switcher.mount(widget)
        return widget

    def action_view(self, name: str) -> None:
        """Switch the left pane to one of: tree, grid, errors, search, stats."""
        widget = self._ensure_view(name) if name != "tree" else self.tree
        self.query_one(ContentSwitcher).current = f"view-{name}"
        self.view = name
        if name == "grid" and self.current is not None:
            widget.move_to(self.current[0], self.current[1])
        if name == "search":
            self.call_after_refresh(widget.focus_input)
        else:
            self.call_after_refresh(widget.focus)
        self._update_title()

    # ------------------------------------------------------------------ opening executions

    def _show(self, pos: Pos | None, block: int | None = None) -> None:
        self.current = pos
        self.current_block = pos[0] if pos is not None else block
        self.query_one(ValueView).show(self.trace, pos)
        self._update_title()

    def open_in_tree(self, pos: Pos) -> bool:
        """Show ``pos`` in the tree with the cursor on it and its value on the right."""
        if self.view != "tree":
            self.action_view("tree")
        node = self.tree.reveal(pos)
        if node is None:
            return False
        self.tree.goto(node)
        ref = node.data
        self._show(ref.pos if ref is not None else pos)
        return True

    @on(Tree.NodeHighlighted, "#view-tree")
    def _highlighted(self, event: Tree.NodeHighlighted[NodeRef]) -> None:
        ref = event.node.data
        if not self.tree.is_current(event.node):
            return
        if ref is not None and (ref.pos != self.current or ref.pos is None):
            self._show(ref.pos, ref.b)

    @on(Tree.NodeSelected, "#view-tree")
    def _selected(self, event: Tree.NodeSelected[NodeRef]) -> None:
        ref = event.node.data
        if ref is None or not self.tree.is_current(event.node):
            return
        if ref.kind == "more":
            self.tree.open_gap(event.node)
            self._show(event.node.data.pos if event.node.data else None, ref.b)
        elif ref.kind in ("input", "iter") and not event.node.allow_expand:
            self.query_one(ValueView).json.focus()

    @on(ValueView.Leave)
    def _leave_value(self) -> None:
        widget = self.tree if self.view == "tree" else self._ensure_view(self.view)
        widget.focus()

    @on(TraceGrid.CellOpened)
    def _cell_opened(self, event: TraceGrid.CellOpened) -> None:
        self.open_in_tree(event.pos)

    # ------------------------------------------------------------------ errors

    def _jump_error(self, k: int | None) -> None:
        if k is None:
            self.notify("No errors in this run.", timeout=2)
            return
        pos = self.trace.errors[k]
        if self.view == "grid":
            grid = self.query_one(TraceGrid)
            grid.move_to(pos[0], pos[1])
            self._show(pos)
        else:
            self.open_in_tree(pos)

    def action_next_error(self) -> None:
        """Jump to the next error in run order (wraps around)."""
        self._jump_error(next_error(self.trace.errors, self.current))

    def action_prev_error(self) -> None:
        """Jump to the previous error in run order (wraps around)."""
        self._jump_error(prev_error(self.trace.errors, self.current))

    @on(ErrorGroups.Jump)
    def _group_jump(self, event: ErrorGroups.Jump) -> None:
        self.open_in_tree(self.trace.errors[event.index])

    def action_errors_only(self) -> None:
        """Toggle the tree and the grid between every input and inputs with errors only."""
        on = self.errors_only = not self.errors_only
        self.tree.set_errors_only(on)
        for grid in self.query(TraceGrid):
            grid.set_errors_only(on)
        self.notify("Errors only" if on else "All inputs", timeout=1.5)
        if self.view == "grid":
            pos = self.query_one(TraceGrid).cursor_pos
            if pos is not None:
                self._show(pos)
        elif self.current is not None and self.view == "tree":
            self.open_in_tree(self.current)
        self._update_title()

    # ------------------------------------------------------------------ search

    def action_search(self) -> None:
        """Open the search view with the cursor in the query box."""
        self.action_view("search")

    @on(SearchPanel.Requested)
    def _search_requested(self, event: SearchPanel.Requested) -> None:
        panel = self.query_one(SearchPanel)
        try:
            query = parse_query(event.text)
            query.matcher()
        except SearchError as exc:
            panel.set_status(str(exc))
            return
        self._run_search(query)

    # Threads through asyncio.to_thread, not Textual's thread workers: those leave the worker
    # (and through it this screen and its run) in the pool thread's context after they end.
    @work(exclusive=True, group="explorer-search", exit_on_error=False, name="explorer-search")
    async def _run_search(self, query: Query) -> None:
        data = self.trace
        result = await asyncio.to_thread(search, data, query)
        self._search_done(data, result)

    def _search_done(self, data: TraceData, result: SearchResult) -> None:
        self.search_result = result
        self.query_one(SearchPanel).show(data, result)

    @on(SearchPanel.Jump)
    def _search_jump(self, event: SearchPanel.Jump) -> None:
        if self.search_result is not None:
            self.open_in_tree(self.search_result.hits[event.index].pos)

    # ------------------------------------------------------------------ copy, export, back

    def action_copy(self, what: str) -> None:
        """Copy the value or JSON path under the value view's cursor (OSC 52)."""
        found = self.query_one(ValueView).copy_text(what)
        if found is None:
            self.notify("Open an execution first.", severity="warning", timeout=2)
            return
        text, label = found
        self.app.copy_to_clipboard(text)
        self.notify(f"Copied {label}", timeout=2)

    def action_export(self) -> None:
        """Ask what to export and where, then write it in a thread."""
        data = self.trace
        b = self.current_block
        label = f"{data.blocks[b].block_type} {data.blocks[b].name}" if b is not None else None
        names = {
            "block": default_filename(data, b, "jsonl") if b is not None else "",
            "run": default_filename(data, None, "jsonl"),
        }
        self.app.push_screen(ExportDialog(b, label, self.export_dir, names), self._export_chosen)

    def _export_chosen(self, request: ExportRequest | None) -> None:
        if request is not None:
            self._run_export(request)

    @work(exclusive=True, group="explorer-export", exit_on_error=False, name="explorer-export")
    async def _run_export(self, request: ExportRequest) -> None:
        blocks = None if request.block is None else [request.block]
        try:
            count = await asyncio.to_thread(
                write_export, request.path, self.trace, blocks, request.fmt
            )
        except ExportError as exc:
            self.notify(str(exc), severity="error", timeout=6, markup=False)
            return
        self.notify(f"Wrote {count:,} executions to {request.path}", timeout=4, markup=False)

    def action_help(self) -> None:
        """Show the explorer's keys (the app's own help lists the main screen's)."""
        if not isinstance(self.app.screen, HelpScreen):
            table = explorer_key_table()
            self.app.push_screen(HelpScreen({}, title="Trace explorer keys", table=table))

    def action_back(self) -> None:
        """Close the explorer."""
        self.dismiss(None)
