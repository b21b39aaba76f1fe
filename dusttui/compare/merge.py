"""Re-run only the failed inputs of a run, then merge: the plan, and the merged run.

:func:`plan_rerun` says what to launch again (the same hash and config, only the inputs that
errored in any block); :func:`merge_rerun` writes the merged run — the first run with those inputs'
rows replaced by the re-run's — as a run's JSON text, so it is read, explored, diffed, journaled
and exported like any run. It is marked ``"dusttui_merged": {"base", "rerun", "inputs"}``.

A Dust run stops after the first block where any execution failed, so in a run that errored no
input ran the blocks after that one; the merged run has them only for the re-run inputs, and says
how many inputs never reached them (``MergeReport.unfinished``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from dusttui.compare.rows import (
    BlockKey,
    Rows,
    block_keys,
    input_key,
    merged_order,
    rows_of,
    run_level,
)

__all__ = [
    "MERGED_KEY",
    "MergeReport",
    "RerunError",
    "RerunPlan",
    "failed_inputs",
    "input_values",
    "merge_rerun",
    "plan_rerun",
]

MERGED_KEY = "dusttui_merged"  # the run JSON's mark of a merged run


class RerunError(ValueError):
    """The run cannot be re-run that way; the message says why."""


@dataclass(frozen=True, slots=True)
class RerunPlan:
    """What to launch again: ``inputs`` are the run's inputs at ``indices`` (those that failed)."""

    run_id: str
    specification_hash: str
    config: dict[str, Any]
    indices: list[int]
    inputs: list[Any]
    total: int  # inputs of the first run


@dataclass(slots=True)
class MergeReport:
    """What the merge did: inputs replaced, those that fail still, those that never finished."""

    run_id: str
    replaced: list[int]
    still_failing: list[int] = field(default_factory=list)
    unfinished: list[int] = field(default_factory=list)


def input_values(state: Any) -> list[Any]:
    """Each input's value (the input block's executions), in order."""
    key = input_key(state)
    if key is None or key not in state.trace_keys():
        raise RerunError(
            f"Run {state.run_id} has no inputs (it ended before its input block): re-run it whole."
        )
    rows = Rows(state.executions(*key))
    values = []
    for i in range(len(rows)):
        row = rows.decode(i)
        values.append(row[0].get("value") if row else None)
    return values


def failed_inputs(state: Any) -> list[int]:
    """Indices of the inputs with an error in any block (blocks run per input), in order."""
    level = run_level(state)
    failed: set[int] = set()
    for ref in state.errors:
        if (ref.block_type, ref.block_name) in level:
            raise RerunError(
                f"Run {state.run_id} failed in {ref.block_type} {ref.block_name}, before its "
                "inputs: every input depends on it, re-run it whole."
            )
        failed.add(ref.input_index)
    return sorted(failed)


def plan_rerun(state: Any) -> RerunPlan:
    """The re-run of ``state``'s failed inputs (raises :class:`RerunError` when there is none)."""
    if not state.done:
        raise RerunError(f"Run {state.run_id} is still running: wait for its end to re-run it.")
    if state.prerun_error is not None:
        raise RerunError(f"Run {state.run_id} never started ({state.prerun_error.message}).")
    if not state.specification_hash:
        raise RerunError(f"Run {state.run_id} does not say which specification it ran.")
    indices = failed_inputs(state)
    if not indices:
        raise RerunError(f"No input of run {state.run_id} failed: there is nothing to re-run.")
    values = input_values(state)
    return RerunPlan(
        run_id=state.run_id,
        specification_hash=state.specification_hash,
        config=dict(state.config),
        indices=indices,
        inputs=[values[i] for i in indices],
        total=len(values),
    )


def _status(counts: list[tuple[int, int]], key: BlockKey) -> dict[str, Any]:
    ok = sum(c[0] for c in counts)
    err = sum(c[1] for c in counts)
    return {
        "block_type": key[0],
        "name": key[1],
        "status": "errored" if err else "succeeded",
        "success_count": ok,
        "error_count": err,
    }


def merge_rerun(
    base: Any, rerun: Any, indices: list[int], *, created: int | None = None
) -> tuple[bytes, MergeReport]:
    """The merged run's JSON text (a GET answer's ``{"run": ...}``) and what the merge did.

    ``indices[k]`` is the input of ``base`` that input ``k`` of ``rerun`` re-ran. Rows are
    copied as JSON text, never decoded.
    """
    if base.run_id is None or rerun.run_id is None:
        raise RerunError("Both runs must have started to be merged.")
    if not rerun.done:
        raise RerunError(f"Run {rerun.run_id} is still running: merge it once it ended.")
    source = {i: k for k, i in enumerate(indices)}
    level = run_level(base)
    n = len(input_values(base))
    run_id = f"merged-{base.run_id[:16]}-{rerun.run_id[:16]}"
    report = MergeReport(run_id, sorted(source))
    traces: list[bytes] = []
    statuses: list[dict[str, Any]] = []
    unfinished: set[int] = set()
    still: set[int] = set()
    for key in merged_order(block_keys(base), block_keys(rerun)):
        rows_a, rows_b = rows_of(base, key), rows_of(rerun, key)
        if rows_a is None and rows_b is None:
            continue
        texts: list[bytes] = []
        counts: list[tuple[int, int]] = []
        wide = key not in level
        for i in range(n if wide else 1):
            k = source.get(i) if wide else None
            rows, at = (rows_b, k) if k is not None else (rows_a, i)
            if rows is None or at is None or at >= len(rows) or not rows.size(at):
                texts.append(b"[]")
                counts.append((0, 0))
                unfinished.add(i)
                continue
            texts.append(rows.text(at))
            ok, err = rows.counts(at)
            counts.append((ok, err))
            if err and k is not None:
                still.add(i)
        traces.append(b"[" + orjson.dumps(list(key)) + b",[" + b",".join(texts) + b"]]")
        statuses.append(_status(counts, key))
    report.still_failing = sorted(still)
    report.unfinished = sorted(unfinished - still)
    errored = any(s["error_count"] for s in statuses) or bool(unfinished)
    head = {
        "run_id": run_id,
        "created": created if created is not None else int(time.time() * 1000),
        "run_type": base.run_type,
        "specification_hash": base.specification_hash,
        "config": {"blocks": base.config},
        "status": {"run": "errored" if errored else "succeeded", "blocks": statuses},
        MERGED_KEY: {"base": base.run_id, "rerun": rerun.run_id, "inputs": report.replaced},
    }
    results = b"null"
    if not errored and traces:
        last = traces[-1]
        results = last[last.index(b",[") + 1 : -1]  # the last block's rows
    text = orjson.dumps(head)[:-1] + b',"traces":[' + b",".join(traces) + b'],"results":'
    return b'{"run":' + text + results + b"}}", report
