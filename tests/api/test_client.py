"""The client: URLs of each style, request bodies, error mapping, retries, and key hygiene."""

from __future__ import annotations

import json

import httpx
import pytest

from dusttui.api.client import DUST_EU, DUST_US, DustClient, as_curl
from dusttui.api.errors import (
    AuthError,
    DustConnectionError,
    DustError,
    InvalidRequestError,
    NotFoundError,
    RateLimitedError,
    RunError,
    ServerError,
    StreamProtocolError,
)

from .conftest import APP, KEY, SPACE, WS, fixture_run, make_client

RUN = fixture_run("ok_two_inputs")
RUN_ID = RUN["run"]["run_id"]
APP_JSON = {
    "id": 7,
    "sId": APP,
    "name": "summarise",
    "description": None,
    "savedSpecification": "[]",
    "savedConfig": "{}",
    "savedRun": None,
    "dustAPIProjectId": "42",
    "space": {
        "sId": SPACE,
        "name": "Company Data",
        "kind": "global",
        "isRestricted": False,
        "groupIds": [],
        "createdAt": 1,
        "updatedAt": 2,
    },
}


def envelope(status: int, etype: str, message: str, **extra) -> httpx.Response:
    return httpx.Response(status, json={"error": {"type": etype, "message": message, **extra}})


def test_base_url_constants():
    assert (DUST_US, DUST_EU) == ("https://dust.tt", "https://eu.dust.tt")


@pytest.mark.parametrize(
    ("style", "user", "apps_path", "run_path"),
    [
        (
            "spaces",
            None,
            f"/api/v1/w/{WS}/spaces/{SPACE}/apps",
            f"/api/v1/w/{WS}/spaces/{SPACE}/apps/{APP}/runs/{RUN_ID}",
        ),
        ("workspace", None, f"/api/v1/w/{WS}/apps", f"/api/v1/w/{WS}/apps/{APP}/runs/{RUN_ID}"),
        ("user", "spolu", None, f"/api/v1/apps/spolu/{APP}/runs/{RUN_ID}"),
    ],
)
async def test_url_styles_reach_the_right_paths(style, user, apps_path, run_path):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/apps"):
            return httpx.Response(200, json={"apps": [APP_JSON]})
        return httpx.Response(200, json=RUN)

    async with make_client(handler, url_style=style, user=user) as client:
        run = await client.get_run(APP, RUN_ID)
        assert run.run_id == RUN_ID
        assert seen[-1].url.path == run_path
        assert seen[-1].headers["authorization"] == f"Bearer {KEY}"
        if apps_path is None:
            with pytest.raises(DustError, match="cannot list apps"):
                await client.list_apps()
        else:
            apps = await client.list_apps()
            assert seen[-1].url.path == apps_path
            assert [(a.sId, a.name, a.space.name) for a in apps] == [
                (APP, "summarise", "Company Data")
            ]


def test_missing_ids_are_explained():
    with pytest.raises(ValueError, match="space id is needed"):
        DustClient("https://dust.tt", KEY, WS)
    with pytest.raises(ValueError, match="workspace id is needed"):
        DustClient("https://dust.tt", KEY, "", url_style="workspace")


async def test_create_run_bodies_for_each_flavour():
    bodies: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        assert request.method == "POST"
        assert request.url.path == f"/api/v1/w/{WS}/spaces/{SPACE}/apps/{APP}/runs"
        return httpx.Response(200, json=RUN)

    async with make_client(handler) as client:
        await client.create_run(APP, "h" * 64, {"MODEL": {"x": 1}}, [{"q": "a"}])
        run = await client.create_run(
            APP, "latest", {}, [{"q": "b"}], blocking=True, block_filter=["DOUBLE"]
        )
    assert bodies == [
        {"specification_hash": "h" * 64, "config": {"MODEL": {"x": 1}}, "inputs": [{"q": "a"}]},
        {
            "specification_hash": "latest",
            "config": {},
            "inputs": [{"q": "b"}],
            "blocking": True,
            "block_filter": ["DOUBLE"],
        },
    ]
    assert run.status.run == "succeeded"
    assert run.results[1][0].value == {"x": 10}


