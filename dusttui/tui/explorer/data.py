"""The explorer's read model of a run: blocks, executions by reference, errors in run order.

Pure (no Textual). Built from a wire ``Run`` or from the shared ``RunState`` reducer; it never copies
executions, so building one is O(blocks + errors) for a ``RunState`` and stays cheap on big runs.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dusttui.api.models import Execution, Run

# A position in a run: (block index in run order, input index, iteration).
Pos = tuple[int, int, int]

# Block types that open / close a loop; blocks in between run once per iteration.
_LOOP_OPEN = {"map": "reduce", "while": "end"}


@dataclass(slots=True)
class BlockInfo:
    """One executed block, in run order, with what the explorer shows about it."""

    block_type: str
    name: str
    status: str = "succeeded"
    success_count: int = 0
    error_count: int = 0
    in_loop: bool = False
    latency: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    @property
    def key(self) -> tuple[str, str]:
        """(block_type, name), the identity of a block in a run."""
        return (self.block_type, self.name)


@dataclass(slots=True)
class TraceData:
    """A snapshot of a run for the explorer; executions are shared with the source, not copied."""

    run_id: str | None
    run_status: str
    blocks: list[BlockInfo]
    traces: list[list[list[Execution]]]
    errors: list[Pos] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    version: int = 0
    latency: float | None = None

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_run(cls, run: Run, *, version: int = 0) -> TraceData:
        """Build from a wire run (GET answer); errors are found by one scan of the traces."""
        status = {(b.block_type, b.name): b for b in run.status.blocks}
        merged: dict[tuple[str, str], list[list[Execution]]] = {}
        keys = [tuple(key) for key, _ in run.traces]
        unique = len(set(keys)) == len(keys)
        for (block_type, name), executions in run.traces:
            if unique:
                merged[(block_type, name)] = executions
                continue
            seen = merged.get((block_type, name))
            if seen is None:
                merged[(block_type, name)] = [list(row) for row in executions]
            else:  # a while loop's iterations listed one by one: merge them along j, as GET does
                for i, row in enumerate(executions):
                    if i < len(seen):
                        seen[i].extend(row)
                    else:
                        seen.append(list(row))
        blocks: list[BlockInfo] = []
        traces: list[list[list[Execution]]] = []
        for (block_type, name), executions in merged.items():
            st = status.get((block_type, name))
            ok = sum(1 for row in executions for e in row if e.error is None)
            err = sum(1 for row in executions for e in row if e.error is not None)
            info = BlockInfo(
                block_type,
                name,
                status=st.status if st else ("errored" if err else "succeeded"),
                success_count=st.success_count if st else ok,
                error_count=st.error_count if st else err,
            )
            _fill_tokens_from_meta(info, executions)
            blocks.append(info)
            traces.append(executions)
        _mark_loops(blocks)
        errors: list[Pos] = []
        messages: list[str] = []
        for b, executions in enumerate(traces):
            for i, row in enumerate(executions):
                for j, e in enumerate(row):
                    if e.error is not None:
                        errors.append((b, i, j))
                        messages.append(e.error)
        return cls(run.run_id, run.status.run, blocks, traces, errors, messages, version)

    @classmethod
    def from_state(cls, state: Any) -> TraceData:
        """Build from the shared ``RunState``: its precomputed error list, no scan of executions."""
        blocks: list[BlockInfo] = []
        traces: list[list[list[Execution]]] = []
        index: dict[tuple[str, str], int] = {}
        starts: list[float] = []
        ends: list[float] = []
        for bs in state.blocks:
            started = getattr(bs, "started_at", None)
            ended = getattr(bs, "ended_at", None)
            if started is not None:
                starts.append(started)
            if ended is not None:
                ends.append(ended)
            latency = ended - started if started is not None and ended is not None else None
            info = BlockInfo(
                bs.block_type,
                bs.name,
                status=bs.status,
                success_count=bs.success_count,
                error_count=bs.error_count,
                latency=latency,
                prompt_tokens=getattr(bs, "prompt_tokens", None),
                completion_tokens=getattr(bs, "completion_tokens", None),
            )
            index[info.key] = len(blocks)
            blocks.append(info)
            traces.append(state.executions(bs.block_type, bs.name))
        _mark_loops(blocks)
        errors: list[Pos] = []
        messages: list[str] = []
        for ref in state.errors:
            b = index.get((ref.block_type, ref.block_name))
            if b is not None:
                errors.append((b, ref.input_index, ref.iteration))
                messages.append(ref.message)
        if any(errors[k] > errors[k + 1] for k in range(len(errors) - 1)):
            order = sorted(range(len(errors)), key=errors.__getitem__)
            errors = [errors[k] for k in order]
            messages = [messages[k] for k in order]
        run_latency = max(ends) - min(starts) if starts and ends else None
        status = getattr(state, "status", None) or getattr(state, "run_status", "running")
        return cls(
            getattr(state, "run_id", None),
            str(status),
            blocks,
            traces,
            errors,
            messages,
            getattr(state, "version", 0),
            run_latency,
        )

    # ------------------------------------------------------------------ queries

    @property
    def input_block(self) -> int | None:
        """Index of the ``input`` block, if the run has one."""
        for b, info in enumerate(self.blocks):
            if info.block_type == "input":
                return b
        return None

    @property
    def num_inputs(self) -> int:
        """How many input streams the run has (the widest block)."""
        return max((len(t) for t in self.traces), default=0)

    @property
    def execution_count(self) -> int:
        """Executions in the whole run."""
        return sum(len(row) for t in self.traces for row in t)

    def block_index(self, block_type: str, name: str) -> int | None:
        """Index of a block by its (type, name), or None."""
        for b, info in enumerate(self.blocks):
            if info.block_type == block_type and info.name == name:
                return b
        return None

    def execution(self, pos: Pos) -> Execution | None:
        """The execution at a position, or None when it does not exist (yet)."""
        b, i, j = pos
        try:
            return self.traces[b][i][j]
        except IndexError:
            return None

    def row(self, b: int, i: int) -> list[Execution]:
        """The executions (iterations) of block ``b`` for input ``i``; empty when absent."""
        t = self.traces[b]
        return t[i] if i < len(t) else []

    def input_value(self, i: int) -> Any:
        """The value of input ``i`` (the input block's execution), or None."""
        b = self.input_block
        if b is None:
            return None
        row = self.row(b, i)
        return row[0].value if row else None

    def error_index_at(self, pos: Pos) -> int | None:
        """Index into ``errors`` of the error at ``pos``, if that execution errored."""
        k = bisect_left(self.errors, pos)
        return k if k < len(self.errors) and self.errors[k] == pos else None

    def error_inputs(self, b: int) -> list[int]:
        """Sorted input indices of block ``b`` that have at least one error."""
        lo = bisect_left(self.errors, (b, -1, -1))
        hi = bisect_left(self.errors, (b + 1, -1, -1))
        out: list[int] = []
        for _, i, _j in self.errors[lo:hi]:
            if not out or out[-1] != i:
                out.append(i)
        return out


def row_counts(row: Sequence[Execution]) -> tuple[int, int]:
    """(successes, errors) over one input's iterations."""
    counts = getattr(row, "counts", None)
    if counts is not None:  # a RunState row (JSON text until read): counted without building it
        return counts()
    err = sum(1 for e in row if e.error is not None)
    return len(row) - err, err


def _mark_loops(blocks: list[BlockInfo]) -> None:
    """Flag blocks that run once per iteration: those inside map…reduce, and while/end themselves."""
    open_loop: tuple[str, str] | None = None
    for info in blocks:
        if open_loop is None:
            if info.block_type in _LOOP_OPEN:
                open_loop = (_LOOP_OPEN[info.block_type], info.name)
                info.in_loop = info.block_type == "while"
        elif (info.block_type, info.name) == open_loop:
            info.in_loop = info.block_type == "end"
            open_loop = None
        else:
            info.in_loop = True


def _fill_tokens_from_meta(info: BlockInfo, executions: list[list[Execution]]) -> None:
    """Sum ``meta.token_usage`` (llm/chat blocks) when the source has no token counts."""
    prompt = completion = 0
    seen = False
    for row in executions:
        for e in row:
            usage = e.meta.get("token_usage") if isinstance(e.meta, dict) else None
            if isinstance(usage, dict):
                seen = True
                prompt += int(usage.get("prompt_tokens") or 0)
                completion += int(usage.get("completion_tokens") or 0)
    if seen:
        info.prompt_tokens, info.completion_tokens = prompt, completion
