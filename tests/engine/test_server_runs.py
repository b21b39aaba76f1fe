"""Runs over HTTP, checked as literal JSON: the three flavours, every URL form, block_filter, hashes."""

from __future__ import annotations

import time

import httpx

from dusttui.engine.spec import parse_spec
from tests.engine.conftest import (
    HEX64,
    PREFIXES,
    SHOUT_CONFIG,
    apps_url,
    parse_sse,
    runs_url,
    stream_run,
)

INPUTS = [{"n": 2}, {"n": 5}]


def _exec(value, logs=None):
    return {"value": value, "error": None, "meta": None if logs is None else {"logs": logs}}


INPUT_TRACE = [["input", "INPUT"], [[_exec({"n": 2})], [_exec({"n": 5})]]]
DOUBLE_TRACE = [
    ["code", "DOUBLE"],
    [[_exec({"x": 4}, ["n=2"])], [_exec({"x": 10}, ["n=5"])]],
]
SUCCEEDED_BLOCKS = [
    {
        "block_type": "input",
        "name": "INPUT",
        "status": "succeeded",
        "success_count": 2,
        "error_count": 0,
    },
    {
        "block_type": "code",
        "name": "DOUBLE",
        "status": "succeeded",
        "success_count": 2,
        "error_count": 0,
    },
]


def _post(http: httpx.Client, app: str, style: str = "spaces", **body):
    body.setdefault("specification_hash", "latest")
    body.setdefault("config", {})
    body.setdefault("inputs", INPUTS)
    return http.post(runs_url(app, style), json=body)


def _wait_done(http: httpx.Client, app: str, run_id: str) -> dict:
    for _ in range(500):
        run = http.get(runs_url(app, run_id=run_id)).json()["run"]
        if run["status"]["run"] != "running":
            return run
        time.sleep(0.01)
    raise AssertionError(f"run {run_id} still running")


def _latest_hash(http: httpx.Client, app: str) -> str:
    apps = {a["name"]: a for a in http.get(apps_url()).json()["apps"]}
    return apps[app]["dusttui"]["specificationHash"]


def test_blocking_run_answers_the_whole_run(engine, http):
    before = int(time.time() * 1000)
    response = _post(http, "double", blocking=True, config={"DOUBLE": {"concurrency": 2}})
    after = int(time.time() * 1000)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    run = response.json()["run"]
    assert list(run) == [  # front's order: specification_hash set after core's fields
        "run_id",
        "created",
        "run_type",
        "config",
        "status",
        "traces",
        "specification_hash",
        "results",
        "dusttui",  # the engine's extension (docs/engine.md), after the hosted fields
    ]
    assert run["dusttui"] == {
        "end_reason": None,
        "blocks": [
            {"block_type": "input", "name": "INPUT", "total": 2},
            {"block_type": "code", "name": "DOUBLE", "total": 2},
        ],
    }
    assert HEX64.match(run["run_id"])
    assert before <= run["created"] <= after
    assert run["run_type"] == "deploy"
    assert (
        run["specification_hash"] == parse_spec((engine.apps_dir / "double.dust").read_text()).hash
    )
    assert run["config"] == {"blocks": {"DOUBLE": {"concurrency": 2}}}
    assert run["status"] == {"run": "succeeded", "blocks": SUCCEEDED_BLOCKS}
    assert run["traces"] == [INPUT_TRACE, DOUBLE_TRACE]
    assert run["results"] == DOUBLE_TRACE[1]
    assert http.get(runs_url("double", run_id=run["run_id"])).json() == {"run": run}


def test_non_blocking_run_answers_at_once_then_get_has_the_result(http):
    response = _post(http, "double")
    assert response.status_code == 200
    run = response.json()["run"]
    assert HEX64.match(run["run_id"])
    assert run["status"] == {"run": "running", "blocks": []}
    assert run["traces"] == []
    assert run["results"] is None
    done = _wait_done(http, "double", run["run_id"])
    assert done["status"] == {"run": "succeeded", "blocks": SUCCEEDED_BLOCKS}
    assert done["traces"] == [INPUT_TRACE, DOUBLE_TRACE]
    assert done["created"] == run["created"]