ERROR_CASES = [
    (
        envelope(
            400,
            "invalid_request_error",
            "Invalid request body, `specification_hash` (string), `config` (object), and `inputs` (array) are required.",
        ),
        InvalidRequestError,
        "The request was refused (400). Server said: Invalid request body, `specification_hash` (string), `config` (object), and `inputs` (array) are required.",
    ),
    (
        envelope(
            400,
            "run_error",
            "There was an error running the app.",
            run_error={
                "code": "invalid_inputs_error",
                "message": "Inputs must all have the same keys",
            },
        ),
        RunError,
        "The inputs are invalid (invalid_inputs_error): Inputs must all have the same keys",
    ),
    (
        envelope(401, "invalid_api_key_error", f"The API key provided is invalid: {KEY}"),
        AuthError,
        "The API key was refused (invalid_api_key_error). Check DUST_API_KEY (or your profile's key) and the workspace id.",
    ),
    (
        envelope(403, "app_not_found", "The app was not found."),
        NotFoundError,
        "The app exists but this API key has no access to it.",
    ),
    (
        envelope(403, "workspace_auth_error", "Only builders can run apps."),
        AuthError,
        "This API key is not allowed to do that (workspace_auth_error). Server said: Only builders can run apps.",
    ),
    (
        envelope(404, "workspace_not_found", "The workspace was not found."),
        NotFoundError,
        "The workspace was not found: check the workspace id and the base URL (US or EU).",
    ),
    (
        envelope(404, "space_not_found", "Space not found."),
        NotFoundError,
        "The space was not found in this workspace: check the space id.",
    ),
    (
        envelope(404, "app_not_found", "The app was not found."),
        NotFoundError,
        "The app was not found in this space: check the app id.",
    ),
    (
        envelope(405, "method_not_supported_error", "POST is expected."),
        InvalidRequestError,
        f"The server does not support this method here (GET /api/v1/w/{WS}/spaces/{SPACE}/apps/{APP}/runs/r1). Server said: POST is expected.",
    ),
    (
        httpx.Response(413, text="Request Entity Too Large"),
        InvalidRequestError,
        "The request is too large: the body (config + inputs) must stay under 4 MB.",
    ),
    (
        httpx.Response(
            429,
            headers={"Retry-After": "3600"},
            json={
                "error": {
                    "type": "rate_limit_error",
                    "message": "You have reached the maximum number of 10000 runs over the last 24 hours.",
                }
            },
        ),
        RateLimitedError,
        "Rate limited: too many runs for this app (10,000 per 24 h). Retry in 3600 s.",
    ),
    (
        envelope(500, "internal_server_error", "boom"),
        ServerError,
        "The server failed (500); try again later. Server said: boom",
    ),
]


@pytest.mark.parametrize(("response", "kind", "message"), ERROR_CASES)
async def test_error_mapping_gives_user_messages(response, kind, message, sleeps):
    async with make_client(lambda r: response, sleeps) as client:
        with pytest.raises(kind) as info:
            await client.get_run(APP, "r1")
    err = info.value
    assert err.user_message == message
    assert err.status == response.status_code
    assert KEY not in str(err) and KEY not in repr(err) and KEY not in (err.server_message or "")
    if kind is RunError:
        assert err.code == "invalid_inputs_error"
    if kind is RateLimitedError:
        assert err.retry_after == 3600.0
        assert sleeps.delays == []  # an hour is beyond the retry budget: report at once


async def test_get_retries_transient_failures_with_backoff_then_succeeds(sleeps):
    answers = [
        httpx.Response(503, text="upstream unavailable"),
        httpx.Response(
            429,
            headers={"Retry-After": "2"},
            json={"error": {"type": "rate_limit_error", "message": "slow down"}},
        ),
        httpx.Response(200, json=RUN),
    ]
    calls = []

    def handler(request):
        calls.append(request.url.path)
        return answers[len(calls) - 1]

    async with make_client(handler, sleeps, backoff=0.5) as client:
        run = await client.get_run(APP, RUN_ID)
    assert run.run_id == RUN_ID
    assert len(calls) == 3
    assert 0.25 <= sleeps.delays[0] <= 0.5  # first backoff step, with jitter
    assert sleeps.delays[1] == 2.0  # Retry-After honoured


