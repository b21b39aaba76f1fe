"""A paced Dust-protocol server for the TUI benchmarks, run in its own process.

`python bench/tui_stream_server.py RATE SECONDS` prints `http://127.0.0.1:PORT` once listening.
It lists one app, `stream-10k`, and streams a run at RATE events per second for SECONDS (batches
every 10 ms): `tokens` events for the llm block MODEL over 10 inputs, and every 100th event a
`block_status` of MODEL with its success count raised by one (a change the block table shows).
GET of the run answers the final run. Any bearer key is accepted.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

INPUTS = 10
RUN_ID = "b" * 64
SPEC = json.dumps(
    [
        {"type": "input", "name": "INPUT", "spec": {}, "config": {}, "indent": 0},
        {
            "type": "llm",
            "name": "MODEL",
            "spec": {"max_tokens": 64, "temperature": 0.7, "prompt": "{{INPUT.q}}"},
            "config": {"provider_id": "offline", "model_id": "echo", "use_stream": True},
            "indent": 0,
        },
    ]
)
CONFIG = {"MODEL": {"provider_id": "offline", "model_id": "echo", "use_stream": True}}
APP = {
    "id": 1,
    "sId": "stream10k",
    "name": "stream-10k",
    "description": "A paced stream for the TUI benchmark.",
    "savedSpecification": SPEC,
    "savedConfig": json.dumps(CONFIG),
    "savedRun": None,
    "dustAPIProjectId": "1",
    "space": {"sId": "s", "name": "bench", "kind": "global", "isRestricted": False, "groupIds": []},
    "dusttui": {"sampleInputs": [{"q": f"question {i}"} for i in range(INPUTS)]},
}


def _event(kind: str, content: object) -> bytes:
    return b"data: " + orjson.dumps({"type": kind, "content": content}) + b"\n\n"


def _status(block_type: str, name: str, status: str, ok: int) -> bytes:
    return _event(
        "block_status",
        {
            "block_type": block_type,
            "name": name,
            "status": status,
            "success_count": ok,
            "error_count": 0,
        },
    )


def _final_run(model_ok: int) -> dict:
    ex = [[{"value": {"completion": {"text": "done"}}, "error": None, "meta": None}]] * INPUTS
    inp = [[{"value": {"q": f"question {i}"}, "error": None, "meta": None}] for i in range(INPUTS)]
    return {
        "run_id": RUN_ID,
        "created": 1_767_225_600_000,
        "run_type": "deploy",
        "specification_hash": "a" * 64,
        "config": {"blocks": CONFIG},
        "status": {
            "run": "succeeded",
            "blocks": [
                {
                    "block_type": "input",
                    "name": "INPUT",
                    "status": "succeeded",
                    "success_count": INPUTS,
                    "error_count": 0,
                },
                {
                    "block_type": "llm",
                    "name": "MODEL",
                    "status": "succeeded",
                    "success_count": model_ok,
                    "error_count": 0,
                },
            ],
        },
        "traces": [[["input", "INPUT"], inp], [["llm", "MODEL"], ex]],
        "results": ex,
    }


class Paced:
    """The stream of one run: RATE events/s for SECONDS, in 10 ms batches on an absolute clock."""

    def __init__(self, rate: int, seconds: float) -> None:
        self.rate = rate
        self.seconds = seconds
        self.model_ok = 0

    async def body(self):
        yield _event("run_status", {"status": "running", "run_id": RUN_ID})
        yield _status("input", "INPUT", "running", 0)
        inputs = [
            [{"value": {"q": f"question {i}"}, "error": None, "meta": None}] for i in range(INPUTS)
        ]
        yield _event(
            "block_execution", {"block_type": "input", "block_name": "INPUT", "execution": inputs}
        )
        yield _status("input", "INPUT", "succeeded", INPUTS)
        yield _status("llm", "MODEL", "running", 0)
        per_batch = max(1, self.rate // 100)
        start = time.perf_counter()
        n = 0
        batch_no = 0
        while time.perf_counter() - start < self.seconds:
            chunk = []
            for _ in range(per_batch):
                n += 1
                if n % 100 == 0:
                    self.model_ok += 1
                    chunk.append(_status("llm", "MODEL", "running", self.model_ok))
                else:
                    chunk.append(
                        _event(
                            "tokens",
                            {
                                "block_type": "llm",
                                "block_name": "MODEL",
                                "input_index": n % INPUTS,
                                "map": None,
                                "tokens": {"text": f"t{n} "},
                            },
                        )
                    )
            yield b"".join(chunk)
            batch_no += 1
            delay = start + batch_no * 0.01 - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        ex = [[{"value": {"completion": {"text": "done"}}, "error": None, "meta": None}]] * INPUTS
        yield _event(
            "block_execution", {"block_type": "llm", "block_name": "MODEL", "execution": ex}
        )
        yield _status("llm", "MODEL", "succeeded", self.model_ok)
        yield _event("run_status", {"status": "succeeded", "run_id": RUN_ID})
        yield _event("final", None)


def build(rate: int, seconds: float) -> Starlette:
    """The ASGI app: apps list, streamed run, GET run."""
    state: dict[str, Paced] = {}

    async def apps(request: Request) -> JSONResponse:
        return JSONResponse({"apps": [APP]})

    async def runs(request: Request):
        paced = state["run"] = Paced(rate, seconds)
        return StreamingResponse(paced.body(), media_type="text/event-stream")

    async def run(request: Request) -> JSONResponse:
        paced = state.get("run")
        return JSONResponse({"run": _final_run(paced.model_ok if paced else 0)})

    prefix = "/api/v1/w/{w}/spaces/{s}/apps"
    return Starlette(
        routes=[
            Route(prefix, apps),
            Route(prefix + "/{a}/runs", runs, methods=["POST"]),
            Route(prefix + "/{a}/runs/{r}", run),
        ]
    )


def main() -> None:
    rate, seconds = int(sys.argv[1]), float(sys.argv[2])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    print(f"http://127.0.0.1:{port}", flush=True)
    config = uvicorn.Config(build(rate, seconds), log_level="warning", lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
