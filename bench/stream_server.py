"""A tiny raw-asyncio HTTP/1.1 server for bench/stream_ingest.py, run in its own process.

It serves a synthetic ~100,000-event Dust run stream on POST .../apps/{app}/runs (chunked,
16 KiB HTTP chunks) and the matching final run on GET .../runs/{run_id}. Apps: ``ev300`` (one
input, ~300-byte block_execution events) and ``ev2k`` (four inputs, ~2 KB block_execution events).
Every stream is a correct run: run_status running, then per block block_status running,
block_execution, block_status succeeded; then run_status succeeded and final.
"""

from __future__ import annotations

import asyncio
import sys

import orjson

CHUNK = 16 * 1024


def _event(kind: str, content: object) -> bytes:
    return b"data: " + orjson.dumps({"type": kind, "content": content}) + b"\n\n"


def build(app: str, events: int) -> tuple[str, bytes, bytes]:
    """(run_id, chunked stream body, GET answer) for one synthetic run."""
    inputs, pad = (1, 190) if app == "ev300" else (4, 395)
    run_id = (app.encode().hex() * 64)[:64]
    blocks = max(1, (events - 3) // 3)
    out = [_event("run_status", {"status": "running", "run_id": run_id})]
    status_blocks, traces = [], []
    for k in range(blocks):
        btype, name = ("input", "INPUT") if k == 0 else ("code", f"B{k:06d}")
        out.append(
            _event(
                "block_status",
                {
                    "block_type": btype,
                    "name": name,
                    "status": "running",
                    "success_count": 0,
                    "error_count": 0,
                },
            )
        )
        execution = [
            [{"value": {"i": i, "k": k, "text": "x" * pad}, "error": None, "meta": {"logs": []}}]
            for i in range(inputs)
        ]
        out.append(
            _event(
                "block_execution", {"block_type": btype, "block_name": name, "execution": execution}
            )
        )
        done = {
            "block_type": btype,
            "name": name,
            "status": "succeeded",
            "success_count": inputs,
            "error_count": 0,
        }
        out.append(_event("block_status", done))
        status_blocks.append(done)
        traces.append([[btype, name], execution])
    out.append(_event("run_status", {"status": "succeeded", "run_id": run_id}))
    out.append(_event("final", None))
    body = b"".join(out)
    chunked = (
        b"".join(
            b"%x\r\n" % len(body[i : i + CHUNK]) + body[i : i + CHUNK] + b"\r\n"
            for i in range(0, len(body), CHUNK)
        )
        + b"0\r\n\r\n"
    )
    run = {
        "run": {
            "run_id": run_id,
            "created": 1764320000000,
            "run_type": "deploy",
            "specification_hash": "ab" * 32,
            "config": {"blocks": {}},
            "status": {"run": "succeeded", "blocks": status_blocks},
            "traces": traces,
            "results": traces[-1][1],
        }
    }
    return run_id, chunked, orjson.dumps(run)


async def main(events: int) -> None:
    runs = {app: build(app, events) for app in ("ev300", "ev2k")}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                length = 0
                for line in lines[1:]:
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                if length:
                    await reader.readexactly(length)
                path = target.split("?", 1)[0].rstrip("/").split("/")
                app = path[path.index("apps") + 1] if "apps" in path else ""
                if app not in runs:
                    writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                elif method == "POST":
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                        b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n"
                    )
                    writer.write(runs[app][1])
                else:
                    body = runs[app][2]
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n" % len(body)
                    )
                    writer.write(body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, limit=1 << 20)
    port = server.sockets[0].getsockname()[1]
    sizes = " ".join(f"{app}={len(r[1])}" for app, r in runs.items())
    print(f"PORT {port} {sizes}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
