"""The TUI over the run session, on real engines: live progress inside a block, cancel with a
confirmation, R from the runs list, a lost server said plainly with frozen timers, a killed local
engine noticed and the run's real end shown, the quit question true per backend."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from dusttui.api.client import DustClient
from dusttui.config import Backend, Settings
from dusttui.tui.app import DustApp
from dusttui.tui.screens.confirm import ConfirmScreen
from dusttui.tui.themes import bundled_themes_dir
from tests.cli.procs import SLOW_BLOCK_APP
from tests.tui.conftest import EMBEDDED
from tests.tui.helpers import finish, notifications, pick, ready, rows, text_of

SIZE = (120, 36)
STALLING_SERVER = Path(__file__).parents[1] / "cli" / "stalling_server.py"


@pytest.fixture(scope="module")
def slow_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """An engine with `slow`: a code block whose inputs each wait `ms` (100 samples of 40 ms)."""
    from dusttui.engine.embedded import EmbeddedEngine

    apps = tmp_path_factory.mktemp("slow-apps")
    (apps / "slow.dust").write_text(SLOW_BLOCK_APP)
    (apps / "slow.inputs.jsonl").write_text('{"ms": 40}\n' * 100)
    eng = EmbeddedEngine(data_dir=tmp_path_factory.mktemp("slow-engine"), apps_dir=apps)
    eng.start()
    yield eng
    eng.stop()


@pytest.fixture
def slow_app(slow_engine, tmp_path: Path) -> Callable[..., DustApp]:
    def build(settings: Settings | None = None) -> DustApp:
        client = DustClient(slow_engine.url, slow_engine.api_key, "local", "local")
        return DustApp(
            settings or Settings(bell=False),
            backend=EMBEDDED,
            client=client,
            theme_dirs=(bundled_themes_dir(),),
            data_path=tmp_path / "data",
            cursor_blink=False,
        )

    return build


async def _until(pilot, condition: Callable[[], bool], seconds: float = 30.0) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"the screen never showed it: {rows(pilot.app)}")


def _done(progress: str) -> int:
    """`███░░░░░░░ 31/100` → 31."""
    return int(progress.rsplit(" ", 1)[-1].split("/")[0])


async def test_progress_moves_inside_a_running_block(slow_app):
    app = slow_app()
    shown: list[list[str]] = []  # the WAIT row each time the run pane was repainted
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        main = app.main
        paint = main.refresh_run

        def spy(run):
            paint(run)
            row = rows(app).get("code:WAIT")
            if row is not None and row[2] == "● running":
                shown.append(row)

        main.refresh_run = spy
        await pick(pilot, "slow")
        await pilot.press("r")
        await finish(pilot)
        # Rows with some but not all executions done (all 100 can show before the block's end).
        partial = [r for r in shown if r[5].endswith("/100") and 0 < _done(r[5]) < 100]
        assert partial, shown  # counts moved while the block ran, not only at its end
        assert all("█" * 10 not in r[5] for r in partial)  # partial bars
        paced = [r[7] for r in partial if "/s" in r[7]]
        assert paced and all(p.endswith(" s") for p in paced), (paced, partial)  # rate · time left
        assert rows(app)["code:WAIT"][2:6] == ["✓ succeeded", "100", "0", "██████████ 100/100"]


@pytest.mark.parametrize("mode", ["poll", "blocking"])
async def test_while_a_block_runs_the_blocks_before_it_show_their_counts_in_every_mode(
    slow_app, mode
):
    # Poll and blocking mode have no traces before the end: the counts are the status's.
    app = slow_app()
    shown: list[dict[str, list[str]]] = []  # the table each time WAIT ran partway
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        main = app.main
        paint = main.refresh_run

        def spy(run):
            paint(run)
            table = rows(app)
            wait = table.get("code:WAIT")
            if wait is not None and wait[2] == "● running" and 0 < _done(wait[5]) < 100:
                shown.append(table)

        main.refresh_run = spy
        app.set_mode(mode)
        await pick(pilot, "slow")
        await pilot.press("r")
        await finish(pilot)
        assert shown, mode  # WAIT was seen partway, live
        assert {tuple(t["input:INPUT"][2:6]) for t in shown} == {
            ("✓ succeeded", "100", "0", "██████████ 100/100")
        }
        assert rows(app)["code:WAIT"][2:6] == ["✓ succeeded", "100", "0", "██████████ 100/100"]


async def test_c_asks_then_cancels_the_run_and_says_why(slow_app):
    app = slow_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "slow")
        # 2 quick inputs, then 2 that would wait a minute: cancelled once the 2 are done.
        app.main.query_one("#inputs").load(json.dumps([{"ms": 1}] * 2 + [{"ms": 60000}] * 2))
        await pilot.pause()
        await pilot.press("r")
        await _until(
            pilot,
            lambda: (
                (row := rows(app).get("code:WAIT", [""] * 6))[2] == "● running"
                and row[5].endswith(" 2/4")
            ),
        )
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await finish(pilot)
        assert "· ✗ cancelled ·" in text_of(app, "#run-title")
        assert text_of(app, "#run-errors").startswith("✗ Run cancelled.")
        # One count, the explorer's: the 2 executions the cancel cut short never ran (the
        # engine's "Not run: the run was cancelled." placeholders are neither ok nor errors).
        assert rows(app)["code:WAIT"][2:6] == ["✗ errored", "2", "0", "█████░░░░░ 2/4"]
        # One notification for one cancel: the run's end, with its reason.
        cancel_toasts = [n for n in notifications(app) if "cancel" in n]
        assert len(cancel_toasts) == 1, cancel_toasts
        assert cancel_toasts[0].endswith(" of slow cancelled: Run cancelled."), cancel_toasts


async def test_r_with_the_runs_list_focused_shows_the_new_run(slow_app):
    app = slow_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "slow")
        app.main.query_one("#inputs").load('[{"ms": 1}]')
        await pilot.press("r")
        await finish(pilot)
        first = next(iter(app.runs.values()))
        runs_list = app.main.query_one("#runs")
        runs_list.focus()
        await pilot.pause()
        await pilot.press("R")
        await finish(pilot)
        second = list(app.runs.values())[-1]
        assert second.run_id != first.run_id
        assert text_of(app, "#run-title").startswith(f"Run {second.run_id[:6]}…")
        assert runs_list.highlighted_option.id == second.key
        assert app.main.shown_key == second.key


@pytest.fixture
def stalling_server() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A Dust API that starts a run's stream, then stalls; the test kills it."""
    server = subprocess.Popen(
        [sys.executable, str(STALLING_SERVER)], stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    yield server, server.stdout.readline().strip()
    server.kill()
    server.wait()


async def test_a_server_gone_mid_run_is_said_plainly_and_timers_stop(stalling_server):
    server, url = stalling_server
    host = url.split("://", 1)[1]
    backend = Backend("remote", url, "w", "s", SecretStr("sk-x"), None)
    app = DustApp(
        Settings(bell=False, reconnect_seconds=3.0),
        backend=backend,
        client=DustClient(url, "sk-x", "w", "s"),
        theme_dirs=(bundled_themes_dir(),),
        cursor_blink=False,
    )
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "remote-app")
        app.main.query_one("#inputs").load('[{"n": 2}]')
        await pilot.press("r")
        await _until(pilot, lambda: rows(app).get("input:INPUT", [""] * 3)[2] == "● running")
        server.kill()
        await asyncio.to_thread(server.wait)
        status = lambda: text_of(app, "#status-connection")  # noqa: E731
        await _until(pilot, lambda: status().startswith(f"◌ connection lost to {host} · retry"))
        title, cell = text_of(app, "#run-title"), rows(app)["input:INPUT"][6]
        await pilot.pause(1.2)  # two ticks later: nothing moved
        assert (text_of(app, "#run-title"), rows(app)["input:INPUT"][6]) == (title, cell)
        await finish(pilot)
        run = next(iter(app.runs.values()))
        assert "· ✗ connection lost ·" in text_of(app, "#run-title")
        assert text_of(app, "#run-errors").startswith(f"✗ Connection lost to {host}: ")
        assert text_of(app, "#run-errors").endswith(f"dusttui watch {run.run_id} --app remote-app")
        assert run.state.end_reason == "connection_lost"  # contract C: the explorer shows it


