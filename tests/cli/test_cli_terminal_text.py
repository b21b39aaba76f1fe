"""Nothing a server or a user wrote reaches the terminal raw (issue 10): the real binary, against
the real engine (an app whose values, errors and description carry escape sequences) and against
a server that sends what the engine never would (lone surrogates, hostile names and messages)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.cli.procs import cli_env, stop_engines

OSC52 = "\x1b]52;c;cHduZWQ=\x07"
EVIL_APP = r"""input INPUT { }

code EVIL {
  code:
```
_fun = (env) => {
  if (env.state.INPUT.fail) { throw new Error("bad \x1b]52;c;cHduZWQ=\x07 \x1b[2J \x9b31m end"); }
  return { text: "v\x1b[2J\x9b1m\x07\x7f\u202e" };
}
```
}
"""
RAW = (b"\x1b", b"\x07", b"\xc2\x9b", b"\x7f", b"\xe2\x80\xae")  # ESC, BEL, C1 CSI, DEL, RLO


def run_bytes(args: list[str], env: dict[str, str]) -> tuple[int, bytes, bytes]:
    done = subprocess.run(
        [sys.executable, "-m", "dusttui", *args], env=env, capture_output=True, timeout=60
    )
    return done.returncode, done.stdout, done.stderr


def assert_nothing_raw(*outputs: bytes) -> None:
    for out in outputs:
        for raw in RAW:
            assert raw not in out, (raw, out)
        out.decode("utf-8")  # no lone surrogate made it out either


@pytest.fixture
def evil_user(tmp_path):
    env = cli_env(tmp_path, apps={"evil": EVIL_APP})
    (tmp_path / "apps" / "evil.description.txt").write_text(f"Evil {OSC52} \x1b[2J app\n")
    yield env
    stop_engines(tmp_path / "data")


def test_run_get_watch_and_apps_show_escape_sequences_escaped(evil_user):
    code, out, err = run_bytes(["apps"], evil_user)
    assert code == 0, err
    assert_nothing_raw(out, err)
    evil = next(line for line in out.decode().splitlines() if line.startswith("evil "))
    assert evil.endswith("Evil \\x1b]52;c;cHduZWQ=\\x07 \\x1b[2J app")

    args = ["run", "evil", "--input", '{"fail": false}', "--input", '{"fail": true}']
    code, out, err = run_bytes(args, evil_user)
    assert code == 1, err
    assert_nothing_raw(out, err)
    text = out.decode()
    assert (
        "  EVIL (input 1): Error in `code`: Error: bad \\x1b]52;c;cHduZWQ=\\x07 \\x1b[2J " in text
    )
    assert "\\x9b31m end" in text
    run_id = text.split()[1]

    code, out, err = run_bytes(["get", run_id, "--app", "evil"], evil_user)
    assert code == 1, err
    assert_nothing_raw(out, err)
    assert "Error: bad \\x1b]52;c;cHduZWQ=\\x07" in out.decode()

    code, out, err = run_bytes(["watch", run_id, "--app", "evil"], evil_user)
    assert code == 1, err
    assert_nothing_raw(out, err)

    # --json: the exact values, escaped by JSON itself.
    code, out, err = run_bytes(["get", run_id, "--app", "evil", "--json"], evil_user)
    assert code == 1, err
    assert_nothing_raw(out, err)
    run = json.loads(out)
    value = run["traces"][1][1][0][0]["value"]
    assert value == {"text": "v\x1b[2J\x9b1m\x07\x7f\u202e"}
    error = run["traces"][1][1][1][0]["error"]
    assert error.startswith(
        "Error in `code`: Error: bad \x1b]52;c;cHduZWQ=\x07 \x1b[2J \x9b31m end"
    )


def test_a_succeeded_runs_results_are_shown_escaped(evil_user):
    code, out, err = run_bytes(["run", "evil", "--input", '{"fail": false}'], evil_user)
    assert code == 0, err
    assert_nothing_raw(out, err)
    assert (
        out.decode().splitlines()[-1] == '  [0] {"text": "v\\u001b[2J\\x9b1m\\u0007\\x7f\\u202e"}'
    )


# ------------------------------------------------------------------ a hostile server

HOSTILE_NAME = "app\x1b[2J\x9b1m"
FIXTURES = Path(__file__).parents[1] / "fixtures" / "streams"


def hostile_run() -> dict:
    final = json.loads((FIXTURES / "ok_two_inputs.run.json").read_text())
    final["run"]["traces"][1][1][0][0]["value"] = {"x": "C1 \x9b2J"}
    final["run"]["traces"][1][1][1][0] = {"value": None, "error": f"boom {OSC52}", "meta": None}
    final["run"]["status"]["run"] = "errored"
    final["run"]["status"]["blocks"][1].update(status="errored", success_count=1, error_count=1)
    final["run"]["results"] = None
    return final


def hostile_app() -> Starlette:
    app = {
        "id": 1,
        "sId": "app1",
        "name": HOSTILE_NAME,
        "description": f"desc {OSC52}",
        "savedSpecification": None,
        "savedConfig": "{}",
        "dustAPIProjectId": "1",
    }

    async def apps(request):
        return JSONResponse({"apps": [app]})

    async def get_run(request):
        if request.path_params["r"] == "gone":
            message = f"No run \x1b]0;title\x07 here {OSC52}"
            body = {"error": {"type": "invalid_request_error", "message": message}}
            return JSONResponse(body, status_code=422)
        run = hostile_run()
        if request.path_params["r"] == "surrogate":  # JSON may escape one; no run holds it
            run["run"]["traces"][1][1][0][0]["value"] = {"x": "lone \ud800"}
        return Response(json.dumps(run), media_type="application/json")

    prefix = "/api/v1/w/{w}/spaces/{s}"
    return Starlette(
        routes=[Route(prefix + "/apps", apps), Route(prefix + "/apps/{a}/runs/{r}", get_run)]
    )


@pytest.fixture
def hostile(tmp_path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(hostile_app(), log_level="error", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    env = cli_env(tmp_path)
    env.update(
        DUST_BASE_URL=f"http://127.0.0.1:{sock.getsockname()[1]}",
        DUST_WORKSPACE_ID="w",
        DUST_SPACE_ID="s",
        DUST_API_KEY="sk-hostile",
    )
    yield env
    server.should_exit = True
    thread.join(5)


def test_names_values_and_error_messages_from_a_server_are_shown_escaped(hostile):
    code, out, err = run_bytes(["apps"], hostile)
    assert code == 0, err
    assert_nothing_raw(out, err)
    assert out.decode() == "app\\x1b[2J\\x9b1m  app1  desc \\x1b]52;c;cHduZWQ=\\x07\n"

    run_id = "a" * 64
    code, out, err = run_bytes(["get", run_id, "--app", "app1"], hostile)
    assert code == 1, err
    assert_nothing_raw(out, err)
    text = out.decode()
    assert "  DOUBLE (input 1): boom \\x1b]52;c;cHduZWQ=\\x07" in text

    code, out, err = run_bytes(["get", run_id, "--app", "app1", "--json"], hostile)
    assert code == 1, err
    assert_nothing_raw(out, err)
    assert b'{"x":"C1 \\u009b2J"}' in out
    assert json.loads(out)["traces"][1][1][0][0]["value"] == {"x": "C1 \x9b2J"}

    code, out, err = run_bytes(["get", "gone", "--app", "app1"], hostile)
    assert (code, out) == (3, b"")
    assert_nothing_raw(err)
    assert "Server said: No run \\x1b]0;title\\x07 here \\x1b]52;c;cHduZWQ=\\x07" in err.decode()


def test_an_app_name_typed_by_the_user_is_echoed_escaped(hostile):
    code, out, err = run_bytes(["get", "a" * 64, "--app", "x\x1b[2Jy"], hostile)
    assert (code, out) == (2, b"")
    assert_nothing_raw(err)
    assert err.decode().startswith("dusttui: No app `x\\x1b[2Jy` here (apps: app\\x1b[2J\\x9b1m)")


def test_lone_surrogates_never_reach_the_terminal_and_never_crash(hostile, tmp_path):
    # A run holding one (valid JSON escape, invalid text) is refused with a sentence.
    code, out, err = run_bytes(["get", "surrogate", "--app", "app1"], hostile)
    assert (code, out) == (3, b"")
    assert err.startswith(b"dusttui: The server's run is not valid JSON (no low surrogate")
    # A file name that is not UTF-8 (Python reads it with lone surrogates) is shown escaped.
    missing = os.fsdecode(bytes(tmp_path) + b"/in\xff\x1b[2J.jsonl")
    code, out, err = run_bytes(["run", "app1", "--inputs", missing], hostile)
    assert (code, out) == (2, b"")
    assert_nothing_raw(err)
    assert err.decode().endswith("/in\\udcff\\x1b[2J.jsonl`.\n")
