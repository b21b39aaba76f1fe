"""RunState: the one reducer of a run, shared by the CLI, the TUI and the trace explorer.

Feed it stream events with :meth:`RunState.apply` and GET answers with :meth:`RunState.apply_run`
(a ``Run``) or :meth:`RunState.apply_run_json` (its JSON text, the cheap way); it keeps blocks in
order with status, counts, times and token usage, executions indexed block → input → iteration
(while-loop iterations merged along the iteration axis as GET does), streamed tokens per (block,
input, iteration), and an index of every error for jump-to-error. ``version`` is bumped on every
change, so a UI can redraw only when something moved.

Executions are kept as JSON text per block and input (:mod:`dusttui.api.traces`), not as models:
a run of 195,000 executions holds about 1.4× its JSON instead of 35×. :meth:`RunState.executions`
gives a read-only view that behaves like ``list[list[Execution]]``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from dusttui.api.errors import StreamProtocolError
from dusttui.api.loops import Loops, fields
from dusttui.api.memory import gc_paused, release_memory
from dusttui.api.models import Event, Execution, Run, RunConfig, RunStatus, to_wire
from dusttui.api.offload import ExecutionSummary
from dusttui.api.run_json import Built, built_traces, parse_run
from dusttui.api.state_parts import BlockState, ErrorRef, PrerunError
from dusttui.api.trace_views import Executions
from dusttui.api.traces import BlockCounts, BlockTrace, RowCache, is_not_run, tally_rows

__all__ = ["BlockCounts", "BlockState", "ErrorRef", "PrerunError", "RunState", "TokenKey"]

BlockKey = tuple[str, str]  # (block_type, name)
TokenKey = tuple[str, int, int]  # (block_name, input_index, iteration)

# Above this, a GET answer is parsed with the collector paused, and its transient objects'
# memory handed back to the system afterwards.
_BIG_BYTES = 1 << 20
_BIG_EXECUTIONS = 20_000


# Event types reduced from their fields as a dict (what decode_fast validates).
_DICT_KINDS = frozenset(("run_status", "block_status", "block_execution", "tokens"))


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
        # The run's keys beyond the hosted ones (the local engine's `error` and `dusttui`),
        # kept as the server sent them so the run JSON written out keeps them.
        self.extras: dict[str, Any] = {}
        # Why the run ended when it did not end by itself (contract C): the engine's
        # `dusttui.end_reason` and `error`, or what only the front end knows (detached...).
        self.end_reason: str | None = None
        self.end_message: str | None = None
        self.version = 0
        self.clock = clock
        self._index: dict[BlockKey, BlockState] = {}
        # Executions per block: a block_execution's JSON text (bytes) until first read, then a
        # BlockTrace (each input's row as JSON text; models built only for the rows read, kept
        # in a small cache). Models per execution weigh ~35× their JSON on big runs.
        self._traces: dict[BlockKey, BlockTrace | bytes] = {}
        self._counts: dict[BlockKey, BlockCounts] = {}  # a block kept as an event's text: counted
        self._views: dict[BlockKey, Executions] = {}  # one per trace: readers compare identities
        self._cache = RowCache()
        self._tokens: dict[TokenKey, list[str]] = {}
        self._reasoning: dict[TokenKey, list[str]] = {}
        self._function_calls: dict[TokenKey, list[str]] = {}  # [name, argument chunks...]
        self._streams = 1  # input streams: 1 before the input block, then one per input
        self._map_sizes: list[int] | None = None
        self._loops = Loops()

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
    def results(self) -> Executions | None:
        """The last executed block's executions, only for a succeeded run (as GET gives)."""
        if self.status != "succeeded" or not self._traces:
            return None
        return self._view(next(reversed(self._traces)))

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

    def function_call(
        self, block_name: str, input_index: int, iteration: int = 0
    ) -> tuple[str, str] | None:
        """(name, arguments so far) of a streamed function call, or None."""
        parts = self._function_calls.get((block_name, input_index, iteration))
        return None if parts is None else (parts[0], "".join(parts[1:]))

    def block(self, block_type: str, name: str) -> BlockState | None:
        """The block's state, or None if it has not started."""
        return self._index.get((block_type, name))

    def executions(self, block_type: str, name: str) -> Sequence[Sequence[Execution]]:
        """The block's executions, ``[input][iteration]`` (empty if none yet).

        A read-only :class:`~dusttui.api.trace_views.Executions` that behaves like
        ``list[list[Execution]]`` (it compares equal to one); the same object until the block
        changes. Rows are built as models when read.
        """
        key = (block_type, name)
        return self._view(key) if key in self._traces else []

    def block_counts(self, block_type: str, name: str) -> BlockCounts:
        """The block's executions by the one count (ok, errored, not run; inputs), counted when
        they arrived: never decodes the block (the run table reads it on every repaint)."""
        key = (block_type, name)
        value = self._traces.get(key)
        if value is None:
            return BlockCounts()
        if type(value) is bytes:
            return self._counts[key]
        return value.tally()  # type: ignore[union-attr]

    def trace_keys(self) -> list[BlockKey]:
        """(block_type, name) of every block with executions, in execution order."""
        return list(self._traces)

    def to_run(self) -> Run:
        """The run as GET would return it, config filled from what the caller sent.

        Builds every execution's model: for writing a big run out, :meth:`to_wire` is cheaper.
        """
        big = self._size() >= _BIG_BYTES
        with gc_paused(big):
            traces = [(key, self._trace(key).models()) for key in self._traces]
            results = traces[-1][1] if self.status == "succeeded" and traces else None
            run = self._head(traces, results)
        if big:
            release_memory(now=False)  # once the caller lets the models go
        return run

    def to_wire(self) -> dict[str, Any]:
        """``to_wire(self.to_run())`` — the run's wire JSON as Python data — built straight from
        the executions' JSON text, without models (journal files, ``--json`` of big runs)."""
        wire: dict[str, Any] = to_wire(self._head([], None))
        traces = [[list(key), self._trace(key).dicts()] for key in self._traces]
        wire["traces"] = traces
        wire["results"] = traces[-1][1] if self.status == "succeeded" and traces else None
        return wire

    def to_wire_json(self) -> bytes:
        """The run's wire JSON as text (what ``to_wire`` gives, serialised), written from the
        executions' JSON text without decoding them: cheap enough for any run size."""
        head = to_wire(self._head([], None))
        del head["traces"], head["results"]
        try:
            start = orjson.dumps(head)
        except TypeError:  # lone surrogates in a config: the stdlib escapes them
            start = json.dumps(head).encode()
        texts = {key: self._execution_text(key) for key in self._traces}
        traces = [
            b"[" + orjson.dumps(list(key)) + b"," + text + b"]" for key, text in texts.items()
        ]
        results = b"null"
        if self.status == "succeeded" and self._traces:
            results = texts[next(reversed(self._traces))]
        # One join: a big run is megabytes, copied once.
        pieces = [start[:-1], b',"traces":[']
        for k, trace in enumerate(traces):
            pieces += (b"," if k else b"", trace)
        pieces += (b'],"results":', results, b"}")
        return b"".join(pieces)

    def _execution_text(self, key: BlockKey) -> bytes:
        """A block's executions as JSON text; from a kept event's text without decoding it
        when it is written as servers write it (compact, in the protocol's key order)."""
        value = self._traces[key]
        if type(value) is bytes:
            head = (
                b'{"type":"block_execution","content":{"block_type":'
                + orjson.dumps(key[0])
                + b',"block_name":'
                + orjson.dumps(key[1])
                + b',"execution":'
            )
            if value.startswith(head) and value.endswith(b"]}}"):
                return value[len(head) : -2]
        return self._trace(key).json_text()

    def _size(self) -> int:
        return sum(t.size if type(t) is BlockTrace else len(t) for t in self._traces.values())

    def _head(self, traces: list[Any], results: list[list[Execution]] | None) -> Run:
        if self.run_id is None or self.status is None:
            raise ValueError("The run has not started: there is no run id yet.")
        return Run(
            **self.extras,
            run_id=self.run_id,
            created=self.created if self.created is not None else int(self.clock() * 1000),
            run_type=self.run_type,
            specification_hash=self.specification_hash,
            config=RunConfig(blocks=self.config),
            status=RunStatus(
                run=self.status,  # type: ignore[arg-type]
                blocks=[b.to_status() for b in self.blocks],
            ),
            traces=traces,
            results=results,
        )

    def _view(self, key: BlockKey) -> Executions:
        trace = self._trace(key)
        view = self._views.get(key)
        if view is None or view.trace is not trace:
            view = self._views[key] = Executions(trace)
        return view

    def _trace(self, key: BlockKey) -> BlockTrace:
        value = self._traces[key]
        if type(value) is bytes:
            value = BlockTrace.from_event(value, cache=self._cache)
            self._traces[key] = value
            self._counts.pop(key, None)
        return value  # type: ignore[return-value]

    # ------------------------------------------------------------------ events

    def apply(self, event: Event, raw: bytes | None = None) -> None:
        """Fold one stream event into the state; unknown event types change nothing.

        ``raw``: the event's JSON text, if at hand (``EventStream.last_raw``); executions are then
        kept as text until first read, which keeps huge runs cheap for the garbage collector.
        """
        kind = event.type
        if kind in _DICT_KINDS:  # one reducer for models and validated dicts: use the fields
            _DICT_HANDLERS[kind](self, event.content.__dict__, raw)
            self.version += 1
            return
        handler = _HANDLERS.get(kind)
        if handler is not None:
            handler(self, event.content)
            self.version += 1

    def apply_fast(self, kind: str, content: Any, event: Event | None, raw: bytes) -> None:
        """Fold what :func:`dusttui.api.sse.decode_fast` gave: a validated dict or a model."""
        if event is not None:
            self.apply(event, raw)
            return
        _DICT_HANDLERS[kind](self, content, raw)
        self.version += 1

    @property
    def in_loop(self) -> bool:
        """A while loop runs: its blocks' executions are merged as they come."""
        return self._loops.active

    def apply_execution_summary(self, summary: ExecutionSummary, raw: bytes) -> None:
        """Fold a big ``block_execution`` event read elsewhere (:mod:`dusttui.api.offload`): its
        trace comes packed from there, its failures and usage indexed. Not for a block inside a while loop
        (those merge their executions: see :attr:`in_loop`)."""
        key = (summary.block_type, summary.block_name)
        self._traces[key] = BlockTrace.from_parts(summary.trace, cache=self._cache)
        self._views.pop(key, None)
        block = self._index.get(key)
        for i, j, error, p, c in summary.notes:
            if error is not None and not is_not_run(error):
                self.errors.append(ErrorRef(key[0], key[1], i, j, error))
            if p or c:
                self._add_usage(p, c, block)
        if key[0] == "input":
            self._streams = summary.inputs
        elif key[0] == "map":
            self._map_sizes = summary.map_sizes
        elif key[0] == "reduce":
            self._map_sizes = None
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
        if block_type == "input":
            return None  # its inputs are known when it ends (a dataset may give them)
        in_loop = self._loops.expected()
        if in_loop is not None:
            return in_loop
        if self._map_sizes is not None and block_type != "reduce":
            return sum(self._map_sizes)
        return self._streams

    def _on_block_status(self, c: dict[str, Any], raw: bytes | None = None) -> None:
        block_type, name, status = c["block_type"], c["name"], c["status"]
        key = (block_type, name)
        state = self._index.get(key)
        now = self.clock()
        running = status == "running"
        if running:
            self._loops.started(block_type, name)
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
            if state.expected is None:  # known once over: what ran (the input block's inputs)
                state.expected = state.success_count + state.error_count

    def _on_block_execution(self, c: dict[str, Any], raw: bytes | None = None) -> None:
        block_type = c["block_type"]
        key = (block_type, c["block_name"])
        execution = c["execution"]  # rows of Execution models, or of validated dicts
        if self._loops.active:
            stdlib = False
            if raw is not None and any(type(ex) is dict for row in execution for ex in row):
                try:  # the whole executions, with any keys the validated dicts left out
                    execution = orjson.loads(raw)["content"]["execution"]
                except orjson.JSONDecodeError:
                    execution = json.loads(raw)["content"]["execution"]
                    stdlib = True
            block = self._index.get(key)

            def scan(i: int, j: int, error: str | None, meta: Any) -> None:
                self._scan_one(key, error, meta, i, j, block)

            self._views.pop(key, None)  # the trace grows in place: a new view says it moved
            self._traces[key] = self._loops.merge(
                key,
                execution,
                self._trace(key) if key in self._traces else None,
                cache=self._cache,
                stdlib=stdlib,
                on_execution=scan,
            )
        else:
            if raw is not None:  # kept as text until a row is read: counted now
                self._counts[key] = tally_rows(execution)
                self._traces[key] = raw
            else:
                self._traces[key] = self._build(execution)
            self._scan(key, execution, 0)
        if block_type == "input":
            self._streams = len(execution)
        elif block_type == "map":
            sizes = []
            for row in execution:
                value = fields(row[0]).get("value") if row else None
                sizes.append(len(value) if type(value) is list else 1)
            self._map_sizes = sizes
        elif block_type == "reduce":
            self._map_sizes = None

    def _build(self, execution: list[list[Any]]) -> BlockTrace:
        """Executions given as models (or decoded dicts), without their JSON text."""
        if any(type(ex) is dict for row in execution for ex in row):
            return BlockTrace.from_dicts(execution, cache=self._cache)
        return BlockTrace.from_models(execution, cache=self._cache)

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
        if error is not None and not is_not_run(error):
            self.errors.append(ErrorRef(key[0], key[1], i, j, error))
        if type(meta) is dict:
            usage = meta.get("token_usage")
            if type(usage) is dict:
                p = usage.get("prompt_tokens")
                c = usage.get("completion_tokens")
                self._add_usage(p if type(p) is int else 0, c if type(c) is int else 0, block)

    def _add_usage(self, p: int, c: int, block: BlockState | None) -> None:
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
        The executions are kept as JSON text, not as the run's models (see :meth:`executions`).
        """
        built = built_traces(run.traces, self._cache, dicts=False)
        changed = self._reconcile(run, built)
        if sum(sum(t.lens) for _, t, _ in built) >= _BIG_EXECUTIONS:
            release_memory(now=False)  # the run's models go when the caller drops them
        return changed

    def apply_run_json(self, data: bytes | str) -> bool:
        """Like :meth:`apply_run`, from the GET answer's JSON text (``{"run": {...}}`` or the
        run itself), without ever building models for the executions.

        Raises :class:`~dusttui.api.errors.StreamProtocolError` if it is not JSON or not a run.
        """
        big = len(data) >= _BIG_BYTES
        with gc_paused(big):
            try:
                payload = orjson.loads(data)
            except orjson.JSONDecodeError as exc:
                raise StreamProtocolError(f"The server's run is not valid JSON ({exc}).") from None
            head, built = parse_run(payload, self._cache)
            del payload
            changed = self._reconcile(head, built)
            del built
        if big:
            release_memory()  # the parse's transient objects are gone: hand their pages back
        return changed

    def _same_traces(self, built: list[Built]) -> bool:
        if list(self._traces) != [key for key, _, _ in built]:
            return False
        return all(self._trace(key).same(trace) for key, trace, _ in built)

    def _reconcile(self, run: Run, built: list[Built]) -> bool:
        config = run.config.blocks or self.config
        extras = dict(run.model_extra or {})
        if (
            self.run_id == run.run_id
            and self.status == run.status.run
            and self.created == run.created
            and self.run_type == run.run_type
            and self.specification_hash == run.specification_hash
            and self.config == config
            and self.extras == extras
            and [b.to_status() for b in self.blocks] == run.status.blocks
            and self._same_traces(built)
        ):
            return False
        now = self.clock()
        self.run_id = run.run_id
        self.status = run.status.run
        self.created = run.created
        self.run_type = run.run_type
        self.specification_hash = run.specification_hash
        self.config = dict(config)
        self._take_extras(extras)
        totals = block_totals(extras, len(run.status.blocks))
        old = self._index
        self._index = {}
        self.blocks = []
        for bs, total in zip(run.status.blocks, totals, strict=True):
            key = (bs.block_type, bs.name)
            state = old.get(key)
            if state is None:
                # A block first seen already over ran for an unknown time ("—", not 0.0 s).
                state = BlockState(
                    bs.block_type, bs.name, started_at=now if bs.status == "running" else None
                )
            state.status = bs.status
            state.success_count = bs.success_count
            state.error_count = bs.error_count
            state.prompt_tokens = state.completion_tokens = 0
            if bs.status == "running":
                state.ended_at = None
                if total is not None:
                    state.expected = total
            else:
                if state.ended_at is None and state.started_at is not None:
                    state.ended_at = now
                # What the block expected (a block stopped partway shows 256/1000), else what ran.
                state.expected = total if total is not None else bs.success_count + bs.error_count
            self._index[key] = state
            self.blocks.append(state)
        traces: dict[BlockKey, BlockTrace | bytes] = {}
        self.errors = []
        self.prompt_tokens = self.completion_tokens = 0
        for key, trace, notes in built:
            if key in self._traces and (mine := self._trace(key)).same(trace):
                trace = mine  # unchanged: readers keep the same view
            trace.cache = self._cache
            traces[key] = trace
            block = self._index.get(key)
            for i, j, error, p, c in notes:
                if error is not None and not is_not_run(error):
                    self.errors.append(ErrorRef(key[0], key[1], i, j, error))
                if p or c:
                    self._add_usage(p, c, block)
        self._traces = traces
        self._counts = {}  # every block is a BlockTrace now
        self._views = {k: v for k, v in self._views.items() if traces.get(k) is v.trace}
        self.version += 1
        return True

    def _take_extras(self, extras: dict[str, Any]) -> None:
        self.extras = extras
        ext = extras.get("dusttui")
        reason = ext.get("end_reason") if type(ext) is dict else None
        error = extras.get("error")
        if type(reason) is str:
            self.end_reason = reason
        if type(error) is str and error:
            self.end_message = error

    def set_end(self, reason: str | None, message: str | None) -> None:
        """Say why the run ended (or stopped being followed) when only the front end knows."""
        if (reason, message) != (self.end_reason, self.end_message):
            self.end_reason, self.end_message = reason, message
            self.version += 1

    def apply_status_json(self, data: bytes | str, *, structure: bool = False) -> str:
        """Fold the local engine's cheap status form of the run (``.../runs/{id}/status``: live
        counts, no traces) in; returns the run's status there (``running`` while it runs).

        Beside a stream (``structure=False``) only the counts and totals of blocks the state has
        as running move (never backwards): the stream owns which blocks exist and their ends.
        Without a stream (poll, blocking) blocks are added and their statuses taken too. The run's
        own status and traces are left to the stream or the final GET.
        """
        run, blocks, run_status = _status_form(data)
        extras = {k: v for k, v in run.items() if k not in Run.model_fields}
        before = (self.end_reason, self.end_message)
        self._take_extras({**self.extras, **extras})
        changed = before != (self.end_reason, self.end_message)  # what a reader shows
        if self.done:  # the final answer is in: an older count must not undo it
            if changed:
                self.version += 1
            return run_status
        run_id = run.get("run_id")
        if self.run_id is None and type(run_id) is str:
            self.run_id = run_id
            changed = True
        totals = block_totals(extras, len(blocks))
        now = self.clock()
        for bs, total in zip(blocks, totals, strict=True):
            if type(bs) is not dict:
                continue
            key = (str(bs.get("block_type")), str(bs.get("name")))
            ok, err, st = bs.get("success_count"), bs.get("error_count"), bs.get("status")
            ok = ok if type(ok) is int else 0
            err = err if type(err) is int else 0
            state = self._index.get(key)
            if state is None:
                if not structure or st not in ("running", "succeeded", "errored"):
                    continue
                state = BlockState(key[0], key[1], started_at=now if st == "running" else None)
                self._index[key] = state
                self.blocks.append(state)
                changed = True
            if structure and st != state.status and st in ("running", "succeeded", "errored"):
                state.status = st
                state.ended_at = None if st == "running" else now
                changed = True
            elif state.status != "running":
                continue
            if ok > state.success_count or err > state.error_count:
                state.success_count = max(ok, state.success_count)
                state.error_count = max(err, state.error_count)
                changed = True
            if total is not None and total != state.expected:
                state.expected = total
                changed = True
        if changed:
            self.version += 1
        return run_status

    @classmethod
    def from_run(cls, run: Run, *, clock: Callable[[], float] = time.time) -> RunState:
        """A state holding a run read with GET (e.g. one opened from the journal)."""
        state = cls(clock=clock)
        state.apply_run(run)
        return state

    @classmethod
    def from_run_json(
        cls, data: bytes | str, *, clock: Callable[[], float] = time.time
    ) -> RunState:
        """A state holding a run from its GET answer's JSON text (see :meth:`apply_run_json`)."""
        state = cls(clock=clock)
        state.apply_run_json(data)
        return state


