"""Ctrl-C on the CLI: time from a real SIGINT to the process's exit (code 130), at each moment.

    python bench/cli_interrupt.py               # 5 rounds; writes BENCHMARKS.md
    python bench/cli_interrupt.py --rounds 2 --no-write

The real `python -m dusttui` against the real local engine (started once, reused by every round,
as a user's is), with an isolated data dir. Moments: as the command starts (once its command
line is loaded, while it finds the engine: before the run starts), mid-block (a code block busy
for 30 s), and while `dusttui get` reads a finished 20 MB run (its GET).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.tui_util import write_section  # noqa: E402
from tests.cli.procs import SLOW_BLOCK_APP, Cli, cli_env, run_cli  # noqa: E402

BIG_APP = """input INPUT { }

code A {
  code:
```
_fun = (env) => ({ n: env.state.INPUT.n, pad: "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz" })
```
}
"""


SETTLE = 3.0  # seconds between two interrupts


def interrupt_after(
    args: list[str], env: dict[str, str], wait_for: str | None, delay: float
) -> float:
    # The engine may still be busy with the previous moment (a 30 MB answer whose reader left):
    # a pause, so each moment is timed on the machine as it is, not on the bench's own load.
    time.sleep(SETTLE)
    cli = Cli(args, env)
    if wait_for is not None:
        cli.wait_for(wait_for, timeout=600)
    time.sleep(delay)
    sent = time.perf_counter()
    cli.interrupt()
    code = cli.proc.wait(timeout=60)
    took = time.perf_counter() - sent
    _, _, err = cli.finish()
    if code != 130:
        raise SystemExit(f"{args}: exit {code}, not 130: {err}")
    # The interrupted run goes on in the engine (its code block busy for 30 s): cancel it, or the
    # runs of every round would pile up and load the machine the next rounds are timed on.
    started = re.search(r"run ([0-9a-f]{64}) started", err)
    if started and args[0] == "run":
        run_cli(["cancel", started.group(1), "--app", args[1]], env, 120)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()
    from dusttui.engine.local import stop_local_engine

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = cli_env(folder, apps={"slow": SLOW_BLOCK_APP, "big": BIG_APP})
        inputs = folder / "big.jsonl"
        inputs.write_text("".join(json.dumps({"n": i}) + "\n" for i in range(100_000)))
        try:
            code, out, err = run_cli(["run", "big", "--inputs", str(inputs), "--json"], env, 1200)
            if code != 0:
                raise SystemExit(err)
            big = json.loads(out)
            size = len(out)
            moments: dict[str, list[float]] = {"start": [], "block": [], "final": []}
            for _ in range(args.rounds):
                # Once dusttui's code runs (its command line loaded, the engine being found): a
                # fixed delay from the spawn lands in the interpreter's own start on a busy
                # machine (site's .pth files), before any code of ours can answer a Ctrl-C.
                moments["start"].append(
                    interrupt_after(  # a short block: a run created anyway ends at once
                        ["run", "slow", "--input", '{"ms": 10}'],
                        {**env, "PYTHONPROFILEIMPORTTIME": "1"},
                        r"(?m)\|\s+dusttui\.cli$",
                        0.0,
                    )
                )
                moments["block"].append(
                    interrupt_after(
                        ["run", "slow", "--input", '{"ms": 30000}'], env, r"run \S+ started", 0.5
                    )
                )
                moments["final"].append(
                    interrupt_after(["get", big["run_id"], "--app", "big"], env, None, 0.8)
                )
        finally:
            stop_local_engine(folder / "data" / "engine")
    load = os.getloadavg()[0]
    labels = {
        "start": "as the command starts (its command line loaded, finding the engine)",
        "block": "mid-block (0.5 s after `run … started`)",
        "final": f"`get` of a {size / 1e6:.0f} MB run, 0.8 s in (its GET)",
    }
    lines = ["| Ctrl-C | rounds | median | worst |", "|---|---|---|---|"]
    for name, values in moments.items():
        lines.append(
            f"| {labels[name]} | {len(values)} | {statistics.median(values) * 1000:.0f} ms | "
            f"{max(values) * 1000:.0f} ms |"
        )
    body = (
        f"`python bench/cli_interrupt.py --rounds {args.rounds}` · load average {load:.2f} on "
        f"{os.cpu_count()} CPUs · a real SIGINT to `python -m dusttui`, timed to its exit "
        "(always 130).\n\n" + "\n".join(lines)
    )
    print(body)
    if not args.no_write:
        write_section(ROOT / "BENCHMARKS.md", "CLI: Ctrl-C to exit", body)


if __name__ == "__main__":
    main()
