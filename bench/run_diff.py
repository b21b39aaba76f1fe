"""Run diff benchmark: two runs of 1,000 inputs × 64 map iterations × 3 blocks (~195k executions
each) that differ in ~1 % of their executions (values changed, errors fixed and new ones).

Measures, each variant in a fresh process, with both runs already loaded as RunStates (what the
TUI holds; loading them is timed apart): the first screen (the diff computed, then its summary,
block table and first page of 20 differences rendered as text), the next difference (`n`: one
difference read, decoded and rendered), keeping up with the second run while it streams (the diff
updated after each block's executions arrive), and the memory the diff adds against the two runs'
JSON. Variants, side by side in one run:

- ``rundiff``: dusttui.compare as built (rows compared as JSON text first; a differing row cut at
  each execution's text, only differing executions decoded; differences kept as arrays);
- ``decode-all``: the same classification, decoding every row of both runs (no text shortcut);
- ``models``: the comparison a first version would write with the models RunState hands out
  (``state.executions()``: one ``Execution`` per execution, values compared with ``==``).

    python bench/run_diff.py            # prints the figures, writes the section in BENCHMARKS.md
    python bench/run_diff.py --quick    # 100 inputs, no BENCHMARKS.md (smoke test)

The runs come from ``bench/explorer_bench.py``'s generator (input → map over 64 words → code,
llm, code inside the map; the last one fails on ~0.5 % of executions).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
SECTION = "## Run diff (bench/run_diff.py)"
VARIANTS = ("rundiff", "decode-all", "models")
PAGE = 20


def make_pair(inputs: int, iterations: int) -> tuple[bytes, bytes]:
    """Run A from the explorer bench's generator, and run B: ~1 % of its executions differ."""
    from explorer_bench import make_run

    a = make_run(inputs, iterations)
    b = orjson.loads(orjson.dumps(a))
    b["run"]["run_id"] = "bf" * 32
    for (_, name), execution in b["run"]["traces"]:
        for i, row in enumerate(execution):
            for j, e in enumerate(row):
                k = i * iterations + j
                if name == "SHOUT" and k % 73 == 11:
                    e["value"]["completion"]["text"] += " (again)"
                elif name == "PREP" and k % 151 == 7:
                    e["value"]["len"] += 1
                elif name == "CHECK" and k % 194 == 13:  # half of A's errors fixed
                    e.update(value={"ok": True, "word": f"w{i}-{j}"}, error=None, meta=None)
                elif name == "CHECK" and k % 211 == 100 and e["error"] is None:
                    e.update(value=None, error="Error in `code`: Error: new check failed")
    return orjson.dumps(a), orjson.dumps(b)


def rss_mb() -> float:
    """Resident memory of this process now, in MB."""
    return _status("VmRSS:")


