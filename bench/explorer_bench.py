"""Trace explorer benchmark: a run of 1,000 inputs × 64 map iterations × 3 blocks (~192k executions).

Measures, each variant in a fresh process: time to open the explorer (push → first frame), time for
`n` (next error: key press → screen updated), and resident memory against the run's JSON size.
Variants, side by side in one run: the explorer as it is; the explorer (``dusttui/tui/explorer``) as
it was at ``--baseline`` (a git revision; the rest stays today's), to give before/after ratios;
and Textual's eager Tree holding one node per execution, built up front.

    python bench/explorer_bench.py            # prints figures, writes the section in BENCHMARKS.md
    python bench/explorer_bench.py --quick    # smaller run, no BENCHMARKS.md (smoke test)
    python bench/explorer_bench.py --baseline 391f625   # the "before" of the comparison

The run is built by this script in the engine's wire shape (input → map over 64 words → code,
llm, code inside the map, the last one failing on about 1 % of executions), because 192k
executions through the embedded engine would take minutes and measure the engine, not the UI.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Trace explorer (bench/explorer_bench.py)"
# The "before" of the comparison, and what it was. 391f625: the explorer before its own line
# renderer (Textual's Tree drawing every line); f50c1ba: before it left the GC alone.
BASELINE = "f50c1ba"
BASELINES = {
    "391f625": "Textual's Tree draws",
    "f50c1ba": "gc.freeze() over big runs, full collections held until keys pause",
}
EXPLORER = "dusttui/tui/explorer"  # what the "before" variant takes from the baseline revision
ERROR_MESSAGES = (
    "Error in `code`: TypeError: cannot read property 'length' of undefined",
    "Error in `code`: RangeError: word too long",
    "Error in `code`: Error: empty word",
)


def make_run(inputs: int, iterations: int) -> dict:
    """The wire run: INPUT, SPLIT, EACH (map), PREP/SHOUT/CHECK inside the map; CHECK errors."""

    def ok(value, meta=None):
        return {"value": value, "error": None, "meta": meta}

    words = [[f"w{i}-{j}" for j in range(iterations)] for i in range(inputs)]
    traces = [
        [
            ["input", "INPUT"],
            [[ok({"sentence": " ".join(ws[:4]) + " …", "n": i})] for i, ws in enumerate(words)],
        ],
        [["code", "SPLIT"], [[ok(ws, {"logs": []})] for ws in words]],
        [["map", "EACH"], [[ok(ws)] for ws in words]],
        [
            ["code", "PREP"],
            [[ok({"word": w, "len": len(w)}, {"logs": []}) for w in ws] for ws in words],
        ],
        [
            ["llm", "SHOUT"],
            [
                [
                    ok(
                        {"prompt": {"text": w}, "completion": {"text": w.upper()}},
                        {"token_usage": {"prompt_tokens": 2, "completion_tokens": 2}},
                    )
                    for w in ws
                ]
                for ws in words
            ],
        ],
    ]
    check = []
    errors = 0
    for i, ws in enumerate(words):
        row = []
        for j, w in enumerate(ws):
            k = i * iterations + j
            if k % 97 == 13:
                row.append({"value": None, "error": ERROR_MESSAGES[k % 3], "meta": None})
                errors += 1
            else:
                row.append(ok({"ok": True, "word": w}, {"logs": [f"checked {w}"]}))
        check.append(row)
    traces.append([["code", "CHECK"], check])
    n_map = inputs * iterations
    blocks = [
        ("input", "INPUT", inputs, 0),
        ("code", "SPLIT", inputs, 0),
        ("map", "EACH", inputs, 0),
        ("code", "PREP", n_map, 0),
        ("llm", "SHOUT", n_map, 0),
        ("code", "CHECK", n_map - errors, errors),
    ]
    return {
        "run": {
            "run_id": "be" * 32,
            "created": 1764320000000,
            "run_type": "deploy",
            "specification_hash": "0" * 64,
            "config": {"blocks": {}},
            "status": {
                "run": "errored",
                "blocks": [
                    {
                        "block_type": t,
                        "name": n,
                        "status": "errored" if e else "succeeded",
                        "success_count": s,
                        "error_count": e,
                    }
                    for t, n, s, e in blocks
                ],
            },
            "traces": traces,
            "results": None,
        }
    }


async def settle(app) -> None:
    """Let queued messages run, then draw the frame now (what the 60 Hz refresh timer would do)."""
    for _ in range(8):
        await asyncio.sleep(0)
    app.screen._on_timer_update()


def load(path: Path) -> bytes:
    """The run file's bytes (a plain function: the measurement loop is async)."""
    return path.read_bytes()