async def test_a_killed_local_engine_is_replaced_and_the_run_reads_interrupted(
    tmp_path, monkeypatch
):
    from dusttui.engine.local import find_local_engine, stop_local_engine
    from dusttui.session.backend import Connector

    apps = tmp_path / "apps"
    apps.mkdir()
    (apps / "slow.dust").write_text(SLOW_BLOCK_APP)
    (apps / "slow.inputs.jsonl").write_text('{"ms": 60000}\n')
    monkeypatch.setenv("DUSTTUI_ENGINE_IDLE_SECONDS", "30")
    settings = Settings(bell=False, apps_dir=apps, token_delay_ms=0)
    connector = Connector(EMBEDDED, settings)
    connector.start()
    app = DustApp(
        settings,
        backend=EMBEDDED,
        connector=connector,
        theme_dirs=(bundled_themes_dir(),),
        cursor_blink=False,
    )
    engine_dir = tmp_path / "data" / "engine"
    try:
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pick(pilot, "slow")
            await pilot.press("r")
            await _until(pilot, lambda: rows(app).get("code:WAIT", [""] * 3)[2] == "● running")
            first = find_local_engine(engine_dir)
            os.kill(first.pid, signal.SIGKILL)
            await finish(pilot)
            assert "· ✗ interrupted ·" in text_of(app, "#run-title")
            assert text_of(app, "#run-errors").startswith(
                "✗ Run interrupted: the engine stopped (crashed or was killed)"
            )
            assert rows(app)["code:WAIT"][2] == "✗ errored"
            second = find_local_engine(engine_dir)
            assert second is not None and second.pid != first.pid
    finally:
        await asyncio.to_thread(stop_local_engine, engine_dir)


