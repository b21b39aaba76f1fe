"""The explorer's header: what the run is and where the user is, then the view tabs. Pure.

On one line when both fit, else the tabs get a line of their own: at 80 columns the tabs must
not be cut away, and the title is cut with an ellipsis instead.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text

from dusttui.tui.explorer.data import Pos, TraceData
from dusttui.tui.explorer.safe_text import one_line
from dusttui.tui.explorer.summary import plural

VIEWS: tuple[str, ...] = ("tree", "grid", "errors", "search", "stats")
END_WORDS: dict[str, str] = {
    "cancelled": "cancelled",
    "interrupted": "interrupted",
    "engine_error": "ended by the engine",
    "detached": "not followed any more",
    "connection_lost": "connection lost",
}


def title_text(data: TraceData, title: str | None, current: Pos | None, errors_only: bool) -> Text:
    """``Traces · flaky-demo · errored · 4 errors · error 2/4 · errors only``."""
    run = (data.run_id or "")[:6]
    text = Text(one_line(title or (f"Traces · run {run}…" if run else "Traces")), "bold")
    text.append(f" · {one_line(data.run_status)}")
    if data.end_reason is not None and (data.stopped_early or data.not_followed):
        text.append(f" · {END_WORDS.get(data.end_reason, data.end_reason)}", "bold")
    n = len(data.errors)
    if n:
        text.append(f" · {plural(n, 'error')}", "bold red")
        k = data.error_index_at(current) if current is not None else None
        if k is not None:
            text.append(f" · error {k + 1}/{n}")
    else:
        text.append(" · no errors")
    if errors_only:
        text.append(" · errors only", "bold")
    return text


def tabs_text(view: str) -> Text:
    """`` 1 tree  2 grid  3 errors  4 search  5 stats `` with the current view highlighted."""
    text = Text()
    for k, name in enumerate(VIEWS, 1):
        text.append(f" {k} {name} ", "reverse" if name == view else "dim")
    return text


def header_text(title: Text, tabs: Text, width: int) -> Text:
    """Title and tabs on one line of ``width`` cells when they fit, else on two lines."""
    gap = 3
    if cell_len(title.plain) + gap + cell_len(tabs.plain) <= width:
        return Text.assemble(title, " " * gap, tabs)
    return Text.assemble(title, "\n", tabs)
