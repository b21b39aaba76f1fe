"""RunState: the one reducer of a run, shared by the CLI, the TUI and the trace explorer.

Feed it stream events with :meth:`RunState.apply` and GET answers with :meth:`RunState.apply_run`;
it keeps blocks in order with status, counts, times and token usage, executions indexed
block → input → iteration (while-loop iterations merged along the iteration axis as GET does),
streamed tokens per (block, input, iteration), and an index of every error for jump-to-error.
``version`` is bumped on every change, so a UI can redraw only when something moved.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from dusttui.api.errors import RunError, run_error_message
from dusttui.api.models import (
    BlockStatus,
    Event,
    Execution,
    Run,
    RunConfig,
    RunStatus,
)
from dusttui.api.sse import decode_event

__all__ = ["BlockState", "ErrorRef", "PrerunError", "RunState", "TokenKey"]

BlockKey = tuple[str, str]  # (block_type, name)
TokenKey = tuple[str, int, int]  # (block_name, input_index, iteration)


@dataclass(slots=True)
class BlockState:
    """One block of the run as the user sees it (one per distinct (block_type, name))."""

    block_type: str
    name: str
    status: str = "running"
    success_count: int = 0
    error_count: int = 0
    started_at: float | None = None
    ended_at: float | None = None
    expected: int | None = None  # executions expected, when known
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def done(self) -> bool:
        """True once the block is no longer running."""
        return self.status != "running"

    def elapsed(self, now: float | None = None) -> float | None:
        """Seconds the block ran (so far, at ``now``, while it runs); None before it started."""
        if self.started_at is None:
            return None
        end = self.ended_at if self.ended_at is not None else now
        return None if end is None else max(0.0, end - self.started_at)

    def to_status(self) -> BlockStatus:
        """The wire ``BlockStatus``."""
        return BlockStatus(
            block_type=self.block_type,
            name=self.name,
            status=self.status,  # type: ignore[arg-type]
            success_count=self.success_count,
            error_count=self.error_count,
        )


@dataclass(frozen=True, slots=True)
class ErrorRef:
    """Where an execution failed: enough to jump to it in the trace explorer."""

    block_type: str
    block_name: str
    input_index: int
    iteration: int
    message: str


# Event types reduced from their fields as a dict (what decode_fast validates).
_DICT_KINDS = frozenset(("run_status", "block_status", "block_execution", "tokens"))


def _fields(execution: Any) -> dict[str, Any]:
    return execution if type(execution) is dict else execution.__dict__


class PrerunError(NamedTuple):
    """The run was refused before it started (stream ``error`` event)."""

    code: str
    message: str

    def as_exception(self) -> RunError:
        """The same, as the RunError a caller can raise."""
        return RunError(run_error_message(self.code, self.message), code=self.code)


@dataclass(slots=True)
class _Loop:
    """The `while` loop being run: its name, iteration, and which inputs already left it."""

    name: str
    iteration: int = 0
    skips: list[bool] | None = None


class RunState:
    """The state of one run, built from stream events and/or GET answers."""

    def __init__(
        self,
        *,
        specification_hash: str | None = None,
        config: dict[str, Any] | None = None,
        run_type: str = "deploy",
        run_id: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.run_id = run_id
        self.status: str | None = None
        self.prerun_error: PrerunError | None = None
        self.created: int | None = None
        self.run_type = run_type
        self.specification_hash = specification_hash
        self.config: dict[str, Any] = dict(config or {})
        self.blocks: list[BlockState] = []
        self.errors: list[ErrorRef] = []
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.final_seen = False
        self.version = 0
        self.clock = clock
        self._index: dict[BlockKey, BlockState] = {}
        # Executions per block; a block_execution's JSON text (bytes) until first read: bytes
        # are one object for the garbage collector, thousands of models are not (big runs).
        self._traces: dict[BlockKey, list[list[Execution]] | bytes] = {}
        self._tokens: dict[TokenKey, list[str]] = {}
        self._reasoning: dict[TokenKey, list[str]] = {}
        self._function_calls: dict[TokenKey, list[str]] = {}  # [name, argument chunks...]
        self._streams = 1  # input streams: 1 before the input block, then one per input
        self._map_sizes: list[int] | None = None
        self._loop: _Loop | None = None
        self._dict_handlers: dict[str, Callable[[Any, bytes | None], None]] = {
            "run_status": self._on_run_status,
            "block_status": self._on_block_status,
            "block_execution": self._on_block_execution,
            "tokens": self._on_tokens,
        }
        self._handlers: dict[str, Callable[[Any], None]] = {
            "reasoning_tokens": self._on_reasoning_tokens,
            "function_call": self._on_function_call,
            "function_call_arguments_tokens": self._on_function_call_arguments,
            "error": self._on_error,
            "final": self._on_final,
        }

    def __repr__(self) -> str:
        return (
            f"RunState(run_id={self.run_id!r}, status={self.status!r}, blocks={len(self.blocks)}, "
            f"errors={len(self.errors)}, version={self.version})"
        )

    # ------------------------------------------------------------------ reading

    @property
    def done(self) -> bool:
        """True once the run ended (succeeded, errored, or refused before it started)."""
        return self.status in ("succeeded", "errored") or self.prerun_error is not None

    @property
    def usage(self) -> dict[str, int]:
        """Token usage totals over every execution seen."""
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}

    @property
    def results(self) -> list[list[Execution]] | None:
        """The last executed block's executions, only for a succeeded run (as GET gives)."""
        if self.status != "succeeded" or not self._traces:
            return None
        return self._materialize(next(reversed(self._traces)))

    @property
    def tokens(self) -> dict[TokenKey, str]:
        """Streamed completion text per (block_name, input_index, iteration)."""
        return {k: "".join(v) for k, v in self._tokens.items()}

    def token_text(self, block_name: str, input_index: int, iteration: int = 0) -> str:
        """Streamed completion text of one execution ('' if none)."""
        return "".join(self._tokens.get((block_name, input_index, iteration), ()))

    def reasoning_text(self, block_name: str, input_index: int, iteration: int = 0) -> str:
        """Streamed reasoning text of one execution ('' if none)."""
        return "".join(self._reasoning.get((block_name, input_index, iteration), ()))

    def function_call(self, block_name: str, input_index: int, iteration: int = 0):
        """(name, arguments so far) of a streamed function call, or None."""
        parts = self._function_calls.get((block_name, input_index, iteration))
        return None if parts is None else (parts[0], "".join(parts[1:]))

    def block(self, block_type: str, name: str) -> BlockState | None:
        """The block's state, or None if it has not started."""
        return self._index.get((block_type, name))

    def executions(self, block_type: str, name: str) -> list[list[Execution]]:
        """The block's executions, ``[input][iteration]`` (empty if none yet)."""
        key = (block_type, name)
        return self._materialize(key) if key in self._traces else []

    def trace_keys(self) -> list[BlockKey]:
        """(block_type, name) of every block with executions, in execution order."""
        return list(self._traces)

    def to_run(self) -> Run:
        """The run as GET would return it, config filled from what the caller sent."""
        if self.run_id is None or self.status is None:
            raise ValueError("The run has not started: there is no run id yet.")
        return Run(
            run_id=self.run_id,
            created=self.created if self.created is not None else int(self.clock() * 1000),
            run_type=self.run_type,
            specification_hash=self.specification_hash,
            config=RunConfig(blocks=self.config),
            status=RunStatus(
                run=self.status,  # type: ignore[arg-type]
                blocks=[b.to_status() for b in self.blocks],
            ),
            traces=self._trace_list(),
            results=self.results,
        )

    def _materialize(self, key: BlockKey) -> list[list[Execution]]:
        value = self._traces[key]
        if type(value) is bytes:
            value = decode_event(value).content.execution  # type: ignore[union-attr]
            self._traces[key] = value
        return value  # type: ignore[return-value]

    def _trace_list(self) -> list[tuple[BlockKey, list[list[Execution]]]]:
        return [(key, self._materialize(key)) for key in self._traces]

    # ------------------------------------------------------------------ events

    def apply(self, event: Event, raw: bytes | None = None) -> None:
        """Fold one stream event into the state; unknown event types change nothing.

        ``raw``: the event's JSON text, if at hand (``EventStream.last_raw``); executions are then
        kept as text until first read, which keeps huge runs cheap for the garbage collector.
        """
        kind = event.type
        if kind in _DICT_KINDS:  # one reducer for models and validated dicts: use the fields
            self._dict_handlers[kind](event.content.__dict__, raw)
            self.version += 1
            return
        handler = self._handlers.get(kind)
        if handler is not None:
            handler(event.content)
            self.version += 1

    def apply_fast(self, kind: str, content: Any, event: Event | None, raw: bytes) -> None:
        """Fold what :func:`dusttui.api.sse.decode_fast` gave: a validated dict or a model."""
        if event is not None:
            self.apply(event, raw)
            return
        self._dict_handlers[kind](content, raw)
        self.version += 1

    def _on_run_status(self, c: dict[str, Any], raw: bytes | None = None) -> None:
        if self.run_id is None:
            self.run_id = c["run_id"]
        if self.created is None:
            self.created = int(self.clock() * 1000)
        self.status = c["status"]

    def _on_error(self, content: Any) -> None:
        self.prerun_error = PrerunError(content.code, content.message)

    def _on_final(self, content: Any) -> None:
        self.final_seen = True

    def _expected(self, block_type: str) -> int | None:
        loop = self._loop
        if loop is not None and loop.skips is not None:
            return loop.skips.count(False)
        if self._map_sizes is not None and block_type != "reduce":
            return sum(self._map_sizes)
        return self._streams

    def _on_block_status(self, c: dict[str, Any], raw: bytes | None = None) -> None:
        block_type, name, status = c["block_type"], c["name"], c["status"]
        key = (block_type, name)
        state = self._index.get(key)
        now = self.clock()
        running = status == "running"
        if running and block_type == "while":
            loop = self._loop
            if loop is not None and loop.name == name:
                loop.iteration += 1
            else:
                self._loop = _Loop(name)
        if state is None:
            state = BlockState(block_type, name, started_at=now)
            self._index[key] = state
            self.blocks.append(state)
        state.status = status
        state.success_count = c.get("success_count", 0)
        state.error_count = c.get("error_count", 0)
        if running:
            state.ended_at = None
            state.expected = self._expected(block_type)
        else:
            state.ended_at = now

    def _on_block_execution(self, c: dict[str, Any], raw: bytes | None = None) -> None:
        block_type = c["block_type"]
        key = (block_type, c["block_name"])
        execution = c["execution"]  # rows of Execution models, or of validated dicts
        loop = self._loop
        if loop is not None:
            if any(type(ex) is dict for row in execution for ex in row):
                execution = decode_event(raw).content.execution  # type: ignore[arg-type,union-attr]
            self._loop_execution(key, execution, loop)
        else:
            self._traces[key] = raw if raw is not None else execution
            self._scan(key, execution, 0)
        if block_type == "input":
            self._streams = len(execution)
        elif block_type == "map":
            sizes = []
            for row in execution:
                value = _fields(row[0]).get("value") if row else None
                sizes.append(len(value) if type(value) is list else 1)
            self._map_sizes = sizes
        elif block_type == "reduce":
            self._map_sizes = None

    def _loop_execution(self, key: BlockKey, execution: list[list[Execution]], loop: _Loop) -> None:
        """A block inside a while loop: skipped inputs dropped, iterations merged along j."""
        if loop.skips is None:
            loop.skips = [False] * len(execution)
        skips = loop.skips
        if key in self._traces:
            merged = self._materialize(key)
        else:
            merged = [[] for _ in execution]
            self._traces[key] = merged
        block = self._index.get(key)
        for i, row in enumerate(execution):
            if i < len(skips) and skips[i]:
                continue
            if i >= len(merged):
                merged.append([])
            for ex in row:
                j = len(merged[i])
                merged[i].append(ex)
                self._scan_one(key, ex.error, ex.meta, i, j, block)
        if key[0] == "while":
            # An input leaves the loop once its condition is false; it never comes back.
            loop.skips = [skips[i] if i < len(skips) else False for i in range(len(execution))]
            for i, row in enumerate(execution):
                if not loop.skips[i] and row and row[0].value is not True:
                    loop.skips[i] = True
        elif key[0] == "end" and all(loop.skips):
            self._loop = None

    def _scan(self, key: BlockKey, execution: list[list[Any]], base_j: int) -> None:
        """Index errors and add token usage of fresh executions (models or validated dicts)."""
        block = None
        for i, row in enumerate(execution):
            for j, ex in enumerate(row):
                f = ex if type(ex) is dict else ex.__dict__
                meta = f.get("meta")
                # only errors and llm/chat usage matter here; most executions have neither
                if f.get("error") is not None or (type(meta) is dict and "token_usage" in meta):
                    block = block or self._index.get(key)
                    self._scan_one(key, f.get("error"), meta, i, base_j + j, block)

    def _scan_one(
        self, key: BlockKey, error: str | None, meta: Any, i: int, j: int, block: BlockState | None
    ) -> None:
        if error is not None:
            self.errors.append(ErrorRef(key[0], key[1], i, j, error))
        if type(meta) is dict:
            usage = meta.get("token_usage")
            if type(usage) is dict:
                p = usage.get("prompt_tokens")
                c = usage.get("completion_tokens")
                p = p if type(p) is int else 0
                c = c if type(c) is int else 0
                self.prompt_tokens += p
                self.completion_tokens += c
                if block is not None:
                    block.prompt_tokens += p
                    block.completion_tokens += c

    @staticmethod
    def _token_key(content: Any) -> TokenKey:
        m = content.map
        return (content.block_name, content.input_index, m.iteration if m is not None else 0)

    def _on_tokens(self, c: dict[str, Any], raw: bytes | None = None) -> None:
        m = c.get("map")
        if m is not None and type(m) is not dict:
            m = m.__dict__
        key = (c["block_name"], c["input_index"], m["iteration"] if m is not None else 0)
        tokens = c["tokens"]
        text = tokens.get("text", "") if type(tokens) is dict else tokens.text
        self._tokens.setdefault(key, []).append(text)

    def _on_reasoning_tokens(self, content: Any) -> None:
        self._reasoning.setdefault(self._token_key(content), []).append(content.tokens.text)

    def _on_function_call(self, content: Any) -> None:
        self._function_calls[self._token_key(content)] = [content.function_call.name]

    def _on_function_call_arguments(self, content: Any) -> None:
        parts = self._function_calls.setdefault(self._token_key(content), [""])
        parts.append(content.tokens.text)

    # ------------------------------------------------------------------ GET

    def apply_run(self, run: Run) -> bool:
        """Reconcile with a GET answer; returns True if anything changed.

        The server's run wins: status, blocks, traces and results become its own. Block times
        and streamed tokens are kept. When nothing was lost, nothing changes (version kept).
        """
        config = run.config.blocks or self.config
        traces = _merged_traces(run.traces)
        if (
            self.run_id == run.run_id
            and self.status == run.status.run
            and self.created == run.created
            and self.run_type == run.run_type
            and self.specification_hash == run.specification_hash
            and self.config == config
            and [b.to_status() for b in self.blocks] == run.status.blocks
            and self._trace_list() == [(tuple(k), v) for k, v in traces]
        ):
            return False
        now = self.clock()
        self.run_id = run.run_id
        self.status = run.status.run
        self.created = run.created
        self.run_type = run.run_type
        self.specification_hash = run.specification_hash
        self.config = dict(config)
        old = self._index
        self._index = {}
        self.blocks = []
        for bs in run.status.blocks:
            key = (bs.block_type, bs.name)
            state = old.get(key) or BlockState(bs.block_type, bs.name, started_at=now)
            state.status = bs.status
            state.success_count = bs.success_count
            state.error_count = bs.error_count
            state.prompt_tokens = state.completion_tokens = 0
            if bs.status == "running":
                state.ended_at = None
            else:
                if state.ended_at is None:
                    state.ended_at = now
                state.expected = bs.success_count + bs.error_count
            self._index[key] = state
            self.blocks.append(state)
        self._traces = {}
        self.errors = []
        self.prompt_tokens = self.completion_tokens = 0
        for (block_type, name), execution in traces:
            key = (block_type, name)
            self._traces[key] = execution
            self._scan(key, execution, 0)
        self.version += 1
        return True

    @classmethod
    def from_run(cls, run: Run, *, clock: Callable[[], float] = time.time) -> RunState:
        """A state holding a run read with GET (e.g. one opened from the journal)."""
        state = cls(clock=clock)
        state.apply_run(run)
        return state


def _merged_traces(traces: list[Any]) -> list[Any]:
    """Traces as GET gives them. A blocking answer lists one entry per `block_execution` event,
    so each while iteration stands apart: replay them as events to merge them along j."""
    if len({tuple(key) for key, _ in traces}) == len(traces):
        return traces
    replay = RunState()
    for (block_type, name), execution in traces:
        replay._on_block_status({"block_type": block_type, "name": name, "status": "running"})
        replay._on_block_execution(
            {"block_type": block_type, "block_name": name, "execution": execution}
        )
    return replay._trace_list()
