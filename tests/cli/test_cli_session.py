"""A run followed by the real binary: its id said at once, Ctrl-C at any moment, a lost server,
unknown runs, cancel where there is none — each in a real process, on real sockets."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.procs import (
    SLOW_BLOCK_APP,
    Cli,
    cli_env,
    run_cli,
    stop_engines,
    wait_engines_gone,
)

RUN_ID = r"[0-9a-f]{64}"


@pytest.fixture
def user(tmp_path):
    """An isolated user with a `slow` app; the engines its commands start are stopped after."""
    env = cli_env(tmp_path, apps={"slow": SLOW_BLOCK_APP})
    yield env
    stop_engines(tmp_path / "data")


def journal_rows(tmp_path: Path) -> list[tuple[str, str]]:
    path = tmp_path / "data" / "journal.sqlite"
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        return db.execute("SELECT run_id, status FROM runs").fetchall()


def test_ctrl_c_mid_block_exits_130_and_says_what_becomes_of_the_run(user, tmp_path):
    cli = Cli(["run", "slow", "--input", '{"ms": 4000}'], user)
    run_id = cli.wait_for(rf"dusttui: run ({RUN_ID}) started").group(1)
    cli.wait_for(r"started\n")
    cli.interrupt()
    code, out, err = cli.finish()
    assert code == 130, err
    assert out == ""
    assert "Traceback" not in err and "Aborted!" not in err
    # The engine of this command stops with it (until the local engine outlives it).
    assert (
        f"dusttui: Interrupted. The local engine stops with this command, and run {run_id} "
        f"with it (it will read interrupted): dusttui get {run_id} --app slow"
    ) in err
    wait_engines_gone(tmp_path / "data")
    code, out, err = run_cli(["get", run_id, "--app", "slow"], user)
    assert code == 1, err
    lines = out.splitlines()
    assert lines[0] == f"run {run_id} ✗ interrupted"  # the engine's dusttui.end_reason
    assert lines[1].startswith("  why: Run interrupted: the engine")
    assert lines[2] == "  ✓ input    INPUT            1 ok"
    assert lines[3] == "  ✗ code     WAIT             0 ok · ran 0/1"  # its partial trace


def test_ctrl_c_before_the_run_starts_exits_130_without_a_traceback(user):
    cli = Cli(["run", "slow", "--input", '{"ms": 10}'], user)
    time.sleep(0.5)  # loading or starting its engine: the run needs a second or two more
    cli.interrupt()
    code, out, err = cli.finish()
    assert code == 130, err
    assert out == ""
    assert "Interrupted" in err
    assert "Traceback" not in err and "Aborted!" not in err


def test_watch_of_an_unknown_run_or_app_is_one_line_and_journals_nothing(remote, tmp_path):
    env = cli_env(tmp_path)
    env.update(
        DUST_BASE_URL=remote.url,
        DUST_WORKSPACE_ID="w",
        DUST_SPACE_ID="s",
        DUST_API_KEY=remote.api_key,
    )
    code, out, err = run_cli(["watch", "f" * 64, "--app", "slow"], env)
    assert (code, out) == (2, "")
    assert err == f"dusttui: No run has this id (run_not_found): No run found for id `{'f' * 64}`\n"
    code, out, err = run_cli(["watch", "f" * 64, "--app", "no-such-app"], env)
    assert (code, out) == (2, "")
    assert len(err.splitlines()) == 1 and err.startswith("dusttui: No app `no-such-app` here"), err
    assert journal_rows(tmp_path) == []


def test_cancel_where_the_api_has_none_says_the_run_continues(remote, tmp_path):
    env = cli_env(tmp_path)
    env.update(
        DUST_BASE_URL=remote.url,
        DUST_WORKSPACE_ID="w",
        DUST_SPACE_ID="s",
        DUST_API_KEY=remote.api_key,
    )
    code, out, err = run_cli(["cancel", "f" * 64, "--app", "slow"], env)
    assert (code, out) == (2, "")
    host = remote.url.split("://", 1)[1]
    assert err == (
        f"dusttui: {host} cannot cancel runs (its API has no cancel): the run continues there.\n"
    )


def test_a_server_gone_mid_run_is_said_with_the_resume_command(tmp_path):
    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "stalling_server.py")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = server.stdout.readline().strip()
        env = cli_env(tmp_path, DUSTTUI_RECONNECT_SECONDS="1.5")
        env.update(DUST_BASE_URL=url, DUST_WORKSPACE_ID="w", DUST_SPACE_ID="s", DUST_API_KEY="sk-x")
        args = ["run", "remote-app", "--input", '{"n": 2}', "--hash", "ab" * 32]
        cli = Cli(args, env)
        run_id = cli.wait_for(rf"dusttui: run ({RUN_ID}) started").group(1)
    finally:
        server.kill()
        server.wait()
    code, out, err = cli.finish()
    assert (code, out) == (3, ""), err
    host = url.split("://", 1)[1]
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"dusttui: Connection lost to {host}: "), err
    assert last.endswith(f"The run may go on there: dusttui watch {run_id} --app remote-app")
    assert journal_rows(tmp_path) == [(run_id, "running")]
