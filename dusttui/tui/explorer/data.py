"""The explorer's read model of a run: blocks, executions by reference, errors in run order.

Pure (no Textual). Built from a wire ``Run`` or from the shared ``RunState`` reducer; it never copies
executions, so building one is O(blocks + inputs + errors) for a ``RunState`` and stays cheap on
big runs.

One count everywhere: a block's ✓ and ✗ are its executions in the traces (every input, every
iteration of a loop), never the run status's counts, which for a loop body are those of its last
iteration only. Blocks the app's specification has but the run never reached are listed too,
as ``not run`` (or ``waiting`` while the run goes on), when the caller gives the spec's blocks.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from dusttui.api.models import Execution, Run
from dusttui.api.trace_views import ExecutionRow, Executions
from dusttui.api.traces import tally_rows

# A position in a run: (block index in run order, input index, iteration).
Pos = tuple[int, int, int]
# (block_type, name) of each block of an app's specification, in order.
SpecBlocks = Sequence[tuple[str, str]]
# One block's executions: [input][iteration] (a RunState view or plain lists).
Rows = Sequence[Sequence[Execution]]

NOT_RUN = "not run"  # a block of the spec the run ended without reaching
WAITING = "waiting"  # a block of the spec the running run has not reached yet
# RunState.end_reason values that say the run did not end by itself (contract C): the engine
# ended it, or the front end stopped following it (the run may go on where it runs).
ENGINE_ENDS = ("cancelled", "interrupted", "engine_error")
WATCH_ENDS = ("detached", "connection_lost")

# Block types that open / close a loop; blocks in between run once per iteration.
_LOOP_OPEN = {"map": "reduce", "while": "end"}


@dataclass(slots=True)
class BlockInfo:
    """One block, in run order, with what the explorer shows about it.

    ``success_count`` / ``error_count`` count the executions in the traces; ``expected`` is what
    the block's current iteration expects while it runs (when the backend says).
    """

    block_type: str
    name: str
    status: str = "succeeded"
    success_count: int = 0
    error_count: int = 0
    in_loop: bool = False
    latency: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    expected: int | None = None

    @property
    def key(self) -> tuple[str, str]:
        """(block_type, name), the identity of a block in a run."""
        return (self.block_type, self.name)

    @property
    def done(self) -> int:
        """Executions finished so far, successes and errors."""
        return self.success_count + self.error_count


@dataclass(slots=True)
class TraceData:
    """A snapshot of a run for the explorer; executions are shared with the source, not copied."""

    run_id: str | None
    run_status: str
    blocks: list[BlockInfo]
    traces: list[Rows]
    errors: list[Pos] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    version: int = 0
    latency: float | None = None
    end_reason: str | None = None  # cancelled / interrupted / engine_error: the engine ended it
    end_message: str | None = None  # why the run ended early, a sentence for the user
    config: dict[str, Any] = field(default_factory=dict)  # the run's block config (models)

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_run(
        cls, run: Run, *, version: int = 0, spec_blocks: SpecBlocks | None = None
    ) -> TraceData:
        """Build from a wire run (GET answer), read as the shared reducer reads it (one while-loop
        merge for the whole front end); a GET answer has no timings, so no latency."""
        from dusttui.api.state import RunState  # the reducer: only this constructor needs it

        data = cls.from_state(RunState.from_run(run), spec_blocks=spec_blocks)
        data.version = version
        data.latency = None
        for info in data.blocks:
            info.latency = None
        return data

    @classmethod
    def from_state(cls, state: Any, *, spec_blocks: SpecBlocks | None = None) -> TraceData:
        """Build from the shared ``RunState``: its precomputed error list, no scan of executions."""
        blocks: list[BlockInfo] = []
        traces: list[Rows] = []
        starts: list[float] = []
        ends: list[float] = []
        live: dict[tuple[str, str], tuple[int, int]] = {}  # running blocks' own counts
        for bs in state.blocks:
            started = getattr(bs, "started_at", None)
            ended = getattr(bs, "ended_at", None)
            if started is not None:
                starts.append(started)
            if ended is not None:
                ends.append(ended)
            latency = ended - started if started is not None and ended is not None else None
            rows = state.executions(bs.block_type, bs.name)
            ok, err = trace_counts(rows)
            tokens = (
                getattr(bs, "prompt_tokens", 0) or 0,
                getattr(bs, "completion_tokens", 0) or 0,
            )
            info = BlockInfo(
                bs.block_type,
                bs.name,
                status=bs.status,
                success_count=ok,
                error_count=err,
                latency=latency,
                prompt_tokens=tokens[0] if any(tokens) else None,
                completion_tokens=tokens[1] if any(tokens) else None,
                expected=getattr(bs, "expected", None) if bs.status == "running" else None,
            )
            blocks.append(info)
            traces.append(rows)
            if bs.status == "running":
                live[info.key] = (bs.success_count, bs.error_count)
        listed = {info.key for info in blocks}
        for block_type, name in state.trace_keys():  # executions without a status
            if (block_type, name) not in listed:
                rows = state.executions(block_type, name)
                ok, err = trace_counts(rows)
                word = "errored" if err else "succeeded"
                blocks.append(BlockInfo(block_type, name, word, success_count=ok, error_count=err))
                traces.append(rows)
        status = str(getattr(state, "status", None) or getattr(state, "run_status", "running"))
        _add_unrun(blocks, traces, spec_blocks, status == "running")
        mark_loops(blocks)
        for info in blocks:
            if info.key in live:
                _add_live_counts(info, *live[info.key])
        index = {info.key: b for b, info in enumerate(blocks)}
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
        # contract C: set by the session from the run's ``dusttui.end_reason`` and ``error``
        end_reason = getattr(state, "end_reason", None)
        end_message = getattr(state, "end_message", None)
        return cls(
            getattr(state, "run_id", None),
            status,
            blocks,
            traces,
            errors,
            messages,
            getattr(state, "version", 0),
            run_latency,
            end_reason=end_reason if isinstance(end_reason, str) else None,
            end_message=end_message if isinstance(end_message, str) else None,
            config=dict(getattr(state, "config", None) or {}),
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
        return sum(info.done for info in self.blocks)

    @property
    def stopped_early(self) -> bool:
        """True when the engine ended the run itself (cancelled, interrupted, its own error)."""
        return self.end_reason in ENGINE_ENDS

    @property
    def not_followed(self) -> bool:
        """True when the front end stopped following the run before it ended."""
        return self.end_reason in WATCH_ENDS

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

    def row(self, b: int, i: int) -> Sequence[Execution]:
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
    """(successes, errors) over one input's iterations; what never ran (a cancelled or
    interrupted run's placeholders, :func:`~dusttui.api.traces.is_not_run`) is neither."""
    if isinstance(row, ExecutionRow):  # a RunState row (JSON text until read): counted as is
        counts = row.tally()
    else:
        counts = tally_rows([row])
    return counts.ok, counts.err


