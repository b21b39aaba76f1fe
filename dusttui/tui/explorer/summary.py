"""What each tree node, grid cell and stats row says: status kinds, glyphs, counts. Pure.

Status kinds are ``ok``, ``err``, ``running`` and ``none`` (not run); each has a glyph so the
explorer reads without colour.
"""

from __future__ import annotations

from dataclasses import dataclass

from dusttui.api.models import Execution
from dusttui.api.traces import is_not_run
from dusttui.costs import NO_PRICE, BlockCost, PriceTable, RunCost, block_costs, format_cost
from dusttui.tui.explorer.data import TraceData, row_counts
from dusttui.tui.explorer.jsonpath import preview

GLYPHS: dict[str, str] = {"ok": "✓", "err": "✗", "running": "●", "none": "·"}
BLOCK_KIND: dict[str, str] = {"succeeded": "ok", "errored": "err", "running": "running"}


def execution_kind(e: Execution | None) -> str:
    """Status kind of one execution (``none`` when it does not exist yet)."""
    if e is None or is_not_run(e.error):  # a cancelled or interrupted run never ran it
        return "none"
    return "err" if e.error is not None else "ok"


def row_kind(data: TraceData, b: int, i: int) -> str:
    """Status kind of block ``b`` for input ``i`` over its iterations."""
    row = data.row(b, i)
    if not row:
        return "running" if data.blocks[b].status == "running" else "none"
    return "err" if any(e.error is not None for e in row) else "ok"


def input_label(data: TraceData, i: int, width: int = 40) -> str:
    """``#3 {"q": "hi"}`` — an input's index and a short preview of its value."""
    value = data.input_value(i)
    if value is None and data.input_block is None:
        return f"#{i}"
    return f"#{i} {preview(value, width)}"


@dataclass(frozen=True, slots=True)
class Cell:
    """A grid cell: its status kind, its text, and the input row it opens."""

    kind: str
    text: str
    input_index: int


def grid_cell(data: TraceData, b: int, i: int) -> Cell:
    """The cell of input ``i`` for block ``b``: a glyph, or ``ok✓ err✗`` counts for a loop block."""
    t = data.traces[b]
    target = i
    if len(t) == 1 and i > 0 and not data.blocks[b].in_loop and data.num_inputs > 1:
        # blocks before `input` ran once for the whole run: their cell shows that single execution
        target = 0
    row = t[target] if target < len(t) else []
    if not row:
        kind = "running" if data.blocks[b].status == "running" else "none"
        return Cell(kind, GLYPHS[kind], target)
    ok, err = row_counts(row)
    if not ok and not err:  # only what a cancelled or interrupted run never ran
        return Cell("none", GLYPHS["none"], target)
    kind = "err" if err else "ok"
    if data.blocks[b].in_loop or len(row) > 1:
        text = f"{ok}✓ {err}✗" if err else f"{ok}✓"
        return Cell(kind, text, target)
    return Cell(kind, GLYPHS[kind], target)


@dataclass(frozen=True, slots=True)
class StatsRow:
    """Token usage and latency of one block, or of the whole run (``block_type`` "total")."""

    block_type: str
    name: str
    executions: int
    errors: int
    prompt_tokens: int | None
    completion_tokens: int | None
    latency: float | None
    cost: str = "–"  # the estimate: `$0.0042`, `no price known`, `–` without tokens


def stats_rows(data: TraceData, prices: PriceTable | None = None) -> list[StatsRow]:
    """One row per block then a total row; unknown figures are None. With ``prices``, each
    block that used tokens has its estimated cost (dusttui.costs), and the total theirs."""
    estimate = block_costs(data.blocks, data.config, prices) if prices is not None else None
    costs = {(b.block_type, b.name): b for b in estimate.blocks} if estimate else {}
    rows: list[StatsRow] = []
    total_p = total_c = 0
    any_tokens = False
    for info in data.blocks:
        rows.append(
            StatsRow(
                info.block_type,
                info.name,
                info.done,
                info.error_count,
                info.prompt_tokens,
                info.completion_tokens,
                info.latency,
                _cost_text(costs.get(info.key), estimate.currency if estimate else "USD"),
            )
        )
        if info.prompt_tokens is not None or info.completion_tokens is not None:
            any_tokens = True
            total_p += info.prompt_tokens or 0
            total_c += info.completion_tokens or 0
    rows.append(
        StatsRow(
            "total",
            "",
            sum(r.executions for r in rows),
            len(data.errors),
            total_p if any_tokens else None,
            total_c if any_tokens else None,
            data.latency,
            _total_text(estimate),
        )
    )
    return rows


def _cost_text(cost: BlockCost | None, currency: str) -> str:
    if cost is None:
        return "–"
    return format_cost(cost.cost, currency) if cost.cost is not None else NO_PRICE


def _total_text(estimate: RunCost | None) -> str:
    if estimate is None or not estimate.blocks:
        return "–"
    total = format_cost(estimate.total, estimate.currency)
    return f"{total} (partial)" if estimate.total is not None and estimate.unpriced else total


def fmt_seconds(value: float | None) -> str:
    """``1.2 s``, ``35 ms``, or ``–`` when unknown."""
    if value is None:
        return "–"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def fmt_count(value: int | None) -> str:
    """A count with thousands separators, or ``–`` when unknown."""
    return "–" if value is None else f"{value:,}"


def plural(n: int, singular: str, many: str | None = None) -> str:
    """``1 error``, ``2 errors``, ``1,000 executions`` (``many``: an irregular plural)."""
    return f"{n:,} {singular if n == 1 else (many or singular + 's')}"
