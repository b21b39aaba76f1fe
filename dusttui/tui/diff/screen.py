"""DiffScreen: two runs compared — counts, the differences changed first, each one's value diff.

The same :class:`~dusttui.compare.RunDiff` as ``dusttui diff``, over the RunStates the app holds:
a run reopened from the history or one that still streams (a 10 Hz timer updates the diff when
either run's ``version`` moved; blocks that did not move keep their comparison). Two finished runs
are compared in a thread, so a big diff never freezes the screen.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Static

from dusttui.compare import KINDS, DiffError, RunDiff
from dusttui.compare.render import KIND_TITLES, block_table, counts_line, detail_lines, header_lines
from dusttui.compare.text import safe
from dusttui.tui.diff.bindings import SCREEN_BINDINGS
from dusttui.tui.diff.diff_list import DiffList
from dusttui.tui.diff.lines_view import LinesView
from dusttui.tui.diff.styled import mark, styled
from dusttui.tui.keys import display_keys

__all__ = ["DiffScreen", "diff_key_table"]


def diff_key_table() -> Table:
    """The diff screen's keys (from its bindings and its list's) as a two-column table."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for binding in SCREEN_BINDINGS:
        if isinstance(binding, Binding) and binding.id:
            table.add_row(Text(display_keys(binding.key)), Text(binding.tooltip or ""))
    table.add_row(Text("up / down, pgup / pgdn"), Text("Move in the differences"))
    table.add_row(Text("tab / shift+tab"), Text("Between the differences and the detail"))
    return table


def _short(run_id: str | None) -> str:
    run_id = run_id or "?"
    return safe(run_id[: 15 if run_id.startswith("merged-") else 8]) + "…"


