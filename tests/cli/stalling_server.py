"""A Dust API that streams the first events of a run, then stalls (run as a script, killed by tests).

    python tests/cli/stalling_server.py     # prints its URL on stdout, serves until killed

GET answers the run as still running, so a follower keeps polling until the server is gone.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

FIXTURES = Path(__file__).parents[1] / "fixtures" / "streams"
STREAM = (FIXTURES / "ok_two_inputs.sse").read_bytes()
FINAL = json.loads((FIXTURES / "ok_two_inputs.run.json").read_text())
APP = {
    "id": 1,
    "sId": "app1",
    "name": "remote-app",
    "savedSpecification": None,
    "savedConfig": "{}",
    "dustAPIProjectId": "1",
}
HEAD = b"".join(STREAM.split(b"\n\n")[i] + b"\n\n" for i in range(2))  # run_status, block running


def running() -> dict:
    run = json.loads(json.dumps(FINAL))
    run["run"]["status"]["run"] = "running"
    run["run"]["status"]["blocks"] = [dict(run["run"]["status"]["blocks"][0], status="running")]
    run["run"]["traces"], run["run"]["results"] = [], None
    return run


async def apps(request):
    return JSONResponse({"apps": [APP]})


async def runs(request):
    async def body():
        yield HEAD
        while True:  # a block that never ends, keep-alives only
            await asyncio.sleep(1.0)
            yield b": keep-alive\n\n"

    return StreamingResponse(body(), media_type="text/event-stream")


async def get_run(request):
    return JSONResponse(running())


def main() -> None:
    prefix = "/api/v1/w/{w}/spaces/{s}"
    app = Starlette(
        routes=[
            Route(prefix + "/apps", apps),
            Route(prefix + "/apps/{a}/runs", runs, methods=["POST"]),
            Route(prefix + "/apps/{a}/runs/{r}", get_run),
        ]
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    print(f"http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, log_level="error", lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    sys.exit(main())
