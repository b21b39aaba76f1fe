"""The local engine's life and its connection limits, measured side by side.

    python bench/engine_life.py [--rounds 5] [--idle 1100] [--nofile 1024]

1. Local engine: a cold start (`ensure_local_engine` on a fresh data dir, process spawn to first
   answer), a reuse (`ensure_local_engine` finding it) and `find_local_engine`, best of N rounds.
2. Idle sockets: an engine in a child process limited to NOFILE open files, IDLE idle sockets
   opened against it, then the time until one real request is answered — the engine as built
   (header deadline, idle cap, small accept bursts) beside the same engine served with uvicorn's
   defaults (no cap, bursts of 2048), which is how the engine ran before.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx

from dusttui.engine.local import ensure_local_engine, find_local_engine, stop_local_engine

KEY = "sk-bench-7a1c9e3f5b2d4a6c8e0f"

_SERVE = textwrap.dedent(
    """
    import sys, uvicorn
    from pathlib import Path
    from dusttui.engine.embedded import build_engine
    from dusttui.engine.serving import EngineServer, bind, url_of
    parts = build_engine(data_dir=Path(sys.argv[1]), api_key=sys.argv[2])
    sock = bind("127.0.0.1", 0)
    sock.listen(2048)
    print(url_of(sock), flush=True)
    if sys.argv[3] == "hardened":
        EngineServer(parts.app, parts.life).run(sockets=[sock])
    else:  # uvicorn's defaults, as the engine was served before
        uvicorn.Server(uvicorn.Config(parts.app, log_level="critical", lifespan="on")).run(sockets=[sock])
    """
)


def local_engine(rounds: int) -> dict[str, float]:
    best = {"cold start": 1e9, "reuse (ensure)": 1e9, "find": 1e9}
    for _ in range(rounds):
        folder = Path(tempfile.mkdtemp()) / "engine"
        t0 = time.perf_counter()
        ensure_local_engine(folder)
        t1 = time.perf_counter()
        ensure_local_engine(folder)
        t2 = time.perf_counter()
        find_local_engine(folder)
        t3 = time.perf_counter()
        stop_local_engine(folder)
        best["cold start"] = min(best["cold start"], t1 - t0)
        best["reuse (ensure)"] = min(best["reuse (ensure)"], t2 - t1)
        best["find"] = min(best["find"], t3 - t2)
    return best


def idle_sockets(variant: str, idle: int, nofile: int) -> str:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    data = tempfile.mkdtemp()
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVE, data, KEY, variant],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        preexec_fn=limit,
    )
    sockets: list[socket.socket] = []
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        host, port = url.removeprefix("http://").split(":")
        sockets = [socket.create_connection((host, int(port))) for _ in range(idle)]
        start = time.perf_counter()
        try:
            httpx.get(
                url + "/dusttui/v1/engine", headers={"Authorization": f"Bearer {KEY}"}, timeout=30
            )
            return f"a request answered in {time.perf_counter() - start:.2f} s"
        except httpx.HTTPError:
            return f"no answer to a request within {time.perf_counter() - start:.0f} s"
    finally:
        for sock in sockets:
            sock.close()
        proc.kill()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--idle", type=int, default=1100)
    parser.add_argument("--nofile", type=int, default=1024)
    args = parser.parse_args()
    os.environ.setdefault("DUSTTUI_ENGINE_IDLE_SECONDS", "60")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    for name, seconds in local_engine(args.rounds).items():
        print(f"local engine, {name}: {seconds * 1000:.1f} ms (best of {args.rounds})")
    for variant in ("hardened", "uvicorn-defaults"):
        answer = idle_sockets(variant, args.idle, args.nofile)
        print(
            f"{args.idle} idle sockets, ulimit -n {args.nofile}, {variant}: a request answered in {answer}"
        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
