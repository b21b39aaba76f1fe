"""Code-block throughput of the engine versus bare quickjs, for 1, 2, 4… worker processes.

    python bench/engine_code_blocks.py [--rounds 5] [--workers 1,2,4] [--boost -10] [--no-write]

Engine: the bundled `load-1000` demo (1,000 inputs through two code blocks, 2,000 executions) run
in-process with `execute_run`, its JavaScript in N worker processes (the pool started and warm);
rate = code executions / wall time of the whole run (everything the engine does, not only JS).
Bare: the same two `_fun` bodies on the same envs, each call in a fresh `quickjs.Context` (create,
eval the code, call `_fun` on the env JSON, read the result JSON) in a plain loop in one thread.
Ratio = engine rate / bare rate (goal on 2 cores with 2 workers: ≥ 1.5). Rounds alternate bare and
every worker count, so all see the same machine; best of `--rounds` each. The load average is
printed beside the figures (the machine is shared). Writes its section of BENCHMARKS.md unless
`--no-write`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def engine_round(
    spec: Any, inputs: list[Any], ctx: EngineContext
) -> tuple[float, int, float]:
    """One run of load-1000 on a warm engine context: (seconds, code executions, CPU seconds of
    the engine process and its workers)."""
    record = RunRecord.new(spec.hash, "load-1000", {})

    async def emit(event: dict[str, Any]) -> None:
        return None

    pids = ctx.executor().worker_pids()
    cpu = time.process_time() + sum(cpu_seconds(p) for p in pids)
    start = time.perf_counter()
    await execute_run(spec, {}, inputs, record, emit, ctx)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() + sum(cpu_seconds(p) for p in pids) - cpu
    assert record.status == "succeeded", record.status
    executions = sum(b["success_count"] for b in record.blocks if b["block_type"] == "code")
    return elapsed, executions, cpu


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
    start, cpu = time.perf_counter(), time.process_time()
    for code, env_json in calls:
        ctx = quickjs.Context()
        ctx.eval(code)
        json.loads(ctx.eval(f"JSON.stringify(_fun({env_json}))"))
        del ctx
    return time.perf_counter() - start, time.process_time() - cpu


@dataclass
class Figures:
    bare_seconds: float = float("inf")
    bare_cpu: float = float("inf")
    bare_calls: int = 0
    executions: int = 0
    seconds: dict[int, float] = field(default_factory=dict)
    cpu: dict[int, float] = field(default_factory=dict)
    loads: list[float] = field(default_factory=list)


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
    figures.seconds = dict.fromkeys(counts, float("inf"))
    figures.cpu = dict.fromkeys(counts, float("inf"))
    for _ in range(rounds):  # alternate, so all see the same machine state
        seconds, cpu = bare_round(calls)
        figures.bare_seconds = min(figures.bare_seconds, seconds)
        figures.bare_cpu = min(figures.bare_cpu, cpu)
        for n, ctx in contexts.items():
            seconds, figures.executions, cpu = await engine_round(spec, inputs, ctx)
            figures.seconds[n] = min(figures.seconds[n], seconds)
            figures.cpu[n] = min(figures.cpu[n], cpu)
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
    parser.add_argument("--rounds", type=int, default=5)
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
        set_autogroup_nice("self", args.boost)
    f = asyncio.run(measure(args.rounds, counts, args.boost))
    bare_rate = f.bare_calls / f.bare_seconds
    bare_cpu = f.bare_cpu / f.bare_calls * 1e6
    lines = [
        SECTION,
        "",
        f"Command: `{COMMAND}{'' if args.boost is None else f' --boost {args.boost}'}` (best of "
        f"{args.rounds} rounds each, alternated; pools warm).",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()};"
        f" load average {min(f.loads):.1f}–{max(f.loads):.1f} during the run (a shared machine).",
        "",
        "| measure | executions | best time | per second | ÷ bare | CPU per execution |",
        "|---|---|---|---|---|---|",
        f"| bare quickjs, fresh Context per call, one thread | {f.bare_calls} "
        f"| {f.bare_seconds:.3f} s | {bare_rate:,.0f} | 1.00 | {bare_cpu:.0f} µs |",
    ]
    for n in counts:
        rate = f.executions / f.seconds[n]
        cpu = f.cpu[n] / f.executions * 1e6
        lines.append(
            f"| engine, load-1000 run, {n} worker{'s' if n > 1 else ''} | {f.executions} "
            f"| {f.seconds[n]:.3f} s | {rate:,.0f} | **{rate / bare_rate:.2f}** | {cpu:.0f} µs |"
        )
    cores = os.cpu_count() or 1
    best_cpu = min(f.cpu.values()) / f.executions * 1e6
    lines += [
        "",
        "The engine figure is a whole run (env building, the run loop, traces), its JavaScript in "
        "worker processes; goal with 2 workers on 2 cores: ≥ 1.5× bare. CPU per execution counts "
        "the engine process and its workers together, which the machine's load does not change "
        f"much: on {cores} idle cores the engine can run at most {cores} ÷ {best_cpu:.0f} µs, "
        f"that is {cores * bare_cpu / best_cpu:.2f}× bare (bare: {bare_cpu:.0f} µs a call). On a "
        "busy machine the wall-clock ratios measure each side's share of the CPUs as much as "
        "the engine.",
        "",
    ]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section(body)


if __name__ == "__main__":
    main()
