"""A GET answer's JSON → the run without its executions, and each block's BlockTrace.

Used by :meth:`dusttui.api.state.RunState.apply_run_json`: the answer is decoded once (orjson),
checked to have the shape ``RunEnvelope`` validation accepts, and its executions written straight
to compact JSON rows, never as models. Errors say where, as pydantic's do.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from dusttui.api.errors import StreamProtocolError
from dusttui.api.loops import Loops
from dusttui.api.models import Run
from dusttui.api.traces import BlockTrace, Note, RowCache, TraceShapeError, check_rows, own

__all__ = ["Built", "built_traces", "parse_run"]

BlockKey = tuple[str, str]
Built = tuple[BlockKey, BlockTrace, list[Note]]  # a block's executions, its failures and usage


def built_traces(traces: list[Any], cache: RowCache, *, dicts: bool) -> list[Built]:
    """Each block's executions as a BlockTrace, with its failures and token usage.

    A blocking answer lists one entry per `block_execution` event, so each while iteration
    stands apart: those are replayed as events, to merge them along j as GET does."""
    keys = [(own(key[0]), own(key[1])) for key, _ in traces]
    if len(set(keys)) == len(keys):
        built: list[Built] = []
        for key, (_, execution) in zip(keys, traces, strict=True):
            notes: list[Note] = []
            if dicts:
                trace = BlockTrace.from_dicts(execution, notes=notes, cache=cache)
            else:
                trace = BlockTrace.from_models(execution, notes=notes, cache=cache)
            built.append((key, trace, notes))
        return built
    loops = Loops()  # replayed as the reducer merges them, one iteration after the other
    merged: dict[BlockKey, BlockTrace] = {}
    for key, (_, execution) in zip(keys, traces, strict=True):
        loops.started(*key)
        if loops.active:
            merged[key] = loops.merge(key, execution, merged.get(key), cache=cache)
        elif dicts:
            merged[key] = BlockTrace.from_dicts(execution, cache=cache)
        else:
            merged[key] = BlockTrace.from_models(execution, cache=cache)
    out: list[Built] = []
    for key, trace in merged.items():
        trace = trace.pack()
        trace.cache = cache
        out.append((key, trace, trace.notes()))
    return out


def _shape_error(where: str, message: str) -> StreamProtocolError:
    return StreamProtocolError(
        f"The server's run does not have the expected shape ({where}: {message})."
    )


def parse_run(payload: Any, cache: RowCache) -> tuple[Run, list[Built]]:
    """A GET answer's decoded JSON → the run without its executions, and its BlockTraces.
    Accepts what ``RunEnvelope`` (or ``Run``) validation accepts; errors say where, as it does."""
    prefix = "run."
    if type(payload) is dict and "run" in payload:
        payload = payload["run"]
    elif type(payload) is dict and "run_id" in payload:
        prefix = ""  # the run itself, as a journal keeps it
    else:
        raise _shape_error("run", "Field required")
    if type(payload) is not dict:
        raise _shape_error("run", "Input should be a valid dictionary")
    traces = payload.get("traces", [])
    results = payload.get("results")
    try:
        head = Run.model_validate({**payload, "traces": [], "results": None})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = prefix + ".".join(str(p) for p in first.get("loc", ()))
        raise _shape_error(where, str(first.get("msg"))) from None
    if type(traces) is not list:
        raise _shape_error(f"{prefix}traces", "Input should be a valid list")
    for t, entry in enumerate(traces):
        key = entry[0] if type(entry) is list and len(entry) == 2 else None
        if not (type(key) is list and len(key) == 2 and all(type(part) is str for part in key)):
            raise _shape_error(
                f"{prefix}traces.{t}",
                "Input should be [[block_type, block_name], executions]",
            )
    try:
        where = f"{prefix}results"
        if results is not None:
            check_rows(results)
        if len({(k[0], k[1]) for (k, _) in traces}) != len(traces):
            for t, (_, execution) in enumerate(traces):  # replayed below: check them first
                where = f"{prefix}traces.{t}.1"
                check_rows(execution)
            return head, built_traces(traces, cache, dicts=True)
        built: list[Built] = []
        for t, ((block_type, name), execution) in enumerate(traces):
            where = f"{prefix}traces.{t}.1"
            notes: list[Note] = []
            trace = BlockTrace.from_dicts(execution, check=True, notes=notes, cache=cache)
            built.append(((own(block_type), own(name)), trace, notes))
    except TraceShapeError as exc:
        raise _shape_error(f"{where}.{exc.where}".rstrip("."), exc.message) from None
    return head, built
