"""The sandbox's worst cases through a real engine: a crash, a catastrophic regex, forged output.

Each run goes over a loopback socket to an engine whose JavaScript runs in worker processes. The
bad execution gets its exact message, its batch-mates their values, and the engine serves on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from dusttui.engine.embedded import EmbeddedEngine
from tests.engine.conftest import auth, runs_url, stream_run, write_apps

SANDBOX_APP = """input INPUT { }

code PROBE {
  code:
```
_fun = (env) => {
  const c = env.state.INPUT.case;
  if (c === "segfault") { let o = {}; for (let i = 0; i < 100000; i++) o = { o }; return o; }
  if (c === "redos") { return /(a+)+$/.test("a".repeat(40) + "b"); }
  if (c === "join") { return Array(2 ** 32 - 1).join(); }
  if (c === "memory") { let s = "x"; while (true) s = s + s; }
  if (c === "forge") {
    JSON.stringify = () => '{"value": "forged"}';
    globalThis.__dust_r = "forged";
    return { honest: true };
  }
  if (c === "surrogate") { return "abcd😀 hello".slice(0, 5); }
  if (c === "big") { return "x".repeat(9 * 1024 * 1024); }
  return { ok: c };
}
```
}
"""
CRASH = (
    "Error in `code`: the JavaScript sandbox crashed (SIGSEGV) while running this code (quickjs "
    "does this on values nested thousands of levels deep)"
)


def ok(case: str) -> dict[str, Any]:
    return {"value": {"ok": case}, "error": None, "meta": {"logs": []}}


def failed(message: str) -> dict[str, Any]:
    return {"value": None, "error": message, "meta": None}


@pytest.fixture
def sandbox_engine(
    engine_factory: Callable[..., EmbeddedEngine], apps_dir: Any, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[EmbeddedEngine, httpx.Client]]:
    """An engine serving the probe app, with the sandbox settings given (DUSTTUI_JS_*)."""
    write_apps(apps_dir, {"probe.dust": SANDBOX_APP})
    clients: list[httpx.Client] = []

    def make(**settings: str) -> tuple[EmbeddedEngine, httpx.Client]:
        for name, value in settings.items():
            monkeypatch.setenv(f"DUSTTUI_JS_{name.upper()}", value)
        engine = engine_factory()
        client = httpx.Client(base_url=engine.url, headers=auth(engine.api_key), timeout=60)
        clients.append(client)
        return engine, client

    yield make
    for client in clients:
        client.close()


def blocking_run(http: httpx.Client, cases: list[str]) -> dict[str, Any]:
    response = http.post(
        runs_url("probe"),
        json={
            "specification_hash": "latest",
            "config": {},
            "inputs": [{"case": c} for c in cases],
            "blocking": True,
        },
    )
    assert response.status_code == 200, response.text
    return response.json()["run"]


def probe_trace(run: dict[str, Any]) -> list[dict[str, Any]]:
    (trace,) = [t for t in run["traces"] if t[0] == ["code", "PROBE"]]
    return [row[0] for row in trace[1]]


def test_a_segfault_fails_its_execution_only_and_the_engine_serves_on(sandbox_engine) -> None:
    _, http = sandbox_engine(time_limit="60")
    run = blocking_run(http, ["a", "segfault", "b"])
    assert run["status"]["run"] == "errored"
    assert probe_trace(run) == [ok("a"), failed(CRASH), ok("b")]
    assert run["status"]["blocks"][1]["success_count"] == 2
    assert run["status"]["blocks"][1]["error_count"] == 1
    again = blocking_run(http, ["c", "d"])
    assert again["status"]["run"] == "succeeded"
    assert probe_trace(again) == [ok("c"), ok("d")]


def test_runaway_native_code_is_stopped_at_the_wall_clock_limit(sandbox_engine) -> None:
    _, http = sandbox_engine(time_limit="0.5")
    run = blocking_run(http, ["a", "redos", "b", "join", "c"])
    stopped = failed("Error in `code`: the code ran longer than 0.5 s and was stopped")
    assert probe_trace(run) == [ok("a"), stopped, ok("b"), stopped, ok("c")]
    response, sse = stream_run(
        http, "probe", {"specification_hash": "latest", "config": {}, "inputs": [{"case": "e"}]}
    )
    assert response.status_code == 200
    assert sse.types[-1] == "final"
    assert [e["content"]["status"] for e in sse.events if e["type"] == "run_status"] == [
        "running",
        "succeeded",
    ]


def test_user_code_cannot_forge_its_output(sandbox_engine) -> None:
    _, http = sandbox_engine()
    run = blocking_run(http, ["forge"])
    assert probe_trace(run) == [{"value": {"honest": True}, "error": None, "meta": {"logs": []}}]
    assert run["results"] == [[{"value": {"honest": True}, "error": None, "meta": {"logs": []}}]]


def test_a_lone_surrogate_reads_as_a_replacement_character(sandbox_engine) -> None:
    # was: HTTP 500 in blocking mode, and a cut stream leaving the run "running" forever
    _, http = sandbox_engine()
    run = blocking_run(http, ["surrogate"])
    assert run["status"]["run"] == "succeeded"
    assert probe_trace(run)[0]["value"] == "abcd\ufffd"
    response, sse = stream_run(
        http,
        "probe",
        {"specification_hash": "latest", "config": {}, "inputs": [{"case": "surrogate"}]},
    )
    assert response.status_code == 200
    assert sse.types[-1] == "final"
    (execution,) = [e for e in sse.events if e["type"] == "block_execution"][-1:]
    assert execution["content"]["execution"] == [
        [{"value": "abcd\ufffd", "error": None, "meta": {"logs": []}}]
    ]
    run_id = next(e["content"]["run_id"] for e in sse.events if e["type"] == "run_status")
    stored = http.get(runs_url("probe", run_id=run_id)).json()["run"]
    assert stored["status"]["run"] == "succeeded"
    assert probe_trace(stored)[0]["value"] == "abcd\ufffd"


def test_memory_and_output_limits_name_their_settings(sandbox_engine) -> None:
    _, http = sandbox_engine(memory_mb="32")
    run = blocking_run(http, ["memory", "big", "a"])
    assert probe_trace(run) == [
        failed(
            "Error in `code`: the code used more than 32 MB of memory and was stopped (the "
            "sandbox's limit per execution; DUSTTUI_JS_MEMORY_MB sets it)"
        ),
        failed(
            "Error in `code`: the output of `_fun` (its value and logs) is 9.0 MB of JSON, over the "
            "sandbox's limit of 8 MB per execution (DUSTTUI_JS_MAX_OUTPUT_MB sets it)"
        ),
        ok("a"),
    ]
