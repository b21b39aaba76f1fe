"""Code-block throughput of the engine versus bare quickjs, for 1, 2, 4… worker processes.

    python bench/engine_code_blocks.py [--rounds 9] [--workers 1,2,4] [--boost -10] [--no-write]

Engine: the bundled `load-1000` demo (1,000 inputs through two code blocks, 2,000 executions) run
in-process with `execute_run`, its JavaScript in N worker processes (the pool started and warm);
rate = code executions / wall time of the whole run (everything the engine does, not only JS).
Bare: the same two `_fun` bodies on the same envs, each call in a fresh `quickjs.Context` (create,
eval the code, call `_fun` on the env JSON, read the result JSON) in a plain loop in one thread.
Ratio = engine rate / bare rate (goal on 2 cores with 2 workers: ≥ 1.5). Rounds alternate bare and
every worker count, so all see the same machine; the ratio is the median of the rounds' own ratios.
CPU is read from /proc/<pid>/task/*/schedstat (nanoseconds): the engine process and its workers
apart, and how long the workers waited for a CPU (run queue) or for work (neither running nor
runnable: the engine's pipeline). The load average is printed beside the figures (the machine is
shared). Writes its section of BENCHMARKS.md unless `--no-write`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import quickjs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dusttui.engine.context import EngineContext  # noqa: E402
from dusttui.engine.js import JSSettings  # noqa: E402
from dusttui.engine.record import RunRecord  # noqa: E402
from dusttui.engine.runner import execute_run  # noqa: E402
from dusttui.engine.spec import parse_spec  # noqa: E402

APPS = ROOT / "dusttui" / "engine" / "apps"
SECTION = "## Engine: code-block executions vs bare quickjs"
COMMAND = "python bench/engine_code_blocks.py"


def load_demo() -> tuple[Any, list[Any]]:
    spec = parse_spec((APPS / "load-1000.dust").read_text(encoding="utf-8"))
    lines = (APPS / "load-1000.inputs.jsonl").read_text(encoding="utf-8").splitlines()
    inputs = [json.loads(line) for line in lines if line.strip()]
    return spec, inputs


def sched(pid: int) -> tuple[float, float]:
    """(CPU seconds, seconds waiting for a CPU) of every thread of a process so far."""
    run = wait = 0
    for path in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            fields = path.read_text().split()
        except OSError:  # a thread that just ended
            continue
        run, wait = run + int(fields[0]), wait + int(fields[1])
    return run / 1e9, wait / 1e9


@dataclass
class Round:
    seconds: float
    engine_cpu: float  # the engine's process (the run loop, env building, the pool)
    workers_cpu: float
    workers_queued: float  # workers runnable, waiting for a CPU (the machine's load)
    workers_idle: float  # workers neither running nor runnable: waiting for work


async def engine_round(spec: Any, inputs: list[Any], ctx: EngineContext) -> tuple[Round, int]:
    """One run of load-1000 on a warm engine context: its figures and its code executions."""
    record = RunRecord.new(spec.hash, "load-1000", {})

    async def emit(event: dict[str, Any]) -> None:
        return None

    pids = ctx.executor().worker_pids()
    me = os.getpid()
    before = [sched(p) for p in pids], sched(me)
    start = time.perf_counter()
    await execute_run(spec, {}, inputs, record, emit, ctx)
    elapsed = time.perf_counter() - start
    after = [sched(p) for p in pids], sched(me)
    assert record.status == "succeeded", record.status
    # the first run starts the pool; later ones must keep it (a replaced worker's CPU is lost)
    assert not pids or ctx.executor().worker_pids() == pids, "a worker was replaced mid-run"
    executions = sum(b["success_count"] for b in record.blocks if b["block_type"] == "code")
    cpu = sum(a[0] - b[0] for a, b in zip(after[0], before[0], strict=True))
    queued = sum(a[1] - b[1] for a, b in zip(after[0], before[0], strict=True))
    figures = Round(
        seconds=elapsed,
        engine_cpu=after[1][0] - before[1][0],
        workers_cpu=cpu,
        workers_queued=queued,
        workers_idle=max(0.0, elapsed * len(pids) - cpu - queued),
    )
    return figures, executions


def bare_envs(spec: Any, inputs: list[Any], run_id: str) -> list[tuple[str, str]]:
    """(code, env JSON) for every code execution of load-1000, as the engine would build them."""
    double, label = (b.get("code") for b in spec.blocks if b.type == "code")
    calls = []
    for i, value in enumerate(inputs):
        base: dict[str, Any] = {"config": {"blocks": {}}, "input": {"value": value, "index": i}}
        base |= {"map": None, "secrets": {}, "run_id": run_id}
        state = {"INPUT": value}
        calls.append((double, json.dumps({**base, "state": state})))
        state = {**state, "DOUBLE": {"x": value["n"] * 2}}
        calls.append((label, json.dumps({**base, "state": state})))
    return calls


def bare_round(calls: list[tuple[str, str]]) -> tuple[float, float]:
    """Every call in a fresh Context, in a plain loop: (seconds, CPU seconds)."""
    start, cpu = time.perf_counter(), time.thread_time()
    for code, env_json in calls:
        ctx = quickjs.Context()
        ctx.eval(code)
        json.loads(ctx.eval(f"JSON.stringify(_fun({env_json}))"))
        del ctx
    return time.perf_counter() - start, time.thread_time() - cpu


@dataclass
class Figures:
    bare_calls: int = 0
    executions: int = 0
    bare: list[tuple[float, float]] = field(default_factory=list)  # (seconds, CPU) a round
    engine: dict[int, list[Round]] = field(default_factory=dict)
    loads: list[float] = field(default_factory=list)

    def ratio(self, n: int) -> float:
        """Median over the rounds of (bare seconds ÷ engine seconds) in the same round."""
        pairs = zip(self.bare, self.engine[n], strict=True)
        return statistics.median(
            b[0] / e.seconds * self.executions / self.bare_calls for b, e in pairs
        )


def set_autogroup_nice(pid: int | str, nice: int) -> None:
    """Linux with autogroups shares the CPUs per session: give this one a priority (root)."""
    with open(f"/proc/{pid}/autogroup", "w") as group:
        group.write(str(nice))


async def measure(rounds: int, counts: list[int], boost: int | None) -> Figures:
    spec, inputs = load_demo()
    calls = bare_envs(spec, inputs, "0" * 64)
    contexts = {n: EngineContext(token_delay=0, js_settings=JSSettings(workers=n)) for n in counts}
    for ctx in contexts.values():
        await engine_round(spec, inputs, ctx)  # start the pool: a running engine's is warm
        if boost is not None:
            for pid in ctx.executor().worker_pids():  # each worker is a session of its own
                set_autogroup_nice(pid, boost)
    figures = Figures(bare_calls=len(calls), loads=[os.getloadavg()[0]])
    figures.engine = {n: [] for n in counts}
    for _ in range(rounds):  # alternate, so all see the same machine state
        figures.bare.append(bare_round(calls))
        for n, ctx in contexts.items():
            done, figures.executions = await engine_round(spec, inputs, ctx)
            figures.engine[n].append(done)
        figures.loads.append(os.getloadavg()[0])
    for ctx in contexts.values():
        ctx.executor().close()
    return figures


def write_section(body: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    start = text.find(SECTION)
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + body
    else:
        end = text.find("\n## ", start + len(SECTION))
        rest = "" if end == -1 else "\n" + text[end + 1 :]
        text = text[:start] + body.rstrip("\n") + "\n" + rest
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument(
        "--boost",
        type=int,
        metavar="NICE",
        help="on a shared Linux machine (autogroups, root): run this bench's session and every "
        "worker's at this niceness (e.g. -10), so both sides get their CPUs alike",
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]

    if args.boost is not None:
        # the autogroup is the whole terminal session's: give its niceness back afterwards
        before = Path("/proc/self/autogroup").read_text().split("nice")[-1].strip()
        set_autogroup_nice("self", args.boost)
    try:
        f = asyncio.run(measure(args.rounds, counts, args.boost))
    finally:
        if args.boost is not None:
            set_autogroup_nice("self", int(before))
    med = statistics.median
    bare_seconds = med(b[0] for b in f.bare)
    bare_cpu = med(b[1] for b in f.bare) / f.bare_calls * 1e6
    lines = [
        SECTION,
        "",
        f"Command: `{COMMAND}{'' if args.boost is None else f' --boost {args.boost}'}"
        f"{'' if args.rounds == 9 else f' --rounds {args.rounds}'}` (medians of {args.rounds} "
        "rounds, bare and every worker count alternated within each round; pools warm).",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()};"
        f" load average {min(f.loads):.1f}–{max(f.loads):.1f} during the run (a shared machine).",
        "",
        "| measure | executions | median time | per second | ÷ bare (median of rounds) "
        "| CPU per execution: engine + workers | workers' time: running / waiting for a CPU / "
        "waiting for work |",
        "|---|---|---|---|---|---|---|",
        f"| bare quickjs, fresh Context per call, one thread | {f.bare_calls} "
        f"| {bare_seconds:.3f} s | {f.bare_calls / bare_seconds:,.0f} | 1.00 | {bare_cpu:.0f} µs "
        "| |",
    ]
    cores = os.cpu_count() or 1
    ceilings = {}
    for n in counts:
        rounds_n = f.engine[n]
        seconds = med(r.seconds for r in rounds_n)
        engine_us = med(r.engine_cpu for r in rounds_n) / f.executions * 1e6
        workers_us = med(r.workers_cpu for r in rounds_n) / f.executions * 1e6
        span = med(r.seconds * n for r in rounds_n)
        shares = [
            med(getattr(r, k) for r in rounds_n) / span
            for k in ("workers_cpu", "workers_queued", "workers_idle")
        ]
        ceilings[n] = (
            min(cores, n + engine_us / (engine_us + workers_us))
            * bare_cpu
            / (engine_us + workers_us)
        )
        lines.append(
            f"| engine, load-1000 run, {n} worker{'s' if n > 1 else ''} | {f.executions} "
            f"| {seconds:.3f} s | {f.executions / seconds:,.0f} | **{f.ratio(n):.2f}** "
            f"| {engine_us:.0f} + {workers_us:.0f} µs "
            f"| {shares[0]:.0%} / {shares[1]:.0%} / {shares[2]:.0%} |"
        )
    lines += [
        "",
        "The engine figure is a whole run (env building, the run loop, traces), its JavaScript in "
        "worker processes; goal with 2 workers on 2 cores: ≥ 1.5× bare. CPU per execution (the "
        "engine process, then its workers) changes little with the machine's load; the wall-clock "
        "ratios measure each side's share of the CPUs as much as the engine. What the CPU figures "
        f"allow on {cores} free cores (N workers and the engine use at most min({cores}, N + the "
        "engine's share) CPUs, bare one): "
        + ", ".join(f"{n} worker{'s' if n > 1 else ''} {ceilings[n]:.2f}×" for n in counts)
        + ".",
        "",
    ]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section(body)


if __name__ == "__main__":
    main()