def _status(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> None:
    """Start VmHWM again from the current RSS (Linux: clear_refs 5)."""
    Path("/proc/self/clear_refs").write_text("5")


# ------------------------------------------------------------------ the baselines


class DecodeAll:
    """The diff without its text shortcut: every row of both runs decoded and compared."""

    def __init__(self, a, b) -> None:
        from dusttui.compare.rows import rows_of
        from dusttui.compare.rundiff import _classify

        self.counts: dict[str, int] = {}
        self.found: list[tuple] = []
        for key in a.trace_keys():
            ra, rb = rows_of(a, key), rows_of(b, key)
            for i in range(len(ra)):
                for j, (ea, eb) in enumerate(zip(ra.decode(i), rb.decode(i), strict=False)):
                    kind = _classify(ea, eb)
                    self.counts[kind] = self.counts.get(kind, 0) + 1
                    if kind != "same":
                        self.found.append((kind, key, i, j))


class Models:
    """The diff written with the models a RunState hands out (``Execution.value`` ``==``)."""

    def __init__(self, a, b) -> None:
        self.counts: dict[str, int] = {}
        self.found: list[tuple] = []
        for key in a.trace_keys():
            for i, (row_a, row_b) in enumerate(
                zip(a.executions(*key), b.executions(*key), strict=False)
            ):
                for j, (ea, eb) in enumerate(zip(row_a, row_b, strict=False)):
                    if ea.error is None and eb.error is None:
                        kind = "same" if ea.value == eb.value else "changed"
                    elif eb.error is None:
                        kind = "fixed"
                    elif ea.error is None:
                        kind = "broken"
                    else:
                        kind = "same" if ea.error == eb.error else "changed"
                    self.counts[kind] = self.counts.get(kind, 0) + 1
                    if kind != "same":
                        self.found.append((kind, key, i, j))


# ------------------------------------------------------------------ the TUI's diff screen


async def measure_screen(a, b, presses: int = 200) -> dict:
    """Push the diff screen on both runs (a host App already up, as in the TUI): until its
    first difference is on screen; then `n` presses, key → frame drawn."""
    from textual.app import App

    from dusttui.tui.diff import DiffScreen

    async def settle(app) -> None:
        for _ in range(8):
            await asyncio.sleep(0)
        app.screen._on_timer_update()  # the frame the refresh timer would draw now

    out: dict = {}
    app = App()
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.pause()
        gc.collect()
        gc.freeze()  # as DustApp does once connected: what was built so far is not rescanned
        t0 = time.perf_counter()
        screen = DiffScreen(a, b)
        await app.push_screen(screen)
        while screen.index < 0:  # noqa: ASYNC110  (the thread, then the first difference shown)
            await asyncio.sleep(0.001)
        await settle(app)
        out["screen_first_ms"] = (time.perf_counter() - t0) * 1000
        times = []
        cpu = []  # this process's CPU time: what other processes on the machine do not inflate
        for _ in range(presses):
            t1, c1 = time.perf_counter(), time.process_time()
            await app._check_bindings("n")  # what a key press runs
            await settle(app)
            times.append((time.perf_counter() - t1) * 1000)
            cpu.append((time.process_time() - c1) * 1000)
            await pilot.pause()
        out["screen_next_ms"] = sorted(times)
        out["screen_next_cpu_ms"] = sorted(cpu)
    return out


# ------------------------------------------------------------------ one variant (child process)


def measure(variant: str, path_a: Path, path_b: Path) -> dict:
    from dusttui.api.state import RunState
    from dusttui.compare import RunDiff
    from dusttui.compare.render import block_table, counts_line, detail_lines

    data_a, data_b = path_a.read_bytes(), path_b.read_bytes()
    t0 = time.perf_counter()
    a = RunState.from_run_json(data_a)
    b = RunState.from_run_json(data_b)
    load_s = time.perf_counter() - t0
    json_mb = (len(data_a) + len(data_b)) / 1e6
    del data_a, data_b
    gc.collect()
    base = rss_mb()
    reset_peak()
    out: dict = {"variant": variant, "load_s": load_s, "json_mb": json_mb}
    t0 = time.perf_counter()
    if variant == "rundiff":
        diff = RunDiff(a, b)
        lines = [counts_line(diff), *block_table(diff, 140)]
        for k in range(min(PAGE, len(diff))):
            lines += detail_lines(diff, diff.detail(k), 140)
        out["first_s"] = time.perf_counter() - t0
        out["counts"] = dict(diff.counts)
        steps = []
        for k in range(1, min(len(diff), 2001)):  # `n` from the top, as a user presses it
            t1 = time.perf_counter()
            detail_lines(diff, diff.detail(k), 140)
            steps.append(time.perf_counter() - t1)
        out["next_ms"] = sorted(s * 1000 for s in steps)
        out["differences"] = len(diff)
    else:
        diff = DecodeAll(a, b) if variant == "decode-all" else Models(a, b)
        out["first_s"] = time.perf_counter() - t0
        out["counts"] = diff.counts
        out["differences"] = len(diff.found)
    gc.collect()
    out["retained_mb"] = rss_mb() - base
    out["peak_mb"] = _status("VmHWM:") - base
    if variant == "rundiff":
        out["stream_ms"] = stream_updates(a, path_b)
        out.update(asyncio.run(measure_screen(a, b)))
    return out


def stream_updates(a, path_b: Path) -> list[tuple[float, float]]:
    """Feed run B block by block as a stream would; after each, the RunState's first read of the
    block (its event's JSON text made rows: whoever reads first pays it) and the diff's update,
    in ms."""
    from dusttui.api.state import RunState
    from dusttui.compare import RunDiff

    run = orjson.loads(path_b.read_bytes())["run"]
    b = RunState(specification_hash=run["specification_hash"])
    b.apply_fast("run_status", {"status": "running", "run_id": run["run_id"]}, None, b"")
    diff = RunDiff(a, b)
    times = []
    for (block_type, name), execution in run["traces"]:
        head = {"block_type": block_type, "name": name}
        b.apply_fast("block_status", {**head, "status": "running"}, None, b"")
        content = {"block_type": block_type, "block_name": name, "execution": execution}
        raw = orjson.dumps({"type": "block_execution", "content": content})
        b.apply_fast("block_execution", content, None, raw)
        b.apply_fast("block_status", {**head, "status": "succeeded"}, None, b"")
        t0 = time.perf_counter()
        b.executions(block_type, name)
        t1 = time.perf_counter()
        diff.update()
        times.append(((t1 - t0) * 1000, (time.perf_counter() - t1) * 1000))
    return times


# ------------------------------------------------------------------ the parent


def run_variant(variant: str, path_a: Path, path_b: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, __file__, "--child", variant, str(path_a), str(path_b)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(proc.stdout)


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
    """Build both runs, measure each variant, print and record the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 inputs, no BENCHMARKS.md")
    parser.add_argument("--child", nargs=3, metavar=("VARIANT", "A", "B"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        variant, a, b = args.child
        print(json.dumps(measure(variant, Path(a), Path(b))))
        return
    inputs = 100 if args.quick else 1000
    with tempfile.TemporaryDirectory() as tmp:
        data_a, data_b = make_pair(inputs, 64)
        path_a, path_b = Path(tmp, "a.json"), Path(tmp, "b.json")
        path_a.write_bytes(data_a)
        path_b.write_bytes(data_b)
        results = [run_variant(v, path_a, path_b) for v in VARIANTS]
    load = os.getloadavg()[0]
    ours = results[0]
    for r in results[1:]:
        assert r["counts"] == {k: v for k, v in ours["counts"].items() if v}, (r, ours)
    json_mb = ours["json_mb"]
    executions = sum(ours["counts"].values())
    nxt = ours["next_ms"]
    rows = []
    for r in results:
        first = r["first_s"] * 1000
        ratio = f"{first / (ours['first_s'] * 1000):.1f}×" if r is not ours else "1×"
        next_text = "–"
        if "next_ms" in r:
            next_text = (
                f"{statistics.median(r['next_ms']):.2f} / "
                f"{r['next_ms'][int(0.99 * (len(r['next_ms']) - 1))]:.2f} / {max(r['next_ms']):.2f} ms"
            )
        rows.append(
            f"| {r['variant']} | {first:.0f} ms ({ratio}) | {next_text} | "
            f"{r['retained_mb']:.1f} MB ({r['retained_mb'] / json_mb:.2f}×) | "
            f"{r['peak_mb']:.1f} MB ({r['peak_mb'] / json_mb:.2f}×) |"
        )
    c = ours["counts"]
    stream = ours["stream_ms"]
    scr = ours["screen_next_ms"]
    scr_cpu = ours["screen_next_cpu_ms"]
    screen_text = (
        f"The TUI's diff screen (`dusttui/tui/diff`, 140×45, a host App already running): pushed "
        f"→ its first difference drawn {ours['screen_first_ms']:.0f} ms (the comparison in a "
        f"thread); `n` → frame drawn, {len(scr)} presses: median "
        f"{statistics.median(scr):.1f} ms, p95 {scr[int(0.95 * (len(scr) - 1))]:.1f} ms, max "
        f"{max(scr):.1f} ms; the process's CPU time for the same: median "
        f"{statistics.median(scr_cpu):.1f} ms, p95 {scr_cpu[int(0.95 * (len(scr_cpu) - 1))]:.1f} "
        f"ms (wall time on this shared machine waits for other processes). The detail pane and "
        f"the list draw their own lines: a press repaints the two list rows that changed, or the "
        f"list once it scrolls, and the detail, with no layout."
    )
    text = f"""{SECTION}

Command: `python bench/run_diff.py` · {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, load average {load:.2f} at the end (a shared machine) ·
two runs of {inputs:,} inputs × 64 map iterations × 3 blocks in the map (+ INPUT, SPLIT, EACH) =
{executions:,} executions each; JSON {json_mb / 2:.1f} MB each, {json_mb:.1f} MB both. Run B differs
in {ours["differences"]:,} executions ({ours["differences"] / executions:.1%}): {c["changed"]:,} changed,
{c["broken"]:,} broken, {c["fixed"]:,} fixed. Loading both as RunStates (`from_run_json`, what a
GET or the journal gives; not in the figures below): {ours["load_s"]:.2f} s.

| variant | first screen (diff + summary + first page) | next difference (`n`): median / p99 / max | memory added, retained (× both JSON) | memory added, peak (× both JSON) |
|---|---|---|---|---|
{chr(10).join(rows)}

Goals: first screen ≤ 1 s, next difference ≤ 16 ms, memory ≤ 1× the two runs' JSON. "First
screen": the diff computed over every execution, then the counts, the block table and the first
{PAGE} differences rendered as the text `dusttui diff` prints. "Next difference": one difference
read from the diff's arrays, its two rows cut at each execution's text (a cache keeps the last 8
rows) and only its two executions decoded, its value diff computed and rendered — {len(nxt):,} presses from the top (the rare slow presses did not repeat when
the same differences were read again: the machine's load, not the work). While run B streams, the diff is
updated after each block's executions arrive: {", ".join(f"{u:.0f}" for _, u in stream)} ms per
update for the six blocks (blocks whose rows did not move keep their comparison; nothing is
recomputed when no run moved), after the RunState's own first read of each block (its event's JSON
text made rows, paid by whoever reads the block first: the explorer, the diff):
{", ".join(f"{r:.0f}" for r, _ in stream)} ms. The baselines give the same counts; `models` builds an `Execution` per execution read
(RunState caches ~1,000).

{screen_text}
"""
    print(text)
    if not args.quick:
        write_section(text)


if __name__ == "__main__":
    main()
