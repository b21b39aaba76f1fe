"""The apps listing: the hosted App shape, the apps folder over the bundled demos, live reloads."""

from __future__ import annotations

import json
import os

import httpx

from dusttui.engine.spec import parse_spec
from tests.engine.conftest import SPACE, TEST_APPS, apps_url, auth, runs_url, stream_run, write_apps

BUNDLED = ["flaky-demo", "load-1000", "map-reduce-demo", "paced-demo", "qa-demo", "while-demo"]


def _apps(http, style: str = "spaces") -> dict[str, dict]:
    response = http.get(apps_url(style))
    assert response.status_code == 200
    return {app["name"]: app for app in response.json()["apps"]}


def test_listing_has_the_hosted_app_shape(http, apps_dir):
    response = http.get(apps_url())
    names = [app["name"] for app in response.json()["apps"]]
    assert names == sorted(["double", "shout", "slow", *BUNDLED])
    shout = _apps(http)["shout"]
    assert list(shout)[:9] == [
        "id",
        "sId",
        "name",
        "description",
        "savedSpecification",
        "savedConfig",
        "savedRun",
        "dustAPIProjectId",
        "space",
    ]
    assert isinstance(shout["id"], int)
    assert len(shout["sId"]) == 10 and shout["sId"].isalnum()
    assert shout["description"] == "Shouts the question back (offline provider, not a model)."
    assert json.loads(shout["savedConfig"]) == json.loads(TEST_APPS["shout.config.json"])
    saved = json.loads(shout["savedSpecification"])
    assert [(b["type"], b["name"]) for b in saved] == [("input", "INPUT"), ("llm", "MODEL")]
    assert shout["savedRun"] is None
    assert shout["dustAPIProjectId"] == str(shout["id"])
    space = shout["space"]
    assert {k: v for k, v in space.items() if k not in ("createdAt", "updatedAt")} == {
        "sId": SPACE,
        "name": "Local apps",
        "kind": "global",
        "isRestricted": False,
        "groupIds": [],
    }
    assert isinstance(space["createdAt"], int) and space["createdAt"] == space["updatedAt"]
    assert shout["dusttui"] == {
        "specificationHash": parse_spec(TEST_APPS["shout.dust"]).hash,
        "specificationError": None,
        "sampleInputs": [{"q": "hello world"}, {"q": "a b c"}],
        "problems": [],
        "source": "apps_dir",
        "path": str(apps_dir / "shout.dust"),
    }
    assert _apps(http)["double"]["description"] is None
    assert _apps(http)["double"]["savedConfig"] is None
    assert _apps(http)["qa-demo"]["dusttui"]["source"] == "bundled"


def test_every_listing_url_lists_the_same_apps(http):
    spaces = _apps(http, "spaces")
    for style in ("vaults", "workspace"):
        other = _apps(http, style)
        assert [(a["id"], a["sId"]) for a in other.values()] == [
            (a["id"], a["sId"]) for a in spaces.values()
        ]
    assert _apps(http, "workspace")["double"]["space"]["sId"] == "local"


def test_an_app_in_the_apps_folder_overrides_a_bundled_one(http, apps_dir):
    (apps_dir / "qa-demo.dust").write_text(TEST_APPS["double.dust"])
    qa = _apps(http)["qa-demo"]
    assert qa["dusttui"]["source"] == "apps_dir"
    assert qa["description"] is None
    run = http.post(
        runs_url("qa-demo"),
        json={"specification_hash": "latest", "config": {}, "inputs": [{"n": 4}], "blocking": True},
    ).json()["run"]
    assert run["results"][0][0]["value"] == {"x": 8}


def test_apps_added_and_removed_while_serving_are_seen(http, apps_dir):
    (apps_dir / "fresh.dust").write_text("input INPUT { }\n")
    assert "fresh" in _apps(http)
    run = http.post(
        runs_url("fresh"),
        json={"specification_hash": "latest", "config": {}, "inputs": [{"a": 1}], "blocking": True},
    ).json()["run"]
    assert run["results"] == [[{"value": {"a": 1}, "error": None, "meta": None}]]
    (apps_dir / "fresh.dust").unlink()
    assert "fresh" not in _apps(http)
    gone = http.post(
        runs_url("fresh"), json={"specification_hash": "latest", "config": {}, "inputs": []}
    )
    assert gone.status_code == 404


def test_an_app_that_does_not_parse_is_listed_with_its_error_and_refuses_to_run(http, apps_dir):
    (apps_dir / "broken.dust").write_text("input INPUT { }\n\ncode C {\n  kode: x\n}\n")
    broken = _apps(http)["broken"]
    assert broken["savedSpecification"] is None
    assert broken["dusttui"]["specificationHash"] is None
    error = broken["dusttui"]["specificationError"]
    assert error.startswith("broken.dust: line 4")
    body = {"specification_hash": "latest", "config": {}, "inputs": [{"a": 1}]}
    response = http.post(runs_url("broken"), json=body)
    assert response.status_code == 400
    assert response.json()["error"]["run_error"] == {
        "code": "invalid_specification_error",
        "message": f"Invalid specification: {error}",
    }
    _, sse = stream_run(http, "broken", body)
    assert sse.types == ["error", "final"]
    assert sse.events[0]["content"]["code"] == "invalid_specification_error"


def test_bad_companion_files_are_reported_not_fatal(http, apps_dir):
    (apps_dir / "double.config.json").write_text("{nope")
    (apps_dir / "double.inputs.jsonl").write_text('{"n": 1}\n[oops\n')
    double = _apps(http)["double"]
    assert double["savedConfig"] is None
    assert double["dusttui"]["sampleInputs"] is None
    problems = double["dusttui"]["problems"]
    assert problems[0].startswith("double.config.json: not valid JSON")
    assert problems[1].startswith("double.inputs.jsonl line 2: not valid JSON")
    assert double["dusttui"]["specificationHash"] is not None


def test_app_files_that_are_not_regular_files_are_skipped_never_read(engine_factory, tmp_path):
    # A FIFO would block the engine's start forever (nothing ever writes it); it is not read.
    apps = write_apps(tmp_path / "odd-apps", {"ok.dust": TEST_APPS["double.dust"]})
    os.mkfifo(apps / "ok.description.txt")
    os.mkfifo(apps / "ok.inputs.jsonl")
    os.mkfifo(apps / "pipe.dust")
    engine = engine_factory(apps_dir=apps)
    with httpx.Client(base_url=engine.url, headers=auth(engine.api_key), timeout=30) as http:
        listed = {app["name"]: app for app in http.get(apps_url()).json()["apps"]}
    assert "pipe" not in listed
    assert listed["ok"]["description"] is None
    assert listed["ok"]["dusttui"]["sampleInputs"] is None
    assert listed["ok"]["dusttui"]["problems"] == [
        "ok.description.txt is not a regular file: not read",
        "ok.inputs.jsonl is not a regular file: not read",
    ]
