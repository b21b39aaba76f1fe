"""`dusttui run` on a terminal, as a person sees it: stdout and stderr on one pseudo-terminal."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

from tests.cli.procs import cli_env, stop_engines


def run_on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run the binary with stdout and stderr on one pseudo-terminal: (code, what it showed)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "dusttui", *args], env=env, stdout=slave, stderr=slave
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    return proc.returncode, b"".join(chunks).decode(errors="replace")


@pytest.fixture
def user(tmp_path):
    env = cli_env(tmp_path, NO_COLOR="1")
    yield env
    stop_engines(tmp_path / "data")


def test_on_a_terminal_each_block_is_listed_once(user):
    code, screen = run_on_a_terminal(["run", "qa-demo", "--input", '{"question": "hi"}'], user)
    assert code == 0, screen
    for block in ("input    INPUT ", "code     PREP ", "llm      ANSWER ", "code     FORMAT "):
        assert screen.count(f"✓ {block}") == 1, (block, screen)
    assert "results:" in screen and "cost (estimate" in screen


def test_piped_the_summary_keeps_every_block(user):
    done = subprocess.run(
        [sys.executable, "-m", "dusttui", "run", "qa-demo", "--input", '{"question": "hi"}'],
        env=user,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1:5] == [
        "  ✓ input    INPUT            1 ok",
        "  ✓ code     PREP             1 ok",
        "  ✓ llm      ANSWER           1 ok",
        "  ✓ code     FORMAT           1 ok",
    ]


def test_watch_of_a_run_over_long_ago_says_opened_not_started_nor_a_made_up_time(user):
    done = subprocess.run(
        [sys.executable, "-m", "dusttui", "run", "qa-demo", "--input", '{"question": "hi"}'],
        env=user,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    run_id = done.stderr.split("dusttui: run ", 1)[1].split(" started", 1)[0]
    code, screen = run_on_a_terminal(["watch", run_id, "--app", "qa-demo"], user)
    assert code == 0, screen
    assert screen.splitlines()[:3] == [
        f"dusttui: run {run_id} opened",
        "✓ run succeeded",  # it was over when opened: how long it ran is not known here
        f"run {run_id} ✓ succeeded",
    ]
