"""The JavaScript sandbox: what `_fun(env)` sees and returns, and every way it can fail.

Semantics run the worker's own `execute` in this process (fast); whatever can crash, hang or needs
a process of its own goes through the real pool of worker processes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from dusttui.engine import jsworker
from dusttui.engine.js import JSError, JSResult, JSSettings, Limits, decode

SETTINGS = JSSettings(workers=2, time_limit=2.0, memory_mb=64, max_output_mb=1, run_output_mb=4)
ENV = {
    "config": {"blocks": {}},
    "state": {"INPUT": {"question": "why?"}},
    "input": {"value": {"question": "why?"}, "index": 3},
    "map": None,
    "secrets": {},
    "run_id": "0" * 64,
}


def run(code: str, env: dict[str, Any] = ENV) -> JSResult | JSError:
    """One execution in a fresh Context, in this process, decoded as the engine decodes it."""
    limits = Limits(SETTINGS.time_limit, int(SETTINGS.memory_mb * 1024 * 1024))
    outcome = jsworker.execute(
        code, json.dumps(env), limits.time_limit, limits.memory_limit, 1024 * 1024
    )
    return decode(*outcome, SETTINGS, limits)


def value(code: str) -> Any:
    result = run(code)
    assert isinstance(result, JSResult), result
    return result.value


def error(code: str) -> str:
    result = run(code)
    assert isinstance(result, JSError), result
    return str(result)


def test_fun_gets_env_and_returns_json() -> None:
    code = """