async def test_get_gives_up_after_max_retries(sleeps):
    calls = []

    def handler(request):
        calls.append(1)
        raise httpx.ReadError("connection reset by peer")

    async with make_client(handler, sleeps, max_retries=2) as client:
        with pytest.raises(DustConnectionError) as info:
            await client.get_run(APP, RUN_ID)
    assert len(calls) == 3
    assert len(sleeps.delays) == 2
    assert (
        info.value.user_message
        == "The connection to https://dust.tt failed: connection reset by peer."
    )


async def test_post_that_may_have_created_a_run_is_never_repeated(sleeps):
    calls = []

    def handler(request):
        calls.append(1)
        return httpx.Response(503, text="gateway timeout")

    async with make_client(handler, sleeps) as client:
        with pytest.raises(ServerError):
            await client.create_run(APP, "h" * 64, {}, [{}])
    assert calls == [1]

    calls.clear()

    def drops(request):
        calls.append(1)
        raise httpx.ReadError("server closed the connection")

    async with make_client(drops, sleeps) as client:
        with pytest.raises(DustConnectionError):
            await client.create_run(APP, "h" * 64, {}, [{}])
    assert calls == [1]


async def test_post_is_retried_when_nothing_was_created(sleeps):
    answers = [
        httpx.ConnectError("connection refused"),
        httpx.Response(
            429,
            headers={"Retry-After": "1"},
            json={"error": {"type": "rate_limit_error", "message": "x"}},
        ),
        httpx.Response(200, json=RUN),
    ]
    calls = []

    def handler(request):
        calls.append(1)
        answer = answers[len(calls) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    async with make_client(handler, sleeps) as client:
        run = await client.create_run(APP, "h" * 64, {}, [{}])
    assert run.run_id == RUN_ID
    assert len(calls) == 3
    assert sleeps.delays[1] == 1.0


async def test_non_json_answer_is_explained():
    async with make_client(lambda r: httpx.Response(200, text="<html>login</html>")) as client:
        with pytest.raises(StreamProtocolError, match="not JSON: is the base URL right"):
            await client.get_run(APP, RUN_ID)


async def test_stream_run_refuses_a_non_stream_answer():
    async with make_client(lambda r: httpx.Response(200, json=RUN)) as client:
        with pytest.raises(StreamProtocolError) as info:
            async with client.stream_run(APP, "h" * 64, {}, [{}]):
                pass
    assert (
        info.value.user_message == "Expected an event stream but the server sent application/json."
    )


async def test_list_runs_extension():
    def handler(request):
        assert request.url.params["limit"] == "5" and request.url.params["offset"] == "10"
        run = dict(RUN["run"], traces=[])
        return httpx.Response(200, json={"runs": [run], "total": 11})

    async with make_client(handler) as client:
        runs, total = await client.list_runs(APP, limit=5, offset=10)
    assert ([r.run_id for r in runs], total) == ([RUN_ID], 11)


async def test_key_never_shows_in_repr_or_curl():
    client = make_client(lambda r: httpx.Response(200, json=RUN))
    request = client.build_create_run_request(
        APP, "h" * 64, {"A": {}}, [{"q": "it's"}], stream=True
    )
    curl = as_curl(request)
    assert KEY not in repr(client) and KEY not in curl
    assert curl == (
        "curl -sS -N -X POST "
        f"https://dust.tt/api/v1/w/{WS}/spaces/{SPACE}/apps/{APP}/runs "
        '-H "Authorization: Bearer $DUST_API_KEY" '
        "-H 'Content-Type: application/json' "
        "--data-binary "
        '\'{"specification_hash":"hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh",'
        '"config":{"A":{}},"inputs":[{"q":"it\'"\'"\'s"}],"stream":true}\''
    )
    await client.aclose()
