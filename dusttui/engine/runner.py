"""The run loop: executes a spec's blocks over the inputs exactly as Dust core does.

Trace dimensions, counts, events and status rules follow PROTOCOL.md §2.1, §4 and §5 (and core's
`app.rs`): blocks before `input` run once; from `input` on, once per input; between `map` and
`reduce`, once per map element; `while`…`end` once per input per iteration with skipped inputs
counted in neither count. A block's executions all complete, then an error in any stops the run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from dusttui.engine.blocks import BATCH_EXECUTORS, EXECUTORS
from dusttui.engine.blocks.base import BlockCall, BlockError, BlockResult, Env, RunScope
from dusttui.engine.context import EngineContext
from dusttui.engine.record import RunRecord
from dusttui.engine.wirejson import EncodeError, dumps

log = logging.getLogger(__name__)

Emit = Callable[[dict[str, Any]], Awaitable[None]]

DEFAULT_CONCURRENCY = 64
# core's `concurrency_for_block` defaults for the other types.
CONCURRENCY_BY_TYPE = {"llm": 32, "chat": 32, "curl": 8, "data_source": 8, "search": 8}
# Blocks whose outputs come from outside (models, the network, dataset files) and count against
# the run's output allowance (`EngineContext.run_output_bytes`); code blocks have the sandbox's.
MEASURED_OUTPUTS = frozenset({"llm", "chat", "curl", "data"})


class RunRequestError(Exception):
    """A run refused before it starts (no run id exists): `code` as in core's API errors."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def validate_run_request(spec: Any, config: dict[str, Any], inputs: list[Any]) -> None:
    """Refuse what core refuses before creating a run (inputs not objects, or mixed keys)."""
    if not isinstance(config, dict):
        raise RunRequestError("invalid_request_error", "`config` must be an object")
    if not isinstance(inputs, list):
        raise RunRequestError(
            "invalid_inputs_error", "Invalid inputs (error: inputs must be an array)"
        )
    keys: set[str] | None = None
    for i, element in enumerate(inputs):
        if not isinstance(element, dict):
            raise RunRequestError(
                "invalid_inputs_error",
                f"Invalid inputs (error: Dataset element {i} is not a JSON object. Only JSON "
                "objects are expected as elements of a dataset)",
            )
        element_keys = set(element)
        if keys is None:
            keys = element_keys
        elif element_keys != keys:
            raise RunRequestError(
                "invalid_inputs_error",
                f"Invalid inputs (error: Dataset element {i} has different keys from previous "
                "elements.)",
            )


def concurrency_for_block(config: dict[str, Any], block_type: str, name: str) -> int:
    """The `concurrency` of a block's config, else core's default for its type (at least 1)."""
    block_config = config.get(name)
    if isinstance(block_config, dict):
        value = block_config.get("concurrency")
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return max(1, value)  # core would hang on 0; one at a time is the useful reading
    return CONCURRENCY_BY_TYPE.get(block_type, DEFAULT_CONCURRENCY)


def _mb(size: float) -> str:
    megabytes = size / (1024 * 1024)
    return f"{megabytes:.1f} MB" if megabytes < 10 else f"{megabytes:.0f} MB"


def _settle_in(
    settle: Callable[[int, int, Any], None], unit: list[tuple[int, int]], k: int, outcome: Any
) -> None:
    """Settle the k-th execution of a batched unit (its (i, j) in the block)."""
    settle(*unit[k], outcome)


def _execution(value: Any = None, error: str | None = None, meta: Any = None) -> dict[str, Any]:
    return {"value": value, "error": error, "meta": meta}


@dataclass(slots=True)
class _Outcome:
    result: BlockResult | None
    error: str | None


_SKIPPED = _Outcome(BlockResult(None), None)  # a skipped while iteration: all-null, uncounted
_PENDING = _Outcome(None, None)


