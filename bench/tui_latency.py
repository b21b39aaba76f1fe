"""TUI latency under a run streaming 10,000 events per second.

    python bench/tui_latency.py                 # 10,000 events/s for 8 s; writes BENCHMARKS.md
    python bench/tui_latency.py --rate 2000 --seconds 3 --no-write

The run comes from bench/tui_stream_server.py (its own process, over loopback) into the real
DustApp (real DustClient, watch_run, RunState, widgets), headless at 120×36. Measured:

* key press → paint: a `]` / `[` key event (next/previous input: the tokens line changes) is
  handed to the driver every ~50 ms while the stream runs; the time until the first frame drawn
  after its action ran. Each frame is rendered to terminal bytes (as a real terminal would get).
* event → cell: each `block_status` that raises MODEL's success count, from the moment the
  client has it to the block table's cell update, and to the frame that shows it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.tui_util import percentile, write_section  # noqa: E402


def start_server(rate: int, seconds: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "tui_stream_server.py"), str(rate), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    url = proc.stdout.readline().strip()
    return proc, url


async def measure(url: str, rate: int, seconds: float) -> dict:
    from pydantic import SecretStr
    from textual import events
    from textual._compositor import CompositorUpdate

    import dusttui.api.watch as watch_module
    from dusttui.api.client import DustClient
    from dusttui.config import Backend, Settings
    from dusttui.tui.app import DustApp
    from dusttui.tui.themes import bundled_themes_dir

    arrivals: list[tuple[int, float]] = []  # (state version, time) of count-raising events
    real_watch = watch_module.watch_run
    counted = {"events": 0, "first": 0.0, "last": 0.0}

    async def timed_watch(*args, **kwargs):
        async for update in real_watch(*args, **kwargs):
            now = time.perf_counter()
            if update.event is not None:
                counted["events"] += 1
                counted["first"] = counted["first"] or now
                counted["last"] = now
                if update.event.type == "block_status":
                    arrivals.append((update.state.version, now))
            yield update

    watch_module.watch_run = timed_watch
    client = DustClient(url, "bench-key", "w", "s")
    backend = Backend("remote", url, "w", "s", SecretStr("bench-key"), "bench")
    app = DustApp(
        Settings(bell=False),
        backend=backend,
        client=client,
        theme_dirs=(bundled_themes_dir(),),
        cursor_blink=False,
    )
    shown: list[tuple[int, float]] = []  # (version in the widgets, time)
    frames: list[float] = []
    keys: list[float] = []
    key_state = {"sent": None, "handled": False}

    async with app.run_test(size=(120, 36)) as pilot:
        await app.loaded.wait()
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.main
        real_display = app._display
        real_refresh = screen.refresh_run

        def display(target, renderable):
            if isinstance(renderable, CompositorUpdate):
                renderable.render_segments(app.console)  # the bytes a terminal would get
            now = time.perf_counter()
            frames.append(now)
            if key_state["handled"] and key_state["sent"] is not None:
                keys.append(now - key_state["sent"])
                key_state["sent"] = None
                key_state["handled"] = False
            return real_display(target, renderable)

        def refresh_run(live):
            real_refresh(live)
            if live.state is not None and live.key == screen.shown_key:
                shown.append((live.state.version, time.perf_counter()))

        def on_key_action(real):
            def action():
                real()
                key_state["handled"] = True

            return action

        app._display = display
        screen.refresh_run = refresh_run
        screen.action_next_input = on_key_action(screen.action_next_input)
        screen.action_prev_input = on_key_action(screen.action_prev_input)

        screen.action_launch()
        table = screen.query_one("#blocks")
        for _ in range(3000):  # until the stream has reached the llm block
            if "llm:MODEL" in table.rows:
                break
            await asyncio.sleep(0.01)
        table.move_cursor(row=1)
        table.focus()
        driver = app._driver
        flip = True
        while not all(run.done for run in app.runs.values()):
            await asyncio.sleep(0.05)
            if key_state["sent"] is None:
                key, char = ("right_square_bracket", "]") if flip else ("left_square_bracket", "[")
                flip = not flip
                event = events.Key(key, char)
                event.set_sender(app)
                key_state["sent"] = time.perf_counter()
                driver.send_message(event)
        await app.workers.wait_for_complete()
        await pilot.pause()
        status = next(iter(app.runs.values())).status
    watch_module.watch_run = real_watch

    to_cell, to_paint = [], []
    s = f = 0
    for version, arrived in arrivals:
        while s < len(shown) and (shown[s][0] < version or shown[s][1] < arrived):
            s += 1
        if s == len(shown):
            break
        to_cell.append(shown[s][1] - arrived)
        cell_time = shown[s][1]
        while f < len(frames) and frames[f] < cell_time:
            f += 1
        if f < len(frames):
            to_paint.append(frames[f] - arrived)
    streamed = counted["last"] - counted["first"]
    return {
        "status": status,
        "events": counted["events"],
        "rate": counted["events"] / streamed if streamed else 0.0,
        "keys": keys,
        "to_cell": to_cell,
        "to_paint": to_paint,
        "frames": len(frames),
        "seconds": streamed,
    }


def ms(values: list[float], q: float) -> str:
    return f"{percentile(values, q) * 1000:.1f} ms" if values else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()
    proc, url = start_server(args.rate, args.seconds)
    try:
        result = asyncio.run(measure(url, args.rate, args.seconds))
    finally:
        proc.terminate()
        proc.wait(5)
    keys, cell, paint = result["keys"], result["to_cell"], result["to_paint"]
    rows = [
        ("key press → paint (`]`/`[`)", keys),
        ("event → block-table cell updated", cell),
        ("event → frame showing it", paint),
    ]
    lines = [
        "| measure | samples | median | p95 | p99 | max |",
        "|---|---|---|---|---|---|",
    ]
    for label, values in rows:
        lines.append(
            f"| {label} | {len(values)} | {ms(values, 50)} | {ms(values, 95)} | "
            f"{ms(values, 99)} | {max(values) * 1000:.1f} ms |"
            if values
            else f"| {label} | 0 | n/a | n/a | n/a | n/a |"
        )
    table = "\n".join(lines)
    summary = (
        f"Stream: {result['events']:,} events in {result['seconds']:.1f} s "
        f"(**{result['rate']:,.0f} events/s** received and reduced by the TUI); "
        f"{result['frames']:,} frames drawn; run {result['status']}."
    )
    goals = (
        f"Goals ≤ 50 ms: key → paint p99 **{ms(keys, 99)}**, event → frame p99 "
        f"**{ms(paint, 99)}** (the hosted web UI polls every 100 ms)."
    )
    print(summary)
    print(table)
    print(goals)
    if not args.no_write:
        import platform

        body = (
            f"Command: `python bench/tui_latency.py` (--rate {args.rate} --seconds {args.seconds:g}) · "
            f"CPython {platform.python_version()}, {os.cpu_count()} CPUs, load average "
            f"{os.getloadavg()[0]:.2f} at the end · "
            "server: bench/tui_stream_server.py in its own process over loopback; the real DustApp, "
            "headless at 120×36, each frame rendered to terminal bytes.\n\n"
            f"{summary}\n\n{table}\n\n{goals} Key presses are sent every ~50 ms while the run "
            "streams; run updates are coalesced to at most one repaint per 33 ms.\n"
        )
        write_section(ROOT / "BENCHMARKS.md", "TUI: latency under a 10,000 events/s stream", body)


if __name__ == "__main__":
    main()
