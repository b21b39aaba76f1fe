"""The CLI against scripted remote servers (real sockets): 429 then success, a cut stream."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from dusttui.cli import main

FIXTURES = Path(__file__).parents[1] / "fixtures" / "streams"
STREAM = (FIXTURES / "ok_two_inputs.sse").read_bytes()
FINAL = json.loads((FIXTURES / "ok_two_inputs.run.json").read_text())
RUN_ID = FINAL["run"]["run_id"]
APP = {
    "id": 1,
    "sId": "app1",
    "name": "remote-app",
    "description": None,
    "savedSpecification": None,
    "savedConfig": "{}",
    "savedRun": None,
    "dustAPIProjectId": "1",
    "space": {
        "sId": "s1",
        "name": "Space",
        "kind": "global",
        "isRestricted": False,
        "groupIds": [],
    },
}


class Script:
    """What the scripted server does; tests set it and read what it saw."""

    def __init__(self) -> None:
        self.posts = 0
        self.gets = 0
        self.rate_limit_first = False
        self.cut_at: int | None = None


def make_app(script: Script) -> Starlette:
    async def apps(request):
        return JSONResponse({"apps": [APP]})

    async def runs(request):
        script.posts += 1
        body = await request.json()
        assert body["inputs"] == [{"n": 2}, {"n": 5}]
        if script.rate_limit_first and script.posts == 1:
            return JSONResponse(
                {"error": {"type": "rate_limit_error", "message": "Too many runs."}},
                status_code=429,
                headers={"Retry-After": "0"},
            )
        data = STREAM if script.cut_at is None else STREAM[: script.cut_at]

        async def body_iter():
            for i in range(0, len(data), 97):
                yield data[i : i + 97]
                await asyncio.sleep(0)

        return StreamingResponse(body_iter(), media_type="text/event-stream")

    async def get_run(request):
        script.gets += 1
        return JSONResponse(FINAL)

    prefix = "/api/v1/w/{w}/spaces/{s}"
    return Starlette(
        routes=[
            Route(prefix + "/apps", apps),
            Route(prefix + "/apps/{a}/runs", runs, methods=["POST"]),
            Route(prefix + "/apps/{a}/runs/{r}", get_run),
        ]
    )


@pytest.fixture
def scripted(monkeypatch):
    script = Script()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(make_app(script), log_level="error", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    monkeypatch.setenv("DUST_BASE_URL", f"http://127.0.0.1:{sock.getsockname()[1]}")
    monkeypatch.setenv("DUST_WORKSPACE_ID", "w1")
    monkeypatch.setenv("DUST_SPACE_ID", "s1")
    monkeypatch.setenv("DUST_API_KEY", "sk-scripted")
    yield script
    server.should_exit = True
    thread.join(5)


def run_cli(*args: str):
    return CliRunner().invoke(main, ["run", "remote-app", *args], catch_exceptions=False)


INPUTS = ["--input", '{"n": 2}', "--input", '{"n": 5}', "--hash", "ab" * 32, "--json"]


def test_rate_limited_then_success(scripted):
    scripted.rate_limit_first = True
    result = run_cli(*INPUTS)
    assert result.exit_code == 0, result.stderr
    assert scripted.posts == 2  # a 429 created nothing: the POST may be sent again
    run = json.loads(result.stdout)
    assert run["traces"] == FINAL["run"]["traces"]


def test_stream_cut_then_polling_reaches_the_servers_final_run(scripted):
    scripted.cut_at = STREAM.index(b"block_status", 700)  # mid-run, mid-event
    result = run_cli(*INPUTS)
    assert result.exit_code == 0, result.stderr
    assert scripted.posts == 1  # never re-created
    assert scripted.gets >= 1
    run = json.loads(result.stdout)
    assert run["status"] == FINAL["run"]["status"]
    assert run["results"] == FINAL["run"]["results"]