def _status_form(data: bytes | str) -> tuple[dict[str, Any], list[Any], str]:
    """The run, its status blocks and its status from a status answer; raises if malformed."""
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise StreamProtocolError(f"The server's run is not valid JSON ({exc}).") from None
    run = payload.get("run") if type(payload) is dict else None
    status = run.get("status") if type(run) is dict else None
    if type(run) is dict and type(status) is dict:
        blocks, run_status = status.get("blocks"), status.get("run")
        if type(blocks) is list and type(run_status) is str:
            return run, blocks, run_status
    raise StreamProtocolError("The server's run status does not have the expected shape.")


def block_totals(extras: dict[str, Any], count: int) -> list[int | None]:
    """The executions each block expects, from the local engine's ``dusttui.blocks`` (parallel
    to ``status.blocks``); None where unknown (any other server)."""
    ext = extras.get("dusttui")
    listed = ext.get("blocks") if type(ext) is dict else None
    if type(listed) is not list or len(listed) != count:
        return [None] * count
    totals: list[int | None] = []
    for item in listed:
        total = item.get("total") if type(item) is dict else None
        totals.append(total if type(total) is int and total >= 0 else None)
    return totals


# Handlers as plain functions (bound methods kept on the instance would make every state a
# reference cycle, freed only by the collector's full passes: big runs linger, ingest stalls).
_DICT_HANDLERS: dict[str, Callable[[RunState, Any, bytes | None], None]] = {
    "run_status": RunState._on_run_status,
    "block_status": RunState._on_block_status,
    "block_execution": RunState._on_block_execution,
    "tokens": RunState._on_tokens,
}
_HANDLERS: dict[str, Callable[[RunState, Any], None]] = {
    "reasoning_tokens": RunState._on_reasoning_tokens,
    "function_call": RunState._on_function_call,
    "function_call_arguments_tokens": RunState._on_function_call_arguments,
    "error": RunState._on_error,
    "final": RunState._on_final,
}
