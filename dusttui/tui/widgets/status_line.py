"""The top line: which backend and workspace, and the live connection state."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import Static

CONNECTION_GLYPHS = {
    "starting": "○",
    "idle": "○",
    "connecting": "◌",
    "streaming": "●",
    "polling": "◐",
    "reconnecting": "◌",
    "waiting": "◐",
    "done": "○",
    "offline": "✗",
    "refused": "✗",
}
# States whose name alone would not say it.
CONNECTION_WORDS = {"refused": "key refused"}


class StatusLine(Horizontal):
    """`dusttui ─ local engine · workspace local ─── ● streaming`."""

    DEFAULT_CSS = """
    StatusLine { height: 1; background: $panel; color: $foreground; }
    StatusLine > #status-title { width: 1fr; padding: 0 1; text-style: bold; }
    StatusLine > #status-connection { width: auto; padding: 0 1; }
    StatusLine > #status-connection.-streaming { color: $block-succeeded; }
    StatusLine > #status-connection.-polling { color: $block-running; }
    StatusLine > #status-connection.-reconnecting { color: $block-errored; }
    StatusLine > #status-connection.-waiting { color: $block-running; }
    StatusLine > #status-connection.-offline { color: $block-errored; }
    StatusLine > #status-connection.-refused { color: $block-errored; }
    """

    backend = reactive("", init=False)
    connection = reactive("starting", init=False)
    detail: reactive[str | None] = reactive(None, init=False)

    def __init__(self, backend: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.set_reactive(StatusLine.backend, backend)

    def compose(self) -> ComposeResult:
        yield Static(Text(f"dusttui ─ {self.backend}"), id="status-title")
        yield Static(Text(f"{CONNECTION_GLYPHS['starting']} starting"), id="status-connection")

    def watch_backend(self, backend: str) -> None:
        if self.is_mounted:
            self.query_one("#status-title", Static).update(Text(f"dusttui ─ {backend}"))

    def show(self, connection: str, detail: str | None = None) -> None:
        """The connection's state (its glyph and colour), and the words that say it."""
        self.connection = connection
        self.detail = detail

    def watch_connection(self, old: str, new: str) -> None:
        if not self.is_mounted:
            return
        widget = self.query_one("#status-connection", Static)
        widget.remove_class(f"-{old}")
        widget.add_class(f"-{new}")
        self._paint()

    def watch_detail(self) -> None:
        if self.is_mounted:
            self._paint()

    def _paint(self) -> None:
        words = self.detail or CONNECTION_WORDS.get(self.connection, self.connection)
        glyph = CONNECTION_GLYPHS.get(self.connection, "○")
        self.query_one("#status-connection", Static).update(Text(f"{glyph} {words}"))
