"""The engine's extensions beyond Dust's API (docs/engine.md): the run JSON's `dusttui` object,
`/status`, `/cancel` and run tags — through a real engine on a loopback socket."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest

from tests.engine.conftest import PREFIXES, auth, parse_sse, runs_url, write_apps

LATEST = {"specification_hash": "latest", "config": {}}
NOT_RUN = "Not run: the run was cancelled."

LOOP_APP = """input INPUT { }

while LOOP {
  condition_code:
```
_fun = (env) => env.state.INPUT.rounds > (env.state.BODY || []).length;
```
  max_iterations: 8
}

code BODY {
  code:
```
_fun = (env) => {
  if (env.map.iteration === env.state.INPUT.hold_at) {
    const until = Date.now() + 4000;
    while (Date.now() < until) {}
  }
  return env.map.iteration;
}
```
}

end LOOP { }
"""


def _status(http: httpx.Client, app: str, run_id: str) -> dict[str, Any]:
    response = http.get(runs_url(app, run_id=run_id) + "/status")
    assert response.status_code == 200, response.text
    return response.json()["run"]


def _wait(predicate, what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _wait_first_input_done(http: httpx.Client, run_id: str) -> None:
    """Until the `slow` run's WAIT block has finished one execution (its 10 ms input)."""

    def one_done() -> bool:
        blocks = _status(http, "slow", run_id)["status"]["blocks"]
        return len(blocks) == 2 and blocks[1]["success_count"] == 1

    _wait(one_done, "the 10 ms input to finish")


def _block(run: dict[str, Any], block_type: str, name: str) -> tuple[dict[str, Any], Any]:
    """A block's status and its `dusttui` total, by type and name."""
    for status, ext in zip(run["status"]["blocks"], run["dusttui"]["blocks"], strict=True):
        if (status["block_type"], status["name"]) == (block_type, name):
            assert (ext["block_type"], ext["name"]) == (block_type, name)
            return status, ext["total"]
    raise AssertionError(f"no {block_type} {name} in {run['status']['blocks']}")


def _demo(http: httpx.Client, name: str) -> dict[str, Any]:
    app = next(
        a for a in http.get(PREFIXES["spaces"] + "/apps").json()["apps"] if a["name"] == name
    )
    return {
        "specification_hash": "latest",
        "config": json.loads(app["savedConfig"]),
        "inputs": app["dusttui"]["sampleInputs"],
    }


# ------------------------------------------------------------------ A.1 totals


def test_totals_count_inputs_and_every_map_element(http):
    run = http.post(
        runs_url("map-reduce-demo"), json={**_demo(http, "map-reduce-demo"), "blocking": True}
    ).json()["run"]
    assert run["status"]["run"] == "succeeded"
    assert run["dusttui"] == {
        "end_reason": None,
        "blocks": [
            {"block_type": "input", "name": "INPUT", "total": 3},
            {"block_type": "code", "name": "SPLIT", "total": 3},
            {"block_type": "map", "name": "EACH", "total": 3},
            # 3 + 5 + 1 words: one execution per map element of every input
            {"block_type": "llm", "name": "SHOUT", "total": 9},
            {"block_type": "reduce", "name": "EACH", "total": 3},
            {"block_type": "code", "name": "JOIN", "total": 3},
        ],
    }
    assert (
        http.get(runs_url("map-reduce-demo", run_id=run["run_id"])).json()["run"]["dusttui"]
        == run["dusttui"]
    )


