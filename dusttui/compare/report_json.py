"""The diff of two runs as JSON: the stable shape ``dusttui diff --json`` prints.

Documented in ``docs/iterate.md`` (format ``dusttui.diff/1``); a change of shape gets a new format
name. Written piece by piece: the differences of two big runs are never all held at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from dusttui.compare.rundiff import COUNTS, BlockDiff, Detail, RunDiff
from dusttui.compare.text import safe_json

__all__ = ["FORMAT", "block_json", "detail_json", "head_json", "json_chunks"]

FORMAT = "dusttui.diff/1"


def _run(run: Any, inputs: int | None) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "status": run.status,
        "done": bool(run.done),
        "specification_hash": run.specification_hash,
        "inputs": inputs,
    }


def _tokens(tokens: tuple[int, int] | None) -> dict[str, int] | None:
    return None if tokens is None else {"prompt": tokens[0], "completion": tokens[1]}


def block_json(block: BlockDiff) -> dict[str, Any]:
    """One block: where it ran, its counts, latency (ms) and tokens in each run, and the deltas."""
    la, lb = block.latency_a, block.latency_b
    ta, tb = block.tokens_a, block.tokens_b
    return {
        "block_type": block.key[0],
        "name": block.key[1],
        "in_a": block.in_a,
        "in_b": block.in_b,
        "status_a": block.status_a,
        "status_b": block.status_b,
        "run_level": block.run_level,
        "counts": {k: block.counts[k] for k in COUNTS},
        "latency_ms": {
            "a": None if la is None else round(la * 1000),
            "b": None if lb is None else round(lb * 1000),
            "delta": None if la is None or lb is None else round((lb - la) * 1000),
        },
        "tokens": {
            "a": _tokens(ta),
            "b": _tokens(tb),
            "delta": None
            if ta is None or tb is None
            else {"prompt": tb[0] - ta[0], "completion": tb[1] - ta[1]},
        },
    }


def head_json(diff: RunDiff) -> dict[str, Any]:
    """Everything but the differences."""
    p = diff.pairing
    return {
        "format": FORMAT,
        "equal": diff.equal,
        "a": _run(diff.a, p.inputs_a),
        "b": _run(diff.b, p.inputs_b),
        "same_hash": diff.same_hash,
        "config": {
            "same": not diff.config_changes,
            "changes": [c.to_json() for c in diff.config_changes],
            "changes_more": diff.config_more,
        },
        "inputs": {
            "matched_by": "index" if p.key is None else "key",
            "key": p.key,
            "matched": p.matched,
            "only_a": p.only_a,
            "only_b": p.only_b,
        },
        "counts": {k: diff.counts[k] for k in COUNTS},
        "blocks": [block_json(b) for b in diff.blocks],
    }


def _side(execution: dict[str, Any] | None) -> dict[str, Any] | None:
    if execution is None:
        return None
    return {"value": execution.get("value"), "error": execution.get("error")}


def detail_json(detail: Detail) -> dict[str, Any]:
    """One difference: where, what kind, both sides (value and error) and the value diff."""
    d = detail.difference
    return {
        "kind": d.kind,
        "block_type": d.block_type,
        "block_name": d.block_name,
        "input_a": d.input_a,
        "input_b": d.input_b,
        "iteration": d.iteration,
        "key": d.label,
        "run_level": d.run_level,
        "a": _side(detail.a),
        "b": _side(detail.b),
        "changes": [c.to_json() for c in detail.changes],
        "changes_more": detail.more,
    }


def _dumps(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=True)
    except (TypeError, ValueError):
        text = json.dumps(value, ensure_ascii=True, default=str)
    return safe_json(text)


def json_chunks(diff: RunDiff) -> Iterator[str]:
    """The whole document as text pieces, one per difference (stdout gets them one by one)."""
    head = _dumps(head_json(diff))
    yield head[:-1] + ', "differences": ['
    for k in range(len(diff)):
        yield ("" if k == 0 else ", ") + _dumps(detail_json(diff.detail(k)))
    yield "]}\n"