def test_streamed_run_sends_every_event_in_order_then_final(http):
    response, sse = stream_run(
        http, "double", {"specification_hash": "latest", "config": {}, "inputs": INPUTS}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["cache-control"] == "no-cache"
    assert sse.types == [
        "run_status",
        "block_status",
        "block_execution",
        "block_status",
        "block_status",
        "block_execution",
        "block_status",
        "run_status",
        "final",
    ]
    run_id = sse.events[0]["content"]["run_id"]
    assert sse.events[0]["content"] == {"status": "running", "run_id": run_id}
    assert sse.events[1]["content"] == {
        "block_type": "input",
        "name": "INPUT",
        "status": "running",
        "success_count": 0,
        "error_count": 0,
    }
    assert sse.events[5]["content"] == {
        "block_type": "code",
        "block_name": "DOUBLE",
        "execution": DOUBLE_TRACE[1],
    }
    assert sse.events[6]["content"] == SUCCEEDED_BLOCKS[1]
    assert sse.events[7]["content"] == {"status": "succeeded", "run_id": run_id}
    assert sse.events[8] == {"type": "final", "content": None}
    run = http.get(runs_url("double", run_id=run_id)).json()["run"]
    assert run["traces"] == [INPUT_TRACE, DOUBLE_TRACE]


def test_a_failing_input_fails_the_block_and_the_run(http):
    run = _post(http, "double", blocking=True, inputs=[{"n": 1}, {"n": -1}]).json()["run"]
    assert run["status"]["run"] == "errored"
    assert run["status"]["blocks"][1] == {
        "block_type": "code",
        "name": "DOUBLE",
        "status": "errored",
        "success_count": 1,
        "error_count": 1,
    }
    failing = run["traces"][1][1][1][0]
    assert failing["value"] is None
    assert failing["error"].startswith("Error in `code`")
    assert "negative n" in failing["error"]
    assert run["results"] is None


def test_every_url_form_runs_and_reads_the_same_runs(http):
    for style in PREFIXES:
        run = _post(http, "double", style, blocking=True).json()["run"]
        assert run["status"]["run"] == "succeeded", style
        for other in PREFIXES:
            got = http.get(runs_url("double", other, run["run_id"]))
            assert got.status_code == 200, (style, other)
            assert got.json()["run"]["run_id"] == run["run_id"]


def test_an_app_is_addressed_by_name_or_sid(http):
    sid = next(a["sId"] for a in http.get(apps_url()).json()["apps"] if a["name"] == "double")
    run = _post(http, "double", blocking=True).json()["run"]
    assert http.get(runs_url(sid, run_id=run["run_id"])).json()["run"]["run_id"] == run["run_id"]
    assert _post(http, sid, blocking=True).json()["run"]["status"]["run"] == "succeeded"


def test_block_filter_keeps_only_named_blocks_in_a_blocking_answer(http):
    run = _post(http, "double", blocking=True, block_filter=["INPUT"]).json()["run"]
    assert run["traces"] == [INPUT_TRACE]
    assert run["status"]["blocks"] == SUCCEEDED_BLOCKS[:1]
    assert run["results"] == INPUT_TRACE[1]
    # The stored run is whole.
    stored = http.get(runs_url("double", run_id=run["run_id"])).json()["run"]
    assert stored["traces"] == [INPUT_TRACE, DOUBLE_TRACE]


def test_block_filter_entries_that_are_not_names_match_nothing(http):
    run = _post(http, "double", blocking=True, block_filter=["DOUBLE", {"x": 1}, 3]).json()["run"]
    assert run["traces"] == [DOUBLE_TRACE]
    assert run["results"] == DOUBLE_TRACE[1]


def test_block_filter_is_ignored_by_streams(http):
    _, sse = stream_run(
        http,
        "double",
        {"specification_hash": "latest", "config": {}, "inputs": INPUTS, "block_filter": ["INPUT"]},
    )
    names = [e["content"]["block_name"] for e in sse.events if e["type"] == "block_execution"]
    assert names == ["INPUT", "DOUBLE"]


def test_stream_wins_over_blocking(http):
    response, sse = stream_run(
        http,
        "double",
        {"specification_hash": "latest", "config": {}, "inputs": INPUTS, "blocking": True},
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    assert sse.types[-1] == "final"


def test_a_hash_stays_runnable_after_the_file_changes_and_after_a_restart(engine_factory):
    engine = engine_factory()
    with httpx.Client(
        base_url=engine.url, headers={"Authorization": f"Bearer {engine.api_key}"}
    ) as http:
        old_hash = _latest_hash(http, "double")
        dust = engine.apps_dir / "double.dust"
        dust.write_text(dust.read_text().replace("* 2", "* 3"))
        new_hash = _latest_hash(http, "double")
        assert new_hash != old_hash
        latest = _post(http, "double", blocking=True).json()["run"]
        assert latest["specification_hash"] == new_hash
        assert latest["results"][0][0]["value"] == {"x": 6}
        old = _post(http, "double", blocking=True, specification_hash=old_hash).json()["run"]
        assert old["specification_hash"] == old_hash
        assert old["results"][0][0]["value"] == {"x": 4}
    engine.stop()
    again = engine_factory()
    with httpx.Client(
        base_url=again.url, headers={"Authorization": f"Bearer {again.api_key}"}
    ) as http:
        old = _post(http, "double", blocking=True, specification_hash=old_hash).json()["run"]
        assert old["results"][0][0]["value"] == {"x": 4}


def test_use_workspace_credentials_query_parameter_is_accepted(http):
    for value in ("true", "false"):
        response = http.post(
            runs_url("double") + f"?use_workspace_credentials={value}",
            json={"specification_hash": "latest", "config": {}, "inputs": INPUTS, "blocking": True},
        )
        assert response.json()["run"]["status"]["run"] == "succeeded"


def test_runs_listing_pages_newest_first_without_traces(http):
    ids = [_post(http, "double", blocking=True).json()["run"]["run_id"] for _ in range(3)]
    _post(http, "shout", blocking=True, config=SHOUT_CONFIG, inputs=[{"q": "x"}])
    page = http.get(runs_url("double") + "?limit=2&offset=0&runType=deploy").json()
    assert page["total"] == 3
    assert [r["run_id"] for r in page["runs"]] == [ids[2], ids[1]]
    assert all(r["traces"] == [] and r["results"] is None for r in page["runs"])
    assert page["runs"][0]["status"] == {"run": "succeeded", "blocks": SUCCEEDED_BLOCKS}
    rest = http.get(runs_url("double", "user") + "?limit=10&offset=2").json()
    assert [r["run_id"] for r in rest["runs"]] == [ids[0]]
    assert http.get(runs_url("double") + "?runType=local").json() == {"runs": [], "total": 0}


def test_runs_listing_refuses_a_bad_limit(http):
    response = http.get(runs_url("double") + "?limit=ten")
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "type": "invalid_request_error",
            "message": "`limit` must be a non-negative integer (got 'ten').",
        }
    }


def test_streamed_prerun_failure_matches_the_hosted_bytes(http):
    body = {"specification_hash": "deadbeef", "config": {}, "inputs": INPUTS}
    with http.stream("POST", runs_url("double"), json={**body, "stream": True}) as response:
        raw = response.read()
    assert response.status_code == 200
    assert raw == (
        b'data: {"type":"error","content":{"code":"specification_not_found",'
        b'"message":"No specification found for hash `deadbeef`"}}\n\n'
        b'data: {"type":"final","content":null}\n\n'
    )
    assert parse_sse(raw).types == ["error", "final"]
