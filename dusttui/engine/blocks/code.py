"""`code` block: runs `_fun(env)` in the JavaScript sandbox; value is what it returns."""

from __future__ import annotations

import orjson

from dusttui.engine.blocks.base import REDACTED, BlockCall, BlockError, BlockResult


async def execute(call: BlockCall) -> BlockResult:
    """`_fun(env)`'s return value, meta `{logs}`; errors read "Error in `code`: …"."""
    value, logs = await call.run_js(call.block.get("code"), "code")
    return BlockResult(value, {"logs": logs})


async def execute_many(calls: list[BlockCall]) -> list[BlockResult | BlockError]:
    """Several executions of one code block in one sandbox hop (same results as `execute`)."""
    executor = calls[0].run.ctx.executor()
    code = calls[0].block.get("code")
    try:
        texts = env_texts(calls)
    except TypeError:  # a value orjson refuses (an integer beyond 64 bits…): the careful way
        outcomes = await executor.run_many(code, [c.js_env() for c in calls])
    else:
        outcomes = await executor.run_many_json(code, texts, calls[0].run.run_id)
    return [
        BlockResult(o.value, {"logs": o.logs})  # each result has a list of its own
        if not isinstance(o, Exception)
        else BlockError(f"Error in `code`: {o}")
        for o in outcomes
    ]


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
