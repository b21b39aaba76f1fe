"""ExplorerScreen: every execution and error of a run, a few keys away, live while it streams.

Live updates: on each of the host App's ``run_changed`` signals (else a 10 Hz timer) it compares
``state.version`` with the last one drawn and, when it moved, takes a new snapshot (O(blocks + inputs + errors)) and syncs the views; the host may also call
:meth:`ExplorerScreen.refresh_from_state` directly after applying events.

The layout follows the terminal: below ``NARROW`` columns the value view goes under the left
pane instead of beside it; the stats view, and the grid when it needs the width, hide the value
view rather than share the screen with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import ContentSwitcher, Footer, Input, Static, Tree

from dusttui.api.models import Run
from dusttui.tui.explorer.bindings import SCREEN_BINDINGS
from dusttui.tui.explorer.data import Pos, TraceData
from dusttui.tui.explorer.errors import next_error, prev_error
from dusttui.tui.explorer.errors_panel import ErrorGroups, no_errors_text
from dusttui.tui.explorer.export import ExportError, default_filename, write_export
from dusttui.tui.explorer.export_dialog import ExportDialog, ExportRequest
from dusttui.tui.explorer.gc_pacing import IdleCollector
from dusttui.tui.explorer.grid import TraceGrid
from dusttui.tui.explorer.header import VIEWS, header_text, tabs_text, title_text
from dusttui.tui.explorer.help_keys import explorer_key_table
from dusttui.tui.explorer.jsonpath import dumps
from dusttui.tui.explorer.safe_text import one_line
from dusttui.tui.explorer.search import Query, SearchError, SearchResult, parse_query, search
from dusttui.tui.explorer.search_panel import SearchPanel
from dusttui.tui.explorer.stats_panel import StatsTable
from dusttui.tui.explorer.summary import plural
from dusttui.tui.explorer.trace_tree import NodeRef, TraceTree
from dusttui.tui.explorer.value_view import ValueView
from dusttui.tui.screens.help import HelpScreen

__all__ = ["NARROW", "VIEWS", "ExplorerScreen"]

NARROW = 100  # below this many columns the value view goes under the left pane
VALUE_MIN = 40  # the grid keeps the value view beside it only with this many columns to spare
HELP_TITLE = "Trace explorer keys  ·  escape, q, ? or F1 closes this help"


class ExplorerScreen(Screen[None]):
    """The trace explorer over a ``RunState`` (live) or a finished wire ``Run``.

    ``spec_blocks``: (block_type, name) of the app's blocks, when the caller knows them: blocks
    the run never reached are then listed as not run.
    """

    BINDINGS = SCREEN_BINDINGS
    DEFAULT_CSS = """
    ExplorerScreen #explorer-title {
        height: auto; padding: 0 1; background: $panel; text-wrap: nowrap; text-overflow: ellipsis;
    }
    ExplorerScreen #explorer-body { height: 1fr; }
    ExplorerScreen #explorer-views {
        width: 1fr; height: 1fr; min-width: 30; border-right: solid $panel-lighten-2;
    }
    ExplorerScreen #explorer-views > * { height: 1fr; }
    ExplorerScreen ValueView { width: 1fr; height: 1fr; }
    ExplorerScreen.-stacked #explorer-body { layout: vertical; }
    ExplorerScreen.-stacked #explorer-views {
        min-width: 0; border-right: none; border-bottom: solid $panel-lighten-2;
    }
    ExplorerScreen.-no-value ValueView { display: none; }
    ExplorerScreen.-no-value #explorer-views { border-right: none; border-bottom: none; }
    """

    def __init__(
        self,
        state: Any,
        *,
        title: str | None = None,
        export_dir: Path | None = None,
        spec_blocks: Sequence[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__()
        self.state = state
        self.title_text = title
        self.export_dir = export_dir or Path.cwd()
        self.spec_blocks = list(spec_blocks) if spec_blocks is not None else None
        self.trace = self._snapshot()
        self.view = "tree"
        self.current: Pos | None = None
        self.current_block: int | None = None
        self.search_result: SearchResult | None = None
        self.errors_only = False  # the `f` filter, on the tree and the grid alike
        self._header_lines = 1
        self.idle_gc = IdleCollector()

    # ------------------------------------------------------------------ snapshot

    def _snapshot(self) -> TraceData:
        if isinstance(self.state, Run):
            return TraceData.from_run(self.state, spec_blocks=self.spec_blocks)
        return TraceData.from_state(self.state, spec_blocks=self.spec_blocks)

    def refresh_from_state(self) -> None:
        """Re-read the state now (the timer does this whenever ``state.version`` moves)."""
        if isinstance(self.state, Run):
            return
        data = self._snapshot()
        self.trace = data
        self.trace_tree.sync(data)
        for grid in self.query(TraceGrid):
            grid.sync(data)
        for errors in self.query(ErrorGroups):
            errors.sync(data)
        for stats in self.query(StatsTable):
            stats.sync(data)
        value = self.value_view
        if self.current is not None and value.pos == self.current:
            value.show(data, self.current)
        self._update_title()
        self._sync_layout()

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
        yield Footer(compact=True)

    def on_mount(self) -> None:
        """Title, layout, focus on the tree, and the live timer."""
        # Each jump builds and drops a few hundred nodes: the older generations' collections
        # they trigger (~5 ms, or ~50 ms for a full one) wait for a pause between keys.
        self.idle_gc.start()
        self.set_interval(0.25, self.idle_gc.tick, name="explorer-gc")
        self._update_title()
        self._sync_layout()
        self.trace_tree.focus()
        self.trace_tree.cursor_line = 0  # on the first block, so arrows and enter act at once
        if not isinstance(self.state, Run):
            # Inside dusttui the App publishes each run's changes (coalesced): follow those;
            # a host without that signal (the standalone explorer) gets the 10 Hz timer.
            changed = getattr(self.app, "run_changed", None)
            if changed is not None:
                changed.subscribe(self, lambda run: self._poll())
            else:
                self.set_interval(0.1, self._poll, name="explorer-live")

    def on_unmount(self) -> None:
        """Give the GC its usual thresholds back."""
        self.idle_gc.stop()

    def on_resize(self, event: events.Resize) -> None:
        """The header and the panes follow the terminal's size."""
        self._update_title()
        self._sync_layout()

    @property
    def trace_tree(self) -> TraceTree:
        """The trace tree."""
        return self.query_one(TraceTree)

    @property
    def value_view(self) -> ValueView:
        """The value view (right, or below the left pane on narrow terminals)."""
        return self.query_one(ValueView)

    def _sync_layout(self) -> None:
        width = self.size.width or self.app.size.width
        no_value = self.view == "stats"
        left: int | None = None  # the left pane's width when it takes what it needs, not half
        if self.view == "grid":
            grid = self.query_one(TraceGrid)
            left = grid.natural_width + 2  # its scrollbar, and the border beside the value view
            no_value = left + VALUE_MIN > width
        self.set_class(no_value, "-no-value")
        self.set_class(not no_value and width < NARROW, "-stacked")
        views = self.query_one("#explorer-views")
        wanted = left if left is not None and not no_value else None
        if (views.styles.width is None or views.styles.width.cells) != wanted:
            views.styles.width = wanted if wanted is not None else "1fr"

    def _update_title(self) -> None:
        title = title_text(self.trace, self.title_text, self.current, self.errors_only)
        width = (self.size.width or self.app.size.width) - 2  # the header's padding
        text = header_text(title, tabs_text(self.view), width)
        bar = self.query_one("#explorer-title", Static)
        if bar.content != text:
            lines = text.plain.count("\n") + 1
            bar.update(text, layout=lines != self._header_lines)  # a layout only if it grows
            self._header_lines = lines

    def _view_widget(self, name: str) -> Widget:
        """The widget of a view, built the first time it is shown."""
        if name == "tree":
            return self.trace_tree
        switcher = self.query_one(ContentSwitcher)
        found = switcher.query(f"#view-{name}")
        if found:
            return found.first()
        widget: Widget
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
        widget = self._view_widget(name)
        self.query_one(ContentSwitcher).current = f"view-{name}"
        self.view = name
        if isinstance(widget, TraceGrid):
            if self.current is not None:
                widget.move_to(self.current[0], self.current[1])
            self._show(widget.cursor_pos)  # the value view shows the cell under the cursor
        self.call_after_refresh(self._focus_view, widget)
        self._update_title()
        self._sync_layout()

    def _focus_view(self, widget: Widget) -> None:
        # the search view opens on its results: digits keep switching views until / is pressed
        (widget.results if isinstance(widget, SearchPanel) else widget).focus()

    # ------------------------------------------------------------------ opening executions

    def _show(self, pos: Pos | None, block: int | None = None) -> None:
        self.idle_gc.touch()  # every jump and cursor move comes here
        self.current = pos
        self.current_block = pos[0] if pos is not None else block
        self.value_view.show(self.trace, pos)
        self._update_title()

    def open_in_tree(self, pos: Pos) -> bool:
        """Show ``pos`` in the tree with the cursor on it and its value on the right."""
        if self.view != "tree":
            self.action_view("tree")
        tree = self.trace_tree
        node = tree.reveal(pos)
        if node is None:
            return False
        tree.goto(node)
        ref = node.data
        self._show(ref.pos if ref is not None else pos)
        return True

    @on(Tree.NodeHighlighted, "#view-tree")
    def _highlighted(self, event: Tree.NodeHighlighted[NodeRef]) -> None:
        ref = event.node.data
        if not self.trace_tree.is_current(event.node):
            return
        if ref is not None and (ref.pos != self.current or ref.pos is None):
            self._show(ref.pos, ref.b)

    @on(Tree.NodeSelected, "#view-tree")
    def _selected(self, event: Tree.NodeSelected[NodeRef]) -> None:
        ref = event.node.data
        if ref is None or not self.trace_tree.is_current(event.node):
            return
        if ref.kind == "more":
            self.trace_tree.open_gap(event.node)
            self._show(event.node.data.pos if event.node.data else None, ref.b)
        elif ref.kind in ("input", "iter") and not event.node.allow_expand:
            self.value_view.json.focus()

    @on(ValueView.Leave)
    def _leave_value(self) -> None:
        self._view_widget(self.view).focus()

    @on(TraceGrid.CellOpened)
    def _cell_opened(self, event: TraceGrid.CellOpened) -> None:
        self.open_in_tree(event.pos)

    @on(TraceGrid.CursorMoved)
    def _cell_moved(self, event: TraceGrid.CursorMoved) -> None:
        if event.pos is not None:
            self._show(event.pos)

    # ------------------------------------------------------------------ errors

    def _jump_error(self, k: int | None) -> None:
        if k is None:
            self.notify(no_errors_text(self.trace), timeout=3, markup=False)
            return
        pos = self.trace.errors[k]
        if self.view == "grid":
            self.query_one(TraceGrid).move_to(pos[0], pos[1])
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

    @on(ErrorGroups.Preview)
    def _group_preview(self, event: ErrorGroups.Preview) -> None:
        if self.view == "errors" and event.index < len(self.trace.errors):
            self._show(self.trace.errors[event.index])

    def action_errors_only(self) -> None:
        """Toggle the tree and the grid between every input and inputs with errors only."""
        on = self.errors_only = not self.errors_only
        self.trace_tree.set_errors_only(on)
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
        self.call_after_refresh(self.query_one(SearchPanel).focus_input)

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
        self.search_result = result
        self.query_one(SearchPanel).show(data, result)

    @on(SearchPanel.Jump)
    def _search_jump(self, event: SearchPanel.Jump) -> None:
        if self.search_result is not None:
            self.open_in_tree(self.search_result.hits[event.index].pos)

    @on(SearchPanel.Preview)
    def _search_preview(self, event: SearchPanel.Preview) -> None:
        hits = self.search_result.hits if self.search_result is not None else []
        if self.view == "search" and event.index < len(hits):
            self._show(hits[event.index].pos)

    # ------------------------------------------------------------------ copy, export, back

    def action_copy(self, what: str) -> None:
        """Copy what the cursor is on (OSC 52): in the value view, the error or the value (or
        JSON path) under its cursor; elsewhere the highlighted execution's value, or its error."""
        found = self.value_view.copy_text(what)
        if found is None:
            found = self._copy_execution(what)
        if found is None:
            return
        text, label = found
        self.app.copy_to_clipboard(text)
        self.notify(one_line(f"Copied {label}"), timeout=2, markup=False)

    def _copy_execution(self, what: str) -> tuple[str, str] | None:
        """(text, what it is) for the highlighted execution, or None after saying why not."""
        pos = self.current
        e = self.trace.execution(pos) if pos is not None else None
        if pos is None or e is None:
            self.notify(
                "Put the cursor on an input or an iteration to copy it.",
                severity="warning",
                timeout=3,
            )
            return None
        if what == "path":
            self.notify(
                "Y copies the JSON path under the value view's cursor: tab into the value first.",
                severity="warning",
                timeout=3,
            )
            return None
        info = self.trace.blocks[pos[0]]
        where = f"{info.block_type} {info.name} #{pos[1]}"
        if info.in_loop or len(self.trace.row(pos[0], pos[1])) > 1:
            where += f" iteration {pos[2]}"
        if e.error is not None:
            return e.error, f"the error of {where}"
        text = e.value if isinstance(e.value, str) else dumps(e.value, indent=True)
        return text, f"the value of {where}"

    def action_export(self) -> None:
        """Ask what to export and where, then write it in a thread."""
        data = self.trace
        b = self.current_block
        label = f"{data.blocks[b].block_type} {data.blocks[b].name}" if b is not None else None
        names = {
            "run": default_filename(data, None, "jsonl"),
            "run-errors": default_filename(data, None, "jsonl", errors_only=True),
        }
        if b is not None:
            names["block"] = default_filename(data, b, "jsonl")
            names["block-errors"] = default_filename(data, b, "jsonl", errors_only=True)
        dialog = ExportDialog(b, label, self.export_dir, names, errors_only=self.errors_only)
        self.app.push_screen(dialog, self._export_chosen)

    def _export_chosen(self, request: ExportRequest | None) -> None:
        if request is not None:
            self._run_export(request)

    @work(exclusive=True, group="explorer-export", exit_on_error=False, name="explorer-export")
    async def _run_export(self, request: ExportRequest) -> None:
        data = self.trace
        blocks = None if request.block is None else [request.block]
        try:
            count = await asyncio.to_thread(
                write_export,
                request.path,
                data,
                blocks,
                request.fmt,
                errors_only=request.errors_only,
            )
        except ExportError as exc:
            self.notify(one_line(str(exc)), severity="error", timeout=6, markup=False)
            return
        what = plural(count, "failed execution" if request.errors_only else "execution")
        if request.block is None:
            scope = "the whole run"
        else:
            info = data.blocks[request.block]
            scope = f"{info.block_type} {info.name}"
        message = f"Wrote {what} of {scope} to {request.path}"
        self.notify(one_line(message), timeout=5, markup=False)

    def action_help(self) -> None:
        """Show the explorer's keys (the app's own help lists the main screen's)."""
        if not isinstance(self.app.screen, HelpScreen):
            table = explorer_key_table()
            self.app.push_screen(HelpScreen({}, title=HELP_TITLE, table=table))

    def action_back(self) -> None:
        """Close the explorer; in the search box, leave the box (a second escape closes)."""
        focused = self.focused
        if isinstance(focused, Input) and focused.id == "search-input":
            self.query_one(SearchPanel).focus_results()
            return
        self.dismiss(None)
