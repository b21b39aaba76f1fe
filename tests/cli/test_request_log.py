"""The request log: every call the client makes, key-free (scripted transports); `--verbose`
through the real binary against the real engine; a closed port said at once."""

from __future__ import annotations

import json

import httpx
import orjson
import pytest

from dusttui.api.errors import DustConnectionError, InvalidRequestError, ServerError
from dusttui.api.requestlog import BODY_KEEP, RequestLog
from tests.api.conftest import KEY, Sleeps, fixture_bytes, fixture_run, make_client, sse_response
from tests.cli.procs import cli_env, run_cli

APPS = {"apps": []}


async def test_each_attempt_is_a_record_with_status_bytes_time_and_retry():
    answers = [httpx.Response(503, json={"error": {"type": "x", "message": "busy"}})]
    answers.append(httpx.Response(200, json=APPS))
    log = RequestLog()
    seen = []
    log.subscribe(lambda r: seen.append((r.seq, r.done)))
    async with make_client(lambda request: answers.pop(0), request_log=log) as client:
        assert await client.list_apps() == []
    first, second = log.records()
    assert (first.method, first.url) == (
        "GET",
        "https://dust.tt/api/v1/w/w0rkspace/spaces/sp4ce/apps",
    )
    assert (first.status, first.retry, first.ok) == (503, 0, False)
    assert json.loads(first.response_head) == {"error": {"type": "x", "message": "busy"}}
    assert (second.status, second.retry, second.ok) == (200, 1, True)
    assert second.received_bytes == len(b'{"apps":[]}')
    assert second.sent_bytes == 0
    assert second.elapsed is not None and second.done
    assert seen == [(1, False), (1, True), (2, False), (2, True)]  # started, then done


async def test_the_key_never_enters_a_record_not_in_url_headers_body_or_answer():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400,
            json={"error": {"type": "invalid_request_error", "message": f"bad {KEY}"}},
            headers={"x-echo": KEY},
        )

    log = RequestLog()
    # A workspace id that is the key (a user's mistake) puts it in the URL.
    client = make_client(handler, request_log=log, url_style="workspace")
    client.workspace_id = KEY
    async with client:
        with pytest.raises(InvalidRequestError):
            await client.create_run("app", "h" * 64, {}, [{"q": f"my key is {KEY}"}])
    (record,) = log.records()
    assert record.request_headers["authorization"] == "Bearer ***"
    assert record.response_headers["x-echo"] == "***"
    assert record.url == "https://dust.tt/api/v1/w/***/apps/app/runs"
    assert b'"my key is ***"' in record.request_body
    assert json.loads(record.response_head)["error"]["message"] == "bad ***"
    assert record.sent_bytes == len(
        orjson.dumps(
            {"specification_hash": "h" * 64, "config": {}, "inputs": [{"q": f"my key is {KEY}"}]}
        )
    )
    assert KEY not in repr(record) and KEY.encode() not in record.request_body


async def test_a_stream_is_one_record_done_when_it_closes_with_every_byte_counted():
    body = fixture_bytes("ok_two_inputs")
    cut = body.index(b"\n\n") + 2
    # the key echoed in a comment, cut between two chunks: still never kept; a long keep-alive
    parts = [body[:cut], b": " + KEY.encode()[:5], KEY.encode()[5:] + b"\n\n"]
    parts += [b": " + b"." * 5000 + b"\n\n", body[cut:]]
    log = RequestLog()
    async with make_client(lambda r: sse_response(parts), request_log=log) as client:
        async with client.stream_run("app", "h" * 64, {}, [{"n": 2}]) as events:
            async for _ in events:
                assert not log.records()[0].done  # open while the stream runs
    (record,) = log.records()
    assert (record.method, record.status, record.stream, record.done) == ("POST", 200, True, True)
    assert record.received_bytes == sum(len(p) for p in parts)
    assert record.response_head == b"".join(parts).replace(KEY.encode(), b"***")[:BODY_KEEP]
    assert b": ***\n\n" in record.response_head
    assert record.request_headers["content-type"] == "application/json"


async def test_a_refused_connection_is_one_attempt_said_as_refused():
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("All connection attempts failed") from ConnectionRefusedError(
            111, "Connection refused"
        )

    log, sleeps = RequestLog(), Sleeps()
    async with make_client(refused, sleeps, request_log=log) as client:
        with pytest.raises(DustConnectionError) as caught:
            await client.list_apps()
    assert caught.value.user_message == (
        "Could not connect to https://dust.tt: connection refused (nothing listens there)."
    )
    (record,) = log.records()  # no retry: waiting would not change it
    assert (record.status, record.done, record.retry) == (None, True, 0)
    assert record.error == caught.value.user_message
    assert sleeps.delays == []


