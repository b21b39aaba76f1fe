"""The JavaScript sandbox for `_fun(env)` code (code blocks, while conditions, chat and curl code).

Every execution runs in a fresh quickjs Context inside a worker process (dusttui/engine/jsworker.py,
pooled by dusttui/engine/jspool.py): a crash, a runaway loop or a native call that quickjs cannot
interrupt costs that execution only, never the engine. The sandbox has no `require`, filesystem,
network or timers; `console.log` (and only it, as in Dust core) is captured with
`logs = logs.concat(args)`; `env` goes in and the result comes out as JSON (`undefined` → null). An
`async` `_fun` is awaited; a plain one's returned Promise is its value, as core does.

Limits (:class:`JSSettings`, from the environment): wall-clock time per execution (10 s, as core),
memory per execution, size of an execution's output, and the total output a run may keep. This
module words every failure as the sentence a user reads after "Error in `code`: ".
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from dusttui.engine import jspool, jsworker

log = logging.getLogger(__name__)

MB = 1024 * 1024
BATCH_MAX = 64  # executions per request to a worker
_RUNS_TRACKED = 4096  # runs whose output totals are remembered (the oldest are forgotten)
_SETTINGS = {  # field: (environment variable, type)
    "workers": ("DUSTTUI_JS_WORKERS", int),
    "time_limit": ("DUSTTUI_JS_TIME_LIMIT", float),
    "memory_mb": ("DUSTTUI_JS_MEMORY_MB", float),
    "max_output_mb": ("DUSTTUI_JS_MAX_OUTPUT_MB", float),
    "run_output_mb": ("DUSTTUI_JS_RUN_OUTPUT_MB", float),
}


@dataclass(frozen=True)
class JSSettings:
    """The sandbox's settings; `from_env` reads the DUSTTUI_JS_* variables."""

    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    time_limit: float = 10.0  # seconds of wall-clock time per execution, as Dust core
    memory_mb: float = 1024.0  # quickjs heap per execution (core sets none: keep it generous)
    max_output_mb: float = 8.0  # JSON of one execution's value and logs (hosted Dust's 8 MB)
    run_output_mb: float = 128.0  # JSON of all sandbox outputs one run may keep (~4× in RAM)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> JSSettings:
        """Settings from DUSTTUI_JS_WORKERS, _TIME_LIMIT, _MEMORY_MB, _MAX_OUTPUT_MB, _RUN_OUTPUT_MB.

        A value that is not a positive number is ignored with a warning (the default stays).
        """
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name, (variable, kind) in _SETTINGS.items():
            raw = environ.get(variable)
            if raw is None or not raw.strip():
                continue
            try:
                value = kind(raw)
                if not value > 0:
                    raise ValueError
            except ValueError:
                log.warning("%s=%r is not a positive number: using the default", variable, raw)
                continue
            values[name] = value
        return cls(**values)


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


def _mb(size: float) -> str:
    return f"{size / MB:.1f} MB" if size < 10 * MB else f"{size / MB:.0f} MB"


def describe_failure(detail: Mapping[str, Any], settings: JSSettings, limits: Limits) -> str:
    """The sentence for a failed execution, from the worker's (or the pool's) `code`."""
    code = detail.get("code")
    if code in ("throw", "js"):
        text = detail.get("text")
        return text if isinstance(text, str) else "the code threw a value whose text cannot be read"
    if code == "time":
        return f"the code ran longer than {limits.time_limit:g} s and was stopped"
    if code == "memory":
        return (
            f"the code used more than {limits.memory_limit / MB:g} MB of memory and was stopped "
            "(the sandbox's limit per execution; DUSTTUI_JS_MEMORY_MB sets it)"
        )
    if code == "stack":
        return "InternalError: stack overflow (too much recursion)"
    if code == "nofun":
        return (
            "ReferenceError: `_fun` is not defined: the code must define `_fun = (env) => { ... }`"
        )
    if code == "unsettled":
        return "the Promise returned by `_fun` never settled"
    if code == "type":
        return (
            f"the value returned by `_fun` is a {detail.get('type')}, which JSON cannot represent"
        )
    if code in ("value", "logs"):
        what = (
            "the value returned by `_fun`" if code == "value" else "a value given to `console.log`"
        )
        first = str(detail.get("text") or "").split("\n", 1)[0]
        return f"{what} is not JSON: {first.removeprefix('TypeError: ')}"
    if code == "depth":
        what = (
            "the value returned by `_fun` nests"
            if detail.get("what") == "value"
            else "the logs nest"
        )
        return (
            f"{what} arrays and objects more than {jsworker.MAX_DEPTH} levels deep (Dust's limit)"
        )
    if code == "output":
        return (
            f"the output of `_fun` (its value and logs) is {_mb(detail['size'])} of JSON, over the "
            f"sandbox's limit of {settings.max_output_mb:g} MB per execution "
            "(DUSTTUI_JS_MAX_OUTPUT_MB sets it)"
        )
    if code == "run_output":
        return (
            f"this output ({_mb(detail['size'])} of JSON) would take the run's sandbox outputs past "
            f"{settings.run_output_mb:g} MB, the limit per run (DUSTTUI_JS_RUN_OUTPUT_MB sets it)"
        )
    if code == "crash":
        why = detail.get("why")
        hint = (
            " (quickjs does this on values nested thousands of levels deep)"
            if why == "SIGSEGV"
            else ""
        )
        return f"the JavaScript sandbox crashed ({why}) while running this code{hint}"
    if code == "start":
        return f"the JavaScript sandbox could not start: {detail.get('why')}"
    if code == "stopping":
        return "the engine is stopping"
    return f"the JavaScript sandbox sent an answer the engine cannot read ({code})"


