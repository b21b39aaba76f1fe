"""TUI responsiveness while the embedded engine works: engine in a child process vs in a thread.

    python bench/tui_engine_load.py                 # 5 rounds × 5 runs, alternated; BENCHMARKS.md
    python bench/tui_engine_load.py --rounds 1 --runs 2 --no-write

The real DustApp (headless, 120×36, each frame rendered to terminal bytes) on the real embedded
engine, started as `dusttui` starts it: (1) `EngineProcess` (a child process, the default) or
(2) `EmbeddedEngine` (a thread of the TUI's process, `DUSTTUI_ENGINE_THREAD=1`). The heavy work is
the bundled `load-1000` app (1,000 inputs through two code blocks), launched `--runs` times in a
row, streamed. (3) idle: the same TUI on a child engine with no run going, as the baseline.
Every variant first runs `load-1000` on 2 inputs, so a run is on screen for the keys to act on.

Measured, as in bench/tui_latency.py: key press → paint, a down / up key event (the block
table's cursor moves: always a visible change, whether a run goes on or not) handed to the driver
every ~50 ms; the time until the first frame drawn after its action ran. Also each heavy run's wall time (launch → the TUI has its last event).
Each round runs the three variants in a rotated order, each with a fresh engine and a fresh App.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.tui_latency import ms  # noqa: E402
from bench.tui_util import percentile, write_section  # noqa: E402

CHILD = "engine in a child process (default)"
THREAD = "engine in a thread (DUSTTUI_ENGINE_THREAD=1)"
IDLE = "idle: no run (child engine)"
VARIANTS = (IDLE, CHILD, THREAD)
APP_NAME = "load-1000"
KEY_EVERY = 0.05
KEY_LOST_AFTER = 2.0  # a press with no frame after this long is counted lost, not waited for
SECTION = "TUI: responsiveness while the engine works"


def start_engine(variant: str, data_dir: Path):
    """The engine the way `dusttui` starts it for this variant, ready to serve."""
    if variant == THREAD:
        from dusttui.engine.embedded import EmbeddedEngine

        engine = EmbeddedEngine(data_dir=data_dir)
        engine.start()
        return engine
    from dusttui.engine.process import EngineProcess

    engine = EngineProcess(data_dir=data_dir)
    engine.start()
    engine.wait_ready()
    return engine


class KeyProbe:
    """Times key press → next frame: hooks the App's display and the block table's cursor action."""

    def __init__(self, app, table) -> None:
        from textual._compositor import CompositorUpdate

        self.table = table
        self.latencies: list[float] = []
        self.lost = 0
        self.frames = 0
        self.sent: float | None = None
        self.handled = False
        self.active = False
        real_display = app._display
        real_cursor = table.action_cursor

        def display(target, renderable):
            if isinstance(renderable, CompositorUpdate):
                renderable.render_segments(app.console)  # the bytes a terminal would get
            self.frames += 1
            if self.handled and self.sent is not None:
                if self.active:
                    self.latencies.append(time.perf_counter() - self.sent)
                self.sent = None
                self.handled = False
            return real_display(target, renderable)

        def cursor(step: int) -> None:
            real_cursor(step)
            self.handled = True

        app._display = display
        table.action_cursor = cursor

    async def press(self, app, stop: asyncio.Event) -> None:
        """Hand down / up to the driver every ~50 ms (one in flight at a time) until ``stop``."""
        from textual import events

        while not stop.is_set():
            await asyncio.sleep(KEY_EVERY)
            now = time.perf_counter()
            if self.sent is not None and now - self.sent > KEY_LOST_AFTER:
                self.lost += 1
                self.sent, self.handled = None, False
            if self.sent is None and len(self.table._keys) >= 2:  # a new run's rows are there
                # Always a move the table can make, so every press changes the screen.
                event = events.Key("down" if self.table.cursor_row == 0 else "up", None)
                event.set_sender(app)
                self.sent = time.perf_counter()
                app._driver.send_message(event)


async def run_and_wait(dust, screen, model, spec_hash: str, inputs: list) -> float:
    """Launch a streamed run from the TUI, show it, wait until it is done; its wall time."""
    start = time.perf_counter()
    live = dust.launch_run(model, spec_hash, {}, inputs, "stream")
    screen.show_run(live)
    worker = next(w for w in dust.workers if w.name == f"run {live.key}")
    await worker.wait()
    if live.status != "succeeded":
        raise RuntimeError(f"the {APP_NAME} run ended {live.status}")
    return time.perf_counter() - start


async def measure(variant: str, runs: int, idle_seconds: float) -> dict:
    """One variant: fresh engine and DustApp; key latencies during the heavy runs (or idle)."""
    from dusttui.config import LOCAL_WORKSPACE, Backend, Settings
    from dusttui.session import client_for
    from dusttui.specs import sample_inputs, saved_specification_hash
    from dusttui.tui.app import DustApp
    from dusttui.tui.themes import bundled_themes_dir

    with tempfile.TemporaryDirectory() as data:
        engine = await asyncio.to_thread(start_engine, variant, Path(data))
        try:
            backend = Backend("embedded", None, LOCAL_WORKSPACE, LOCAL_WORKSPACE, None)
            client = client_for(backend, engine=engine)  # as `dusttui` connects to it
            dust = DustApp(
                Settings(bell=False),
                backend=backend,
                client=client,
                theme_dirs=(bundled_themes_dir(),),
                data_path=Path(data),
                cursor_blink=False,
            )
            async with dust.run_test(size=(120, 36)) as pilot:
                await dust.loaded.wait()
                await dust.workers.wait_for_complete()
                await pilot.pause()
                screen = dust.main
                model = next(a for a in dust.apps if a.name == APP_NAME)
                spec_hash = saved_specification_hash(model) or "latest"
                inputs = sample_inputs(model) or []
                if len(inputs) != 1000:
                    raise RuntimeError(f"{APP_NAME} ships {len(inputs)} inputs, not 1,000")
                await run_and_wait(dust, screen, model, spec_hash, inputs[:2])  # a run on screen
                table = screen.query_one("#blocks")
                table.focus()
                await pilot.pause()
                probe = KeyProbe(dust, table)
                stop = asyncio.Event()
                presser = asyncio.create_task(probe.press(dust, stop))
                await asyncio.sleep(0.3)  # the first presses settle (each later one is kept)
                probe.active = True
                started = time.perf_counter()
                walls: list[float] = []
                if variant == IDLE:
                    await asyncio.sleep(idle_seconds)
                else:
                    for _ in range(runs):
                        walls.append(await run_and_wait(dust, screen, model, spec_hash, inputs))
                window = time.perf_counter() - started
                probe.active = False
                stop.set()
                await presser
                await pilot.pause()
            await client.aclose()
        finally:
            await asyncio.to_thread(engine.stop)
    return {
        "keys": probe.latencies,
        "lost": probe.lost,
        "frames": probe.frames,
        "walls": walls,
        "window": window,
    }


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


async def bench(rounds: int, runs: int, idle_seconds: float) -> dict[str, dict]:
    """All rounds, the variants in a rotated order each round; results merged per variant."""
    merged = {v: {"keys": [], "lost": 0, "frames": 0, "walls": [], "window": 0.0} for v in VARIANTS}
    for round_no in range(rounds):
        shift = round_no % len(VARIANTS)
        for variant in VARIANTS[shift:] + VARIANTS[:shift]:
            result = await measure(variant, runs, idle_seconds)
            print(
                f"round {round_no + 1} · {variant}: {len(result['keys'])} keys, p99 "
                f"{ms(result['keys'], 99)}, runs "
                + (", ".join(f"{w:.2f} s" for w in result["walls"]) or "none"),
                flush=True,
            )
            total = merged[variant]
            for name in ("keys", "walls"):
                total[name] += result[name]
            for name in ("lost", "frames", "window"):
                total[name] += result[name]
    return merged


def report(merged: dict[str, dict]) -> tuple[str, str]:
    """The table and the summary lines."""
    lines = [
        "| variant | key presses | median | p95 | p99 | max | lost | frames/s | "
        "load-1000 run wall time (median) | min | max |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for variant in VARIANTS:
        r = merged[variant]
        keys, walls = r["keys"], r["walls"]
        top = f"{max(keys) * 1000:.1f} ms" if keys else "n/a"
        wall = (
            f"{statistics.median(walls):.2f} s | {min(walls):.2f} s | {max(walls):.2f} s"
            if walls
            else "— | — | —"
        )
        fps = r["frames"] / r["window"] if r["window"] else 0.0
        lines.append(
            f"| {variant} | {len(keys)} | {ms(keys, 50)} | {ms(keys, 95)} | {ms(keys, 99)} | "
            f"{top} | {r['lost']} | {fps:.0f} | {wall} |"
        )

    def p(variant: str, q: float) -> float:
        keys = merged[variant]["keys"]
        return percentile(keys, q) if keys else 0.0

    child_wall = statistics.median(merged[CHILD]["walls"])
    thread_wall = statistics.median(merged[THREAD]["walls"])
    summary = (
        f"Key → paint p99, child / thread: **{ratio(p(CHILD, 99), p(THREAD, 99))}** "
        f"(median {ratio(p(CHILD, 50), p(THREAD, 50))}); vs idle p99: child "
        f"{ratio(p(CHILD, 99), p(IDLE, 99))}×, thread {ratio(p(THREAD, 99), p(IDLE, 99))}×.\n"
        f"load-1000 run wall time, child / thread: **{ratio(child_wall, thread_wall)}** "
        f"({child_wall:.2f} s vs {thread_wall:.2f} s, {2000 / child_wall:,.0f} vs "
        f"{2000 / thread_wall:,.0f} code executions/s, streamed to the TUI)."
    )
    return "\n".join(lines), summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=5, help="load-1000 runs in a row per variant")
    parser.add_argument("--idle-seconds", type=float, default=4.0)
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()
    started = time.perf_counter()
    merged = asyncio.run(bench(args.rounds, args.runs, args.idle_seconds))
    table, summary = report(merged)
    print(table)
    print(summary)
    load = os.getloadavg()[0]
    took = time.perf_counter() - started
    child99, thread99 = (percentile(merged[v]["keys"], 99) for v in (CHILD, THREAD))
    if not args.no_write:
        body = (
            f"Command: `python bench/tui_engine_load.py` (--rounds {args.rounds} --runs "
            f"{args.runs} --idle-seconds {args.idle_seconds:g}; variants alternated, rotated "
            f"each round; {took:.0f} s) · CPython {platform.python_version()}, {os.cpu_count()} "
            f"CPUs, load average {load:.2f} at the end · the real DustApp, headless at 120×36, "
            "each frame rendered to terminal bytes; the engine started as `dusttui` starts it "
            "(`EngineProcess`, or `EmbeddedEngine` for `DUSTTUI_ENGINE_THREAD=1`), a fresh one "
            "and a fresh App per variant and round.\n\n"
            f"{table}\n\n{summary}\n\n"
            f"Workload: the bundled `{APP_NAME}` app (1,000 inputs through two code blocks, "
            f"2,000 quickjs executions and ~2,000 streamed events per run), launched {args.runs} "
            "times in a row from the TUI, streamed; down / up (the block table's cursor) sent every "
            "~50 ms meanwhile (one in flight); key → paint is until the first frame after the action ran. Idle: the "
            f"same TUI for {args.idle_seconds:g} s with no run going (the 2-input warm-up run "
            "on screen, as in the other variants).\n"
        )
        write_section(ROOT / "BENCHMARKS.md", SECTION, body)
    print(f"took {took:.0f} s, load average {load:.2f}")
    print(f"ratio_child_vs_thread_p99={child99 / thread99:.2f}")


if __name__ == "__main__":
    main()
