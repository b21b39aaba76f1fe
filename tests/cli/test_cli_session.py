"""A run followed by the real binary: its id said at once, Ctrl-C at any moment, a lost server,
unknown runs, cancel where there is none — each in a real process, on real sockets."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.procs import (
    SLOW_BLOCK_APP,
    Cli,
    cli_env,
    run_cli,
    run_with_tty_stderr,
    stop_engines,
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


def test_ctrl_c_mid_block_leaves_the_run_going_and_watch_follows_it_elsewhere(user, tmp_path):
    cli = Cli(["run", "slow", "--input", '{"ms": 4000}'], user)
    run_id = cli.wait_for(rf"dusttui: run ({RUN_ID}) started").group(1)
    cli.interrupt()
    code, out, err = cli.finish()
    assert code == 130, err
    assert out == ""
    assert "Traceback" not in err and "Aborted!" not in err
    assert err.endswith(
        f"dusttui: Interrupted. The run goes on: dusttui watch {run_id} --app slow\n"
    )
    # The local engine outlives the command: another terminal follows the run to its end.
    code, out, err = run_cli(["watch", run_id, "--app", "slow"], user)
    assert code == 0, err
    assert out.splitlines()[:3] == [
        f"run {run_id} ✓ succeeded",
        "  ✓ input    INPUT            1 ok",
        "  ✓ code     WAIT             1 ok",
    ]
    assert journal_rows(tmp_path) == [(run_id, "succeeded")]


def test_cancel_stops_a_running_run_and_its_follower_says_so(user):
    follower = Cli(["run", "slow", "--input", '{"ms": 30000}'], user)
    run_id = follower.wait_for(rf"dusttui: run ({RUN_ID}) started").group(1)
    code, out, err = run_cli(["cancel", run_id, "--app", "slow"], user)
    assert code == 0, err
    assert out.splitlines()[:2] == [f"run {run_id} ✗ cancelled", "  why: Run cancelled."]
    code, out, err = follower.finish()
    assert code == 1, err
    # The whole summary: the execution the cancel cut short never ran, so it is no error
    # (no "errors (1): WAIT (input 0): Not run: the run was cancelled.").
    assert out.splitlines() == [
        f"run {run_id} ✗ cancelled",
        "  why: Run cancelled.",
        "  ✓ input    INPUT            1 ok",
        "  ✗ code     WAIT             0 ok · ran 0/1",
    ]
    code, out, err = run_cli(["cancel", run_id, "--app", "slow"], user)
    assert (code, out) == (2, "")
    assert err == f"dusttui: Run {run_id} is not running (cancelled): nothing to cancel.\n"


def test_a_killed_engine_is_noticed_and_the_runs_real_end_is_said(user, tmp_path):
    from dusttui.engine.local import find_local_engine

    follower = Cli(["run", "slow", "--input", '{"ms": 30000}'], user)
    run_id = follower.wait_for(rf"dusttui: run ({RUN_ID}) started").group(1)
    engine = find_local_engine(tmp_path / "data" / "engine")
    assert engine is not None
    os.kill(engine.pid, signal.SIGKILL)
    code, out, err = follower.finish()
    assert code == 1, err
    lines = out.splitlines()
    assert lines[0] == f"run {run_id} ✗ interrupted"
    assert lines[1].startswith("  why: Run interrupted: the engine stopped (crashed or was killed)")
    # A new engine serves the data dir now, and knows the run's end.
    code, out, _ = run_cli(["get", run_id, "--app", "slow"], user)
    assert (code, out.splitlines()[0]) == (1, f"run {run_id} ✗ interrupted")


@pytest.mark.parametrize("mode", ["--stream", "--poll", "--blocking"])
def test_progress_moves_inside_a_block_in_every_mode(user, tmp_path, mode):
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text('{"ms": 40}\n' * 60)
    code, _, err = run_with_tty_stderr(["run", "slow", "--inputs", str(inputs), mode], user)
    assert code == 0, err
    # The running block's live line, rewritten in place: a count between 0 and 60 of 60.
    partial = re.findall(r"● code     WAIT             [█░]{10} (\d+)/60", err)
    assert [n for n in map(int, partial) if 0 < n < 60], err
    assert "✓ code     WAIT             60 ok" in err
    if mode == "--blocking":
        assert "waiting for the answer (blocking mode: the run comes back whole)" in err
        # found by its tag while the long request waits: its id comes before its end
        assert err.index(" started") < err.index("✓ code     WAIT")


def test_ctrl_c_before_the_run_starts_exits_130_without_a_traceback(user, tmp_path):
    cli = Cli(["run", "slow", "--input", '{"ms": 10}'], user)
    lock = tmp_path / "data" / "engine" / "engine.lock"
    for _ in range(600):  # until it is starting its engine: the run needs a second or two more
        if lock.exists() or cli.proc.poll() is not None:
            break
        time.sleep(0.02)
    cli.interrupt()
    code, out, err = cli.finish()
    assert code == 130, err
    assert out == ""
    assert "Interrupted" in err
    assert "Traceback" not in err and "Aborted!" not in err


def test_ctrl_c_as_the_command_line_takes_over_from_loading_exits_130_without_a_traceback(user):
    # A real SIGINT at the instant dusttui/__main__.py hands Ctrl-C from its loading-time handler
    # to KeyboardInterrupt, before any command runs (a window the bench hits, a user rarely).
    code = (
        "import os, runpy, signal, sys\n"
        "real = signal.signal\n"
        "def switch(sig, handler):\n"
        "    old = real(sig, handler)\n"
        "    if handler is signal.default_int_handler:\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "    return old\n"
        "signal.signal = switch\n"
        "sys.argv = ['dusttui', 'locate', 'data']\n"
        "runpy.run_module('dusttui', run_name='__main__', alter_sys=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=user, capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout, done.stderr) == (130, "", "dusttui: Interrupted.\n")


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


def test_cancel_where_the_api_has_none_says_the_run_continues(tmp_path):
    # A Dust API without the engine's extensions (GET /dusttui/v1/engine answers 404 there).
    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "stalling_server.py")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = server.stdout.readline().strip()
        env = cli_env(tmp_path)
        env.update(DUST_BASE_URL=url, DUST_WORKSPACE_ID="w", DUST_SPACE_ID="s", DUST_API_KEY="sk-x")
        code, out, err = run_cli(["cancel", "f" * 64, "--app", "remote-app"], env)
    finally:
        server.kill()
        server.wait()
    assert (code, out) == (2, "")
    host = url.split("://", 1)[1]
    assert err == (
        f"dusttui: {host} cannot cancel runs (its API has no cancel): the run continues there.\n"
    )


@pytest.fixture
def served(tmp_path) -> Iterator[str]:
    """A real `dusttui serve` with the `slow` app, on a port of its own; its URL."""
    apps = tmp_path / "served-apps"
    apps.mkdir()
    (apps / "slow.dust").write_text(SLOW_BLOCK_APP)
    env = cli_env(tmp_path / "server", DUSTTUI_SERVER_KEY="sk-served-engine-1")
    serve = subprocess.Popen(
        [sys.executable, "-m", "dusttui", "serve", "--port", "0", "--apps", str(apps)],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert serve.stderr is not None
        first = serve.stderr.readline()
        assert first.startswith("dusttui engine listening on http://127.0.0.1:"), first
        yield first.split(" on ", 1)[1].strip()
    finally:
        serve.send_signal(signal.SIGINT)
        try:
            serve.wait(timeout=30)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()


def test_a_dusttui_serve_reached_by_url_can_cancel_a_run(served, tmp_path):
    # `dusttui serve` has the engine's extensions though it is not this user's local engine:
    # found out once per connection (GET /dusttui/v1/engine), so cancel stops the run there.
    env = cli_env(tmp_path / "user")
    env.update(
        DUST_BASE_URL=served,
        DUST_WORKSPACE_ID="w",
        DUST_SPACE_ID="s",
        DUST_API_KEY="sk-served-engine-1",
    )
    inputs = ["--input", '{"ms": 1}'] * 2 + ["--input", '{"ms": 30000}'] * 2
    follower = Cli(["run", "slow", *inputs], env)
    run_id = follower.wait_for(rf"dusttui: run ({RUN_ID}) started").group(1)
    status_url = f"{served}/api/v1/w/w/spaces/s/apps/slow/runs/{run_id}/status"
    headers = {"Authorization": "Bearer sk-served-engine-1"}
    for _ in range(600):  # until the two quick inputs are done (the engine's live counts)
        blocks = httpx.get(status_url, headers=headers, timeout=10).json()["run"]["status"]
        if blocks["blocks"] and blocks["blocks"][-1]["success_count"] >= 2:
            break
        time.sleep(0.05)
    code, out, err = run_cli(["cancel", run_id, "--app", "slow"], env)
    assert code == 0, err
    assert out.splitlines()[:2] == [f"run {run_id} ✗ cancelled", "  why: Run cancelled."]
    code, out, err = follower.finish()
    assert code == 1, err
    assert out.splitlines() == [
        f"run {run_id} ✗ cancelled",
        "  why: Run cancelled.",
        "  ✓ input    INPUT            4 ok",
        "  ✗ code     WAIT             2 ok · ran 2/4",
    ]


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


async def test_a_dusttui_serve_reached_by_url_gives_live_counts_inside_a_block(served):
    from pydantic import SecretStr

    from dusttui.config import Backend, Settings
    from dusttui.session.backend import Connector
    from dusttui.session.runs import RunSession

    backend = Backend("remote", served, "w", "s", SecretStr("sk-served-engine-1"))
    connector = Connector(backend, Settings())
    session = RunSession(connector)
    try:
        client = await connector.ready()
        assert connector.extensions is True  # asked once: GET /dusttui/v1/engine answered
        app = next(a for a in await client.list_apps() if a.name == "slow")
        seen: list[tuple[str, int, int | None]] = []  # WAIT while it runs: (status, ok, total)

        def listen(run, change) -> None:
            block = run.state.block("code", "WAIT") if run.state is not None else None
            if block is not None and block.status == "running":
                seen.append((block.status, block.success_count, block.expected))

        session.subscribe(listen)
        inputs = [{"ms": 1}, {"ms": 1}, {"ms": 30000}, {"ms": 30000}]
        run = session.launch(app, "latest", {}, inputs, "stream")
        for _ in range(600):  # the stream says nothing of WAIT until it ends: these are live
            if ("running", 2, 4) in seen:
                break
            await asyncio.sleep(0.05)
        assert ("running", 2, 4) in seen, seen[-5:]
        assert await session.cancel(run) == f"Run {run.run_id[:6]}… cancelled."
        for _ in range(600):
            if run.finished:
                break
            await asyncio.sleep(0.05)
        assert run.state.end_reason == "cancelled"
        assert [(b.name, b.status, b.success_count, b.error_count) for b in run.state.blocks] == [
            ("INPUT", "succeeded", 4, 0),
            ("WAIT", "errored", 2, 0),
        ]
    finally:
        await session.aclose()
        await connector.aclose()


def test_an_engine_killed_mid_block_still_says_how_far_the_block_got(tmp_path):
    from dusttui.engine.local import find_local_engine

    env = cli_env(
        tmp_path, apps={"slow": SLOW_BLOCK_APP}, DUSTTUI_JS_TIME_LIMIT="120", DUSTTUI_JS_WORKERS="2"
    )
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text('{"ms": 10}\n' * 19 + '{"ms": 100000}\n')  # the last one never ends
    follower = Cli(["run", "slow", "--inputs", str(inputs)], env)
    try:
        run_id = follower.wait_for(rf"dusttui: run ({RUN_ID}) started").group(1)
        saved = tmp_path / "data" / "engine" / "engine.sqlite3"

        def saved_counts() -> list[int]:
            with sqlite3.connect(saved) as db:
                (listing,) = db.execute(
                    "SELECT listing_json FROM runs WHERE run_id = ?", (run_id,)
                ).fetchone()
            return [b["success_count"] for b in json.loads(listing)["status"]["blocks"]]

        # Until the engine has saved the block's progress (every second) and it stopped moving:
        # the quick inputs are done, the rest waits behind the endless one.
        counts, previous = saved_counts(), None
        for _ in range(60):
            if counts == previous and len(counts) == 2 and counts[1] > 0:
                break
            time.sleep(1.5)
            previous, counts = counts, saved_counts()
        assert counts[0] == 20 and 0 < counts[1] < 20, counts
        done = counts[1]
        engine = find_local_engine(tmp_path / "data" / "engine")
        assert engine is not None
        os.kill(engine.pid, signal.SIGKILL)
        code, out, err = follower.finish()
        assert code == 1, err
        code, out, _ = run_cli(["get", run_id, "--app", "slow"], env)
        assert code == 1
        assert out.splitlines()[0] == f"run {run_id} ✗ interrupted"
        assert out.splitlines()[2:] == [
            "  ✓ input    INPUT            20 ok",
            f"  ✗ code     WAIT             {done} ok · ran {done}/20",
        ]
    finally:
        stop_engines(tmp_path / "data")
