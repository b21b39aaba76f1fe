"""The run table's rows, counted as the trace explorer counts them. Pure (no Textual).

One count everywhere (the explorer's rule, :mod:`dusttui.tui.explorer.data`): a block's ✓ and ✗
are its executions in the traces — every input, every iteration of a loop — never the run
status's counts, which for a loop body are those of its last pass only. A running block adds what
its current pass has done so far. Blocks of the app's specification the run never reached are
rows too: ``not run`` once the run is over, ``waiting`` while it goes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dusttui.tui.explorer.data import NOT_RUN, WAITING, mark_loops

__all__ = ["NOT_RUN", "WAITING", "TableBlock", "input_count", "table_blocks"]

# Block types that open / close a loop; blocks in between run once per iteration.


@dataclass(slots=True)
class TableBlock:
    """One row of the run table (what :class:`~dusttui.tui.widgets.block_table.BlockLike` reads)."""

    block_type: str
    name: str
    status: str
    success_count: int = 0
    error_count: int = 0
    expected: int | None = None
    started_at: float | None = None
    ended_at: float | None = None
    in_loop: bool = False
    pass_done: int | None = None  # a running loop body: executions of its current pass


def table_blocks(state: Any, spec: Sequence[tuple[str, str]] | None = None) -> list[TableBlock]:
    """The rows of ``state`` (a ``RunState``), with the spec's unreached blocks in place."""
    rows: list[TableBlock] = []
    live: dict[tuple[str, str], tuple[int, int]] = {}
    traced = set(state.trace_keys())
    for block in state.blocks:
        if (block.block_type, block.name) in traced or block.status == "running":
            # counted when the executions arrived: a repaint never decodes a block
            ok, err, _not_run, _inputs = state.block_counts(block.block_type, block.name)
        else:  # ended, no trace yet (poll and blocking mode until the end): the status's counts
            ok, err = block.success_count, block.error_count
        row = TableBlock(
            block.block_type,
            block.name,
            block.status,
            ok,
            err,
            block.expected,
            block.started_at,
            block.ended_at,
        )
        rows.append(row)
        if block.status == "running":
            live[(block.block_type, block.name)] = (block.success_count, block.error_count)
    running = (state.status or "running") == "running" and state.prerun_error is None
    if spec:
        _add_unrun(rows, spec, WAITING if running else NOT_RUN)
    mark_loops(rows)
    for row in rows:
        counts = live.get((row.block_type, row.name))
        if counts is None:
            continue
        ok, err = counts
        if row.in_loop:  # earlier passes are in the traces; this one is counted live
            row.success_count += ok
            row.error_count += err
            row.pass_done = ok + err
        elif ok + err > row.success_count + row.error_count:
            row.success_count, row.error_count = ok, err
    return rows


def input_count(state: Any) -> int:
    """How many inputs the run has so far (its widest block)."""
    return max((state.block_counts(b.block_type, b.name).inputs for b in state.blocks), default=0)


def _add_unrun(rows: list[TableBlock], spec: Sequence[tuple[str, str]], word: str) -> None:
    have = {(r.block_type, r.name) for r in rows}
    after = 0  # where the next missing block goes: after the last spec block seen
    for key in spec:
        if key in have:
            after = next(k for k, r in enumerate(rows) if (r.block_type, r.name) == key) + 1
            continue
        rows.insert(after, TableBlock(key[0], key[1], word))
        have.add(key)
        after += 1
