"""Code-block throughput of the engine versus bare quickjs, side by side in one process.

    python bench/engine_code_blocks.py [--rounds 3] [--no-write]

Engine: the bundled `load-1000` demo (1,000 inputs through two code blocks, 2,000 executions) run
in-process with `execute_run`; rate = code executions / wall time of the whole run.
Bare: the same two `_fun` bodies on the same envs, each call in a fresh `quickjs.Context` (create,
eval the code, call `_fun` on the env JSON, read the result JSON) in a plain loop, no engine.
Ratio = engine rate / bare rate (goal ≥ 0.5). Best of `--rounds` for each. Writes its section of
BENCHMARKS.md unless `--no-write`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from pathlib import Path

import quickjs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dusttui.engine.context import EngineContext  # noqa: E402
from dusttui.engine.record import RunRecord  # noqa: E402
from dusttui.engine.runner import execute_run  # noqa: E402
from dusttui.engine.spec import parse_spec  # noqa: E402

APPS = ROOT / "dusttui" / "engine" / "apps"
SECTION = "## Engine: code-block executions vs bare quickjs"
COMMAND = "python bench/engine_code_blocks.py"


def load_demo() -> tuple:
    spec = parse_spec((APPS / "load-1000.dust").read_text(encoding="utf-8"))
    lines = (APPS / "load-1000.inputs.jsonl").read_text(encoding="utf-8").splitlines()
    inputs = [json.loads(line) for line in lines if line.strip()]
    return spec, inputs


async def engine_round(spec, inputs) -> tuple[float, int]:
    """One run of load-1000: (seconds, code executions)."""
    record = RunRecord.new(spec.hash, "load-1000", {})
    ctx = EngineContext(token_delay=0)

    async def emit(event: dict) -> None:
        return None

    start = time.perf_counter()
    await execute_run(spec, {}, inputs, record, emit, ctx)
    elapsed = time.perf_counter() - start
    assert record.status == "succeeded", record.status
    executions = sum(b["success_count"] for b in record.blocks if b["block_type"] == "code")
    ctx.executor().close()
    return elapsed, executions


def bare_envs(spec, inputs, run_id: str) -> list[tuple[str, str]]:
    """(code, env JSON) for every code execution of load-1000, as the engine would build them."""
    double, label = (b.get("code") for b in spec.blocks if b.type == "code")
    calls = []
    for i, value in enumerate(inputs):
        base = {"config": {"blocks": {}}, "input": {"value": value, "index": i}, "map": None}
        base |= {"secrets": {}, "run_id": run_id}
        state = {"INPUT": value}
        calls.append((double, json.dumps({**base, "state": state})))
        state = {**state, "DOUBLE": {"x": value["n"] * 2}}
        calls.append((label, json.dumps({**base, "state": state})))
    return calls


def bare_round(calls: list[tuple[str, str]]) -> float:
    """Every call in a fresh Context, in a plain loop: seconds."""
    start = time.perf_counter()
    for code, env_json in calls:
        ctx = quickjs.Context()
        ctx.eval(code)
        json.loads(ctx.eval(f"JSON.stringify(_fun({env_json}))"))
        del ctx
    return time.perf_counter() - start


def write_section(body: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    start = text.find(SECTION)
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + body
    else:
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + body + ("" if end == -1 else text[end + 1 :])
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    spec, inputs = load_demo()
    calls = bare_envs(spec, inputs, "0" * 64)
    engine_best = bare_best = float("inf")
    executions = 0
    for _ in range(args.rounds):  # alternate, so both see the same machine state
        seconds, executions = asyncio.run(engine_round(spec, inputs))
        engine_best = min(engine_best, seconds)
        bare_best = min(bare_best, bare_round(calls))
    engine_rate = executions / engine_best
    bare_rate = len(calls) / bare_best
    ratio = engine_rate / bare_rate

    lines = [
        SECTION,
        "",
        f"Command: `{COMMAND}` (best of {args.rounds} rounds each, alternated).",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}.",
        "",
        "| measure | executions | best time | per second |",
        "|---|---|---|---|",
        f"| engine: load-1000 run (2 code blocks) | {executions} | {engine_best:.3f} s | {engine_rate:,.0f} |",
        f"| bare quickjs, fresh Context per call | {len(calls)} | {bare_best:.3f} s | {bare_rate:,.0f} |",
        "",
        f"Ratio engine / bare: **{ratio:.2f}** (goal ≥ 0.5).",
        "",
    ]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section(body)


if __name__ == "__main__":
    main()
