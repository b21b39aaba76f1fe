"""A local-engine-like server for the journal benchmark, run in its own process.

`python bench/journal_server.py INPUTS` prints `http://127.0.0.1:PORT` once listening. It lists
one app, `big`, and streams a run of INPUTS inputs through four blocks (input, A, B, C: 4 ×
INPUTS executions of ~100 bytes each — 49,000 inputs make 196,000 executions, a 20 MB run), each
block taking 0.6 s, as the local engine would; it answers the local engine's status form, and GET
with the whole run. Any bearer key is accepted.
"""

from __future__ import annotations

import asyncio
import socket
import sys

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

RUN_ID = "c" * 64
BLOCKS = [("input", "INPUT"), ("code", "A"), ("code", "B"), ("code", "C")]
PAD = "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz"
APP = {
    "id": 1,
    "sId": "big",
    "name": "big",
    "description": "196,000 executions (journal benchmark).",
    "savedSpecification": None,
    "savedConfig": "{}",
    "savedRun": None,
    "dustAPIProjectId": "1",
    "space": {"sId": "s", "name": "bench", "kind": "global", "isRestricted": False, "groupIds": []},
}
BLOCK_SECONDS = 0.6


def executions(name: str, inputs: int) -> list[list[dict[str, object]]]:
    """One block's executions (one per input)."""
    if name == "INPUT":
        return [[{"value": {"n": i}, "error": None, "meta": None}] for i in range(inputs)]
    return [
        [{"value": {"n": i, "step": name, "pad": PAD}, "error": None, "meta": {"logs": []}}]
        for i in range(inputs)
    ]


class Run:
    """The run, built once: its events and its JSON forms."""

    def __init__(self, inputs: int) -> None:
        self.inputs = inputs
        self.traces = [[[t, n], executions(n, inputs)] for t, n in BLOCKS]
        self.done = 0  # blocks over
        blocks = [self._status(t, n, "succeeded") for t, n in BLOCKS]
        self.final = orjson.dumps(
            {
                "run": {
                    "run_id": RUN_ID,
                    "created": 1,
                    "run_type": "deploy",
                    "specification_hash": "d" * 64,
                    "config": {"blocks": {}},
                    "status": {"run": "succeeded", "blocks": blocks},
                    "traces": self.traces,
                    "results": self.traces[-1][1],
                    "dusttui": self._ext(None),
                }
            }
        )

    def _status(self, block_type: str, name: str, status: str) -> dict[str, object]:
        ok = self.inputs if status == "succeeded" else 0
        return {
            "block_type": block_type,
            "name": name,
            "status": status,
            "success_count": ok,
            "error_count": 0,
        }

    def _ext(self, end_reason: str | None) -> dict[str, object]:
        blocks = [{"block_type": t, "name": n, "total": self.inputs} for t, n in BLOCKS]
        return {"end_reason": end_reason, "blocks": blocks}

    def status_form(self) -> bytes:
        over = self.done >= len(BLOCKS)
        blocks = [
            self._status(t, n, "succeeded" if k < self.done else "running")
            for k, (t, n) in enumerate(BLOCKS[: self.done + 1])
        ]
        return orjson.dumps(
            {
                "run": {
                    "run_id": RUN_ID,
                    "created": 1,
                    "run_type": "deploy",
                    "specification_hash": "d" * 64,
                    "config": {"blocks": {}},
                    "status": {"run": "succeeded" if over else "running", "blocks": blocks},
                    "traces": [],
                    "results": None,
                    "dusttui": self._ext(None),
                }
            }
        )

    async def events(self):  # type: ignore[no-untyped-def]
        def event(kind: str, content: object) -> bytes:
            return b"data: " + orjson.dumps({"type": kind, "content": content}) + b"\n\n"

        self.done = 0
        yield event("run_status", {"status": "running", "run_id": RUN_ID})
        for (block_type, name), (_, execution) in zip(BLOCKS, self.traces, strict=True):
            yield event("block_status", self._status(block_type, name, "running"))
            await asyncio.sleep(BLOCK_SECONDS)
            yield event(
                "block_execution",
                {"block_type": block_type, "block_name": name, "execution": execution},
            )
            yield event("block_status", self._status(block_type, name, "succeeded"))
            self.done += 1
        yield event("run_status", {"status": "succeeded", "run_id": RUN_ID})
        yield event("final", None)


def main() -> None:
    run = Run(int(sys.argv[1]) if len(sys.argv) > 1 else 49_000)

    async def apps(request: Request) -> Response:
        return Response(orjson.dumps({"apps": [APP]}), media_type="application/json")

    async def runs(request: Request) -> Response:
        return StreamingResponse(run.events(), media_type="text/event-stream")

    async def status(request: Request) -> Response:
        return Response(run.status_form(), media_type="application/json")

    async def get_run(request: Request) -> Response:
        return Response(run.final, media_type="application/json")

    prefix = "/api/v1/w/{w}/spaces/{s}/apps"
    app = Starlette(
        routes=[
            Route(prefix, apps),
            Route(prefix + "/{a}/runs", runs, methods=["POST"]),
            Route(prefix + "/{a}/runs/{r}/status", status),
            Route(prefix + "/{a}/runs/{r}", get_run),
        ]
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    print(f"http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="off")).run(sockets=[sock])


if __name__ == "__main__":
    main()
