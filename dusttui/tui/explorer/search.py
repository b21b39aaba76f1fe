"""Search across every value and error of a run (substring or regex). Pure, no Textual.

Values are matched on their compact JSON text; errors on their message. Nothing is cached, so
memory stays flat; the caller runs a search in a thread for big runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from dusttui.tui.explorer.data import Pos, TraceData
from dusttui.tui.explorer.jsonpath import dumps


class SearchError(ValueError):
    """A query the user typed cannot be used (e.g. an invalid regular expression)."""


@dataclass(frozen=True, slots=True)
class Query:
    """What to look for: a case-insensitive substring, or a regular expression."""

    pattern: str
    regex: bool = False

    def matcher(self) -> Callable[[str], tuple[int, int] | None]:
        """A function giving the (start, end) of the first match in a text, or None."""
        if not self.pattern:
            raise SearchError("Type something to search for.")
        if self.regex:
            try:
                rx = re.compile(self.pattern)
            except re.error as exc:
                raise SearchError(f"Invalid regular expression /{self.pattern}/: {exc}") from None

            def match_rx(text: str) -> tuple[int, int] | None:
                m = rx.search(text)
                return m.span() if m else None

            return match_rx
        needle = self.pattern.casefold()
        size = len(self.pattern)

        def match_sub(text: str) -> tuple[int, int] | None:
            k = text.casefold().find(needle)
            return (k, k + size) if k >= 0 else None

        return match_sub


def parse_query(text: str) -> Query:
    """``/pattern/`` is a regular expression; anything else a case-insensitive substring."""
    text = text.strip()
    if len(text) >= 2 and text.startswith("/") and text.endswith("/"):
        return Query(text[1:-1], regex=True)
    return Query(text)


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One match: where it is, whether in the value or the error, and the text around it."""

    pos: Pos
    field: str
    snippet: str


@dataclass(slots=True)
class SearchResult:
    """The first ``limit`` hits in run order, and how many executions matched in all."""

    query: Query
    hits: list[SearchHit] = field(default_factory=list)
    total: int = 0


def snippet(text: str, span: tuple[int, int], radius: int = 30) -> str:
    """The match with up to ``radius`` characters either side, on one line."""
    start, end = span
    lo, hi = max(0, start - radius), min(len(text), end + radius)
    out = text[lo:hi].replace("\n", " ")
    return ("…" if lo else "") + out + ("…" if hi < len(text) else "")


def search(data: TraceData, query: Query, *, limit: int = 1000) -> SearchResult:
    """Find executions whose value (as JSON) or error matches ``query``, in run order."""
    match = query.matcher()
    result = SearchResult(query)
    hits = result.hits
    for b, executions in enumerate(data.traces):
        for i, row in enumerate(executions):
            for j, e in enumerate(row):
                hit: SearchHit | None = None
                if e.error is not None:
                    span = match(e.error)
                    if span:
                        hit = SearchHit((b, i, j), "error", snippet(e.error, span))
                if hit is None and e.value is not None:
                    text = dumps(e.value)
                    span = match(text)
                    if span:
                        hit = SearchHit((b, i, j), "value", snippet(text, span))
                if hit is not None:
                    result.total += 1
                    if len(hits) < limit:
                        hits.append(hit)
    return result