def test_a_while_loop_total_counts_the_inputs_still_looping_in_this_iteration(
    engine_factory, tmp_path
):
    apps = write_apps(tmp_path / "loop-apps", {"loop.dust": LOOP_APP})
    engine = engine_factory(apps_dir=apps)
    inputs = [
        {"rounds": 0, "hold_at": -1},  # never enters the loop
        {"rounds": 3, "hold_at": 1},  # holds BODY's second iteration for 4 s
        {"rounds": 3, "hold_at": -1},
        {"rounds": 1, "hold_at": -1},  # leaves after one iteration
    ]
    with httpx.Client(base_url=engine.url, headers=auth(engine.api_key), timeout=30) as http:
        run_id = http.post(runs_url("loop"), json={**LATEST, "inputs": inputs}).json()["run"][
            "run_id"
        ]

        def in_second_iteration() -> bool:
            run = _status(http, "loop", run_id)
            names = [(b["block_type"], b["name"], b["status"]) for b in run["status"]["blocks"]]
            body = [b for b in run["status"]["blocks"] if b["name"] == "BODY"]
            return (
                ("end", "LOOP", "succeeded") in names
                and body[0]["status"] == "running"
                and body[0]["success_count"] == 1
            )

        _wait(in_second_iteration, "BODY's second iteration with one input done")
        live = _status(http, "loop", run_id)
        # Second iteration: 3 inputs were still looping at the `while` block, 2 at BODY (the
        # counts restarted: 1 done of 2, not 3 + 1 of 5); END shows its last (first) iteration.
        assert _block(live, "while", "LOOP") == (
            {
                "block_type": "while",
                "name": "LOOP",
                "status": "succeeded",
                "success_count": 3,
                "error_count": 0,
            },
            3,
        )
        assert _block(live, "code", "BODY") == (
            {
                "block_type": "code",
                "name": "BODY",
                "status": "running",
                "success_count": 1,
                "error_count": 0,
            },
            2,
        )
        assert _block(live, "end", "LOOP")[1] == 3
        assert live["traces"] == [] and live["results"] is None

        cancelled = http.post(runs_url("loop", run_id=run_id) + "/cancel").json()["run"]
    assert cancelled["status"]["run"] == "errored"
    assert cancelled["error"] == "Run cancelled."
    assert cancelled["dusttui"]["end_reason"] == "cancelled"
    assert _block(cancelled, "code", "BODY") == (
        {
            "block_type": "code",
            "name": "BODY",
            "status": "errored",
            "success_count": 1,
            "error_count": 0,
        },
        2,
    )
    with httpx.Client(base_url=engine.url, headers=auth(engine.api_key), timeout=30) as http:
        full = http.get(runs_url("loop", run_id=run_id)).json()["run"]
    body_trace = next(t for t in full["traces"] if t[0] == ["code", "BODY"])
    # Iterations merged along j: what finished as it is, the held execution "not run".
    assert [
        [e["value"] if e["error"] is None else e["error"] for e in row] for row in body_trace[1]
    ] == [
        [],
        [0, NOT_RUN],
        [0, 1],
        [0],
    ]


# ------------------------------------------------------------------ A.2 status


def test_status_answers_live_counts_without_traces_and_refuses_unknown_runs(http):
    run_id = http.post(
        runs_url("slow"), json={**LATEST, "inputs": [{"ms": 10}, {"ms": 3000}]}
    ).json()["run"]["run_id"]

    _wait_first_input_done(http, run_id)
    live = _status(http, "slow", run_id)
    assert list(live) == [  # front's key order, then the engine's extension
        "run_id",
        "created",
        "run_type",
        "config",
        "status",
        "traces",
        "specification_hash",
        "results",
        "dusttui",
    ]
    assert (live["status"]["run"], live["traces"], live["results"]) == ("running", [], None)
    assert _block(live, "code", "WAIT") == (
        {
            "block_type": "code",
            "name": "WAIT",
            "status": "running",
            "success_count": 1,
            "error_count": 0,
        },
        2,
    )
    assert live["dusttui"]["end_reason"] is None
    _wait(lambda: _status(http, "slow", run_id)["status"]["run"] != "running", "the run to end")
    done = _status(http, "slow", run_id)
    full = http.get(runs_url("slow", run_id=run_id)).json()["run"]
    assert done == {**full, "traces": [], "results": None}
    for style in PREFIXES:
        assert http.get(runs_url("slow", style, run_id) + "/status").json() == {"run": done}

    unknown = http.get(runs_url("slow", run_id="f" * 64) + "/status")
    assert unknown.status_code == 400
    assert unknown.json()["error"]["run_error"] == {
        "code": "run_not_found",
        "message": f"No run found for id `{'f' * 64}`",
    }
    wrong = http.post(runs_url("slow", run_id=run_id) + "/status")
    assert (wrong.status_code, wrong.json()["error"]["type"]) == (405, "method_not_supported_error")


# ------------------------------------------------------------------ A.3 cancel