async def test_other_connect_failures_and_5xx_are_still_retried():
    calls = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            raise httpx.ConnectTimeout("timed out")
        return httpx.Response(502, text="bad gateway")

    log = RequestLog()
    async with make_client(flaky, max_retries=2, request_log=log) as client:
        with pytest.raises(ServerError):
            await client.get_run("app", "r" * 64)
    assert [(r.retry, r.status) for r in log.records()] == [(0, None), (1, 502), (2, 502)]
    assert log.records()[1].response_head == b"bad gateway"


async def test_the_log_keeps_the_last_records_only():
    log = RequestLog(limit=3)
    async with make_client(
        lambda r: httpx.Response(200, json=fixture_run("ok_two_inputs")), request_log=log
    ) as client:
        for _ in range(5):
            await client.get_run("app", "r" * 64)
    assert [r.seq for r in log.records()] == [3, 4, 5]


def test_verbose_prints_one_line_per_call_on_stderr_never_the_key(remote, tmp_path):
    env = cli_env(tmp_path)
    env.update(DUST_BASE_URL=remote.url, DUST_WORKSPACE_ID="w", DUST_SPACE_ID="s")
    env["DUST_API_KEY"] = remote.api_key
    args = ["run", "qa-demo", "--input", '{"question": "hi"}', "--json", "--verbose"]
    code, out, err = run_cli(args, env)
    assert code == 0, err
    assert json.loads(out)["status"]["run"] == "succeeded"  # stdout: only the run
    host = remote.url
    lines = [ln for ln in err.splitlines() if " → " in ln]
    assert lines[0].startswith(f"dusttui: GET {host}/api/v1/w/w/spaces/s/apps → 200 · ↑0 B ↓")
    post = next(ln for ln in lines if ln.startswith("dusttui: POST"))
    assert post.startswith(f"dusttui: POST {host}/api/v1/w/w/spaces/s/apps/")
    assert "/runs → 200 stream · ↑" in post
    assert remote.api_key not in err


def test_a_closed_port_is_said_at_once_with_exit_3(tmp_path):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    env = cli_env(tmp_path)
    env.update(DUST_BASE_URL=f"http://127.0.0.1:{port}", DUST_WORKSPACE_ID="w", DUST_API_KEY="sk-x")
    code, out, err = run_cli(["apps", "-v"], env)
    assert (code, out) == (3, "")
    lines = err.splitlines()
    assert len(lines) == 2, err  # one attempt, then the error
    assert lines[0].startswith(f"dusttui: GET http://127.0.0.1:{port}/api/v1/w/w/apps → failed")
    assert lines[1] == (
        f"dusttui: Could not connect to http://127.0.0.1:{port}: connection refused "
        "(nothing listens there)."
    )


def test_vv_adds_what_was_sent_and_the_answers_first_bytes_never_the_key(remote, tmp_path):
    env = cli_env(tmp_path)
    env.update(DUST_BASE_URL=remote.url, DUST_WORKSPACE_ID="w", DUST_SPACE_ID="s")
    env["DUST_API_KEY"] = remote.api_key
    question = json.dumps({"question": f"is {remote.api_key} my key?"})  # a key pasted in a value
    code, out, err = run_cli(["-vv", "run", "qa-demo", "--input", question, "--json"], env)
    assert code == 0, err
    assert json.loads(out)["status"]["run"] == "succeeded"  # stdout: still only the run
    assert remote.api_key not in err
    lines = err.splitlines()
    post = next(n for n, ln in enumerate(lines) if ln.startswith("dusttui: POST"))
    sent, answer = lines[post + 1], lines[post + 2]
    assert sent.startswith('  sent: {"specification_hash":"')
    assert '"inputs":[{"question":"is *** my key?"}],"stream":true}' in sent
    assert answer.startswith('  answer: data: {"type":"run_status","content":{"status":"running"')
    assert "\\n\\ndata: " in answer  # the stream's lines shown escaped, on one line
    assert answer.endswith(" in all)")  # the first 500 characters, then the whole size
    listing = next(n for n, ln in enumerate(lines) if ln.startswith("dusttui: GET"))
    assert lines[listing + 1].startswith('  answer: {"apps":[{')  # a GET sends nothing: no "sent"
    code, _, err = run_cli(["run", "qa-demo", "--input", question, "--json", "-v"], env)
    assert code == 0 and "  sent: " not in err and "  answer: " not in err  # -v: lines only