async def execute_run(
    spec: Any,
    config: dict[str, Any],
    inputs: list[Any],
    record: RunRecord,
    emit: Emit,
    ctx: EngineContext,
) -> None:
    """Execute a run, updating `record` in place and emitting every event in §4 order.

    Emits from the first `run_status` "running" to the last `run_status` (the server adds `final`).
    Block errors are traces, never exceptions; an unexpected failure of the engine itself still
    ends the run `errored` (with the failure logged).
    """
    record.status = "running"
    await emit({"type": "run_status", "content": {"status": "running", "run_id": record.run_id}})
    try:
        await _Run(spec, config, inputs, record, emit, ctx).run()
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        if isinstance(exc, BlockError):  # the engine stopped it on purpose, and says why
            log.warning("run %s stopped: %s", record.run_id, exc)
        else:
            log.exception("run %s failed inside the engine", record.run_id)
        if record.status == "running":
            # The engine failed, not a block: the run says why, and no block stays "running".
            record.end_reason = record.end_reason or "engine_error"
            record.error = record.error or f"Internal engine error: {type(exc).__name__}: {exc}"
            for block in record.blocks:
                if block.get("status") == "running":
                    block["status"] = "errored"
                    await emit({"type": "block_status", "content": dict(block)})
            record.status = "errored"
            record.results = None
            await emit(
                {"type": "run_status", "content": {"status": "errored", "run_id": record.run_id}}
            )


async def _unsupported(call: BlockCall) -> BlockResult:
    raise BlockError(f"Block type `{call.block.type}` is not supported by the local engine")


