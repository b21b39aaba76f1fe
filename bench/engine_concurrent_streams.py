"""50 concurrent streamed runs on one engine: all complete, no error, no lost event; how long.

    python bench/engine_concurrent_streams.py [--runs 50] [--token-delay 0.02] [--no-write]

The engine runs as its own process (``serve`` on 127.0.0.1, a fresh data dir), so the client's
work does not share its interpreter. The runs cycle through the bundled demos qa-demo,
map-reduce-demo and while-demo with their saved configs and sample inputs; the offline provider
streams tokens `--token-delay` seconds apart (as the TUI's default pacing does).

Each app is first streamed alone (best of 3: the reference); then all runs are streamed at once. A run
passes when its stream starts with `run_status` running, ends with `run_status` succeeded then
`final`, has exactly the reference's events (same multiset, run ids aside: nothing lost, nothing
extra), and GET afterwards answers it succeeded. Figures: the wall time of the concurrent batch
against the sum of the reference times (what the same runs take one after another), side by side.
Writes its section of BENCHMARKS.md unless `--no-write`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

APPS_DIR = ROOT / "dusttui" / "engine" / "apps"
APPS = ["qa-demo", "map-reduce-demo", "while-demo"]
KEY = "sk-bench-concurrent-streams"
PREFIX = "/api/v1/w/bench/spaces/bench/apps"
SECTION = "## Engine: 50 concurrent streamed runs"
COMMAND = "python bench/engine_concurrent_streams.py"

_SERVE = """
import sys
from pathlib import Path
from dusttui.engine.embedded import serve
serve("127.0.0.1", 0, None, None, data_dir=Path(sys.argv[1]), api_key=sys.argv[2],
      token_delay=float(sys.argv[3]), on_ready=lambda i: print(i.url, flush=True),
      log_level="warning", access_log=False)
"""


def body_for(app: str) -> dict[str, Any]:
    config = json.loads((APPS_DIR / f"{app}.config.json").read_text())
    lines = (APPS_DIR / f"{app}.inputs.jsonl").read_text().splitlines()
    inputs = [json.loads(line) for line in lines if line.strip()]
    return {"specification_hash": "latest", "config": config, "inputs": inputs, "stream": True}


async def stream_one(client: httpx.AsyncClient, app: str) -> tuple[list[str], str, float]:
    """Stream one run: its events (JSON text, run id blanked), its run id, its seconds."""
    start = time.perf_counter()
    events: list[str] = []
    async with client.stream("POST", f"{PREFIX}/{app}/runs", json=body_for(app)) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                events.append(line[len("data: ") :])
    elapsed = time.perf_counter() - start
    first = json.loads(events[0])
    run_id = first["content"]["run_id"]
    return [e.replace(run_id, "RUN") for e in events], run_id, elapsed


def check(app: str, events: list[str], reference: list[str]) -> str | None:
    """None when the stream is whole and right, else what is wrong."""
    decoded = [json.loads(e) for e in events]
    if decoded[0] != {"type": "run_status", "content": {"status": "running", "run_id": "RUN"}}:
        return f"{app}: first event {events[0]}"
    if decoded[-1] != {"type": "final", "content": None}:
        return f"{app}: last event {events[-1]}"
    if decoded[-2] != {"type": "run_status", "content": {"status": "succeeded", "run_id": "RUN"}}:
        return f"{app}: run did not succeed: {events[-2]}"
    if Counter(events) != Counter(reference):
        missing = sum((Counter(reference) - Counter(events)).values())
        extra = sum((Counter(events) - Counter(reference)).values())
        return f"{app}: {missing} events lost, {extra} unexpected"
    return None


async def bench(url: str, runs: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=runs + 10, max_keepalive_connections=runs + 10)
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=300, limits=limits) as c:
        references = {}
        for app in APPS:  # best of 3, so a first-call warm-up does not count
            runs_alone = [await stream_one(c, app) for _ in range(3)]
            references[app] = (runs_alone[0][0], min(r[2] for r in runs_alone))
        chosen = [APPS[i % len(APPS)] for i in range(runs)]
        start = time.perf_counter()
        results = await asyncio.gather(
            *(stream_one(c, app) for app in chosen), return_exceptions=True
        )
        wall = time.perf_counter() - start
        problems, events_total, tokens_total = [], 0, 0
        for app, result in zip(chosen, results, strict=True):
            if isinstance(result, BaseException):
                problems.append(f"{app}: {type(result).__name__}: {result}")
                continue
            events, run_id, _ = result
            events_total += len(events)
            tokens_total += sum('"type":"tokens"' in e for e in events)
            problem = check(app, events, references[app][0])
            got = (await c.get(f"{PREFIX}/{app}/runs/{run_id}")).json()["run"]["status"]["run"]
            if problem is None and got != "succeeded":
                problem = f"{app}: GET says {got}"
            if problem:
                problems.append(problem)
    sequential = sum(references[app][1] for app in chosen)
    return {
        "runs": runs,
        "complete": runs - len(problems),
        "problems": problems,
        "events": events_total,
        "tokens": tokens_total,
        "wall": wall,
        "sequential": sequential,
        "alone": {app: references[app][1] for app in APPS},
    }


def write_section(body: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    start = text.find(SECTION)
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + body
    else:
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + body + ("" if end == -1 else text[end + 1 :])
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--token-delay", type=float, default=0.02)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as data_dir:
        server = subprocess.Popen(
            [sys.executable, "-c", _SERVE, data_dir, KEY, str(args.token_delay)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        try:
            url = server.stdout.readline().strip()
            if not url.startswith("http://"):
                print("the engine did not start", file=sys.stderr)
                return 1
            figures = asyncio.run(bench(url, args.runs))
        finally:
            server.terminate()
            server.wait(timeout=30)

    ratio = figures["sequential"] / figures["wall"]
    alone = ", ".join(f"{app} {secs:.2f} s" for app, secs in figures["alone"].items())
    lines = [
        SECTION,
        "",
        f"Command: `{COMMAND}` (token pacing {args.token_delay} s; engine in its own process).",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| runs streamed at once (qa-demo, map-reduce-demo, while-demo in turn) | {figures['runs']} |",
        f"| runs complete, succeeded, every event as when run alone | {figures['complete']} |",
        f"| events received (of which `tokens`) | {figures['events']:,} ({figures['tokens']:,}) |",
        f"| wall time, all at once | {figures['wall']:.2f} s |",
        f"| same runs one after another (sum of each app alone: {alone}) | {figures['sequential']:.2f} s |",
        "",
        f"Concurrency speed-up (one after another ÷ all at once): **{ratio:.1f}×**; "
        f"errors: {len(figures['problems'])}; lost events: "
        f"{'none' if not figures['problems'] else 'see problems'}.",
        "",
    ]
    body = "\n".join(lines)
    print(body)
    for problem in figures["problems"]:
        print("PROBLEM:", problem)
    if not args.no_write:
        write_section(body)
    return 0 if not figures["problems"] else 1


if __name__ == "__main__":
    sys.exit(main())
