"""Start-up: `dusttui`'s first frame, its demo apps listed and its engine ready, vs `posting`.

    python bench/tui_startup.py --before main     # 7 rounds, alternated; writes BENCHMARKS.md
    python bench/tui_startup.py --rounds 3 --no-write

Each round starts every program in a fresh detached tmux session (120×36, its own socket) and
polls `tmux capture-pane` every 5 ms until each of its markers shows: the first frame (a text only
its first frame has), the demo apps listed (`qa-demo` on screen) and, for dusttui, its engine
ready (the status line reads `idle`: a launch goes straight out). `dusttui` starts as a new user's
would (no config, a fresh data dir, the local engine), in two states:

- cold: no engine running for that data dir (dusttui starts one);
- warm: an engine already running for it (started by the bench before the round, as an earlier
  dusttui would have left it).

`--before REV` adds both states for the code of a git revision (exported with `git archive`), side
by side. posting runs from its own venv under bench/out/ (`pip install posting 'tree-sitter<0.26'`,
made on first use, never in the project's environment: posting pins another Textual). Also
`dusttui --help`. Every engine a round started is stopped after it.
"""

from __future__ import annotations

import argparse
import io
import itertools
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.tui_util import write_section  # noqa: E402
from dusttui.config import Settings  # noqa: E402
from dusttui.engine.local import ensure_local_engine, stop_local_engine  # noqa: E402

_SESSIONS = itertools.count()
SOCKET = f"bench-startup-{os.getpid()}"
POSTING_VENV = ROOT / "bench" / "out" / "posting-venv"
FIRST_FRAME = "dusttui ─ local engine"
LISTED = "qa-demo"
READY = "○ idle"
IDLE_SECONDS = "60"  # a backstop: every engine is stopped after its round anyway
BARE_APP = """
from textual.app import App
from textual.widgets import Footer, Static
class Bare(App):
    def compose(self):
        yield Static("bare-ready")
        yield Footer()
Bare().run()
"""


def posting_command() -> str:
    """posting from its own venv (created the first time)."""
    exe = POSTING_VENV / "bin" / "posting"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(POSTING_VENV)], check=True)
        subprocess.run(
            [str(POSTING_VENV / "bin" / "pip"), "install", "-q", "posting", "tree-sitter<0.26"],
            check=True,
        )
    return str(exe)


def export_tree(rev: str) -> Path:
    """The package as it is at `rev`, in a temporary folder (for PYTHONPATH)."""
    folder = Path(tempfile.mkdtemp(prefix="dusttui-before-"))
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "dusttui"], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def tmux(*args: str) -> subprocess.CompletedProcess[str]:
    """tmux on this bench's own server."""
    return subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True)


def timed(command: str, markers: list[str], home: Path) -> list[float]:
    """Seconds from launch until each marker is on screen (NaN: never within 30 s)."""
    session = f"start-{next(_SESSIONS)}"
    env = (
        f"env -u DUST_API_KEY -u DUST_WORKSPACE_ID -u DUST_BASE_URL -u DUSTTUI_ENGINE_THREAD "
        f"HOME='{home}' XDG_CONFIG_HOME='{home}/config' XDG_DATA_HOME='{home}/data' "
        f"DUSTTUI_CONFIG_DIR='{home}/dt-config' DUSTTUI_DATA_DIR='{home}/dt-data' "
        f"DUSTTUI_CONFIG='{home}/dt-config/config.toml' DUSTTUI_ENGINE_IDLE_SECONDS={IDLE_SECONDS}"
    )
    seen = [float("nan")] * len(markers)
    start = time.perf_counter()
    tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "36", "-c", str(home),
         f"{env} {command}; sleep 30")  # fmt: skip
    try:
        while time.perf_counter() - start < 30:
            screen = tmux("capture-pane", "-p", "-t", session).stdout
            now = time.perf_counter() - start
            for index, marker in enumerate(markers):
                if seen[index] != seen[index] and marker in screen:  # NaN: not seen yet
                    seen[index] = now
            if all(s == s for s in seen):
                break
            time.sleep(0.005)
    finally:
        tmux("kill-session", "-t", session)
    if seen[0] != seen[0]:
        raise RuntimeError(f"{command!r} showed no {markers[0]!r} within 30 s")
    return seen


def help_time(rounds: int) -> tuple[float, float]:
    """Median seconds of `dusttui --help`, and of `python -c pass` for reference."""
    dusttui = shutil.which("dusttui") or str(Path(sys.executable).parent / "dusttui")

    def median(cmd: list[str]) -> float:
        times = []
        for _ in range(rounds):
            t = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True)
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    median([dusttui, "--help"])  # warm the bytecode cache
    return median([dusttui, "--help"]), median([sys.executable, "-c", "pass"])


def dusttui_variants(label: str, pythonpath: Path) -> dict[str, tuple[str, list[str], bool]]:
    command = f"PYTHONPATH='{pythonpath}' {sys.executable} -m dusttui"
    markers = [FIRST_FRAME, LISTED, READY]
    return {
        f"{label}, cold": (command, markers, False),
        f"{label}, warm": (command, markers, True),
    }