def test_cancel_ends_a_streamed_run_keeping_what_finished(http, engine):
    received: list[bytes] = []
    ids: list[str] = []

    def follow() -> None:
        body = {**LATEST, "inputs": [{"ms": 10}, {"ms": 4000}], "stream": True}
        with httpx.Client(base_url=engine.url, headers=auth(engine.api_key), timeout=30) as client:
            with client.stream("POST", runs_url("slow"), json=body) as response:
                for chunk in response.iter_raw():
                    received.append(chunk)
                    if not ids and b"run_id" in chunk:
                        ids.append(
                            parse_sse(chunk.split(b"\n\n")[0] + b"\n\n").events[0]["content"][
                                "run_id"
                            ]
                        )

    follower = threading.Thread(target=follow)
    follower.start()
    _wait(lambda: bool(ids), "the run id")
    run_id = ids[0]

    _wait_first_input_done(http, run_id)
    response = http.post(runs_url("slow", run_id=run_id) + "/cancel")
    follower.join(30)
    assert response.status_code == 200
    run = response.json()["run"]
    assert run["status"] == {
        "run": "errored",
        "blocks": [
            {
                "block_type": "input",
                "name": "INPUT",
                "status": "succeeded",
                "success_count": 2,
                "error_count": 0,
            },
            {
                "block_type": "code",
                "name": "WAIT",
                "status": "errored",
                "success_count": 1,
                "error_count": 0,
            },
        ],
    }
    assert (run["error"], run["dusttui"]["end_reason"]) == ("Run cancelled.", "cancelled")
    assert (run["traces"], run["results"]) == ([], None)

    sse = parse_sse(b"".join(received))
    assert sse.types[-4:] == ["block_execution", "block_status", "run_status", "final"]
    executions = [
        [{"value": {"waited": 10}, "error": None, "meta": {"logs": []}}],
        [{"value": None, "error": NOT_RUN, "meta": None}],
    ]
    assert sse.events[-4]["content"] == {
        "block_type": "code",
        "block_name": "WAIT",
        "execution": executions,
    }
    assert sse.events[-3]["content"] == run["status"]["blocks"][1]
    assert sse.events[-2]["content"] == {"status": "errored", "run_id": run_id}

    full = http.get(runs_url("slow", run_id=run_id)).json()["run"]
    assert full["traces"][1] == [["code", "WAIT"], executions]
    assert {**full, "traces": [], "results": None} == run
    # Cancelling a run that is over changes nothing.
    again = http.post(runs_url("slow", run_id=run_id) + "/cancel")
    assert (again.status_code, again.json()) == (200, {"run": run})


def test_cancel_refuses_unknown_runs_and_other_methods(http):
    unknown = http.post(runs_url("slow", run_id="e" * 64) + "/cancel")
    assert unknown.status_code == 400
    assert unknown.json()["error"]["run_error"]["code"] == "run_not_found"
    wrong = http.get(runs_url("slow", run_id="e" * 64) + "/cancel")
    assert wrong.json() == {
        "error": {
            "type": "method_not_supported_error",
            "message": "The method passed is not supported, POST is expected.",
        }
    }


# ------------------------------------------------------------------ A.4 tags


def test_a_blocking_client_finds_its_run_by_tag_and_its_answer_carries_the_cancel(http, engine):
    answers: list[httpx.Response] = []

    def launch() -> None:
        body = {**LATEST, "inputs": [{"ms": 4000}], "blocking": True}
        with httpx.Client(base_url=engine.url, headers=auth(engine.api_key), timeout=30) as client:
            answers.append(
                client.post(runs_url("slow"), json=body, headers={"X-Dusttui-Run-Tag": "blk-42_a"})
            )

    http.post(
        runs_url("slow"),
        json={**LATEST, "inputs": [{"ms": 1}]},
        headers={"X-Dusttui-Run-Tag": "other"},
    )
    launcher = threading.Thread(target=launch)
    launcher.start()
    _wait(
        lambda: http.get(runs_url("slow") + "?tag=blk-42_a").json()["total"] == 1, "the tagged run"
    )
    listing = http.get(runs_url("slow") + "?tag=blk-42_a").json()
    run_id = listing["runs"][0]["run_id"]
    assert listing["runs"][0]["traces"] == []
    assert http.get(runs_url("slow")).json()["total"] == 2  # without a tag: every run
    assert http.get(runs_url("slow") + "?tag=nobody").json() == {"runs": [], "total": 0}

    http.post(runs_url("slow", run_id=run_id) + "/cancel")
    launcher.join(30)
    blocking = answers[0].json()["run"]
    assert (blocking["run_id"], blocking["status"]["run"]) == (run_id, "errored")
    assert (blocking["error"], blocking["dusttui"]["end_reason"]) == ("Run cancelled.", "cancelled")


@pytest.mark.parametrize("tag", ["", "a b", "x" * 65, "é", "a/b"])
def test_a_tag_of_another_shape_is_refused(http, tag):
    created = http.post(
        runs_url("slow"),
        json={**LATEST, "inputs": [{"ms": 1}]},
        headers={"X-Dusttui-Run-Tag": tag.encode()},
    )
    assert created.status_code == 400
    assert created.json()["error"] == {
        "type": "invalid_request_error",
        "message": "The X-Dusttui-Run-Tag header must be 1 to 64 characters among letters, digits, `-` and `_`.",
    }
    listed = http.get(runs_url("slow"), params={"tag": tag})
    assert listed.status_code == 400
    assert listed.json()["error"]["message"].startswith(
        "The `tag` parameter must be 1 to 64 characters"
    )
    assert http.get(runs_url("slow")).json()["total"] == 0
