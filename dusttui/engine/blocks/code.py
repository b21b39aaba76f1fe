"""`code` block: runs `_fun(env)` in the JavaScript sandbox; value is what it returns."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import orjson

from dusttui.engine.blocks.base import REDACTED, BlockCall, BlockError, BlockResult

if TYPE_CHECKING:
    from dusttui.engine.js import JSError, JSResult


async def execute(call: BlockCall) -> BlockResult:
    """`_fun(env)`'s return value, meta `{logs}`; errors read "Error in `code`: …"."""
    value, logs = await call.run_js(call.block.get("code"), "code")
    return BlockResult(value, {"logs": logs})


async def execute_many(
    calls: list[BlockCall],
    on_outcome: Callable[[int, BlockResult | BlockError], None] | None = None,
) -> list[BlockResult | BlockError]:
    """Several executions of one code block in one sandbox hop (same results as `execute`).

    `on_outcome(index, outcome)` hears each one as the sandbox answers it (live progress).
    """
    executor = calls[0].run.ctx.executor()
    code = calls[0].block.get("code")
    each = None if on_outcome is None else lambda i, o: on_outcome(i, _block_outcome(o))
    try:
        texts = env_texts(calls)
    except TypeError:  # a value orjson refuses (an integer beyond 64 bits…): the careful way
        outcomes = await executor.run_many(code, [c.js_env() for c in calls])
    else:
        outcomes = await executor.run_many_json(code, texts, calls[0].run.run_id, on_each=each)
    return [_block_outcome(o) for o in outcomes]


def _block_outcome(outcome: JSResult | JSError) -> BlockResult | BlockError:
    if isinstance(outcome, Exception):  # a JSError (js.py is imported lazily: an import cycle)
        return BlockError(f"Error in `code`: {outcome}")
    return BlockResult(outcome.value, {"logs": outcome.logs})  # each has a list of its own


def env_texts(calls: list[BlockCall]) -> list[bytes]:
    """The JSON of each call's `js_env()`, byte for byte, with what the calls share (the run's
    config, secrets and id) written once; raises TypeError where orjson cannot write a value."""
    run = calls[0].run
    head = b'{"config":' + orjson.dumps({"blocks": run.config}) + b","
    tail = (
        b',"secrets":'
        + orjson.dumps(dict.fromkeys(run.ctx.secrets, REDACTED))
        + b',"run_id":'
        + orjson.dumps(run.run_id)
        + b"}"
    )
    texts = []
    for call in calls:  # the calls of one batch share their run (one block of one run)
        env = call.env
        own = orjson.dumps(
            {
                "state": env.state,
                "input": {"value": env.input_value, "index": env.input_index},
                "map": env.map,
            }
        )
        texts.append(head + own[1:-1] + tail)
    return texts
