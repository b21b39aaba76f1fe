"""Every refusal answers the hosted API's error envelope with its type and status code."""

from __future__ import annotations

import httpx
import pytest

from tests.engine.conftest import KEY, apps_url, runs_url, stream_run

INVALID_BODY = {
    "error": {
        "type": "invalid_request_error",
        "message": "Invalid request body, `specification_hash` (string), `config` (object), "
        "and `inputs` (array) are required.",
    }
}
GOOD = {"specification_hash": "latest", "config": {}, "inputs": [{"n": 1}]}


@pytest.mark.parametrize(
    "body",
    [
        {"config": {}, "inputs": []},
        {"specification_hash": 12, "config": {}, "inputs": []},
        {"specification_hash": "latest", "inputs": []},
        {"specification_hash": "latest", "config": [], "inputs": []},
        {"specification_hash": "latest", "config": None, "inputs": []},
        {"specification_hash": "latest", "config": {}},
        {"specification_hash": "latest", "config": {}, "inputs": {"n": 1}},
        ["not", "an", "object"],
    ],
)
def test_missing_or_ill_typed_fields_are_invalid_requests(http, body):
    response = http.post(runs_url("double"), json=body)
    assert response.status_code == 400
    assert response.json() == INVALID_BODY


def test_a_body_that_is_not_json_is_an_invalid_request(http):
    response = http.post(
        runs_url("double"), content=b"{oops", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert response.json()["error"]["message"].startswith("The request body is not valid JSON")
    assert http.post(runs_url("double")).json() == INVALID_BODY


def test_mixed_input_keys_are_a_run_error_before_any_run_exists(http):
    body = {**GOOD, "inputs": [{"n": 1}, {"m": 2}]}
    response = http.post(runs_url("double"), json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "run_error"
    assert error["message"] == "There was an error running the app."
    assert error["run_error"]["code"] == "invalid_inputs_error"
    assert "different keys" in error["run_error"]["message"]
    assert http.get(runs_url("double")).json()["total"] == 0


def test_mixed_input_keys_in_a_stream_send_error_then_final(http):
    response, sse = stream_run(http, "double", {**GOOD, "inputs": [{"n": 1}, {"m": 2}]})
    assert response.status_code == 200
    assert sse.types == ["error", "final"]
    assert sse.events[0]["content"]["code"] == "invalid_inputs_error"
    assert "run_id" not in sse.raw.decode()


def test_an_unknown_hash_is_a_run_error(http):
    response = http.post(
        runs_url("double"), json={**GOOD, "specification_hash": "deadbeef", "blocking": True}
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "type": "run_error",
            "message": "There was an error running the app.",
            "run_error": {
                "code": "specification_not_found",
                "message": "No specification found for hash `deadbeef`",
            },
        }
    }


def test_an_unknown_run_id_is_a_400_run_error(http):
    response = http.get(runs_url("double", run_id="f" * 64))
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "type": "run_error",
            "message": "There was an error retrieving the run.",
            "run_error": {"code": "run_not_found", "message": f"No run found for id `{'f' * 64}`"},
        }
    }


def test_a_run_is_not_found_under_another_app(http):
    run = http.post(runs_url("double"), json={**GOOD, "blocking": True}).json()["run"]
    response = http.get(runs_url("shout", run_id=run["run_id"]))
    assert response.status_code == 400
    assert response.json()["error"]["run_error"]["code"] == "run_not_found"


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        ({}, "not_authenticated"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "malformed_authorization_header_error"),
        ({"Authorization": "Bearer"}, "malformed_authorization_header_error"),
        ({"Authorization": "Bearer sk-wrong-key"}, "invalid_api_key_error"),
    ],
)
def test_a_missing_or_bad_key_is_401(engine, headers, kind):
    for method, url in [
        ("GET", apps_url()),
        ("POST", runs_url("double")),
        ("GET", runs_url("double", run_id="x")),
    ]:
        response = httpx.request(method, engine.url + url, headers=headers, json=GOOD)
        assert response.status_code == 401
        body = response.json()
        assert body["error"]["type"] == kind
        assert KEY not in response.text
        assert "sk-wrong-key" not in response.text


def test_an_unknown_app_is_404(http):
    response = http.post(runs_url("nope"), json=GOOD)
    assert response.status_code == 404
    assert response.json() == {
        "error": {"type": "app_not_found", "message": "The app you're trying to run was not found"}
    }
    response = http.get(runs_url("nope", run_id="f" * 64))
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "app_not_found"


def test_a_body_over_4_mb_is_refused(http):
    big = {**GOOD, "inputs": [{"n": "x" * 1024}] * 4200}
    response = http.post(runs_url("double"), json=big)
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["type"] == "content_too_large"
    assert error["message"].startswith("Body exceeded 4mb limit")
    assert http.get(runs_url("double")).json()["total"] == 0


def test_a_chunked_body_over_4_mb_is_refused_too(http):
    def chunks():
        yield b'{"specification_hash": "latest", "config": {}, "inputs": ['
        for _ in range(5000):
            yield b'{"n": "' + b"x" * 1000 + b'"},'
        yield b'{"n": 1}]}'

    response = http.post(
        runs_url("double"), content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "content_too_large"


def test_a_body_just_under_4_mb_is_read(http):
    inputs = [{"n": 1, "pad": "x" * 1000}] * 4000
    response = http.post(
        runs_url("double"), json={**GOOD, "specification_hash": "deadbeef", "inputs": inputs}
    )
    assert response.status_code == 400
    assert response.json()["error"]["run_error"]["code"] == "specification_not_found"


@pytest.mark.parametrize(
    ("method", "url", "expected"),
    [
        ("DELETE", runs_url("double"), "POST"),
        ("PUT", runs_url("double"), "POST"),
        ("POST", runs_url("double", run_id="f" * 64), "GET"),
        ("DELETE", runs_url("double", "vaults", run_id="f" * 64), "GET"),
        ("POST", apps_url(), "GET"),
        ("PATCH", apps_url("workspace"), "GET"),
    ],
)
def test_a_wrong_method_is_405(http, method, url, expected):
    response = http.request(method, url)
    assert response.status_code == 405
    assert response.json() == {
        "error": {
            "type": "method_not_supported_error",
            "message": f"The method passed is not supported, {expected} is expected.",
        }
    }


def test_an_unknown_path_is_a_404_envelope(http):
    response = http.get("/api/v1/w/x/spaces/y/datasources")
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "type": "not_found",
            "message": "No endpoint GET /api/v1/w/x/spaces/y/datasources on this engine.",
        }
    }
