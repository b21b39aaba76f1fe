"""The request log screen (`l`): every API call of the session, one opened whole, the key never."""

from __future__ import annotations

import json

from textual.widgets import DataTable

from dusttui.tui.screens.requests import RequestsScreen
from tests.tui.helpers import finish, pick, ready, screen_text, text_of

SIZE = (160, 40)


def table_rows(app) -> list[list[str]]:
    table = app.screen.query_one(DataTable)
    return [[str(cell) for cell in table.get_row(key)] for key in table.rows]


async def test_l_lists_every_call_and_enter_opens_one(make_app, engine):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "qa-demo")
        await pilot.press("r")
        await finish(pilot)
        await pilot.press("l")
        await pilot.pause(0.4)
        assert isinstance(app.screen, RequestsScreen)
        rows = table_rows(app)
        # #, at, method, status, sent, received, time, retry, path
        apps_path = "/api/v1/w/local/spaces/local/apps"
        apps_call = next(r for r in rows if r[2] == "GET" and r[8] == apps_path)
        assert apps_call[3] == "200" and apps_call[4] == "0 B" and apps_call[7] == ""
        run_call = next(r for r in rows if r[2] == "POST")
        assert run_call[8].startswith(f"{apps_path}/") and run_call[8].endswith("/runs")
        assert run_call[3] == "200"
        assert run_call[6].endswith(" s")  # the stream ended: its time is known
        assert [int(r[0]) for r in rows] == sorted(int(r[0]) for r in rows)
        title = text_of(app, "#requests-title")
        assert (
            title
            == f"Request log · {len(rows)} calls (key shown as ***) · enter: open one · esc: back"
        )
        screen = screen_text(app)
        assert engine.api_key not in screen

        table = app.screen.query_one(DataTable)
        table.move_cursor(row=rows.index(run_call))
        await pilot.press("enter")
        await pilot.pause()
        detail = text_of(app, "#requests-body")
        assert detail.startswith(f"#{run_call[0]} POST {engine.url}{run_call[8]}\nstatus 200 · ")
        assert "authorization: Bearer ***" in detail
        assert engine.api_key not in detail
        body = detail.split("\nrequest body\n", 1)[1].split("\n\nanswer headers\n", 1)[0]
        sent = json.loads(body)
        assert sent["stream"] is True and sent["inputs"][0] == {"question": "Why is the sky blue"}
        answer = detail.split("\nanswer (first ", 1)[1]
        assert "content-type: text/event-stream" in detail
        assert "event: " in answer or "data: " in answer

        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, RequestsScreen)


async def test_a_closed_port_is_said_at_once_and_logged_as_one_failed_call(make_app):
    import socket

    from dusttui.api.client import DustClient
    from dusttui.config import Settings
    from dusttui.tui.app import DustApp
    from dusttui.tui.themes import bundled_themes_dir
    from tests.tui.conftest import EMBEDDED

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = DustClient(f"http://127.0.0.1:{port}", "a-key-never-shown", "local", "local")
    app = DustApp(
        Settings(bell=False),
        backend=EMBEDDED,
        client=client,
        theme_dirs=(bundled_themes_dir(),),
        cursor_blink=False,
    )
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        refused = (
            f"Could not connect to http://127.0.0.1:{port}: connection refused "
            "(nothing listens there)."
        )
        assert text_of(app, "#app-line") == f"✗ Cannot reach local engine: {refused}"
        await pilot.press("l")
        await pilot.pause(0.4)
        rows = table_rows(app)
        # Nothing listens: one attempt, said at once (no retries of a refused connection).
        assert len(rows) == 1
        assert rows[0][2:4] == ["GET", "failed"]
        assert rows[0][8] == "/api/v1/w/local/spaces/local/apps"
        await pilot.press("enter")
        await pilot.pause()
        detail = text_of(app, "#requests-body")
        assert f"✗ {refused}" in detail
        assert "a-key-never-shown" not in detail and "a-key-never-shown" not in screen_text(app)


async def test_an_open_stream_updates_live_until_it_ends(make_app, slow_engine):
    app = make_app(on=slow_engine)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "slow")
        app.main.query_one("#inputs").load('[{"ms": 1}, {"ms": 3000}]')
        await pilot.pause()
        await pilot.press("r", "l")

        def post_row() -> list[str] | None:
            if not isinstance(app.screen, RequestsScreen):
                return None
            return next((r for r in table_rows(app) if r[2] == "POST"), None)

        async def until(check, what: str) -> None:
            for _ in range(600):  # 30 s at most
                if check():
                    return
                await pilot.pause(0.05)
            raise AssertionError(f"{what} did not show within 30 s: {post_row()}")

        # Answered, the stream still open: its status, and the time reads `open`.
        await until(lambda: (row := post_row()) is not None and row[3] == "200", "the answer")
        row = post_row()
        assert row is not None and row[6] == "open"
        # The screen follows the log while it is shown: the stream's end updates the same row.
        await until(lambda: (row := post_row()) is not None and row[6] != "open", "the end")
        row = post_row()
        assert row is not None and row[6].endswith(" s") and row[5].endswith(("B", "kB"))
        await finish(pilot)


def test_a_client_made_for_the_local_engine_records_into_an_empty_log(engine):
    """The Connector's clients get the TUI's log even while it is empty (it has a length, so an
    empty log is falsy: it once fell back to no log at all, and the screen stayed empty)."""
    from dusttui.api.requestlog import RequestLog
    from dusttui.session.backend import client_for
    from tests.tui.conftest import EMBEDDED

    log = RequestLog()
    client = client_for(EMBEDDED, engine=engine, local_client=True, request_log=log)
    assert client.request_log is log
