"""Startup: time to the first frame of `dusttui` vs `posting` vs a bare Textual app, under tmux.

    python bench/tui_startup.py              # 7 rounds, alternated; writes BENCHMARKS.md
    python bench/tui_startup.py --rounds 3 --no-write

Each round starts the program in a fresh detached tmux session (120×36) and polls
`tmux capture-pane` every 5 ms until its first frame shows (a text only its first frame has).
`dusttui` starts as a new user's would: no config, the embedded engine (which may finish
starting after the first frame; "apps listed" is when the demo apps are on screen), served by a
child process, and side by side with DUSTTUI_ENGINE_THREAD=1 (the engine in a thread, as before). posting runs
from its own venv under bench/out/ (`pip install posting 'tree-sitter<0.26'`, made on first use,
never in the project's environment: posting pins another Textual). Also `dusttui --help`.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.tui_util import write_section  # noqa: E402

_SESSIONS = itertools.count()
CHILD = "dusttui (engine in a child process)"
THREAD = "dusttui (engine in a thread, before)"
ENGINE_THREAD_ENV = "DUSTTUI_ENGINE_THREAD"  # dusttui.session.ENGINE_THREAD_ENV
POSTING_VENV = ROOT / "bench" / "out" / "posting-venv"
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


def first_frame(command: str, marker: str, later: str | None, home: Path) -> tuple[float, float]:
    """Seconds from launch to `marker` on screen (and to `later`, if given)."""
    session = f"bench-start-{os.getpid()}-{next(_SESSIONS)}"
    env = (
        f"env -u DUST_API_KEY -u DUST_WORKSPACE_ID -u DUST_BASE_URL HOME='{home}' "
        f"XDG_CONFIG_HOME='{home}/config' XDG_DATA_HOME='{home}/data' "
        f"DUSTTUI_CONFIG_DIR='{home}/dt-config' DUSTTUI_DATA_DIR='{home}/dt-data' "
        f"DUSTTUI_CONFIG='{home}/dt-config/config.toml'"
    )
    start = time.perf_counter()
    subprocess.run(
        [
            "tmux",
            "new-session",
            "-d",
            "-s",
            session,
            "-x",
            "120",
            "-y",
            "36",
            "-c",
            str(home),
            f"{env} {command}; sleep 30",
        ],
        check=True,
    )
    seen = done = 0.0
    try:
        while time.perf_counter() - start < 30:
            screen = subprocess.run(
                ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True
            ).stdout
            now = time.perf_counter() - start
            if not seen and marker in screen:
                seen = now
            if seen and (later is None or later in screen):
                done = now
                break
            time.sleep(0.005)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    if not seen:
        raise RuntimeError(f"{command!r} showed no {marker!r} within 30 s")
    return seen, done


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--no-posting", action="store_true", help="skip posting")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    args = parser.parse_args()

    dusttui = shutil.which("dusttui") or f"{sys.executable} -m dusttui"
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as bare:
        bare.write(BARE_APP)
    programs = {
        CHILD: (dusttui, "dusttui ─ local engine", "qa-demo"),
        THREAD: (f"{ENGINE_THREAD_ENV}=1 {dusttui}", "dusttui ─ local engine", "qa-demo"),
        "bare Textual app": (f"{sys.executable} {bare.name}", "bare-ready", None),
    }
    if not args.no_posting:
        programs["posting"] = (posting_command(), "Posting 2.", None)
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in programs}
    # An idle session keeps the tmux server up between runs (a server exiting as the next
    # session starts makes `new-session` fail now and then).
    anchor = f"bench-anchor-{os.getpid()}"
    subprocess.run(["tmux", "new-session", "-d", "-s", anchor, "sleep 3600"], check=True)
    try:
        for round_no in range(args.rounds + 1):
            for name, (command, marker, later) in programs.items():
                with tempfile.TemporaryDirectory() as home:
                    timing = first_frame(command, marker, later, Path(home))
                if round_no:  # round 0 warms caches for everyone
                    results[name].append(timing)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", anchor], capture_output=True)
        os.unlink(bare.name)
    help_s, python_s = help_time(15)

    med = {name: statistics.median(t[0] for t in ts) for name, ts in results.items()}
    listed = {n: statistics.median(t[1] for t in results[n]) for n in (CHILD, THREAD)}
    lines = [
        "| program | first frame (median) | min | max | demo apps listed (median) | min | max |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, ts in results.items():
        firsts = [t[0] for t in ts]
        row = f"| {name} | {med[name]:.3f} s | {min(firsts):.3f} s | {max(firsts):.3f} s |"
        if name in listed:
            lasts = [t[1] for t in ts]
            row += f" {listed[name]:.3f} s | {min(lasts):.3f} s | {max(lasts):.3f} s |"
        else:
            row += " | | |"
        lines.append(row)
    table = "\n".join(lines)
    ratio = med[CHILD] / med["posting"] if "posting" in med else None
    verdicts = [
        f"Demo apps listed, child process / thread: **{listed[CHILD] / listed[THREAD]:.2f}** "
        f"({listed[CHILD]:.3f} s vs {listed[THREAD]:.3f} s; goal: within 1 s); first frame "
        f"{med[CHILD] / med[THREAD]:.2f}.",
        f"`dusttui --help`: **{help_s:.3f} s** (goal ≤ 0.15 s; `python -c pass` takes {python_s:.3f} s).",
    ]
    if ratio is not None:
        verdicts.insert(0, f"dusttui / posting first frame: **{ratio:.2f}** (goal ≤ 0.5).")
    print(table)
    print("\n".join(verdicts))
    if not args.no_write:
        body = (
            f"Command: `python bench/tui_startup.py` ({args.rounds} rounds after one warm-up, "
            f"programs alternated) · CPython {platform.python_version()}, {os.cpu_count()} CPUs, "
            f"load average {os.getloadavg()[0]:.2f} at the end · "
            "tmux 120×36, `capture-pane` polled every 5 ms; posting from its own venv "
            "(bench/out/posting-venv).\n\n" + table + "\n\n" + "\n".join(verdicts) + "\n\n"
            "dusttui's first frame is its whole layout with the backend, the pane titles and the "
            "keys; the editors and the block table come right after it, and the demo apps once "
            "the embedded engine answers. `dusttui` starts the engine as a child process before "
            "importing Textual (its imports and start run on the other core, at nice 5 so the "
            "TUI keeps the CPU first, and later its work never holds the TUI's GIL); `{ENGINE_THREAD_ENV}=1 dusttui`, the way before, serves "
            "it from a thread of the TUI's process once the first frame is up. Most of the gap "
            "to a bare Textual app is reading the settings (pydantic-settings) before the TUI "
            "starts.\n"
        )
        write_section(
            ROOT / "BENCHMARKS.md", "TUI: startup (first frame) and `dusttui --help`", body
        )


if __name__ == "__main__":
    main()
