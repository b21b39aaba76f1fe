"""How fast dusttui ingests a run stream, side by side with its floor, its limit and the SDK.

Serves a synthetic ~100,000-event run stream (bench/stream_server.py, its own process, loopback)
and measures, interleaved round by round, events per second for:

  (a) dusttui: watch_run + RunState (SSE decode, validate every event, reduce), stream phase;
      the final confirming GET (the whole run, reconciled) is timed separately
  (b) floor of the stack: httpx_sse.aiter_sse() + json.loads, nothing else
  (c) practical Python limit: httpx aiter_bytes(), split on blank lines, orjson.loads
  (d) the official SDK: @dust-tt/client 1.2.4 on Node, runAppStreamed, counting events
  (e) curl -N, bytes only

Run:  python bench/stream_ingest.py [--events 100000] [--rounds 5] [--sdk-rounds 1] [--no-sdk]
Prints a table, writes its section in BENCHMARKS.md, and ends with
``ratio_floor=(a)/(b) ratio_limit=(a)/(c) ratio_sdk=(a)/(d)`` for the 300-byte stream.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import httpx_sse
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dusttui.api.client import DustClient  # noqa: E402
from dusttui.api.watch import watch_run  # noqa: E402

SDK_DIR = ROOT / "bench" / "sdk"
APPS = {"ev300": "300-byte", "ev2k": "2 KB"}
SECTION = "Stream ingest (bench/stream_ingest.py)"
NOTES = (
    "How (a) keeps up with a parser that validates nothing: one split per chunk for SSE; the hot "
    "event types validated by pydantic-core against TypedDict schemas equivalent to the models "
    "(plain dicts, no model instances; models built only when an update's `event` is read); "
    "executions kept as their JSON text until first read, so the garbage collector does not "
    "rescan hundreds of thousands of objects. `model_construct` and hand-built models were "
    "measured slower than pydantic-core here, so they are not used."
)
BODY = {"specification_hash": "ab" * 32, "config": {}, "inputs": [{}], "stream": True}


def runs_url(base: str, app: str) -> str:
    return f"{base}/api/v1/w/w/spaces/s/apps/{app}/runs"


async def measure_dusttui(base: str, app: str) -> tuple[int, float, float]:
    """(events, seconds to `final`, seconds of the final GET + reconcile)."""
    async with DustClient(base, "bench-key", "w", "s") as client:
        events = 0
        t0 = time.perf_counter()
        t_final = t0
        async for update in watch_run(client, app, request=("ab" * 32, {}, [{}])):
            if update.event_type is not None:  # (update.event would build the event's model)
                events += 1
                if update.event_type == "final":
                    t_final = time.perf_counter()
        t_end = time.perf_counter()
        assert update.state.status == "succeeded" and update.dropped_events == 0
    return events, t_final - t0, t_end - t_final


async def measure_httpx_sse(base: str, app: str) -> tuple[int, float]:
    async with httpx.AsyncClient(timeout=None) as client:
        events = 0
        t0 = time.perf_counter()
        async with httpx_sse.aconnect_sse(client, "POST", runs_url(base, app), json=BODY) as source:
            async for sse in source.aiter_sse():
                json.loads(sse.data)
                events += 1
        return events, time.perf_counter() - t0


async def measure_split(base: str, app: str) -> tuple[int, float]:
    async with httpx.AsyncClient(timeout=None) as client:
        events = 0
        t0 = time.perf_counter()
        async with client.stream("POST", runs_url(base, app), json=BODY) as response:
            rest = b""
            async for chunk in response.aiter_bytes():
                parts = (rest + chunk).split(b"\n\n")
                rest = parts.pop()
                for part in parts:
                    orjson.loads(part[6:])
                    events += 1
        return events, time.perf_counter() - t0


def measure_sdk(base: str, app: str) -> tuple[int, float] | str:
    node = shutil.which("node")
    if node is None:
        return "node is not installed"
    if not (SDK_DIR / "node_modules" / "@dust-tt" / "client").is_dir():
        return "SDK not installed (cd bench/sdk && npm install)"
    out = subprocess.run(
        [node, "run.mjs", base, "w", "s", app, "ab" * 32],
        cwd=SDK_DIR,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if out.returncode != 0:
        return f"SDK run failed: {out.stderr.strip()[:200]}"
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return int(result["events"]), float(result["seconds"])


def measure_curl(base: str, app: str) -> tuple[int, float] | str:
    curl = shutil.which("curl")
    if curl is None:
        return "curl is not installed"
    out = subprocess.run(
        [
            curl,
            "-sN",
            "-X",
            "POST",
            runs_url(base, app),
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            json.dumps(BODY),
            "-o",
            "/dev/null",
            "-w",
            "%{size_download} %{time_total}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    size, seconds = out.stdout.split()
    return int(size), float(seconds)


def start_server(events: int) -> tuple[subprocess.Popen, str, dict[str, int]]:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "stream_server.py"), str(events)],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline().split()  # "PORT n app=bytes ..."
    sizes = {k: int(v) for k, v in (item.split("=") for item in line[2:])}
    return proc, f"http://127.0.0.1:{line[1]}", sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sdk-rounds", type=int, default=1, help="the SDK is slow: fewer rounds")
    parser.add_argument("--no-sdk", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()

    proc, base, sizes = start_server(args.events)
    rates: dict[tuple[str, str], list[float]] = {}
    extra: dict[str, list[float]] = {}
    notes: dict[str, str] = {}
    counts: dict[str, int] = {}
    try:
        for rnd in range(args.rounds):
            for app in APPS:
                n, t, t_get = asyncio.run(measure_dusttui(base, app))
                counts[app] = n
                rates.setdefault(("a", app), []).append(n / t)
                extra.setdefault(f"get-{app}", []).append(t_get)
                for key, fn in (("b", measure_httpx_sse), ("c", measure_split)):
                    m, t = asyncio.run(fn(base, app))
                    assert m == n, (key, m, n)
                    rates.setdefault((key, app), []).append(m / t)
                if not args.no_sdk and rnd < args.sdk_rounds:
                    got = measure_sdk(base, app)
                    if isinstance(got, str):
                        notes["d"] = got
                    else:
                        assert got[0] == n, ("sdk", got[0], n)
                        rates.setdefault(("d", app), []).append(got[0] / got[1])
                got = measure_curl(base, app)
                if isinstance(got, str):
                    notes["e"] = got
                else:
                    rates.setdefault(("e", app), []).append(n / got[1])
                    extra.setdefault(f"curl-mbs-{app}", []).append(got[0] / got[1] / 1e6)
                print(f"round {rnd + 1}/{args.rounds} {app} done", file=sys.stderr, flush=True)
    finally:
        proc.terminate()
        proc.wait()

    if args.no_sdk:
        notes["d"] = "skipped (--no-sdk)"
    labels = {
        "a": "(a) dusttui watch + RunState",
        "b": "(b) httpx_sse + json.loads (floor)",
        "c": "(c) aiter_bytes + split + orjson (limit)",
        "d": "(d) @dust-tt/client 1.2.4, Node " + node_version(),
        "e": "(e) curl -N (bytes only)",
    }

    def med(key: str, app: str) -> float | None:
        values = rates.get((key, app))
        return statistics.median(values) if values else None

    lines = [
        f"| measure | {' | '.join(f'{APPS[a]} events/s' for a in APPS)} |",
        f"|---|{'---:|' * len(APPS)}",
    ]
    for key, label in labels.items():
        cells = []
        for app in APPS:
            value = med(key, app)
            cells.append(f"{value:,.0f}" if value else notes.get(key, "n/a"))
        lines.append(f"| {label} | {' | '.join(cells)} |")

    def round_ratio(top: str, bottom: str, app: str) -> float | None:
        # Per-round ratios (both measured back to back) resist load drift better than medians.
        pairs = list(zip(rates.get((top, app), []), rates.get((bottom, app), []), strict=False))
        return statistics.median(x / y for x, y in pairs) if pairs else None

    ratio_lines = []
    for app in APPS:
        floor, limit = round_ratio("a", "b", app), round_ratio("a", "c", app)
        a, d = med("a", app), med("d", app)
        ratio_lines.append(
            f"{APPS[app]}: ratio_floor={floor:.2f} ratio_limit={limit:.2f} "
            f"ratio_sdk={(f'{a / d:.1f}' if d else 'unavailable')}"
        )
    get_lines = [
        f"- final confirming GET + reconcile ({APPS[app]}, whole run "
        f"{counts[app] // 3:,} blocks): {statistics.median(extra[f'get-{app}']):.2f} s"
        for app in APPS
    ]
    stream_lines = [
        f"- stream: {counts[app]:,} events, {sizes[app] / 1e6:.1f} MB on the wire ({APPS[app]} "
        "block_execution events, each between a running and a succeeded block_status)"
        for app in APPS
    ]
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    final = ratio_lines[0].split(": ", 1)[1]
    section = "\n".join(
        [
            f"## {SECTION}",
            "",
            "Command: `python bench/stream_ingest.py "
            f"--events {args.events} --rounds {args.rounds} --sdk-rounds {args.sdk_rounds}`",
            "",
            f"Machine: {machine}. Loopback server in its own process (raw asyncio, chunked HTTP, "
            "16 KiB chunks). Medians over the rounds; measures interleaved within each round.",
            "",
            *stream_lines,
            "",
            *lines,
            "",
            *get_lines,
            "  (these runs' GET bodies, 13 and 66 MB, are beyond the hosted 8 MB answer limit)",
            "",
            NOTES,
            "",
            "Ratios (a)/(b) and (a)/(c): median of per-round ratios; (a)/(d): medians:",
            "",
            *[f"- {r}" for r in ratio_lines],
            "",
        ]
    )
    print(section)
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", SECTION, section)
    print(final)


def node_version() -> str:
    node = shutil.which("node")
    if node is None:
        return "absent"
    return subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()


def write_section(path: Path, name: str, section: str) -> None:
    """Replace (or add) the ``## name`` section of BENCHMARKS.md, keeping the others."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    header = f"## {name}"
    start = text.find(f"\n{header}\n")
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        text = text[: start + 1] + section + ("" if end == -1 else text[end:])
    path.write_text(text.rstrip("\n") + "\n")


if __name__ == "__main__":
    main()
