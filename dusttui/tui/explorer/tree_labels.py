"""Labels of the trace tree's nodes: what a block, an input, an iteration or a gap says. Pure."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from dusttui.api.models import Execution
from dusttui.tui.explorer.data import NOT_RUN, WAITING, TraceData, row_counts
from dusttui.tui.explorer.jsonpath import preview
from dusttui.tui.explorer.safe_text import one_line
from dusttui.tui.explorer.summary import fmt_seconds, input_label


def short(e: Execution) -> str:
    """One line saying what an execution gave: its error's first line, or its value."""
    if e.error is not None:
        line = one_line(e.error.splitlines()[0] if e.error else "")
        return line if len(line) <= 60 else line[:59] + "…"
    return preview(e.value, 60)


def block_label(data: TraceData, b: int) -> Text:
    """``code LEN  3✓ 1✗  120 ms``; ``(not run)``, ``(waiting)``; ``running`` with its progress."""
    info = data.blocks[b]
    text = Text(one_line(f"{info.block_type} {info.name}"))
    if info.status in (NOT_RUN, WAITING):
        text.append(f"  ({info.status})", "dim")
        return text
    running = info.status == "running"
    if not info.done and not data.traces[b]:
        text.append("  running" if running else "  (not run)", "dim")
        if running and info.expected:
            text.append(f" 0/{info.expected}", "dim")
        return text
    text.append(f"  {info.success_count}✓")
    if info.error_count:
        text.append(f" {info.error_count}✗")
    if running:
        progress = f" {info.done}/{info.expected}" if info.expected and not info.in_loop else ""
        text.append(f"  running{progress}", "dim")
    elif info.latency is not None:
        text.append(f"  {fmt_seconds(info.latency)}", "dim")
    return text


def input_row_label(data: TraceData, b: int, i: int) -> Text:
    """``#3 {"q":"hi"}  → value`` — or its iteration count for a loop block."""
    info = data.blocks[b]
    text = Text(input_label(data, i) if info.block_type != "input" else f"#{i}")
    row = data.row(b, i)
    if info.in_loop:
        _ok, err = row_counts(row)
        text.append(f"  {len(row)} iteration{'' if len(row) == 1 else 's'}", "dim")
        if err:
            text.append(f" · {err}✗")
    elif row:
        text.append("  → " + short(row[0]), "dim")
    return text


def iter_label(
    data: TraceData, b: int, i: int, j: int, row: Sequence[Execution] | None = None
) -> Text:
    """``iteration 2  → value`` (``row``: the input's executions, when the caller has them)."""
    row = data.row(b, i) if row is None else row
    text = Text(f"iteration {j}")
    if j < len(row):
        text.append("  → " + short(row[j]), "dim")
    return text


def more_label(lo: int, hi: int, rows: Sequence[int], what: str) -> Text:
    """``700 more inputs (#200–#899)``."""
    n = hi - lo
    first, last = rows[lo], rows[hi - 1]
    if n == 1:
        return Text(f"1 more {what.removesuffix('s')} (#{first})")
    return Text(f"{n:,} more {what} (#{first}–#{last})")