class DiffScreen(Screen[None]):
    """Run ``a`` (before) against run ``b`` (after); ``key`` matches inputs by a field."""

    BINDINGS = SCREEN_BINDINGS
    DEFAULT_CSS = """
    DiffScreen #diff-title { height: 1; padding: 0 1; background: $panel; text-style: bold; }
    DiffScreen #diff-head { height: auto; max-height: 12; padding: 0 1;
                            border-bottom: solid $panel-lighten-2; }
    DiffScreen #diff-body { height: 1fr; }
    DiffScreen #diff-left { width: 2fr; min-width: 30; border-right: solid $panel-lighten-2; }
    DiffScreen #diff-detail { width: 3fr; padding: 0 1; }
    """

    def __init__(self, a: Any, b: Any, *, key: str | None = None, title: str | None = None):
        super().__init__()
        self.a, self.b, self.key = a, b, key
        self.title_text = title
        self.diff: RunDiff | None = None
        self.problem: str | None = None
        self.index = -1

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Static("", id="diff-title", markup=False)
        yield Static(Text("Comparing the two runs…"), id="diff-head", markup=False)
        with Horizontal(id="diff-body"):
            with ContentSwitcher(initial="diff-waiting", id="diff-left"):
                yield Static("", id="diff-waiting", markup=False)
                with VerticalScroll(id="diff-blocks"):
                    yield Static("", id="diff-blocks-table", markup=False)
            yield LinesView(id="diff-detail")
        yield Footer()

    def on_mount(self) -> None:
        """Compare (in a thread when both runs are over), then follow either run that moves."""
        self._update_title()
        if self.a.done and self.b.done:
            self._compare_in_thread()
        else:
            self._compared(self._compare())
        self.set_interval(0.1, self._poll, name="diff-live")

    def _compare(self) -> RunDiff | str:
        try:
            return RunDiff(self.a, self.b, key=self.key)
        except DiffError as exc:
            return str(exc)

    @work(thread=True, exclusive=True, group="diff-compare")
    def _compare_in_thread(self) -> None:
        result = self._compare()  # nothing moves in finished runs: safe off the event loop
        self.app.call_from_thread(self._compared, result)

    def _compared(self, result: RunDiff | str) -> None:
        if isinstance(result, str):
            self.problem = result
            self.query_one("#diff-head", Static).update(Text(safe(result), style="bold red"))
            self.query_one("#diff-waiting", Static).update(Text("Nothing to compare."))
            self.query_one(LinesView).show(Text(""))
            self._update_title()
            return
        self.diff = result
        listing = DiffList(result, id="diff-list")
        self.query_one(ContentSwitcher).mount(listing)
        self.query_one(ContentSwitcher).current = "diff-list"
        self._refresh_all()
        listing.focus()
        listing.move_to(0)

    def _poll(self) -> None:
        if self.diff is not None and self.diff.update():
            self._refresh_all()

    def _refresh_all(self) -> None:
        diff = self.diff
        if diff is None:
            return
        width = max(40, self.size.width - 2)
        lines = [*header_lines(diff, width, mark), "", mark(counts_line(diff), "title")]
        self.query_one("#diff-head", Static).update(styled(lines))
        self._refresh_blocks()
        self.list.sync()
        if not len(diff):
            self.query_one(LinesView).show(self._empty_text())
        else:
            self._show(self.list.cursor)
        self._update_title()

    def _refresh_blocks(self) -> None:
        if self.diff is not None:
            table = block_table(self.diff, max(40, self.query_one("#diff-left").size.width))
            self.query_one("#diff-blocks-table", Static).update(styled(table))

    def _empty_text(self) -> Text:
        assert self.diff is not None
        if self.diff.counts["pending"]:
            return Text("No difference so far; the rest is still to come.")
        return Text("The two runs are the same, execution by execution.")

    @property
    def list(self) -> DiffList:
        """The list of differences."""
        return self.query_one(DiffList)

    def _update_title(self) -> None:
        text = Text(
            self.title_text or f"Diff · A {_short(self.a.run_id)} → B {_short(self.b.run_id)}"
        )
        diff = self.diff
        if diff is not None and len(diff):
            k = self.index
            kind = KIND_TITLES[diff[k].kind].split(" (")[0] if 0 <= k < len(diff) else ""
            text.append(f" · difference {k + 1:,}/{len(diff):,} ({kind})" if kind else "")
        elif diff is not None:
            text.append(" · no difference" if diff.equal else " · nothing differs so far")
        if not (self.a.done and self.b.done):
            text.append(" · live", "bold")
        bar = self.query_one("#diff-title", Static)
        if bar.content != text:
            bar.update(text, layout=False)

    # ------------------------------------------------------------------ showing one difference

    @on(DiffList.Moved)
    def _moved(self, event: DiffList.Moved) -> None:
        self._show(event.index)

    def _show(self, k: int) -> None:
        diff = self.diff
        if diff is None or not 0 <= k < len(diff):
            return
        self.index = k
        pane = self.query_one(LinesView)
        width = max(40, pane.size.width - 2)
        pane.show(styled(detail_lines(diff, diff.detail(k), width, mark, context=True)))
        self._update_title()

    # ------------------------------------------------------------------ actions

    def action_back(self) -> None:
        """Close the diff."""
        self.app.pop_screen()

    def action_next_difference(self) -> None:
        """The next difference (the list's cursor moves with it)."""
        if self.diff is not None:
            self.list.move_to(self.list.cursor + 1)

    def action_prev_difference(self) -> None:
        """The previous difference."""
        if self.diff is not None:
            self.list.move_to(self.list.cursor - 1)

    def action_next_kind(self) -> None:
        """The first difference of the next kind that has any (changed → broken → … → again)."""
        diff = self.diff
        if diff is None or not len(diff):
            return
        current = diff[self.list.cursor].kind
        order = list(KINDS)
        start = order.index(current)
        for step in range(1, len(order) + 1):
            found = diff.first(order[(start + step) % len(order)])
            if found is not None:
                self.list.move_to(found)
                return

    def action_toggle_blocks(self) -> None:
        """Between the differences and the table of blocks."""
        if self.diff is None:
            return
        switcher = self.query_one(ContentSwitcher)
        blocks = switcher.current == "diff-list"
        switcher.current = "diff-blocks" if blocks else "diff-list"
        # the table is wide: it takes the whole body while shown
        self.query_one("#diff-detail").display = not blocks
        if blocks:
            self.call_after_refresh(self._refresh_blocks)
        else:
            self.list.focus()

    def action_help(self) -> None:
        """The diff's keys."""
        from dusttui.tui.screens.help import HelpScreen

        keymap = getattr(getattr(self.app, "settings", None), "keymap", {}) or {}
        self.app.push_screen(HelpScreen(keymap, title="Diff keys", table=diff_key_table()))
