"""The search panel: a query box and the list of matching executions across the run.

The box has the focus only when the user asks to type (``/``): then digits and letters type into
it; escape leaves it for the results, where the explorer's keys work again.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from dusttui.tui.explorer.data import TraceData
from dusttui.tui.explorer.safe_text import one_line
from dusttui.tui.explorer.search import SearchResult
from dusttui.tui.explorer.summary import plural

HINT = "Press / to search every value and error (text, or /regex/)."


class SearchPanel(Vertical):
    """Type a query (text, or /regex/), Enter searches every value and error."""

    DEFAULT_CSS = """
    SearchPanel { height: 1fr; }
    SearchPanel #search-status { height: auto; padding: 0 1; color: $text-muted; }
    SearchPanel OptionList { height: 1fr; }
    """

    class Requested(Message):
        """The user asked for a search of ``text``."""

        def __init__(self, text: str) -> None:
            self.text = text
            super().__init__()

    class Jump(Message):
        """Open the hit number ``index`` of the current results."""

        def __init__(self, index: int) -> None:
            self.index = index
            super().__init__()

    class Preview(Message):
        """The cursor is on the hit number ``index``: show it in the value view."""

        def __init__(self, index: int) -> None:
            self.index = index
            super().__init__()

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.result: SearchResult | None = None

    def compose(self) -> ComposeResult:
        yield Input(placeholder="search values and errors: text, or /regex/", id="search-input")
        yield Static(HINT, id="search-status", markup=False)
        yield OptionList(id="search-results")

    @property
    def query_box(self) -> Input:
        """The query box."""
        return self.query_one("#search-input", Input)

    @property
    def results(self) -> OptionList:
        """The list of matching executions."""
        return self.query_one("#search-results", OptionList)

    def focus_input(self) -> None:
        """Put the cursor in the query box."""
        self.query_box.focus()

    def focus_results(self) -> None:
        """Leave the query box for the results (where digits switch views again)."""
        self.results.focus()

    @on(Input.Submitted, "#search-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.set_status("searching…")
        self.post_message(self.Requested(event.value))

    def set_status(self, text: str) -> None:
        """Say what the search is doing, or what went wrong."""
        self.query_one("#search-status", Static).update(Text(one_line(text)))

    def show(self, data: TraceData, result: SearchResult) -> None:
        """List the hits of a finished search; the results get the focus."""
        self.result = result
        results = self.results
        results.clear_options()
        shown = len(result.hits)
        more = f" (the first {shown:,} shown)" if result.total > shown else ""
        self.set_status(f"{plural(result.total, 'matching execution')}{more}")
        options = []
        for hit in result.hits:
            b, i, j = hit.pos
            info = data.blocks[b]
            where = f"{info.block_type} {info.name} #{i}" + (f" it {j}" if info.in_loop else "")
            style = "bold red" if hit.field == "error" else ""
            options.append(
                Option(
                    Text.assemble(
                        (one_line(where), "bold"),
                        "  ",
                        (f"{hit.field}: ", style),
                        one_line(hit.snippet),
                    )
                )
            )
        results.add_options(options)
        if options:
            results.highlighted = 0
        results.focus()

    @on(OptionList.OptionHighlighted, "#search-results")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        self.post_message(self.Preview(event.option_index))

    @on(OptionList.OptionSelected, "#search-results")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.Jump(event.option_index))
