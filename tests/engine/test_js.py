"""The quickjs sandbox that runs `_fun(env)` code."""

from __future__ import annotations

import asyncio

import pytest

from dusttui.engine.js import JSError, JSExecutor, JSResult, run_fun

ENV = {
    "config": {"blocks": {}},
    "state": {"INPUT": {"question": "why?"}},
    "input": {"value": {"question": "why?"}, "index": 3},
    "map": None,
    "secrets": {},
    "run_id": "0" * 64,
}


def _error(code: str, **limits: object) -> str:
    with pytest.raises(JSError) as info:
        run_fun(code, ENV, **limits)  # type: ignore[arg-type]
    return str(info.value)


def test_fun_gets_env_and_returns_json() -> None:
    code = """
_fun = (env) => {
  return { q: env.state.INPUT.question.toUpperCase(), i: env.input.index, m: env.map };
}
"""
    assert run_fun(code, ENV) == JSResult({"q": "WHY?", "i": 3, "m": None}, [])


def test_console_log_is_captured_like_core() -> None:
    # core does `logs = logs.concat(args)`: each argument is one entry
    code = "_fun = (env) => { console.log('a', 1, {b: [2]}); console.error('e'); return 0; }"
    assert run_fun(code, ENV).logs == ["a", 1, {"b": [2]}, "e"]


@pytest.mark.parametrize(
    ("code", "value"),
    [
        ("_fun = (env) => {}", None),
        ("_fun = (env) => [1, undefined, 'x']", [1, None, "x"]),
        ("_fun = async (env) => { await null; return 42; }", 42),
        ("_fun = (env) => Promise.resolve({ ok: true })", {"ok": True}),
        ("_fun = (env) => true", True),
    ],
)
def test_values_undefined_and_promises(code: str, value: object) -> None:
    assert run_fun(code, ENV).value == value


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (
            "_fun = (env) => {\n  return env.nope.length;\n}",
            "TypeError: cannot read property 'length' of undefined\n    at _fun (line 2)",
        ),
        ("_fun = (env) => { throw 'boom'; }", "Uncaught boom"),
        (
            "_fun = async (env) => { throw new RangeError('too far'); }",
            "RangeError: too far\n    at _fun",
        ),
        ("let a = ;", "SyntaxError: unexpected token in expression: ';'\n    at line 1"),
        (
            "function f() {}",
            "ReferenceError: `_fun` is not defined: the code must define `_fun = (env) => { ... }`",
        ),
        (
            "_fun = (env) => { const o = {}; o.self = o; return o; }",
            "the value returned by `_fun` is not JSON: circular reference",
        ),
        ("_fun = (env) => new Promise(() => {})", "the Promise returned by `_fun` never settled"),
    ],
)
def test_errors_carry_the_javascript_text(code: str, message: str) -> None:
    assert _error(code) == message


def test_infinite_loop_is_stopped_at_the_time_limit() -> None:
    assert _error("_fun = (env) => { while (true) {} }", time_limit=0.3) == (
        "the code ran longer than 0.3 s and was stopped"
    )


def test_endless_async_chain_is_stopped_too() -> None:
    code = "_fun = async (env) => { for (;;) { await null; } }"
    assert _error(code, time_limit=0.3) == "the code ran longer than 0.3 s and was stopped"


@pytest.mark.parametrize(
    "code",
    [
        "_fun = (env) => { let s = 'x'; while (true) s = s + s; }",
        "_fun = (env) => { const a = []; while (true) a.push('item number ' + a.length); }",
    ],
)
def test_memory_hog_is_stopped(code: str) -> None:
    assert _error(code, memory_limit=16 * 1024 * 1024) == (
        "the code used more than 16 MB of memory and was stopped"
    )


def test_runaway_recursion_is_caught() -> None:
    code = "_fun = (env) => { const f = (n) => f(n + 1) + 1; return f(0); }"
    assert _error(code) == "InternalError: stack overflow (too much recursion)"


def test_no_require_filesystem_network_or_timers() -> None:
    code = """
_fun = (env) => [typeof require, typeof std, typeof os, typeof fetch, typeof XMLHttpRequest,
                 typeof setTimeout, typeof process, typeof Deno]
"""
    assert run_fun(code, ENV).value == ["undefined"] * 8
    assert _error("_fun = (env) => require('fs')") == (
        "ReferenceError: 'require' is not defined\n    at _fun"
    )


def test_each_execution_starts_from_a_fresh_context() -> None:
    code = "_fun = (env) => { globalThis.n = (globalThis.n || 0) + 1; return globalThis.n; }"
    assert [run_fun(code, ENV).value for _ in range(3)] == [1, 1, 1]


async def test_executor_runs_off_the_loop_and_batches() -> None:
    ex = JSExecutor(workers=2)
    try:
        one = await ex.run("_fun = (env) => env.input.index * 2", ENV)
        assert one.value == 6
        code = "_fun = (env) => { if (env.input.index === 1) throw new Error('no'); return env.input.index; }"
        envs = [{**ENV, "input": {"value": {}, "index": i}} for i in range(3)]
        results = await ex.run_many(code, envs)
        assert [r.value if isinstance(r, JSResult) else str(r) for r in results] == [
            0,
            "Error: no\n    at _fun",
            2,
        ]
    finally:
        ex.close()


async def test_a_slow_script_does_not_hold_up_a_quick_one() -> None:
    ex = JSExecutor(workers=2)
    try:
        slow = asyncio.ensure_future(
            ex.run("_fun = (env) => { while (true) {} }", ENV, time_limit=0.5)
        )
        await asyncio.sleep(0)
        quick = asyncio.ensure_future(ex.run("_fun = (env) => 'done'", ENV))
        done, _ = await asyncio.wait({slow, quick}, return_when=asyncio.FIRST_COMPLETED)
        assert done == {quick}
        assert quick.result().value == "done"
        with pytest.raises(JSError) as info:
            await slow
        assert str(info.value) == "the code ran longer than 0.5 s and was stopped"
    finally:
        ex.close()