def rss_mb() -> float:
    """Resident memory of this process now, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    """Highest resident memory of this process so far (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure_json(path: Path) -> dict:
    """Memory of a RunState built from the GET answer's JSON text (what a watch's last GET does)."""
    from dusttui.api.state import RunState
    from dusttui.tui.explorer.data import TraceData

    gc.collect()
    base = rss_mb()
    t0 = time.perf_counter()
    state = RunState.from_run_json(load(path))
    out = {"load_s": time.perf_counter() - t0}
    gc.collect()
    out["state_mb"] = rss_mb() - base
    out["state_peak_mb"] = peak_mb() - base
    data = TraceData.from_state(state)  # the explorer's read model over it
    gc.collect()
    out["read_model_mb"] = rss_mb() - base - out["state_mb"]
    out["executions"] = data.execution_count
    return out


def run_json_state(path: Path) -> dict:
    """:func:`measure_json` in a fresh interpreter."""
    here = str(Path(__file__).parent)
    code = (
        f"import json, sys; sys.path.insert(0, {here!r}); import explorer_bench as b; "
        f"print(json.dumps(b.measure_json(b.Path({str(path)!r}))))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"from_run_json failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- one variant, in its own process


async def measure(variant: str, path: Path, presses: int) -> dict:
    """Load the run into a RunState, open the explorer (or the eager tree), press n."""
    from textual.app import App

    from dusttui.api.models import RunEnvelope
    from dusttui.api.state import RunState
    from dusttui.tui.explorer.app import STATUS_VARIABLES

    class Host(App[None]):
        def get_theme_variable_defaults(self) -> dict[str, str]:
            return dict(STATUS_VARIABLES)

    gc.collect()
    base = rss_mb()
    out: dict = {"variant": variant}
    app = Host()
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause()
        gc.collect()
        gc.freeze()  # as DustApp does once its apps are listed: what the app built so far stays
        state_base = rss_mb()
        tracked = len(gc.get_objects())
        run = RunEnvelope.model_validate_json(load(path)).run
        state = RunState()
        state.apply_run(run)
        del run
        gc.collect()
        out["state_mb"] = rss_mb() - state_base
        out["state_peak_mb"] = peak_mb() - state_base
        out["state_gc_objects"] = len(gc.get_objects()) - tracked  # what the collector scans
        gc.collect()
        before = rss_mb()
        t0 = time.perf_counter()
        if variant == "lazy":
            from dusttui.tui.explorer import ExplorerScreen

            screen = ExplorerScreen(state)
        else:
            screen = EagerScreen(state)
        await app.push_screen(screen)
        await settle(app)
        out["open_ms"] = (time.perf_counter() - t0) * 1000
        await pilot.pause()
        gc.collect()
        out["open_mb"] = rss_mb() - before
        jump = screen.action_next_error
        handler: list[float] = []

        def timed_jump() -> None:
            t = time.perf_counter()
            jump()
            handler.append((time.perf_counter() - t) * 1000)

        screen.action_next_error = timed_jump  # bindings look the action up on the instance
        collections = [0, 0, 0]  # automatic collections per generation during the presses

        def count(phase: str, info: dict) -> None:
            if phase == "start":
                collections[info["generation"]] += 1

        gc.callbacks.append(count)
        times = []
        cpu = []  # the process's CPU time for the same: what a loaded machine does not inflate
        for _ in range(presses):
            t0, c0 = time.perf_counter(), time.process_time()
            await app._check_bindings("n")  # what a key press runs
            await settle(app)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
            await pilot.pause()
        gc.callbacks.remove(count)
        out["n_ms"] = times
        out["n_cpu_ms"] = cpu
        out["collections"] = collections
        out["n_handler_ms"] = handler
        idle = []
        for _ in range(10):
            t0 = time.perf_counter()
            screen.refresh(layout=True)
            await settle(app)
            idle.append((time.perf_counter() - t0) * 1000)
            await pilot.pause()
        out["idle_frame_ms"] = idle
        pilot_times = []
        for _ in range(min(presses, 10)):
            t0 = time.perf_counter()
            await pilot.press("n")
            await pilot.pause()
            pilot_times.append((time.perf_counter() - t0) * 1000)
        out["n_pilot_ms"] = pilot_times
        full = []
        for _ in range(5):
            t0 = time.perf_counter()
            gc.collect()
            full.append((time.perf_counter() - t0) * 1000)
        out["full_gc_ms"] = statistics.median(full)
        out["gc_objects"] = len(gc.get_objects())
        out["cursor"] = repr(screen.current)
        out["total_mb"] = rss_mb() - base
    return out


from textual.screen import Screen  # noqa: E402
from textual.widgets import Tree  # noqa: E402


class EagerScreen(Screen[None]):
    """The comparison: Textual's Tree with one node per block, input and execution, built up front."""

    BINDINGS = [("n", "next_error", "Next error")]

    def __init__(self, state) -> None:
        super().__init__()
        self.state = state
        self.current = None
        self.last_jump_ms = 0.0
        self.error_nodes = []

    def compose(self):
        tree: Tree = Tree("run")
        errors = set()
        for ref in self.state.errors:
            errors.add((ref.block_type, ref.block_name, ref.input_index, ref.iteration))
        for bs in self.state.blocks:
            bnode = tree.root.add(f"{bs.block_type} {bs.name}", data=None)
            for i, row in enumerate(self.state.executions(bs.block_type, bs.name)):
                inode = bnode.add(f"#{i}")
                for j, e in enumerate(row):
                    leaf = inode.add_leaf(
                        f"iteration {j} " + ("error" if e.error else "ok"), data=(i, j)
                    )
                    if (bs.block_type, bs.name, i, j) in errors:
                        self.error_nodes.append(leaf)
        tree.root.expand()
        gc.freeze()  # its million nodes spared the collector's full scans: its best case
        yield tree

    def action_next_error(self) -> None:
        t0 = time.perf_counter()
        tree = self.query_one(Tree)
        k = 0 if self.current is None else (self.current + 1) % len(self.error_nodes)
        node = self.error_nodes[k]
        parent = node.parent
        while parent is not None:
            parent.expand()
            parent = parent.parent
        _ = tree._tree_lines
        tree.move_cursor(node)
        self.current = k
        self.last_jump_ms = (time.perf_counter() - t0) * 1000


def baseline_package(ref: str, dest: Path) -> Path:
    """A copy of today's ``dusttui`` under ``dest`` whose explorer is that of ``ref``."""
    shutil.copytree(
        ROOT / "dusttui", dest / "dusttui", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.rmtree(dest / EXPLORER)
    archive = subprocess.run(
        ["git", "archive", ref, EXPLORER], cwd=ROOT, capture_output=True, check=False
    )
    if archive.returncode != 0:
        raise SystemExit(f"--baseline {ref}: {archive.stderr.decode().strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def run_variant(variant: str, path: Path, presses: int, package: Path | None = None) -> dict:
    """Run one variant in a fresh interpreter (importing ``dusttui`` from ``package`` if given)."""
    here = str(Path(__file__).parent)
    first = f"sys.path.insert(0, {str(package)!r}); " if package is not None else ""
    code = (
        f"import asyncio, json, sys; {first}sys.path.insert(0, {here!r}); import explorer_bench as b; "
        f"print(json.dumps(asyncio.run(b.measure({variant!r}, b.Path({str(path)!r}), {presses}))))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"{variant} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- report


def p95(values: list[float]) -> float:
    """95th percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def write_section(text: str) -> None:
    """Replace (or add) this benchmark's section in BENCHMARKS.md, keeping the others."""
    target = ROOT / "BENCHMARKS.md"
    old = target.read_text() if target.exists() else "# Benchmarks\n"
    if SECTION in old:
        head, rest = old.split(SECTION, 1)
        nxt = rest.find("\n## ")
        tail = rest[nxt + 1 :] if nxt >= 0 else ""
        new = head + text + ("\n" + tail if tail else "")
    else:
        new = old.rstrip("\n") + "\n\n" + text
    target.write_text(new)


def main() -> None:
    """Build the run, measure both variants, print and record the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 inputs, no BENCHMARKS.md")
    parser.add_argument("--presses", type=int, default=40)
    parser.add_argument("--baseline", default=BASELINE, help="git revision of the 'before' variant")
    args = parser.parse_args()
    inputs = 100 if args.quick else 1000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.json"
        payload = make_run(inputs, 64)
        path.write_bytes(orjson.dumps(payload))
        size_mb = path.stat().st_size / 1024 / 1024
        executions = sum(len(r) for _, t in payload["run"]["traces"] for r in t)
        errors = sum(1 for _, t in payload["run"]["traces"] for r in t for e in r if e["error"])
        del payload
        lazy = run_variant("lazy", path, args.presses)
        before = run_variant(
            "lazy", path, args.presses, baseline_package(args.baseline, Path(tmp) / "before")
        )
        eager = run_variant("eager", path, args.presses)
        raw = run_json_state(path)
    rows = []
    variants = (
        ("explorer now", lazy),
        (f"explorer before ({args.baseline}: {BASELINES.get(args.baseline, 'as it was')})", before),
        ("Textual Tree, eager", eager),
    )
    for name, r in variants:
        rows.append(
            f"| {name} | {r['open_ms']:.0f} ms"
            f" | {statistics.median(r['n_handler_ms']):.1f} ms / {p95(r['n_handler_ms']):.1f} ms"
            f" | {statistics.median(r['n_ms']):.1f} ms / {p95(r['n_ms']):.1f} ms"
            f" | {statistics.median(r['n_cpu_ms']):.1f} ms / {p95(r['n_cpu_ms']):.1f} ms"
            f" | {statistics.median(r['idle_frame_ms']):.1f} ms"
            f" | {statistics.median(r['n_pilot_ms']):.0f} ms"
            f" | {r['full_gc_ms']:.0f} ms ({r['gc_objects']:,} objects)"
            f" | {' / '.join(str(c) for c in r['collections'])}"
            f" | {r['open_mb']:.1f} MB ({r['open_mb'] / size_mb:.2f}×)"
            f" | {r['total_mb']:.0f} MB ({r['total_mb'] / size_mb:.2f}×) |"
        )
    ratio = {
        key: (
            statistics.median(before[key]) / statistics.median(lazy[key]),
            p95(before[key]) / p95(lazy[key]),
        )
        for key in ("n_ms", "n_cpu_ms", "n_handler_ms")
    }
    ratio_open = eager["open_ms"] / lazy["open_ms"]
    ratio_mem = eager["open_mb"] / max(lazy["open_mb"], 0.1)
    text = f"""{SECTION}

Command: `python bench/explorer_bench.py --presses {args.presses} --baseline {args.baseline}` · {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end (a shared machine) ·
run: {inputs:,} inputs × 64 map iterations × 3 blocks in the map (+ INPUT, SPLIT, EACH) =
{executions:,} executions, {errors:,} errors; run JSON {size_mb:.1f} MB. The RunState holding it, resident after
`gc.collect()`: **{lazy["state_mb"]:.0f} MB ({lazy["state_mb"] / size_mb:.2f}× the JSON)** built from the GET's `Run` models
(`apply_run`; peak {lazy["state_peak_mb"]:.0f} MB while the models exist); **{raw["state_mb"]:.0f} MB ({raw["state_mb"] / size_mb:.2f}×)** built
from the GET's JSON text (`RunState.from_run_json`, what a watch's last GET does: {raw["load_s"]:.2f} s, peak
{raw["state_peak_mb"]:.0f} MB while parsing; the explorer's read model over it adds {raw["read_model_mb"]:.1f} MB). Executions are kept as
JSON text per block and input, models built only for the rows read (a cache of ~1,000 executions):
the RunState adds **{lazy["state_gc_objects"]:,} objects** for the cyclic garbage collector to scan.

| variant | open (push → first frame) | `n` jump (handler), median / p95 | `n` → frame drawn, median / p95 | `n` → frame, CPU time, median / p95 | idle full redraw | `n` via Pilot | full `gc.collect()` with the explorer open (objects it scans) | automatic collections during the presses, generation 0 / 1 / 2 | memory added by opening (× JSON) | total RSS added (state + UI, × JSON) |
|---|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Goals: open ≤ 300 ms, `n` → frame ≤ 16 ms (median), memory ≤ 2× the JSON. **`n` → frame drawn:
before ÷ now = {ratio["n_ms"][0]:.2f}× (median), {ratio["n_ms"][1]:.2f}× (p95)**; in CPU time
{ratio["n_cpu_ms"][0]:.2f}× / {ratio["n_cpu_ms"][1]:.2f}×; the `n` action alone: {ratio["n_handler_ms"][0]:.2f}× / {ratio["n_handler_ms"][1]:.2f}×
(above 1: now is faster; wall times on a loaded machine wait for a CPU, CPU times do not). The eager tree takes {ratio_open:.0f}× longer to
open and adds {ratio_mem:.0f}× the memory.
"`n` jump" is the action itself (find the next error, load and expand what leads to it, move the
cursor, fill the value view). "`n` → frame drawn": the key's binding runs, queued messages are
handled and the frame is drawn (the screen's refresh-timer callback called at once), {args.presses} presses in
a row from the explorer's opening. "Idle full redraw": a layout and full composition of the
140×45 screen with nothing changed. The explorer's trees draw their lines themselves (strips cached
by the state of the nodes on the line, styles resolved once, clicks found by coordinates), repaint
only rows that can have changed, lay out only when a size really changes, and repaint a
scrollbar's rows only where the thumb moved. The host app freezes what it built at start (as
DustApp does once its apps are listed, `gc.freeze()`), then the run is loaded and the explorer
opened. The run is JSON text, so a collection has little of it to scan; nothing is frozen any
more (the "before" at f50c1ba froze every object into the permanent generation over big runs
and never thawed them, so a closed explorer and its run stayed in memory;
`tests/tui/test_explorer_memory.py` checks that a closed explorer's run is freed). Both keep the
older generations' collections for pauses between keys (every 5 s at most under non-stop keys):
without that, a quarter of these presses carried a ~5 ms middle-generation collection and one
in forty a full one. A jump now unloads the iterations the previous jump opened, so the
objects a full collection scans stay flat. The Pilot column adds Pilot's idle detection
(≥ 3 × 20 ms sleeps), for reference only. Memory: "total RSS added" is the RunState, the
explorer and the Textual app itself, at the end; what the explorer adds is the "opening" column.
"""
    print(text)
    if not args.quick:
        write_section(text)


if __name__ == "__main__":
    main()
