"""Big runs against a real `dusttui serve`: many tiny inputs, or a few huge outputs.

    python bench/engine_many_inputs.py [--inputs 490000] [--source DIR] [--label L] [--no-write]
    python bench/engine_many_inputs.py --big 40 --mb 10 [--source DIR] [--label L] [--no-write]

Issue 10's two requests, `blocking: true`, to an app of one code block: 490,000 inputs of
`{"n":D}` (3.9 MB), or 40 inputs each returning a string of 10 MB. The engine runs as its own
process (`python -m dusttui serve`, a fresh data dir); we time the POST until the whole run comes
back and sample the resident memory of the engine and of its JavaScript workers every 50 ms (peaks
reported). `--source DIR` runs another checkout's code (e.g. `git archive <commit> | tar -x -C
DIR`) for a before/after comparison; each run adds (or replaces) its row in BENCHMARKS.md unless
`--no-write`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = {
    "inputs": "## Engine: one request of 490,000 tiny inputs",
    "big": "## Engine: a run of 40 outputs of 10 MB",
}
COMMAND = "python bench/engine_many_inputs.py"
KEY = "sk-bench-0123456789abcdef0123"
APP = """input INPUT { }

code PLUS {
  code:
```
_fun = (env) => env.state.INPUT.big ? "x".repeat(env.state.INPUT.big) : { m: env.state.INPUT.n + 1 };
```
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss(pid: int) -> int:
    """Resident bytes of a process (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except FileNotFoundError:
        return []


class Sampler(threading.Thread):
    """Peak RSS of the engine and of the sum of its children, sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.engine_peak = 0
        self.workers_peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.05):
            self.engine_peak = max(self.engine_peak, rss(self.pid))
            self.workers_peak = max(self.workers_peak, sum(rss(c) for c in children(self.pid)))


def run_once(inputs: str, source: Path) -> dict[str, float | str]:
    with tempfile.TemporaryDirectory() as tmp:
        apps = Path(tmp) / "apps"
        apps.mkdir()
        (apps / "tiny.dust").write_text(APP, encoding="utf-8")
        port = free_port()
        env = {
            **os.environ,
            "PYTHONPATH": str(source),
            "DUSTTUI_DATA_DIR": str(Path(tmp) / "data"),
            "DUSTTUI_SERVER_KEY": KEY,
        }
        engine = subprocess.Popen(
            [sys.executable, "-m", "dusttui", "serve", "--port", str(port), "--apps", str(apps)],
            env=env,
            cwd=tmp,  # `-m` puts the working directory first on sys.path: not this checkout
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    httpx.get(url + "/api/v1/w/w/spaces/s/apps", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            body = (
                '{"specification_hash":"latest","config":{},"blocking":true,'
                f'"inputs":[{inputs}]}}'
            ).encode()
            sampler = Sampler(engine.pid)
            sampler.start()
            start = time.perf_counter()
            response = httpx.post(
                url + "/api/v1/w/w/spaces/s/apps/tiny/runs",
                content=body,
                headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
                timeout=3600,
            )
            seconds = time.perf_counter() - start
            sampler.stop.set()
            sampler.join()
            run = response.json().get("run", {}) if response.status_code == 200 else {}
            status = run.get("status", {}).get("run", f"HTTP {response.status_code}")
            errors = [
                e["error"]
                for trace in run.get("traces") or []
                for row in trace[1]
                for e in row
                if e.get("error")
            ]
            return {
                "seconds": seconds,
                "status": status,
                "request_mb": len(body) / 1e6,
                "response_mb": len(response.content) / 1e6,
                "engine_mb": sampler.engine_peak / 1e6,
                "workers_mb": sampler.workers_peak / 1e6,
                "errors": len(errors),
                "first_error": errors[0][:200]
                if errors
                else response.text[:200]
                if not run
                else "",
            }
        finally:
            engine.terminate()
            try:
                engine.wait(timeout=20)
            except subprocess.TimeoutExpired:
                engine.kill()


def write_row(section: str, row: str) -> None:
    """Add the row to the section's table (a row with the same label is replaced)."""
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text(encoding="utf-8")
    start = text.find(section)
    header = [
        section,
        "",
        f"Command: `{COMMAND}` (see its docstring; `--source` for the earlier code). Machine: "
        f"{platform.machine()}, {os.cpu_count()} CPUs; the load average is the machine's at the "
        "start (shared with other work).",
        "",
        "| code | load | run | wall time | request | response | engine peak RSS | workers peak RSS |",
        "|---|---|---|---|---|---|---|---|",
    ]
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + "\n".join([*header, row]) + "\n"
    else:
        end = text.find("\n## ", start + len(section))
        block = text[start : len(text) if end == -1 else end + 1].rstrip("\n").split("\n")
        label = row.split("|")[1]
        block = [line for line in block if not line.startswith("|" + label + "|")]
        body = "\n".join([*block, row]) + "\n"
        text = text[:start] + body + ("" if end == -1 else text[end:])
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--inputs", type=int, default=490_000)
    parser.add_argument("--big", type=int, default=0, help="this many inputs of huge outputs")
    parser.add_argument("--mb", type=float, default=10.0, help="size of each huge output")
    parser.add_argument("--source", type=Path, default=ROOT, help="the checkout to run")
    parser.add_argument("--label", default="this checkout")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.big:
        size = int(args.mb * 1024 * 1024)
        inputs = ",".join(f'{{"n":{i},"big":{size}}}' for i in range(args.big))
    else:
        inputs = ",".join(f'{{"n":{i % 10}}}' for i in range(args.inputs))
    load = os.getloadavg()[0]
    result = run_once(inputs, args.source.resolve())
    print(json.dumps({"label": args.label, "load": load, **result}))
    if not args.no_write:
        row = (
            f"| {args.label} | {load:.1f} | {result['status']} | {result['seconds']:.1f} s "
            f"| {result['request_mb']:.1f} MB | {result['response_mb']:.0f} MB "
            f"| {result['engine_mb']:.0f} MB | {result['workers_mb']:.0f} MB |"
        )
        write_row(SECTIONS["big" if args.big else "inputs"], row)


if __name__ == "__main__":
    main()
