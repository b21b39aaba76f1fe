"""The journal off the UI thread: start-up with a heavy history, and the end of a huge run.

    python bench/journal_bench.py                  # 5 rounds each; writes BENCHMARKS.md
    python bench/journal_bench.py --rounds 2 --no-write

The real DustApp, headless at 120×36, each frame rendered to terminal bytes, its backend a
local-engine-like server in its own process (bench/journal_server.py: the local engine's status
form, a stream, GET). Variants alternate within one run (ratios, not absolute numbers, matter):

* start → history shown: from building the App to its runs list showing the history, with an
  empty journal, with three 10 MB final runs stored (the list reads only what it shows), and
  with the same journal read as before (every stored final run parsed on the event loop);
* key → paint while a 196,000-execution run (49,000 inputs × 4 blocks, 20 MB) streams, ends and
  is saved: a `]`/`[` key every 20 ms from launch until the run is in the journal; the final run
  written in the journal's thread (now) or on the event loop (as before); and, the final run
  written in the thread, each big block kept as its event's text, counted and read by decoding
  the whole block on the event loop at the first repaint after it (as before per-block counts).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.journal_server import BLOCKS, executions  # noqa: E402
from bench.tui_util import percentile, write_section  # noqa: E402

INPUTS_10MB = 33_500  # two blocks of 33,500 executions: a 10 MB run JSON
BIG_INPUTS = 49_000  # 196,000 executions


def start_server(inputs: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "journal_server.py"), str(inputs)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def heavy_journal(path: Path) -> int:
    """Three runs of 10 MB stored in a journal; the bytes of one."""
    from dusttui.api.journal import Journal

    run = {
        "run_id": "",
        "created": 1,
        "run_type": "deploy",
        "specification_hash": "d" * 64,
        "config": {"blocks": {}},
        "status": {"run": "succeeded", "blocks": []},
        "traces": [[list(key), executions(key[1], INPUTS_10MB)] for key in BLOCKS[1:3]],
        "results": None,
    }
    size = 0
    with Journal(path) as journal:
        for k in range(3):
            run_id = f"{k}" * 64
            run["run_id"] = run_id
            journal.record_launch(run_id=run_id, workspace_id="local", app_id="big", app_name="big")
            text = json.dumps(run)
            size = len(text)
            journal.record_final_text(run_id, text, "succeeded", "d" * 64)
    return size


def make_app(url: str, journal: Any) -> Any:
    from dusttui.api.client import DustClient
    from dusttui.config import Backend, Settings
    from dusttui.tui.app import DustApp
    from dusttui.tui.themes import bundled_themes_dir

    backend = Backend("embedded", None, "local", "local", None)  # the local engine's extensions
    return DustApp(
        Settings(bell=False),
        backend=backend,
        client=DustClient(url, "bench-key", "local", "local"),
        journal=journal,
        theme_dirs=(bundled_themes_dir(),),
        cursor_blink=False,
    )


def before_journal(path: Path) -> Any:
    """The history as it was read before: every entry with its final run, on the event loop."""
    from dusttui.session.journal_io import JournalIO

    class ParseEveryFinalRun(JournalIO):
        async def summaries(self, limit: int = 200) -> Any:
            import sqlite3

            with sqlite3.connect(path) as db:
                rows = db.execute("SELECT final_run FROM runs ORDER BY recorded_at DESC").fetchall()
            for (text,) in rows:
                if text:
                    json.loads(text)
            return await super().summaries(limit)

    return ParseEveryFinalRun(path)


async def start_to_history(url: str, journal_path: Path, before: bool, expected: int) -> float:
    from dusttui.session.journal_io import JournalIO

    journal = before_journal(journal_path) if before else JournalIO(journal_path)
    started = time.perf_counter()
    app = make_app(url, journal)
    async with app.run_test(size=(120, 36)) as pilot:
        while True:
            screens = [s for s in app.screen_stack if type(s).__name__ == "MainScreen"]
            found = screens[0].query("#runs") if screens else None
            runs = found.first() if found else None
            loaded = app.history_loaded.is_set()
            if runs is not None and loaded and runs.option_count == expected:
                shown = time.perf_counter() - started
                break
            await asyncio.sleep(0.002)
        await pilot.pause()
    journal.close()
    return shown


class OldCounts:
    """As before per-block counts: a big block's event text kept as is, the run table counting
    it (and the output pane reading a row) by decoding the whole block on the event loop."""

    def __enter__(self) -> None:
        from dusttui.api.state import BlockCounts, RunState

        self.saved = (RunState.apply_execution_summary, RunState.block_counts)
        apply_summary = self.saved[0]

        def keep_text(state: Any, summary: Any, raw: bytes) -> None:
            apply_summary(state, summary, raw)
            state._traces[(summary.block_type, summary.block_name)] = raw

        def decode_counts(state: Any, block_type: str, name: str) -> Any:
            key = (block_type, name)
            return state._trace(key).tally() if key in state._traces else BlockCounts()

        RunState.apply_execution_summary = keep_text  # type: ignore[method-assign]
        RunState.block_counts = decode_counts  # type: ignore[method-assign]

    def __exit__(self, *exc: object) -> None:
        from dusttui.api.state import RunState

        RunState.apply_execution_summary, RunState.block_counts = self.saved  # type: ignore[method-assign]


async def key_to_paint(
    url: str, journal_path: Path, before: bool, idle: float | None = None
) -> dict[str, Any]:
    """Key → paint times around a huge run's end; ``idle``: no run, keys for that many seconds
    (what the machine's load alone costs)."""
    from textual import events
    from textual._compositor import CompositorUpdate

    from dusttui.session.journal_io import JournalIO

    journal = JournalIO(journal_path)
    marks: dict[str, float] = {}
    if before:  # the final run serialised and written on the event loop, as before

        async def record_final(state: Any) -> None:
            journal_obj = journal._open()
            journal_obj.record_final(state.run_id, state.to_wire())

        journal.record_final = record_final  # type: ignore[method-assign]
    real_record = journal.record_final

    async def timed_record(state: Any) -> None:
        marks["saving"] = time.perf_counter()
        await real_record(state)
        marks["saved"] = time.perf_counter()

    journal.record_final = timed_record  # type: ignore[method-assign]
    app = make_app(url, journal)
    keys: list[tuple[float, float]] = []  # (sent, painted)
    state = {"sent": None, "handled": False}
    async with app.run_test(size=(120, 36)) as pilot:
        await app.loaded.wait()
        await pilot.pause()
        screen = app.main
        real_display = app._display

        def display(target: Any, renderable: Any) -> Any:
            if isinstance(renderable, CompositorUpdate):
                renderable.render_segments(app.console)  # the bytes a terminal would get
            if state["handled"] and state["sent"] is not None:
                keys.append((state["sent"], time.perf_counter()))
                state["sent"], state["handled"] = None, False
            return real_display(target, renderable)

        def on_key(real: Any) -> Any:
            def action() -> None:
                real()
                if idle is not None:  # no run to step through: repaint the run pane anyway
                    screen.query_one("#run").refresh()
                state["handled"] = True

            return action

        app._display = display
        screen.action_next_input = on_key(screen.action_next_input)
        screen.action_prev_input = on_key(screen.action_prev_input)
        await pilot.pause()
        screen.query_one("#inputs").load('[{"n": 1}]')
        marks["launch"] = time.perf_counter()
        if idle is None:
            screen.action_launch()
        else:
            marks["saving"] = marks["launch"]
            marks["saved"] = marks["launch"] + idle
        driver = app._driver
        flip = True
        while "saved" not in marks or time.perf_counter() < marks["saved"] + 0.3:
            await asyncio.sleep(0.02)
            if state["sent"] is None:
                key, char = ("right_square_bracket", "]") if flip else ("left_square_bracket", "[")
                flip = not flip
                event = events.Key(key, char)
                event.set_sender(app)
                state["sent"] = time.perf_counter()
                driver.send_message(event)
        run = next(iter(app.runs.values()), None)
        status = run.status if run is not None else None
        executions = sum(b.success_count for b in run.state.blocks) if run is not None else 0
    journal.close()
    saving = [p - s for s, p in keys if s >= marks["saving"] - 1.0]
    return {
        "status": status,
        "executions": executions,
        "all": [p - s for s, p in keys],
        "end": saving,
        "save_seconds": marks["saved"] - marks["saving"] if idle is None else 0.0,
    }


def ms(values: list[float], q: float) -> str:
    return f"{percentile(values, q) * 1000:.1f} ms" if values else "n/a"


async def bench(rounds: int, end_only: bool = False) -> dict[str, Any]:
    proc, url = start_server(BIG_INPUTS)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            empty = folder / "empty.sqlite"
            heavy = folder / "heavy.sqlite"
            from dusttui.api.journal import Journal

            Journal(empty).close()
            run_bytes = heavy_journal(heavy)
            start: dict[str, list[float]] = {"empty": [], "heavy": [], "before": []}
            ends: dict[str, list[dict[str, Any]]] = {
                "thread": [],
                "loop": [],
                "counts": [],
                "none": [],
            }
            for n in range(0 if end_only else rounds):
                order = [("empty", empty, False, 0), ("heavy", heavy, False, 3)]
                order.append(("before", heavy, True, 3))
                for name, path, before, expected in order[n % 3 :] + order[: n % 3]:
                    start[name].append(await start_to_history(url, path, before, expected))
            names = ["thread", "loop", "counts", "none"]
            for n in range(max(1, rounds // 2)):
                for name in names[n % 4 :] + names[: n % 4]:
                    path = folder / f"saved-{name}-{n}.sqlite"
                    if name == "none":  # the machine's own lag: as long as a run takes
                        ends[name].append(await key_to_paint(url, path, False, idle=6.0))
                    elif name == "counts":
                        with OldCounts():
                            ends[name].append(await key_to_paint(url, path, False))
                    else:
                        ends[name].append(await key_to_paint(url, path, name == "loop"))
            return {"start": start, "ends": ends, "run_bytes": run_bytes}
    finally:
        proc.terminate()
        proc.wait(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    parser.add_argument(
        "--end-only", action="store_true", help="only the end of the huge run (implies --no-write)"
    )
    args = parser.parse_args()
    result = asyncio.run(bench(args.rounds, args.end_only))
    if args.end_only:
        args.no_write = True
        result["start"] = {k: [0.001] for k in result["start"]}
    load = os.getloadavg()[0]
    start = result["start"]
    base = statistics.median(start["empty"])
    lines = [
        "| history | rounds | median | worst | vs empty |",
        "|---|---|---|---|---|",
    ]
    labels = {
        "empty": "empty journal",
        "heavy": "three 10 MB runs stored (now: the list reads only what it shows)",
        "before": "the same, every stored final run parsed on the event loop (as before)",
    }
    for name in ("empty", "heavy", "before"):
        values = start[name]
        med = statistics.median(values)
        lines.append(
            f"| {labels[name]} | {len(values)} | {med * 1000:.0f} ms | {max(values) * 1000:.0f} ms"
            f" | {med / base:.2f}× |"
        )
    lines += [
        "",
        "| final run written | runs | executions | keys while saving | p50 | p99 | max "
        "| keys over the run: p99 | save took |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, label in (
        ("thread", "in the journal's thread, blocks counted once as they arrive (now)"),
        ("counts", "in the journal's thread, blocks decoded on the loop to count them (before)"),
        ("loop", "on the event loop (as before the journal's thread)"),
        ("none", "no run at all: keys for 6 s (this machine's own lag, the baseline)"),
    ):
        runs = result["ends"][name]
        end = [v for r in runs for v in r["end"]]
        every = [v for r in runs for v in r["all"]]
        lines.append(
            f"| {label} | {len(runs)} | {runs[0]['executions']:,} | {len(end)} | {ms(end, 50)} | "
            f"{ms(end, 99)} | {max(end) * 1000:.1f} ms | {ms(every, 99)} | "
            f"{statistics.median(r['save_seconds'] for r in runs) * 1000:.0f} ms |"
        )
    body = (
        f"`python bench/journal_bench.py --rounds {args.rounds}` · load average {load:.2f} on "
        f"{os.cpu_count()} CPUs · the real DustApp headless at 120×36 (frames rendered to terminal "
        "bytes) against bench/journal_server.py (a local-engine-like server in its own process). "
        f"Stored runs: {result['run_bytes'] / 1e6:.1f} MB of JSON each.\n\n"
        "Start → history shown: from building the App to its runs list showing the history.\n\n"
        "Key → paint while a 196,000-execution run (20 MB) streams in, ends and is written to the "
        'journal: a `]`/`[` key every 20 ms; "keys while saving" are those sent from 1 s before '
        'the final run\'s write began until it ended; "keys over the run" are all keys from '
        "launch to the end of the save. Each block's executions come in one 5 MB event (49,000 "
        "executions): now it is read and packed by the offload worker and counted once as it "
        "arrives; before, the run table's first repaint after each such event decoded the whole "
        "block on the event loop to count it (0.3–1.2 s a block, under this load).\n\n"
        + "\n".join(lines)
    )
    print(body)
    if not args.no_write:
        write_section(
            ROOT / "BENCHMARKS.md",
            "Journal off the UI thread: start-up and the end of a huge run",
            body,
        )


if __name__ == "__main__":
    main()