@dataclass(frozen=True)
class Limits:
    """The limits one execution ran under (they are named in its error)."""

    time_limit: float
    memory_limit: int


def decode(
    kind: int, a: bytes, b: bytes, settings: JSSettings, limits: Limits
) -> JSResult | JSError:
    """A worker's result frame as a result or an error (see dusttui/engine/jsworker.py)."""
    try:
        if kind == jsworker.OK:
            if b == b"[]":
                return JSResult(orjson.loads(a), [])
            logs = orjson.loads(b)
            if not isinstance(logs, list):  # the code gave arrays a toJSON of its own
                logs = [logs]
            return JSResult(orjson.loads(a), logs)
        detail = orjson.loads(a)
    except orjson.JSONDecodeError:
        detail = {"code": "protocol"}
    return JSError(describe_failure(detail, settings, limits))


class JSExecutor:
    """Runs `_fun` code in a pool of worker processes; results are awaited on the event loop.

    The pool starts on first use, on the running loop; used from another loop, it starts again there.
    """

    def __init__(self, settings: JSSettings | None = None, *, workers: int | None = None):
        settings = settings or JSSettings.from_env()
        if workers is not None:
            settings = JSSettings(**{**settings.__dict__, "workers": workers})
        self.settings = settings
        self._pool: jspool.Pool | None = None
        self._run_bytes: collections.OrderedDict[str, int] = collections.OrderedDict()

    @property
    def workers(self) -> int:
        """How many worker processes run JavaScript at once."""
        return max(1, self.settings.workers)

    def worker_pids(self) -> list[int]:
        """The process ids of the live workers (for measurements and diagnostics)."""
        pool = self._pool
        return [] if pool is None else [w.proc.pid for w in pool.workers if not w.gone]

    def batch_sizes(self, jobs: int, width: int) -> list[int]:
        """How to cut `jobs` executions, run `width` at a time, into requests (in order).

        Guided: each request takes a share of what is left (at most BATCH_MAX), so the first ones
        are long (few round trips) and the last ones short: the workers end a block together
        rather than one waiting for the other's last long request, and a few executions go to
        as many workers (a worker answers a request's executions together, so a quick one
        sharing a request with a slow one would wait for it).
        """
        lanes = max(1, min(width, self.workers)) * jspool.PREFETCH
        sizes: list[int] = []
        left = jobs
        while left > 0:
            size = min(BATCH_MAX, -(-left // lanes))
            sizes.append(size)
            left -= size
        return sizes

    async def run(
        self,
        code: str,
        env: dict[str, Any],
        *,
        time_limit: float | None = None,
        memory_limit: int | None = None,
    ) -> JSResult:
        """Run one execution; raises JSError."""
        (outcome,) = await self.run_many(
            code, [env], time_limit=time_limit, memory_limit=memory_limit
        )
        if isinstance(outcome, JSError):
            raise outcome
        return outcome

    async def run_many(
        self,
        code: str,
        envs: list[dict[str, Any]],
        *,
        time_limit: float | None = None,
        memory_limit: int | None = None,
    ) -> list[JSResult | JSError]:
        """Run the same code on many envs; each outcome is a result or an error."""
        limits = Limits(
            time_limit if time_limit is not None else self.settings.time_limit,
            memory_limit if memory_limit is not None else int(self.settings.memory_mb * MB),
        )
        try:
            texts = [orjson.dumps(env) for env in envs]
        except TypeError:  # some env orjson refuses: sort them out one by one
            return await self._run_each(code, envs, limits)
        if not texts:
            return []
        run_id = envs[0].get("run_id")
        return await self._submit(
            self._batch(code, texts, limits, run_id if isinstance(run_id, str) else "")
        )

    async def run_many_json(
        self,
        code: str,
        texts: list[bytes],
        run_id: str,
        *,
        on_each: Callable[[int, JSResult | JSError], None] | None = None,
    ) -> list[JSResult | JSError]:
        """`run_many` on envs already written as JSON (UTF-8), all of run `run_id`;
        `on_each(index, outcome)` hears each execution as it ends."""
        if not texts:
            return []
        limits = Limits(self.settings.time_limit, int(self.settings.memory_mb * MB))
        batch = self._batch(code, texts, limits, run_id)
        batch.on_settle = on_each
        return await self._submit(batch)

    async def _run_each(
        self, code: str, envs: list[dict[str, Any]], limits: Limits
    ) -> list[JSResult | JSError]:
        results: list[JSResult | JSError | None] = [None] * len(envs)
        texts: list[bytes] = []
        positions: list[int] = []
        for i, env in enumerate(envs):
            try:
                texts.append(_env_json(env))
                positions.append(i)
            except (TypeError, ValueError) as exc:
                results[i] = JSError(f"`env` cannot be given to JavaScript as JSON: {exc}")
        if texts:
            run_id = envs[0].get("run_id")
            batch = self._batch(code, texts, limits, run_id if isinstance(run_id, str) else "")
            done = await self._submit(batch)
            for i, outcome in zip(positions, done, strict=True):
                results[i] = outcome
        return results  # type: ignore[return-value]

    def _batch(self, code: str, texts: list[bytes], limits: Limits, run_id: str) -> jspool.Batch:
        totals = self._run_bytes
        totals[run_id] = totals.pop(run_id, 0)  # the most recently used run last
        if len(totals) > _RUNS_TRACKED:
            totals.popitem(last=False)
        cap = self.settings.run_output_mb * MB
        settings = self.settings

        def on_result(batch: jspool.Batch, index: int, kind: int, a: bytes, b: bytes) -> Any:
            if kind == jsworker.OK:
                size = len(a) + len(b)
                used = totals.get(run_id, 0) + size
                if used > cap:
                    refused = {"code": "run_output", "size": size}
                    return JSError(describe_failure(refused, settings, limits))
                totals[run_id] = used
            return decode(kind, a, b, settings, limits)

        return jspool.Batch(
            code=code,
            envs=texts,
            time_limit=limits.time_limit,
            memory_limit=limits.memory_limit,
            max_output=int(self.settings.max_output_mb * MB),
            on_result=on_result,
            results=[None] * len(texts),
            pending=len(texts),
        )

    async def _submit(self, batch: jspool.Batch) -> list[Any]:
        loop = asyncio.get_running_loop()
        pool = self._pool
        if pool is None or pool.loop is not loop or pool.closed:
            if pool is not None:
                pool.kill_all()
            pool = self._pool = jspool.Pool(
                self.workers, loop, self._failure, int(self.settings.max_output_mb * MB)
            )
        batch.future = loop.create_future()
        batch.future.add_done_callback(lambda f: pool.abandon() if f.cancelled() else None)
        count = len(batch.envs)
        pool.submit(batch, -(-count // -(-count // BATCH_MAX)))  # even chunks of at most BATCH_MAX
        return await batch.future

    def _failure(self, batch: jspool.Batch, reason: tuple[str, Any]) -> JSError:
        code, why = reason
        limits = Limits(batch.time_limit, batch.memory_limit)
        return JSError(describe_failure({"code": code, "why": why}, self.settings, limits))

    def close(self) -> None:
        """Stop the worker processes (from any thread); waiting executions fail."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is pool.loop:
            pool.shutdown(("stopping", None))
        elif not pool.loop.is_closed() and pool.loop.is_running():
            pool.loop.call_soon_threadsafe(pool.shutdown, ("stopping", None))
            pool.kill_all()
        else:
            pool.kill_all()


def _env_json(env: dict[str, Any]) -> bytes:
    try:
        return orjson.dumps(env)
    except TypeError:  # integers beyond 64 bits, lone surrogates: the json module copes
        import json

        return json.dumps(env, ensure_ascii=True, allow_nan=False).encode()
