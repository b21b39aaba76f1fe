"""The pool of JavaScript worker processes: crashes, runaway code and limits cost one execution only.

Every test here runs real worker processes. Limits are lowered (0.5 s, 32 MB) so a killed worker
costs the suite half a second, not core's ten.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from dusttui.engine.js import JSError, JSExecutor, JSResult, JSSettings

pytestmark = pytest.mark.asyncio(loop_scope="module")

SETTINGS = JSSettings(workers=2, time_limit=0.5, memory_mb=32, max_output_mb=1, run_output_mb=3)
CRASH = (
    "the JavaScript sandbox crashed (SIGSEGV) while running this code (quickjs does this on "
    "values nested thousands of levels deep)"
)
TIMEOUT = "the code ran longer than 0.5 s and was stopped"
MEMORY = (
    "the code used more than 32 MB of memory and was stopped (the sandbox's limit per execution; "
    "DUSTTUI_JS_MEMORY_MB sets it)"
)


def env(index: int, run_id: str = "run-a") -> dict[str, Any]:
    return {
        "config": {"blocks": {}},
        "state": {},
        "input": {"value": {}, "index": index},
        "map": None,
        "secrets": {},
        "run_id": run_id,
    }


def shown(outcomes: list[JSResult | JSError]) -> list[Any]:
    return [o.value if isinstance(o, JSResult) else str(o) for o in outcomes]


def on_index(index: int, body: str) -> str:
    """Code that runs `body` for one input index and returns the index for the others."""
    return f"_fun = (env) => {{ if (env.input.index === {index}) {{ {body} }} return env.input.index; }}"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def sandbox() -> AsyncIterator[JSExecutor]:
    executor = JSExecutor(SETTINGS)
    yield executor
    executor.close()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def roomy() -> AsyncIterator[JSExecutor]:
    """A pool whose time limit never comes first: a crash is a crash."""
    executor = JSExecutor(JSSettings(workers=2, time_limit=60.0))
    yield executor
    executor.close()


@pytest.mark.parametrize("shape", ["o = { o }", "o = [o]"])
async def test_a_crashing_execution_fails_alone(roomy: JSExecutor, shape: str) -> None:
    # SIGSEGV inside quickjs: serializing a value nested 10⁵ deep kills the worker process
    body = f"let o = {{}}; for (let i = 0; i < 100000; i++) {shape}; return o;"
    outcomes = await roomy.run_many(on_index(3, body), [env(i) for i in range(8)])
    assert shown(outcomes) == [0, 1, 2, CRASH, 4, 5, 6, 7]


async def test_the_pool_keeps_serving_after_crashes(roomy: JSExecutor) -> None:
    crash = on_index(0, "let o = []; for (let i = 0; i < 100000; i++) o = [o]; return o;")
    for _ in range(3):
        assert shown(await roomy.run_many(crash, [env(0), env(1)])) == [CRASH, 1]
    result = await roomy.run("_fun = (env) => 'still here'", env(0))
    assert result == JSResult("still here", [])
    pool = roomy._pool
    assert pool is not None
    live = [w for w in pool.workers if not w.gone]
    assert len(live) == 2 and all(w.proc.poll() is None for w in live)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        # catastrophic backtracking: native code quickjs's own limit never interrupts
        ("return /(a+)+$/.test('a'.repeat(40) + 'b');", TIMEOUT),
        ("return Array(2 ** 32 - 1).join();", TIMEOUT),
        ("while (true) {}", TIMEOUT),
        ("return { toJSON() { for (;;) {} } };", TIMEOUT),
        ("let s = 'x'; while (true) s = s + s;", MEMORY),
        ("const a = []; while (true) a.push('item number ' + a.length);", MEMORY),
        ("throw null;", "Uncaught null"),
    ],
)
async def test_a_bad_execution_fails_alone_and_says_why(
    sandbox: JSExecutor, body: str, message: str
) -> None:
    outcomes = await sandbox.run_many(on_index(3, body), [env(i) for i in range(8)])
    assert shown(outcomes) == [0, 1, 2, message, 4, 5, 6, 7]


async def test_runaway_executions_never_take_every_worker_for_good(sandbox: JSExecutor) -> None:
    # three catastrophic regexes on two workers used to hang every later code block
    redos = "_fun = (env) => /(a+)+$/.test('a'.repeat(40) + 'b')"
    stuck = [sandbox.run_many(redos, [env(i)]) for i in range(3)]
    quick = sandbox.run_many("_fun = (env) => env.input.index", [env(i) for i in range(4)])
    outcomes = await asyncio.gather(*stuck, quick)
    assert [shown(o) for o in outcomes] == [[TIMEOUT], [TIMEOUT], [TIMEOUT], [0, 1, 2, 3]]


async def test_concurrent_heavy_code_is_not_stopped_early() -> None:
    # the limit used to count the engine's CPU time, shared by every execution running at once
    executor = JSExecutor(JSSettings(workers=2, time_limit=3.0))
    try:
        busy = "_fun = (env) => { const until = Date.now() + 300; while (Date.now() < until) {} return 'ok'; }"
        outcomes = await executor.run_many(busy, [env(i) for i in range(6)])
        assert shown(outcomes) == ["ok"] * 6
    finally:
        executor.close()


async def test_an_endless_async_chain_is_stopped(sandbox: JSExecutor) -> None:
    with pytest.raises(JSError) as info:
        await sandbox.run("_fun = async (env) => { for (;;) { await null; } }", env(0))
    assert str(info.value) == TIMEOUT


async def test_a_slow_script_does_not_hold_up_a_quick_one(sandbox: JSExecutor) -> None:
    slow = asyncio.ensure_future(sandbox.run("_fun = (env) => { while (true) {} }", env(0)))
    await asyncio.sleep(0)
    quick = asyncio.ensure_future(sandbox.run("_fun = (env) => 'done'", env(1)))
    done, _ = await asyncio.wait({slow, quick}, return_when=asyncio.FIRST_COMPLETED)
    assert done == {quick}
    assert quick.result().value == "done"
    with pytest.raises(JSError) as info:
        await slow
    assert str(info.value) == TIMEOUT


async def test_a_run_may_keep_only_so_much_output(sandbox: JSExecutor) -> None:
    code = "_fun = (env) => 'x'.repeat(900000)"
    outcomes = await sandbox.run_many(code, [env(i, "run-big") for i in range(4)])
    assert [len(o.value) if isinstance(o, JSResult) else str(o) for o in outcomes] == [
        900000,
        900000,
        900000,
        "this output (0.9 MB of JSON) would take the run's sandbox outputs past 3 MB, the limit "
        "per run (DUSTTUI_JS_RUN_OUTPUT_MB sets it)",
    ]
    other = await sandbox.run(code, env(0, "run-other"))  # another run has its own allowance
    assert len(other.value) == 900000


async def test_a_cancelled_run_frees_its_worker() -> None:
    executor = JSExecutor(JSSettings(workers=1, time_limit=60.0))
    try:
        stuck = asyncio.ensure_future(executor.run("_fun = (env) => { while (true) {} }", env(0)))
        await asyncio.sleep(0.5)  # it is running in the only worker
        stuck.cancel()
        result = await asyncio.wait_for(executor.run("_fun = (env) => 'next'", env(1)), 30)
        assert result.value == "next"
    finally:
        executor.close()


async def test_closing_fails_waiting_executions() -> None:
    executor = JSExecutor(JSSettings(workers=1, time_limit=60.0))
    waiting = asyncio.ensure_future(executor.run("_fun = (env) => { while (true) {} }", env(0)))
    await asyncio.sleep(0.5)
    executor.close()
    with pytest.raises(JSError) as info:
        await waiting
    assert str(info.value) == "the engine is stopping"


async def test_workers_die_with_the_engine(tmp_path: Any) -> None:
    # A worker stuck in a catastrophic regex must not outlive an engine killed with SIGKILL.
    script = tmp_path / "engine.py"
    script.write_text(
        textwrap.dedent(
            """
            import asyncio, sys
            from dusttui.engine.js import JSExecutor, JSSettings

            async def main():
                ex = JSExecutor(JSSettings(workers=1, time_limit=600.0))
                task = asyncio.ensure_future(
                    ex.run("_fun = (env) => /(a+)+$/.test('a'.repeat(60) + 'b')", {})
                )
                while ex._pool is None or not ex._pool.workers[0].inflight:
                    await asyncio.sleep(0.05)
                print(ex._pool.workers[0].proc.pid, flush=True)
                await task

            asyncio.run(main())
            """
        )
    )
    engine = await asyncio.create_subprocess_exec(
        sys.executable, str(script), stdout=asyncio.subprocess.PIPE, env=os.environ.copy()
    )
    assert engine.stdout is not None
    worker = int(await engine.stdout.readline())
    engine.send_signal(signal.SIGKILL)
    await engine.wait()
    for _ in range(200):
        if not _alive(worker):
            break
        await asyncio.sleep(0.05)
    assert not _alive(worker)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False