_fun = (env) => {
  return { q: env.state.INPUT.question.toUpperCase(), i: env.input.index, m: env.map };
}
"""
    assert run(code) == JSResult({"q": "WHY?", "i": 3, "m": None}, [])


def test_console_log_is_captured_like_core() -> None:
    # core/src/deno/js_executor.rs JSExecutor::exec: `__rust_logs = __rust_logs.concat(args)`:
    # each argument is one entry
    code = "_fun = (env) => { console.log('a', 1, {b: [2]}); console.log([3, [4]]); return 0; }"
    assert run(code) == JSResult(0, ["a", 1, {"b": [2]}, [3, [4]]])


def test_core_defines_only_console_log() -> None:
    # core/src/deno/js_executor.rs JSExecutor::exec defines `const console = { log }`: other
    # levels are not functions (issue 11.6)
    assert error("_fun = (env) => { console.error('e'); return 0; }") == (
        "TypeError: not a function\n    at _fun"
    )
    assert value("_fun = (env) => [typeof console.log, typeof console.warn]") == [
        "function",
        "undefined",
    ]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("_fun = (env) => {}", None),
        ("_fun = (env) => [1, undefined, 'x']", [1, None, "x"]),
        ("_fun = async (env) => { await null; return 42; }", 42),
        ("_fun = async (env) => Promise.resolve({ ok: true })", {"ok": True}),
        ("_fun = (env) => true", True),
        ("_fun = (env) => 0.1 + 0.2", 0.30000000000000004),
        ("_fun = (env) => 2 ** 53 + 10", 9007199254741002),
        ("_fun = (env) => NaN", None),
        ("_fun = (env) => new Date(0)", "1970-01-01T00:00:00.000Z"),
        ("let _fun = (env) => 'lexical'", "lexical"),
        ("function _fun(env) { return 'declared'; }", "declared"),
    ],
)
def test_values(code: str, expected: object) -> None:
    assert value(code) == expected


def test_a_plain_function_returning_a_promise_gives_the_promise_as_core_does() -> None:
    # core/src/deno/js_executor.rs JSExecutor::exec awaits only when
    # `_fun.constructor.name === 'AsyncFunction'`; serde_v8 reads a Promise as {}
    assert value("_fun = (env) => Promise.resolve(5)") == {}
    assert value("_fun = (env) => new Promise(() => {})") == {}


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (
            "_fun = (env) => {\n  return env.nope.length;\n}",
            "TypeError: cannot read property 'length' of undefined\n    at _fun (line 2)",
        ),
        ("_fun = (env) => { throw 'boom'; }", "Uncaught boom"),
        ("_fun = (env) => { throw null; }", "Uncaught null"),
        ("_fun = (env) => { throw undefined; }", "Uncaught undefined"),
        ("_fun = (env) => { throw { a: 1 }; }", "Uncaught [object Object]"),
        (
            "_fun = async (env) => { throw new RangeError('too far'); }",
            "RangeError: too far\n    at _fun",
        ),
        ("_fun = async (env) => { await null; throw null; }", "Uncaught null"),
        ("throw 'at the top';", "Uncaught at the top"),
        ("let a = ;", "SyntaxError: unexpected token in expression: ';'\n    at line 1"),
        (
            "function f() {}",
            "ReferenceError: `_fun` is not defined: the code must define `_fun = (env) => { ... }`",
        ),
        (
            "_fun = 5",
            "ReferenceError: `_fun` is not defined: the code must define `_fun = (env) => { ... }`",
        ),
        (
            "_fun = (env) => { const o = {}; o.self = o; return o; }",
            "the value returned by `_fun` is not JSON: circular reference",
        ),
        (
            "_fun = (env) => 10n",
            "the value returned by `_fun` is not JSON: a BigInt cannot be written as JSON",
        ),
        (
            "_fun = (env) => () => 1",
            "the value returned by `_fun` is a function, which JSON cannot represent",
        ),
        (
            "_fun = (env) => Symbol('s')",
            "the value returned by `_fun` is a symbol, which JSON cannot represent",
        ),
        (
            "_fun = async (env) => new Promise(() => {})",
            "the Promise returned by `_fun` never settled",
        ),
        (
            "_fun = (env) => { const f = (n) => f(n + 1) + 1; return f(0); }",
            "InternalError: stack overflow (too much recursion)",
        ),
        (
            "_fun = (env) => { throw { toString() { throw new Error('no'); } }; }",
            "the code threw a value whose text cannot be read",
        ),
        (
            "_fun = (env) => new Proxy({}, { ownKeys() { throw new Error('trap'); } })",
            "the value returned by `_fun` is not JSON: Error: trap",
        ),
        (
            "_fun = (env) => { console.log(10n); return 1; }",
            "a value given to `console.log` is not JSON: bigint are forbidden in JSON.stringify",
        ),
    ],
)
def test_errors_say_what_happened(code: str, message: str) -> None:
    assert error(code) == message


def test_a_proxy_result_is_its_json() -> None:
    assert value("_fun = (env) => new Proxy({ a: 1 }, {})") == {"a": 1}


def test_a_huge_error_message_is_cut() -> None:
    message = error("_fun = (env) => { throw new Error('x'.repeat(20000000)); }")
    assert message == (
        "Error: "
        + "x" * (jsworker.MAX_ERROR_CHARS - 7)
        + "… (19980007 more characters)\n    at _fun"
    )


def test_lone_surrogates_become_replacement_characters_as_in_core() -> None:
    # V8 strings become Rust strings lossily in core: a lone surrogate reads U+FFFD
    assert value("_fun = (env) => 'abcd😀 hello'.slice(0, 5)") == "abcd\ufffd"
    assert value("_fun = (env) => ({ ['k' + '😀'.slice(1)]: ['😀'.slice(0, 1), '😀'] })") == {
        "k\ufffd": ["\ufffd", "😀"]
    }
    code = "_fun = (env) => { console.log('😀'.slice(1)); return 1; }"
    assert run(code) == JSResult(1, ["\ufffd"])


def test_user_code_cannot_forge_the_result() -> None:
    forgeries = """
