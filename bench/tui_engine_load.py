"""TUI responsiveness while the embedded engine works: engine in a child process vs in a thread.

    python bench/tui_engine_load.py                 # 4 rounds × 4 runs, alternated; BENCHMARKS.md
    python bench/tui_engine_load.py --rounds 1 --runs 2 --no-write

The real DustApp (headless, 120×36, each frame rendered to terminal bytes) on the real embedded
engine, started as `dusttui` starts it: (1) `EngineProcess` (a child process, the default) or
(2) `EmbeddedEngine` (a thread of the TUI's process, `DUSTTUI_ENGINE_THREAD=1`). Two heavy works,
each launched `--runs` times in a row, streamed: the bundled `load-1000` app (1,000 inputs through
two code blocks: ~4,000 events per run, the stream loads the TUI too), and `cpu-js`, written to a
temporary apps folder (12 inputs through one code block of ~0.1 s of quickjs CPU each: few events,
the engine's work is the load). (3) idle: the same TUI on a child engine with no run, the baseline.
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

CHILD = "child process"
THREAD = "thread"
APP_NAME = "load-1000"
CPU_APP = "cpu-js"
CPU_INPUTS = 12
IDLE = ("idle: no run", CHILD, None)
VARIANTS = (  # (label, engine, app launched)
    IDLE,
    (f"{APP_NAME} · engine in a child process (default)", CHILD, APP_NAME),
    (f"{APP_NAME} · engine in a thread (DUSTTUI_ENGINE_THREAD=1)", THREAD, APP_NAME),
    (f"{CPU_APP} · engine in a child process (default)", CHILD, CPU_APP),
    (f"{CPU_APP} · engine in a thread (DUSTTUI_ENGINE_THREAD=1)", THREAD, CPU_APP),
)
# ~0.1 s of quickjs CPU per input and few events: the engine's work, not the stream, is the load.
CPU_SPEC = """input INPUT { }

