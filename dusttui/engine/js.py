"""The JavaScript sandbox for `_fun(env)` code (code blocks, while conditions, chat and curl code).

Each execution gets a fresh quickjs Context, created, used and dropped inside one worker thread:
a Context touched by two threads aborts the process. The sandbox has no `require`, filesystem,
network or timers; `console.log` is captured like Dust core does (`logs = logs.concat(args)`),
`env` goes in and the result comes out as JSON (`undefined` → null), and a returned Promise is
resolved by running the pending jobs.

The time limit is quickjs's own: it counts the engine process's CPU time since the code started,
so under heavy concurrent JavaScript load code may be stopped somewhat before the wall-clock limit.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import quickjs

DEFAULT_TIME_LIMIT = 10.0
DEFAULT_MEMORY_LIMIT = 64 * 1024 * 1024
_MAX_STACK = 1024 * 1024
_FRAME_LINE = re.compile(r"\(<input>:(\d+)\)")
_BARE_LINE = re.compile(r"<input>:(\d+)")

# Runs first in every Context: the console Dust core offers (all levels log, as `log` does).
_PRELUDE = """
globalThis.__dust_logs = [];
globalThis.console = {};
for (const k of ["log", "info", "warn", "error", "debug"]) {
  console[k] = function (...args) { __dust_logs = __dust_logs.concat(args); };
}
"""

# Calls `_fun` with the parsed env, awaits it, and leaves a JSON outcome in `__dust_out`.
_CALL = """
globalThis.__dust_out = null;
(async function __dust_call() {
  if (typeof _fun !== "function") {
    throw new ReferenceError("`_fun` is not defined: the code must define `_fun = (env) => { ... }`");
  }
  let v = await _fun(JSON.parse(__dust_env_json));
  return v === undefined ? null : v;
})().then(
  (v) => {
    let text;
    try { text = JSON.stringify({ value: v, logs: __dust_logs }); }
    catch (e) { text = JSON.stringify({ error: "the value returned by `_fun` is not JSON: " + e.message }); }
    __dust_out = text === undefined ? '{"value": null, "logs": []}' : text;
  },
  (e) => {
    const text = e instanceof Error
      ? e.name + ": " + e.message + (e.stack ? "\\n" + e.stack.trimEnd() : "")
      : "Uncaught " + String(e);
    __dust_out = JSON.stringify({ error: text });
  },
);
"""


class JSError(Exception):
    """JavaScript failed: its error text (e.g. "TypeError: …"), a limit, or a crash."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


@dataclass
class JSResult:
    """What `_fun` returned (as JSON values) and what it logged."""

    value: Any
    logs: list[Any] = field(default_factory=list)


def _tidy(text: str) -> str:
    # quickjs names every script `<input>`: show user lines as "line N", drop our own frames
    text = _FRAME_LINE.sub(r"(line \1)", text).replace(" (<input>)", "")
    text = _BARE_LINE.sub(r"line \1", text)
    lines = [ln for ln in text.split("\n") if ln.strip()]
    return "\n".join(ln for ln in lines if "__dust" not in ln and "<eval>" not in ln)


def _limit_error(text: str, time_limit: float, memory_limit: int) -> JSError | None:
    if text.startswith("InternalError: interrupted"):
        return JSError(f"the code ran longer than {time_limit:g} s and was stopped")
    # out of memory, quickjs cannot even build an Error: it throws `null` (a rare user `throw null`
    # reads the same way)
    if text.startswith("InternalError: out of memory") or text.strip() in ("null", "Uncaught null"):
        mb = memory_limit / (1024 * 1024)
        return JSError(f"the code used more than {mb:g} MB of memory and was stopped")
    if text.startswith("InternalError: stack overflow"):
        return JSError("InternalError: stack overflow (too much recursion)")
    return None


def _fail(text: str, time_limit: float, memory_limit: int) -> JSError:
    return _limit_error(text, time_limit, memory_limit) or JSError(_tidy(text))


def run_fun(
    code: str,
    env: dict[str, Any],
    *,
    time_limit: float = DEFAULT_TIME_LIMIT,
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
) -> JSResult:
    """Run `code` (which defines `_fun`) on `env` in a fresh Context; raise JSError on failure.

    Blocking: call it from a worker thread (JSExecutor does), never from the event loop.
    """
    try:
        env_json = json.dumps(env, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise JSError(f"`env` cannot be given to JavaScript as JSON: {e}") from None
    ctx = quickjs.Context()
    try:
        ctx.set_memory_limit(memory_limit)
        ctx.set_max_stack_size(_MAX_STACK)
        ctx.set_time_limit(time_limit)
        start = time.monotonic()
        try:
            ctx.eval(_PRELUDE)
            ctx.eval(code)
            ctx.set("__dust_env_json", env_json)
            ctx.eval(_CALL)
            while ctx.execute_pending_job():
                if time.monotonic() - start > time_limit:  # many short jobs add up
                    raise JSError(f"the code ran longer than {time_limit:g} s and was stopped")
            out = ctx.eval("__dust_out")
        except quickjs.JSException as e:  # StackOverflow is a JSException too
            raise _fail(str(e), time_limit, memory_limit) from None
        if out is None:
            raise JSError("the Promise returned by `_fun` never settled")
        result = json.loads(out)
        if "error" in result:
            raise _fail(result["error"], time_limit, memory_limit)
        return JSResult(result["value"], result["logs"])
    finally:
        del ctx  # dropped here, in the thread that made it


class JSExecutor:
    """Runs `_fun` code off the event loop, in a pool of threads (a fresh Context per execution).

    More than one thread lets a slow script not hold up the others; for short scripts extra
    threads do not add throughput (quickjs is effectively serialised), so use `run_many` to batch.
    """

    def __init__(self, workers: int | None = None):
        self._pool = ThreadPoolExecutor(
            max_workers=workers or min(4, (os.cpu_count() or 1) + 1),
            thread_name_prefix="dusttui-js",
        )

    async def run(self, code: str, env: dict[str, Any], **limits: Any) -> JSResult:
        """Run one execution; raises JSError."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: run_fun(code, env, **limits))

    async def run_many(
        self, code: str, envs: list[dict[str, Any]], **limits: Any
    ) -> list[JSResult | JSError]:
        """Run the same code on many envs in one worker hop; each outcome is a result or error."""

        def batch() -> list[JSResult | JSError]:
            out: list[JSResult | JSError] = []
            for env in envs:
                try:
                    out.append(run_fun(code, env, **limits))
                except JSError as e:
                    out.append(e)
            return out

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, batch)

    def close(self) -> None:
        """Stop the worker threads (running executions end at their time limit)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