_fun = (env) => {
  JSON.stringify = () => '{"value": "forged", "logs": []}';
  JSON.parse = () => ({ forged: true });
  globalThis.__dust_r = 'forged';
  globalThis.__dust_logs = 'forged';
  return { honest: env.input.index };
};
"""
    assert run(forgeries) == JSResult({"honest": 3}, [])
    # replacing JSON before `_fun` runs changes nothing either
    assert value("JSON.stringify = () => 'x';\n_fun = (env) => ({ a: [1] })") == {"a": [1]}
    # what a toJSON returns is the value, as JSON.stringify defines
    assert value("_fun = (env) => ({ toJSON() { return 'mine'; } })") == "mine"
    # the engine's own wrapping cannot be bent either: it says so instead
    assert (
        error(
            "Array.prototype.toJSON = () => [1, 2];\n_fun = (env) => { console.log(1); return 5; }"
        )
        == "a value given to `console.log` is not JSON: the code gave arrays a toJSON method"
    )


def test_values_nested_deeper_than_dust_reads_are_refused() -> None:
    deep = "_fun = (env) => {{ let o = 1; for (let i = 0; i < {n}; i++) o = [o]; return o; }}"
    nested = value(deep.format(n=jsworker.MAX_DEPTH))
    for _ in range(jsworker.MAX_DEPTH):
        nested = nested[0]
    assert nested == 1
    assert error(deep.format(n=jsworker.MAX_DEPTH + 1)) == (
        "the value returned by `_fun` nests arrays and objects more than 128 levels deep "
        "(Dust's limit)"
    )
    assert error(deep.format(n=990)).startswith("the value returned by `_fun` nests")


def test_an_output_over_the_size_limit_is_refused() -> None:
    assert len(value("_fun = (env) => 'x'.repeat(1000000)")) == 1_000_000
    assert error(
        "_fun = (env) => { console.log('y'.repeat(600000)); return 'x'.repeat(600000); }"
    ) == (
        "the output of `_fun` (its value and logs) is 1.1 MB of JSON, over the sandbox's limit of "
        "1 MB per execution (DUSTTUI_JS_MAX_OUTPUT_MB sets it)"
    )


def test_no_require_filesystem_network_or_timers() -> None:
    code = """
_fun = (env) => [typeof require, typeof std, typeof os, typeof fetch, typeof XMLHttpRequest,
                 typeof setTimeout, typeof process, typeof Deno]
"""
    assert value(code) == ["undefined"] * 8
    assert error("_fun = (env) => require('fs')") == (
        "ReferenceError: 'require' is not defined\n    at _fun"
    )


def test_each_execution_starts_from_a_fresh_context() -> None:
    code = "_fun = (env) => { globalThis.n = (globalThis.n || 0) + 1; return globalThis.n; }"
    assert [value(code) for _ in range(3)] == [1, 1, 1]


def test_settings_come_from_the_environment() -> None:
    settings = JSSettings.from_env(
        {
            "DUSTTUI_JS_WORKERS": "3",
            "DUSTTUI_JS_TIME_LIMIT": "2.5",
            "DUSTTUI_JS_MEMORY_MB": "256",
            "DUSTTUI_JS_MAX_OUTPUT_MB": "4",
            "DUSTTUI_JS_RUN_OUTPUT_MB": "64",
        }
    )
    assert settings == JSSettings(
        workers=3, time_limit=2.5, memory_mb=256, max_output_mb=4, run_output_mb=64
    )


def test_bad_settings_keep_the_defaults(caplog: pytest.LogCaptureFixture) -> None:
    # core/src/deno/js_executor.rs builds its JsRuntime with `RuntimeOptions::default()`: no heap
    # limit. A cap stays here (a local machine must not go down), a setting with a generous default.
    settings = JSSettings.from_env({"DUSTTUI_JS_WORKERS": "many", "DUSTTUI_JS_TIME_LIMIT": "-1"})
    assert (settings.time_limit, settings.memory_mb) == (10.0, 1024.0)
    assert settings.workers >= 1
    assert "DUSTTUI_JS_WORKERS='many' is not a positive number: using the default" in caplog.text