code HASH {
  code:
```
_fun = (env) => {
  let h = env.state.INPUT.n;
  for (let i = 0; i < 3000000; i++) { h = (h * 31 + i) % 1000003; }
  return { h: h };
}
```
}
"""


def write_cpu_app(apps_dir: Path) -> None:
    """The CPU-heavy app, in an apps folder of its own (the engine's `--apps-dir`)."""
    apps_dir.mkdir(parents=True, exist_ok=True)
    (apps_dir / f"{CPU_APP}.dust").write_text(CPU_SPEC, encoding="utf-8")
    (apps_dir / f"{CPU_APP}.description.txt").write_text(
        f"{CPU_INPUTS} inputs through one CPU-heavy code block.", encoding="utf-8"
    )
    lines = "".join(f'{{"n": {n}}}\n' for n in range(CPU_INPUTS))
    (apps_dir / f"{CPU_APP}.inputs.jsonl").write_text(lines, encoding="utf-8")


KEY_EVERY = 0.05
KEY_LOST_AFTER = 2.0  # a press with no frame after this long is counted lost, not waited for
SECTION = "TUI: responsiveness while the engine works"
NOTE = (
    "Reading it: quickjs releases the GIL while it runs, so an engine in a thread costs the TUI "
    "CPU time (2 cores shared with the engine's JavaScript workers at the same priority) and the "
    "GIL during the engine's Python work; the child process runs at nice 5 on its own GIL. Under "
    "`load-1000` the extra latency is likely the TUI reducing the stream, in both variants (not "
    "measured here: the child finishes its runs sooner, so the TUI may get more events a second)."
)


def start_engine(kind: str, data_dir: Path, apps_dir: Path):
    """The engine the way `dusttui` starts it (a child process, or a thread), ready to serve."""
    if kind == THREAD:
        from dusttui.engine.embedded import EmbeddedEngine

        engine = EmbeddedEngine(data_dir=data_dir, apps_dir=apps_dir)
        engine.start()
        return engine
    from dusttui.engine.process import EngineProcess

    engine = EngineProcess(data_dir=data_dir, apps_dir=apps_dir)
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
        raise RuntimeError(f"the {model.name} run ended {live.status}")
    return time.perf_counter() - start


async def measure(variant: tuple, runs: int, idle_seconds: float) -> dict:
    """One variant: fresh engine and DustApp; key latencies during the heavy runs (or idle)."""
    from dusttui.config import LOCAL_WORKSPACE, Backend, Settings
    from dusttui.session import client_for
    from dusttui.specs import sample_inputs, saved_specification_hash
    from dusttui.tui.app import DustApp
    from dusttui.tui.themes import bundled_themes_dir

    _, kind, heavy = variant
    with tempfile.TemporaryDirectory() as data:
        apps_dir = Path(data) / "apps"
        write_cpu_app(apps_dir)
        engine = await asyncio.to_thread(start_engine, kind, Path(data), apps_dir)
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
                apps = {a.name: a for a in dust.apps}
                model = apps[APP_NAME]
                spec_hash = saved_specification_hash(model) or "latest"
                inputs = sample_inputs(model) or []
                if len(inputs) != 1000:
                    raise RuntimeError(f"{APP_NAME} ships {len(inputs)} inputs, not 1,000")
                await run_and_wait(dust, screen, model, spec_hash, inputs[:2])  # a run on screen
                if heavy == CPU_APP:
                    model = apps[CPU_APP]
                    spec_hash = saved_specification_hash(model) or "latest"
                    inputs = sample_inputs(model) or []
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
                if heavy is None:
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
    merged = {
        v[0]: {"keys": [], "lost": 0, "frames": 0, "walls": [], "window": 0.0} for v in VARIANTS
    }
    for round_no in range(rounds):
        shift = round_no % len(VARIANTS)
        for variant in VARIANTS[shift:] + VARIANTS[:shift]:
            result = await measure(variant, runs, idle_seconds)
            print(
                f"round {round_no + 1} · {variant[0]}: {len(result['keys'])} keys, p99 "
                f"{ms(result['keys'], 99)}, runs "
                + (", ".join(f"{w:.2f} s" for w in result["walls"]) or "none"),
                flush=True,
            )
            total = merged[variant[0]]
            for name in ("keys", "walls"):
                total[name] += result[name]
            for name in ("lost", "frames", "window"):
                total[name] += result[name]
    return merged


def report(merged: dict[str, dict]) -> tuple[str, str, dict[str, float]]:
    """The table, the summary lines, and child / thread p99 ratios by app."""
    lines = [
        "| variant | key presses | median | p95 | p99 | max | lost | frames/s | "
        "run wall time (median) | min | max |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, _, _ in VARIANTS:
        r = merged[label]
        keys, walls = r["keys"], r["walls"]
        top = f"{max(keys) * 1000:.1f} ms" if keys else "n/a"
        wall = (
            f"{statistics.median(walls):.2f} s | {min(walls):.2f} s | {max(walls):.2f} s"
            if walls
            else "— | — | —"
        )
        fps = r["frames"] / r["window"] if r["window"] else 0.0
        lines.append(
            f"| {label} | {len(keys)} | {ms(keys, 50)} | {ms(keys, 95)} | {ms(keys, 99)} | "
            f"{top} | {r['lost']} | {fps:.0f} | {wall} |"
        )

    def p(label: str, q: float) -> float:
        keys = merged[label]["keys"]
        return percentile(keys, q) if keys else 0.0

    idle = IDLE[0]
    summary, ratios = [], {}
    for app, executions in ((APP_NAME, 2000), (CPU_APP, CPU_INPUTS)):
        child, thread = (v[0] for v in VARIANTS if v[2] == app and v[1] in (CHILD, THREAD))
        child_wall = statistics.median(merged[child]["walls"])
        thread_wall = statistics.median(merged[thread]["walls"])
        ratios[app] = p(child, 99) / p(thread, 99) if p(thread, 99) else float("nan")
        summary.append(
            f"{app}: key → paint p99 child / thread **{ratio(p(child, 99), p(thread, 99))}** "
            f"(median {ratio(p(child, 50), p(thread, 50))}; p99 vs idle: child "
            f"{ratio(p(child, 99), p(idle, 99))}×, thread {ratio(p(thread, 99), p(idle, 99))}×); "
            f"run wall time child / thread **{ratio(child_wall, thread_wall)}** "
            f"({child_wall:.2f} s vs {thread_wall:.2f} s: {executions / child_wall:,.0f} vs "
            f"{executions / thread_wall:,.0f} code executions/s)."
        )
    return "\n".join(lines), "\n".join(summary), ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--runs", type=int, default=4, help="heavy runs in a row per variant")
    parser.add_argument("--idle-seconds", type=float, default=4.0)
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()
    started = time.perf_counter()
    load_start = os.getloadavg()[0]
    merged = asyncio.run(bench(args.rounds, args.runs, args.idle_seconds))
    table, summary, ratios = report(merged)
    print(table)
    print(summary)
    load = os.getloadavg()[0]
    took = time.perf_counter() - started
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
            f"Workloads, each launched {args.runs} times in a row from the TUI, streamed: the "
            f"bundled `{APP_NAME}` app (1,000 inputs through two code blocks: 2,000 quickjs "
            "executions per run and thousands of streamed events, so the TUI's own stream "
            f"handling is part of the load) and `{CPU_APP}` (a temporary apps folder: "
            f"{CPU_INPUTS} inputs through one code block spending ~0.1 s of quickjs CPU each; few "
            "events, the engine's work is the load). Down / up (the block table's cursor) are "
            "sent every ~50 ms meanwhile, one in flight; key → paint is until the first frame "
            "after the action ran. Idle: the same TUI for "
            f"{args.idle_seconds:g} s with no run going. Every variant first runs `{APP_NAME}` "
            "on 2 inputs so a run's table is on screen. Load average at the start: "
            f"{load_start:.2f}.\n\n{NOTE}\n"
        )
        write_section(ROOT / "BENCHMARKS.md", SECTION, body)
    print(f"took {took:.0f} s, load average {load:.2f}")
    print(f"ratio_child_vs_thread_p99_{CPU_APP.replace('-', '_')}={ratios[CPU_APP]:.2f}")
    print(f"ratio_child_vs_thread_p99={ratios[APP_NAME]:.2f}")


if __name__ == "__main__":
    main()
