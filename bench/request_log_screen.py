"""The request log screen's cost on the UI thread: 1,000 calls listed, one stream open.

    python bench/request_log_screen.py            # 5 rounds of 200 ticks, prints a Markdown table
    python bench/request_log_screen.py --calls 1000 --ticks 200 --rounds 5

While the screen is shown it catches up with the log 4 times a second. This measures one such
tick (wall and CPU time, median over rounds) with 1,000 finished calls listed and one streamed
answer still coming (its byte count grows every tick), as built (only the rows of calls not yet
finished are recomputed) beside the previous way (every row recomputed and compared), in one
run, alternated; and the first fill of the table (1,000 rows added). Headless (Textual's
``run_test``), no network: the records are made as the client makes them (RequestLog.start /
finish on httpx requests and responses).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from textual.app import App  # noqa: E402

from dusttui.api.requestlog import RequestLog, RequestRecord  # noqa: E402
from dusttui.tui.screens.requests import RequestsScreen  # noqa: E402

BASE = "http://127.0.0.1:8787/api/v1/w/local/spaces/local/apps"


class EveryRow(RequestsScreen):
    """The previous catch-up: every row recomputed and compared on every tick."""

    def rows_to_check(self, records: list[RequestRecord]) -> list[RequestRecord]:
        return records


def fill(log: RequestLog, calls: int) -> RequestRecord:
    """``calls`` finished calls, then one stream still open; returns the open one."""
    for i in range(calls):
        request = httpx.Request("GET", f"{BASE}/app{i % 7}/runs/{i:064x}")
        record = log.start(request, retry=0, stream=False, secret=None)
        response = httpx.Response(200, content=b'{"run": {}}' * 20, request=request)
        log.finish(record, response=response, secret=None)
    request = httpx.Request("POST", f"{BASE}/app0/runs", content=b'{"stream": true}')
    record = log.start(request, retry=0, stream=True, secret=None)
    log.answered(record, httpx.Response(200, request=request), None)
    return record


async def measure(screen_class: type[RequestsScreen], calls: int, ticks: int) -> dict[str, float]:
    log = RequestLog(limit=calls + 10)
    stream = fill(log, calls)
    app: App[None] = App()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = screen_class(log)
        wall0, cpu0 = time.perf_counter(), time.process_time()
        await app.push_screen(screen)  # mounts: the first catch-up fills the table
        fill_wall, fill_cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        await pilot.pause()
        wall = cpu = 0.0
        for _ in range(ticks):
            log.received(stream, b"data: {}\n\n", None)  # the stream's byte count grows
            w0, c0 = time.perf_counter(), time.process_time()
            screen._catch_up()
            wall += time.perf_counter() - w0
            cpu += time.process_time() - c0
        await pilot.pause()
    return {
        "fill_wall": fill_wall,
        "fill_cpu": fill_cpu,
        "tick_wall": wall / ticks,
        "tick_cpu": cpu / ticks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--ticks", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {"as built": [], "every row": []}
    for _ in range(args.rounds):  # alternated, so load drifts hit both alike
        results["as built"].append(asyncio.run(measure(RequestsScreen, args.calls, args.ticks)))
        results["every row"].append(asyncio.run(measure(EveryRow, args.calls, args.ticks)))
    print(f"load average {os.getloadavg()[0]:.2f} · {args.calls} calls · {args.ticks} ticks")
    print("| catch-up | tick wall (ms) | tick CPU (ms) | first fill wall (ms) |")
    print("|---|---|---|---|")
    medians = {}
    for name, rounds in results.items():
        med = {k: statistics.median(r[k] for r in rounds) * 1000 for k in rounds[0]}
        medians[name] = med
        print(
            f"| {name} | {med['tick_wall']:.2f} | {med['tick_cpu']:.2f} | {med['fill_wall']:.0f} |"
        )
    ratio = medians["every row"]["tick_cpu"] / max(medians["as built"]["tick_cpu"], 1e-9)
    print(f"every row / as built, tick CPU: {ratio:.1f}×")


if __name__ == "__main__":
    main()
