"""The README's first steps as a new user takes them: the real `dusttui` in tmux, 120×40 and 80×24.

A fresh HOME and XDG folders in tmp_path (nothing of the real account is read or written), a
tmux server of its own per test, the screen read with capture-pane until what the user waits for
shows (each wait has a deadline; no sleep is tuned to pass). At the end the local engine the walk
started is stopped and the tmux server killed, whatever happened.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from dusttui.engine.local import find_local_engine, stop_local_engine

EXITED = "dusttui exited with"


@dataclass
class Terminal:
    """A tmux server of its own with one window running `dusttui`."""

    socket: str
    env: dict[str, str]
    engine_dir: Path
    socket_path: Path | None = None
    seen: list[str] = field(default_factory=list)

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, f"tmux {' '.join(args)}: {done.stderr}"
        return done.stdout

    def screen(self) -> str:
        """What the terminal shows now, as text (each screen kept, to look for secrets)."""
        shown = self.tmux("capture-pane", "-p", "-t", "walk")
        self.seen.append(shown)
        return shown

    def keys(self, *keys: str, literal: bool = False) -> None:
        """Type keys (tmux key names, or text with ``literal``)."""
        self.tmux("send-keys", "-t", "walk", *(["-l"] if literal else []), *keys)

    def wait(self, what: str, check: Callable[[str], bool], limit: float = 30.0) -> str:
        """Read the screen until ``check`` holds; fail with the screen after ``limit`` s."""
        deadline = time.monotonic() + limit
        while True:
            screen = self.screen()
            if check(screen):
                return screen
            if time.monotonic() > deadline:
                pytest.fail(f"{what}: not on screen within {limit:g} s; the screen was:\n{screen}")
            time.sleep(0.05)

    def wait_for(self, text: str, limit: float = 30.0) -> str:
        """Wait until ``text`` shows somewhere on the screen."""
        return self.wait(repr(text), lambda screen: text in screen, limit)


@pytest.fixture
def terminal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Terminal]]:
    """Start `dusttui` in a fresh account inside a tmux server of the test's own."""
    assert shutil.which("tmux"), (
        "this walk-through drives the TUI in tmux: install tmux (.ci/run does)"
    )
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "DUSTTUI_ENGINE_IDLE_SECONDS": "60",  # a backstop: the walk stops it itself
    }
    if os.environ.get("PYTHONPATH"):  # a developer's checkout, as the tests import it
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    started: list[Terminal] = []

    def start(width: int, height: int) -> Terminal:
        script = tmp_path / "dusttui.sh"
        script.write_text(
            f'#!/bin/sh\n"{sys.executable}" -m dusttui\necho "{EXITED} $?"\nexec sleep 600\n'
        )
        script.chmod(0o700)
        term = Terminal(
            socket=f"dusttui-walk-{os.getpid()}-{width}x{height}",
            env=env,
            engine_dir=home / ".local" / "share" / "dusttui" / "engine",
        )
        started.append(term)
        term.tmux(
            "new-session", "-d", "-s", "walk", "-x", str(width), "-y", str(height), str(script)
        )
        term.socket_path = Path(term.tmux("display-message", "-p", "#{socket_path}").strip())
        return term

    yield start
    for term in started:
        stop_local_engine(term.engine_dir)
        subprocess.run(
            ["tmux", "-L", term.socket, "kill-server"], env=env, capture_output=True, timeout=30
        )
        if term.socket_path is not None:
            term.socket_path.unlink(missing_ok=True)


@pytest.mark.parametrize(("width", "height"), [(120, 40), (80, 24)])
def test_a_new_user_walks_the_readme(terminal, width: int, height: int):
    term = terminal(width, height)
    term.wait_for("dusttui ─ local engine")  # the first frame
    # The engine is found or started and lists its demo apps (README: First steps).
    screen = term.wait_for("while-demo", limit=90)
    for demo in ("flaky-demo", "load-1000", "map-reduce-demo", "paced-demo", "qa-demo"):
        assert demo in screen
    assert "r run  t traces  n next error  / filter  ? help  q quit" in screen

    term.keys("/")  # the footer says: / filter
    # The filter has the keys: letters are text now, so the footer offers only F-keys.
    term.wait_for("f5 run  / filter  f1 help")
    term.keys("qa-demo", literal=True)
    term.wait("the list filtered", lambda s: "qa-demo" in s and "flaky-demo" not in s)
    term.keys("Enter")
    screen = term.wait_for("r run  t traces")  # back in the list, qa-demo picked
    assert screen.splitlines()[1].split("│", 1)[1].strip().startswith("qa-demo · ")

    term.keys("r")  # the footer says: r run
    screen = term.wait_for("· qa-demo · ✓ succeeded ·", limit=60)
    rows = "\n".join(" ".join(line.split()) for line in screen.splitlines())  # columns as words
    for block in ("input INPUT", "code PREP", "llm ANSWER", "code FORMAT"):
        assert f"{block} ✓ succeeded 3 0 ██████████ 3/3" in rows

    term.keys("t")  # the footer says: t traces
    explorer = (
        "1 tree  2 grid  3 errors  4 search  5 stats",
        "succeeded · no errors",
        "▶ ✓ llm ANSWER  3✓",
        "esc Close",
    )
    term.wait("the explorer", lambda s: all(text in s for text in explorer))

    term.keys("Escape")
    term.wait_for("r run  t traces")
    term.keys("l")  # README: the request log
    log = term.wait("the request log", lambda s: "Request log · " in s and " POST " in s)
    calls = [" ".join(row.split()) for row in log.splitlines()]
    assert any(row.startswith(("1 ", "2 ")) and " GET 200 " in row for row in calls)
    assert any(" POST 200 " in row for row in calls)
    term.keys("Escape")
    term.wait_for("r run  t traces")
    term.keys("q")  # no run left running: it quits at once
    term.wait_for(f"{EXITED} 0")

    # The local engine's key (in its data dir) never reached the screen.
    key = (term.engine_dir / "server_key").read_text().strip()
    assert len(key) >= 16 and not any(key in shown for shown in term.seen)
    # The local engine outlives the TUI (README: it stops by itself once idle); the walk stops it.
    assert find_local_engine(term.engine_dir) is not None
    assert stop_local_engine(term.engine_dir) is True
    assert find_local_engine(term.engine_dir) is None