def trace_counts(rows: Rows) -> tuple[int, int]:
    """(successes, errors) over every execution of a block, every input and iteration (the one
    count of :class:`~dusttui.api.traces.BlockCounts`: what never ran is neither)."""
    counts = rows.trace.tally() if isinstance(rows, Executions) else tally_rows(rows)
    return counts.ok, counts.err


def _add_live_counts(info: BlockInfo, ok: int, err: int) -> None:
    """A running block's counts: its status counts what the current pass has done so far (the
    backend may report them live), the traces hold what earlier iterations of a loop did."""
    if info.in_loop:
        info.success_count += ok
        info.error_count += err
    elif ok + err > info.done:
        info.success_count, info.error_count = ok, err


def _add_unrun(
    blocks: list[BlockInfo], traces: list[Rows], spec: SpecBlocks | None, running: bool
) -> None:
    """Insert the spec's blocks the run has not reached, each after its predecessor in the spec
    (and after the blocks the run ran there that the spec does not have: the app changed)."""
    if not spec:
        return
    have = {info.key for info in blocks}
    known = set(spec)
    after = 0  # where the next missing block goes: after the last spec block seen
    for key in spec:
        if key in have:
            after = next(k for k, info in enumerate(blocks) if info.key == key) + 1
            while after < len(blocks) and blocks[after].key not in known:
                after += 1
            continue
        blocks.insert(after, BlockInfo(key[0], key[1], status=WAITING if running else NOT_RUN))
        traces.insert(after, [])
        have.add(key)
        after += 1


class _LoopRow(Protocol):
    block_type: str
    name: str
    in_loop: bool


def mark_loops(blocks: Sequence[_LoopRow]) -> None:
    """Flag blocks that run once per iteration: those inside map…reduce, and while/end themselves
    (the explorer's blocks and the run table's rows keep this one rule)."""
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