class _Run:
    """The state of one run's loop (core's `App::run`)."""

    def __init__(
        self,
        spec: Any,
        config: dict[str, Any],
        inputs: list[Any],
        record: RunRecord,
        emit: Emit,
        ctx: EngineContext,
    ) -> None:
        self.blocks = list(spec.blocks)
        self.inputs = inputs
        self.record = record
        self.emit = emit
        self.scope = RunScope(run_id=record.run_id, config=config, ctx=ctx, emit=emit)
        self.config = config
        self.output_bytes = 0  # JSON of the measured outputs kept so far (MEASURED_OUTPUTS)

    async def run(self) -> None:
        envs: list[list[Env]] = [[Env(state={}, input_value=None, input_index=0, map=None)]]
        current_map: str | None = None
        map_blocks: list[str] = []
        while_idx: int | None = None
        iteration = 0
        skips: list[bool] | None = None
        idx = 0
        while idx < len(self.blocks):
            block = self.blocks[idx]
            name, btype = block.name, block.type

            if btype == "input":
                base = envs[0][0]
                envs = [
                    [Env(dict(base.state), value, i, None)] for i, value in enumerate(self.inputs)
                ]
            if btype == "while":
                if while_idx is None:
                    while_idx, iteration = idx, 0
                    skips = [False] * len(envs)
                else:
                    iteration += 1
                loop_ref = {"name": name, "iteration": iteration}
                envs = [
                    [Env(e[0].state, e[0].input_value, e[0].input_index, loop_ref)] for e in envs
                ]
            if btype == "reduce":
                envs = [[self._reduce(map_envs, map_blocks)] for map_envs in envs]
                current_map, map_blocks = None, []

            outcomes = await self._execute_block(
                block, envs, skips if while_idx is not None else None
            )
            if outcomes is None:
                return  # the block errored: the run is over

            for i, row in enumerate(outcomes):
                for j, outcome in enumerate(row):
                    env = envs[i][j]
                    value = outcome.result.value  # type: ignore[union-attr]
                    if while_idx is None:
                        state = dict(env.state)
                        state[name] = value
                        env.state = state
                    elif btype != "end":
                        # Inside a while loop, outputs accumulate as arrays (not for `end`).
                        state = dict(env.state)
                        if not skips[i]:  # type: ignore[index]
                            state[name] = [*state.get(name, []), value]
                        else:
                            state.setdefault(name, [])
                        env.state = state

            if current_map is not None:
                map_blocks.append(name)

            if btype == "map":
                current_map, map_blocks = name, []
                envs = [
                    [
                        Env(
                            {**e[0].state, name: element},
                            e[0].input_value,
                            e[0].input_index,
                            {"name": name, "iteration": k},
                        )
                        for k, element in enumerate(e[0].state[name])
                    ]
                    for e in envs
                ]
            if btype == "while":
                skips = [not e[0].state[name][-1] for e in envs]
            if btype == "end":
                if all(skips or []):
                    while_idx, skips, iteration = None, None, 0
                    envs = [
                        [Env(e[0].state, e[0].input_value, e[0].input_index, None)] for e in envs
                    ]
                    idx += 1
                else:
                    idx = while_idx  # type: ignore[assignment]
            else:
                idx += 1

        self.record.status = "succeeded"
        self.record.results = self.record.traces[-1][1] if self.record.traces else None
        await self.emit(
            {"type": "run_status", "content": {"status": "succeeded", "run_id": self.record.run_id}}
        )

    @staticmethod
    def _reduce(map_envs: list[Env], map_blocks: list[str]) -> Env:
        """One env per input with each in-map block's outputs gathered into an array.

        A map never forks zero iterations (an empty array fails the map block, as in core).
        """
        first = map_envs[0]
        state = dict(first.state)
        for n in map_blocks:
            state[n] = [e.state[n] for e in map_envs]
        return Env(state, first.input_value, first.input_index, None)

    async def _execute_block(
        self, block: Any, envs: list[list[Env]], skips: list[bool] | None
    ) -> list[list[_Outcome]] | None:
        """Run all executions of one block; record and emit its status and trace.

        Returns the outcomes, or None when the block errored (after ending the run errored).
        """
        name, btype = block.name, block.type
        record = self.record
        status = {
            "block_type": btype,
            "name": name,
            "status": "running",
            "success_count": 0,
            "error_count": 0,
        }
        # Skipped while-loop inputs count in neither the counts nor the total.
        total = sum(len(row) for i, row in enumerate(envs) if not (skips and skips[i]))
        record.set_block_total(btype, name, total)
        record.set_block_status(status)
        await self.emit({"type": "block_status", "content": dict(status)})

        self._outcomes: list[list[_Outcome]] | None = None
        try:
            outcomes = await self._run_executions(block, envs, skips, status)
        except asyncio.CancelledError:
            await self._record_unfinished(block, skips, status)
            raise
        executions = [
            [
                _execution(o.result.value, None, o.result.meta)  # type: ignore[union-attr]
                if o.error is None
                else _execution(None, o.error)
                for o in row
            ]
            for row in outcomes
        ]
        self._record_trace(btype, name, executions, skips)
        await self.emit(
            {
                "type": "block_execution",
                "content": {"block_type": btype, "block_name": name, "execution": executions},
            }
        )

        errored = status["error_count"] > 0
        status["status"] = "errored" if errored else "succeeded"
        if errored:
            record.status = "errored"
            record.results = None
        await self.emit({"type": "block_status", "content": dict(status)})
        if errored:
            await self.emit(
                {"type": "run_status", "content": {"status": "errored", "run_id": record.run_id}}
            )
            return None
        return outcomes

    async def _record_unfinished(
        self, block: Any, skips: list[bool] | None, status: dict[str, Any]
    ) -> None:
        """The run is being cancelled or interrupted inside a block: its trace keeps the
        executions that finished, the others say why they never ran; the block is errored."""
        status["status"] = "errored"
        outcomes = self._outcomes
        if outcomes is None:  # stopped before any execution started: no trace to keep
            await self.emit({"type": "block_status", "content": dict(status)})
            return
        why = (
            "Not run: the run was cancelled."
            if self.record.end_reason == "cancelled"
            else "Not run: the run was interrupted (the engine stopped)."
        )
        executions = [
            [
                _execution(None, why)
                if o is _PENDING
                else _execution(o.result.value, None, o.result.meta)  # type: ignore[union-attr]
                if o.error is None
                else _execution(None, o.error)
                for o in row
            ]
            for row in outcomes
        ]
        self._record_trace(block.type, block.name, executions, skips)
        await self.emit(
            {
                "type": "block_execution",
                "content": {
                    "block_type": block.type,
                    "block_name": block.name,
                    "execution": executions,
                },
            }
        )
        await self.emit({"type": "block_status", "content": dict(status)})

    async def _run_executions(
        self, block: Any, envs: list[list[Env]], skips: list[bool] | None, status: dict[str, Any]
    ) -> list[list[_Outcome]]:
        """Every execution of a block, at most `concurrency` at a time, counting as they end.

        Short sandboxed executions (code blocks) go in batches: one worker hop per batch, and
        never more batches in flight than the block's concurrency.
        """
        name, btype = block.name, block.type
        outcomes: list[list[_Outcome]] = [
            [_SKIPPED if skips is not None and skips[i] else _PENDING for _ in row]
            for i, row in enumerate(envs)
        ]
        self._outcomes = outcomes  # what finished, should the run be cancelled (h2)
        jobs = [
            (i, j)
            for i, row in enumerate(envs)
            for j in range(len(row))
            if outcomes[i][j] is _PENDING
        ]
        width = min(concurrency_for_block(self.config, btype, name), len(jobs))
        if width == 0:
            return outcomes
        execute = EXECUTORS.get(btype, _unsupported)
        batch = BATCH_EXECUTORS.get(btype)
        if batch is None:
            units = iter([[job] for job in jobs])
        else:  # long requests first, short ones last (see JSExecutor.batch_sizes)
            cuts: list[list[tuple[int, int]]] = []
            start = 0
            for size in self.scope.ctx.executor().batch_sizes(len(jobs), width):
                cuts.append(jobs[start : start + size])
                start += size
            units = iter(cuts)

        def settle(i: int, j: int, outcome: Any) -> None:
            if outcomes[i][j] is not _PENDING:  # already heard while its batch ran
                return
            if isinstance(outcome, BlockResult) and btype in MEASURED_OUTPUTS:
                outcome = self._within_allowance(outcome)
            if isinstance(outcome, BlockResult):
                outcomes[i][j] = _Outcome(outcome, None)
                status["success_count"] += 1
            else:
                if not isinstance(outcome, BlockError):  # a bug or an unexpected failure
                    log.error("block %s %s failed unexpectedly: %r", btype, name, outcome)
                    outcome = f"{type(outcome).__name__}: {outcome}"
                outcomes[i][j] = _Outcome(None, str(outcome))
                status["error_count"] += 1

        async def worker() -> None:
            for unit in units:
                calls = [BlockCall(block, name, envs[i][j], self.scope) for i, j in unit]
                try:
                    if len(calls) == 1:
                        results: list[Any] = [await execute(calls[0])]
                    else:  # each outcome counts as soon as the sandbox answers it
                        results = await batch(calls, partial(_settle_in, settle, unit))  # type: ignore[misc]
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # BlockError included: it is this execution's error
                    results = [exc] * len(calls)
                for (i, j), outcome in zip(unit, results, strict=True):
                    settle(i, j, outcome)

        if width == 1:
            await worker()
        else:
            await asyncio.gather(*(worker() for _ in range(width)))
        return outcomes

    def _within_allowance(self, result: BlockResult) -> BlockResult | BlockError:
        """The output, or its refusal when it would take the run's outputs past the allowance."""
        try:
            size = len(dumps(result.value))
        except EncodeError:
            return result  # refused with its reason when the block's executions are sent
        limit = self.scope.ctx.run_output_bytes
        if self.output_bytes + size > limit:
            allowed = f"{limit / (1024 * 1024):g} MB"
            return BlockError(
                f"Output refused: this output ({_mb(size)} of JSON) would take the run's outputs "
                f"past {allowed}, the engine's limit per run (DUSTTUI_RUN_OUTPUT_MB sets it)."
            )
        self.output_bytes += size
        return result

    def _record_trace(
        self,
        btype: str,
        name: str,
        executions: list[list[dict[str, Any]]],
        skips: list[bool] | None,
    ) -> None:
        """Store the trace as GET shows it: inside a while loop, merge iterations along j."""
        record = self.record
        record.event_traces.append([[btype, name], executions])
        if skips is None:
            record.traces.append([[btype, name], executions])
            return
        kept = [[] if skipped else row for row, skipped in zip(executions, skips, strict=True)]
        for trace in record.traces:
            if trace[0][0] == btype and trace[0][1] == name:
                for row, new in zip(trace[1], kept, strict=True):
                    row.extend(new)
                return
        record.traces.append([[btype, name], [list(row) for row in kept]])