async def test_the_quit_question_tells_what_becomes_of_running_runs(slow_app, tmp_path):
    app = slow_app()
    assert app.quit_question(2) == (
        "2 runs still running. Quit anyway? They go on in the local engine; "
        "`dusttui watch RUN_ID --app APP` follows one again."
    )
    backend = Backend("remote", "https://dust.tt", "w", "s", SecretStr("k"), None)
    remote = DustApp(
        Settings(bell=False),
        backend=backend,
        client=DustClient("https://dust.tt", "k", "w", "s"),
        theme_dirs=(bundled_themes_dir(),),
    )
    assert remote.quit_question(1).startswith(
        "1 run still running. Quit anyway? They go on in dust.tt;"
    )


async def test_a_history_run_shows_unknown_durations_as_a_dash(slow_app, tmp_path):
    from dusttui.api.journal import Journal

    journal_path = tmp_path / "journal.sqlite"
    first = slow_app()
    first.journal = None
    with Journal(journal_path) as journal:
        from dusttui.session.journal_io import JournalIO

        first.session.journal = first.journal = JournalIO(journal)
        async with first.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await pick(pilot, "slow")
            first.main.query_one("#inputs").load('[{"ms": 1}]')
            await pilot.press("r")
            await finish(pilot)
            run_id = next(iter(first.runs.values())).run_id
        second = slow_app()
        second.session.journal = second.journal = JournalIO(journal)
        async with second.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await _until(pilot, lambda: bool(second.history))
            second.main.open_run(f"j:{run_id}")
            await finish(pilot)
            assert (
                text_of(second, "#run-title")
                == f"Run {run_id[:6]}… · slow · ✓ succeeded · — · stream"
            )
            assert [cells[6] for cells in rows(second).values()] == ["—", "—"]


async def test_the_explorer_follows_a_running_run_through_the_apps_signal(slow_app):
    from dusttui.tui.explorer import ExplorerScreen

    app = slow_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "slow")
        app.main.query_one("#inputs").load('[{"ms": 5000}]')
        await pilot.press("r")
        await _until(pilot, lambda: rows(app).get("code:WAIT", [""] * 3)[2] == "● running")
        await pilot.press("t")
        await pilot.pause()
        explorer = app.screen
        assert isinstance(explorer, ExplorerScreen)
        assert not [t for t in explorer._timers if t.name == "explorer-live"]  # no poll of its own
        run = next(iter(app.runs.values()))
        await finish(pilot)
        assert run.status == "succeeded"
        assert explorer.trace.version == run.state.version  # redrawn from the last change