def start_warm_engine(home: Path) -> None:
    """The engine an earlier `dusttui` would have left running for this data dir."""
    token_delay = Settings.model_fields["token_delay_ms"].default / 1000.0
    os.environ["DUSTTUI_ENGINE_IDLE_SECONDS"] = IDLE_SECONDS
    ensure_local_engine(home / "dt-data" / "engine", token_delay=token_delay)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--before", metavar="REV", help="also run the code of this git revision")
    parser.add_argument("--no-posting", action="store_true", help="skip posting")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()

    load_start = os.getloadavg()[0]
    started = time.perf_counter()
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as bare:
        bare.write(BARE_APP)
    programs = dusttui_variants("dusttui", ROOT)
    before_tree = None
    if args.before:
        before_tree = export_tree(args.before)
        programs |= dusttui_variants(f"before ({args.before})", before_tree)
    programs["bare Textual app"] = (f"{sys.executable} {bare.name}", ["bare-ready"], False)
    if not args.no_posting:
        programs["posting"] = (posting_command(), ["Posting 2."], False)
    results: dict[str, list[list[float]]] = {name: [] for name in programs}
    # An idle session keeps the tmux server up between runs (a server exiting as the next
    # session starts makes `new-session` fail now and then).
    tmux("new-session", "-d", "-s", "anchor", "sleep 3600")
    try:
        for round_no in range(args.rounds + 1):
            for name, (command, markers, warm) in programs.items():
                with tempfile.TemporaryDirectory() as tmp:
                    home = Path(tmp)
                    try:
                        if warm:
                            start_warm_engine(home)
                        timing = timed(command, markers, home)
                    finally:
                        stop_local_engine(home / "dt-data" / "engine")
                if round_no:  # round 0 warms caches for everyone
                    results[name].append(timing)
    finally:
        tmux("kill-server")
        os.unlink(bare.name)
        if before_tree is not None:
            shutil.rmtree(before_tree, ignore_errors=True)
    help_s, python_s = help_time(15)
    report(args, results, help_s, python_s, load_start, time.perf_counter() - started)


def _median(values: list[float]) -> float:
    known = [v for v in values if v == v]
    return statistics.median(known) if known else float("nan")


def _cell(values: list[float]) -> str:
    known = [v for v in values if v == v]
    if not known:
        return "— | — | —"
    return f"{statistics.median(known):.3f} s | {min(known):.3f} s | {max(known):.3f} s"


def report(
    args: argparse.Namespace,
    results: dict[str, list[list[float]]],
    help_s: float,
    python_s: float,
    load_start: float,
    took: float,
) -> None:
    """Print the table and the ratios; write them into BENCHMARKS.md unless --no-write."""
    columns = ["first frame", "demo apps listed", "engine ready"]
    head = "| program | " + " | ".join(f"{c} (median) | min | max" for c in columns) + " |"
    lines = [head, "|---" * (1 + 3 * len(columns)) + "|"]
    medians: dict[str, list[float]] = {}
    for name, rounds in results.items():
        cells = []
        medians[name] = []
        for index in range(len(columns)):
            values = [r[index] for r in rounds if index < len(r)]
            medians[name].append(_median(values) if values else float("nan"))
            cells.append(_cell(values) if values else " | | ")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    verdicts = []
    posting = medians.get("posting", [float("nan")])[0]
    for name, (first, listed, ready) in medians.items():
        if not name.startswith(("dusttui", "before")):
            continue
        verdicts.append(
            f"{name}: demo apps listed ÷ posting's first frame **{listed / posting:.2f}** "
            f"(goal ≤ 0.5), first frame ÷ posting's {first / posting:.2f}, engine ready "
            f"{ready:.3f} s."
        )
    verdicts.append(
        f"`dusttui --help`: **{help_s:.3f} s** (`python -c pass` takes {python_s:.3f} s)."
    )
    print(table)
    print("\n".join(verdicts))
    if args.no_write:
        return
    command = "python bench/tui_startup.py" + (f" --before {args.before}" if args.before else "")
    command += f" --rounds {args.rounds}" if args.rounds != 7 else ""
    body = (
        f"Command: `{command}` ({args.rounds} rounds after one warm-up, programs alternated; "
        f"{took:.0f} s) · CPython {platform.python_version()}, {os.cpu_count()} CPUs, load average "
        f"{load_start:.2f} at the start and {os.getloadavg()[0]:.2f} at the end (a shared machine: "
        "read the ratios within this run) · tmux 120×36, `capture-pane` polled every 5 ms; "
        "posting from its own venv (bench/out/posting-venv).\n\n" + table + "\n\n"
        "" + "\n".join(f"- {v}" for v in verdicts) + "\n\n"
        "Cold: a fresh data dir and no engine running (dusttui starts the local engine); warm: "
        "the local engine of that data dir already running (the bench starts it before the "
        "round). The first frame lists the local apps' names read from their folders (a "
        "directory listing made before Textual is imported); the local engine is started (or "
        "found) once that frame is drawn, so its imports do not take the CPU the frame needs; "
        "the main screen follows once the apps' files are read in a thread; engine ready is "
        "when the engine has answered the apps listing (the status line reads `idle`): a "
        "launch made before it waits for it, saying so. `before (main)` is main as landed "
        "before this step: the same first frame, the engine started before Textual's import.\n"
    )
    write_section(ROOT / "BENCHMARKS.md", "TUI: startup (first frame) and `dusttui --help`", body)


if __name__ == "__main__":
    main()
