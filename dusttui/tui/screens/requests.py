"""The request log screen (`l`): every API call of this session, and one call opened whole.

One row per HTTP attempt the session's client made (a retry is a row of its own), as
:class:`~dusttui.api.requestlog.RequestLog` recorded it: method, URL, status, bytes sent and
received, time, retry. Enter opens a call: its headers (credentials already ``***``), its request
body and the answer's first bytes. Records never hold the key (the client scrubs them); what they
hold from a server is shown as text, control characters escaped. The table follows the log live:
new calls are added and open ones (a stream) updated a few times a second, only the rows that
changed.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from dusttui.tui.safe import line, lines

if TYPE_CHECKING:
    from collections.abc import Callable

    from dusttui.api.requestlog import RequestLog, RequestRecord

REFRESH_INTERVAL = 0.25  # how often the table catches up with the log while it is shown
# The path last: the columns that matter stay in sight at 80 columns (the host is in the detail).
COLUMNS = ("#", "at", "method", "status", "sent", "received", "time", "retry", "path")


def size_text(count: int) -> str:
    """`812 B`, `4.2 kB`, `3.1 MB`: a byte count as a person reads it."""
    if count < 1000:
        return f"{count} B"
    if count < 1_000_000:
        return f"{count / 1000:.1f} kB"
    return f"{count / 1_000_000:.1f} MB"


def status_text(record: RequestRecord) -> str:
    """The status column: the HTTP status, `…` while unanswered, `failed` without an answer."""
    if record.status is not None:
        return str(record.status)
    if record.error is not None:
        return "failed"
    return "…"


def time_text(record: RequestRecord) -> str:
    """How long it took; an open stream reads `open`."""
    if record.elapsed is not None:
        return f"{record.elapsed:.2f} s"
    return "open" if record.status is not None else "…"


def row_of(record: RequestRecord) -> tuple[str, ...]:
    """The table's cells for one record (text, made safe)."""
    received = size_text(record.received_bytes) if record.status is not None else "—"
    parts = urlsplit(record.url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return (
        str(record.seq),
        time.strftime("%H:%M:%S", time.localtime(record.started)),
        record.method,
        status_text(record),
        size_text(record.sent_bytes),
        received,
        time_text(record),
        str(record.retry) if record.retry else "",
        line(path),
    )


def _body(data: bytes, whole: int) -> str:
    """A body as text: pretty JSON when all of it was kept and it is JSON, else as it came."""
    if not data:
        return "(empty)"
    text = data.decode("utf-8", "replace")
    if len(data) == whole:
        try:
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            pass
    return lines(text)


def _headers(headers: dict[str, str]) -> str:
    return "\n".join(f"{line(name)}: {line(value)}" for name, value in headers.items()) or "(none)"


def detail_of(record: RequestRecord) -> Text:
    """One call, whole: what was sent and the first bytes of what came back."""
    out = Text()
    out.append(f"#{record.seq} {record.method} {line(record.url)}\n", style="bold")
    facts = [f"status {status_text(record)}", f"{size_text(record.sent_bytes)} sent"]
    if record.status is not None:
        facts.append(f"{size_text(record.received_bytes)} received")
    facts.append(time_text(record))
    if record.retry:
        facts.append(f"retry {record.retry}")
    out.append(" · ".join(facts) + "\n")
    if record.error is not None:
        out.append(f"✗ {lines(record.error)}\n", style="bold")
    out.append("\nrequest headers\n", style="bold")
    out.append(_headers(record.request_headers) + "\n")
    kept = len(record.request_body)
    shown = f" (first {size_text(kept)} of {size_text(record.sent_bytes)})"
    out.append(f"\nrequest body{shown if kept < record.sent_bytes else ''}\n", style="bold")
    out.append(_body(record.request_body, record.sent_bytes) + "\n")
    if record.status is None:
        return out
    out.append("\nanswer headers\n", style="bold")
    out.append(_headers(record.response_headers) + "\n")
    head = len(record.response_head)
    more = record.received_bytes > head or not record.done
    what = f"first {size_text(head)}" + (f" of {size_text(record.received_bytes)}" if more else "")
    out.append(f"\nanswer ({what}{', still coming' if not record.done else ''})\n", style="bold")
    whole = record.received_bytes if record.done else -1
    out.append(_body(record.response_head, whole) + "\n")
    return out


def help_table() -> Table:
    """The request log's keys, with their ids for `[keymap]`."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    table.add_column(style="dim", no_wrap=True)
    for keys, text, binding_id in (
        ("up / down", "Move in the calls", ""),
        ("enter", "Open the call: headers, request body, the answer's first bytes", ""),
        ("c", "Forget the calls listed so far (new ones are numbered on)", "requests.clear"),
        ("esc / l", "Back to the runs", "requests.close"),
        ("? / F1", "This list of keys", "requests.help"),
    ):
        table.add_row(Text(keys), Text(text), Text(binding_id))
    return table


class RequestsScreen(Screen[None]):
    """Every API call of this session; enter opens one."""

    DEFAULT_CSS = """
    RequestsScreen #requests-title { height: 1; padding: 0 1; background: $panel; text-style: bold; }
    RequestsScreen #requests-table { height: 1fr; }
    RequestsScreen #requests-detail { height: 1fr; border-top: solid $primary; padding: 0 1; }
    RequestsScreen.-narrow-detail #requests-table { height: 2fr; }
    """

    BINDINGS = [
        Binding("escape,l", "close", "back", id="requests.close", tooltip="Back to the runs"),
        Binding("c", "clear", "clear", id="requests.clear", tooltip="Forget the calls listed"),
        Binding(
            "question_mark,f1", "help", "help", id="requests.help", tooltip="This screen's keys"
        ),
    ]

    def __init__(self, log: RequestLog) -> None:
        super().__init__()
        self.calls = log
        self._shown: dict[int, tuple[str, ...]] = {}  # seq → the cells on screen
        self._final: set[int] = set()  # the seqs shown once done: their rows never change
        self._version = -1
        self._unsubscribe: Callable[[], None] | None = None
        self.opened: int | None = None
        """The seq of the call shown whole below the table."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(id="requests-title")
            table: DataTable[str] = DataTable(id="requests-table", cursor_type="row")
            table.add_columns(*COLUMNS)
            yield table
            with VerticalScroll(id="requests-detail"):
                yield Static(
                    Text("Enter on a call shows its request body and the answer's first bytes."),
                    id="requests-body",
                )
        yield Footer()

    def on_mount(self) -> None:
        self._unsubscribe = self.calls.subscribe(self._record_changed)
        self.set_interval(REFRESH_INTERVAL, self._catch_up, name="request-log")
        self._catch_up()
        self.query_one(DataTable).focus()

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()

    def _record_changed(self, record: RequestRecord) -> None:
        # Called on the client's side for every call: only note it, the timer repaints.
        self._version = -1

    def _catch_up(self) -> None:
        """Bring the table up to the log: new rows, changed cells, dropped rows."""
        records = self.calls.records()
        open_calls = any(not r.done for r in records)
        if self._version == self.calls.version and not open_calls:
            return
        self._version = self.calls.version
        table: DataTable[str] = self.query_one(DataTable)
        first = records[0].seq if records else None
        if self._shown and (first is None or next(iter(self._shown)) < first):
            # Cleared, or the oldest went past the log's limit (rows are in seq order).
            for seq in [s for s in self._shown if first is None or s < first]:
                table.remove_row(str(seq))
                del self._shown[seq]
                self._final.discard(seq)
        for record in self.rows_to_check(records):
            cells = row_of(record)
            before = self._shown.get(record.seq)
            if before is None:
                table.add_row(*cells, key=str(record.seq))
            elif before != cells:
                columns = list(table.columns)
                for column, old, new in zip(columns, before, cells, strict=True):
                    if old != new:
                        table.update_cell(str(record.seq), column, new)
            self._shown[record.seq] = cells
            if record.done:
                self._final.add(record.seq)
        count = len(records)
        self.query_one("#requests-title", Static).update(
            Text(
                f"Request log · {count} call{'s' if count != 1 else ''} "
                "(key shown as ***) · enter: open one · esc: back"
            )
        )
        if self.opened is not None:
            opened = next((r for r in records if r.seq == self.opened), None)
            if opened is not None and not opened.done:
                self._show(opened)

    def rows_to_check(self, records: list[RequestRecord]) -> list[RequestRecord]:
        """The records whose row may differ from the one shown: new ones, and those not yet
        finished when last shown (a finished call never changes; with a stream open, a tick
        then costs its row, not a thousand: bench/request_log_screen.py)."""
        final = self._final
        return [r for r in records if r.seq not in final]

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a row: the call, whole, below the table."""
        seq = int(str(event.row_key.value))
        record = next((r for r in self.calls.records() if r.seq == seq), None)
        if record is not None:
            self.opened = seq
            self._show(record)

    def _show(self, record: RequestRecord) -> None:
        self.query_one("#requests-body", Static).update(detail_of(record))

    def action_clear(self) -> None:
        """Forget the calls listed so far (new ones are numbered on)."""
        self.calls.clear()
        self.opened = None
        self.query_one("#requests-body", Static).update(Text("Cleared."))
        self._catch_up()

    def action_help(self) -> None:
        """This screen's keys (the app's own help lists the main screen's)."""
        from dusttui.tui.screens.help import CLOSE, HelpScreen

        if not isinstance(self.app.screen, HelpScreen):
            title = f"Request log keys — {CLOSE}"
            self.app.push_screen(HelpScreen({}, title=title, table=help_table()))

    def action_close(self) -> None:
        """Back to the screen below."""
        self.dismiss(None)
