"""One big request: a run of N tiny inputs through one code block, against a real `dusttui serve`.

    python bench/engine_many_inputs.py [--inputs 490000] [--source DIR] [--no-write]

The request is issue 10's: 490,000 inputs of `{"n":D}` (3.9 MB), `blocking: true`, to an app of
one code block. The engine runs as its own process (`python -m dusttui serve`, a fresh data dir);
we time the POST until the whole run comes back and sample the resident memory of the engine and
of its JavaScript workers every 50 ms (peaks reported). `--source DIR` runs another checkout's
code (e.g. `git archive <commit> | tar -x -C DIR`) for a before/after comparison.
Writes its section of BENCHMARKS.md unless `--no-write`.
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
SECTION = "## Engine: one request of 490,000 tiny inputs"
COMMAND = "python bench/engine_many_inputs.py"
KEY = "sk-bench-0123456789abcdef0123"
APP = """input INPUT { }

code PLUS {
  code:
```
_fun = (env) => ({ m: env.state.INPUT.n + 1 });
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


def run_once(count: int, source: Path) -> dict[str, float | str]:
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
            inputs = ",".join(f'{{"n":{i % 10}}}' for i in range(count))
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
            return {
                "seconds": seconds,
                "status": status,
                "request_mb": len(body) / 1e6,
                "response_mb": len(response.content) / 1e6,
                "engine_mb": sampler.engine_peak / 1e6,
                "workers_mb": sampler.workers_peak / 1e6,
            }
        finally:
            engine.terminate()
            try:
                engine.wait(timeout=20)
            except subprocess.TimeoutExpired:
                engine.kill()


def write_section(body: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text(encoding="utf-8")
    start = text.find(SECTION)
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + body
    else:
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + body + ("" if end == -1 else text[end + 1 :])
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--inputs", type=int, default=490_000)
    parser.add_argument("--source", type=Path, default=ROOT, help="the checkout to run")
    parser.add_argument("--label", default="this checkout")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    result = run_once(args.inputs, args.source.resolve())
    print(json.dumps({"label": args.label, "inputs": args.inputs, "load": load, **result}))
    if not args.no_write:
        body = "\n".join(
            [
                SECTION,
                "",
                f"Command: `{COMMAND} --inputs {args.inputs}`. Machine: {platform.machine()}, "
                f"{os.cpu_count()} CPUs; load average {load:.1f} at the start (a shared machine).",
                "",
                "| code | run | wall time | request | response | engine peak RSS | workers peak RSS |",
                "|---|---|---|---|---|---|---|",
                f"| {args.label} | {result['status']} | {result['seconds']:.1f} s "
                f"| {result['request_mb']:.1f} MB | {result['response_mb']:.0f} MB "
                f"| {result['engine_mb']:.0f} MB | {result['workers_mb']:.0f} MB |",
                "",
            ]
        )
        write_section(body)


if __name__ == "__main__":
    main()
