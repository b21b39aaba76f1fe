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

        await pilot.press("c")  # forget them: the table empties, the numbering goes on
        await pilot.pause(0.4)
        assert table_rows(app) == []
        assert text_of(app, "#requests-title").startswith("Request log · 0 calls ")
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


def _record(**fields):
    from dusttui.api.requestlog import RequestRecord

    base = dict(
        seq=7,
        method="GET",
        url="http://127.0.0.1:9/api/v1/w/w/apps?limit=10",
        started=0.0,
        retry=0,
        request_headers={"authorization": "Bearer ***"},
        request_body=b"",
        sent_bytes=0,
        stream=False,
    )
    return RequestRecord(**{**base, **fields})


def test_a_retry_a_query_and_a_server_error_read_as_they_happened():
    from dusttui.tui.screens.requests import detail_of, row_of

    record = _record(
        retry=2,
        status=503,
        response_headers={"retry-after": "1"},
        response_head=b'{"error": {"type": "unavailable", "message": "down"}}',
        received_bytes=53,
        elapsed=0.0123,
        done=True,
    )
    assert row_of(record)[2:] == (
        "GET",
        "503",
        "0 B",
        "53 B",
        "0.01 s",
        "2",
        "/api/v1/w/w/apps?limit=10",
    )
    detail = detail_of(record).plain
    assert detail.startswith(
        "#7 GET http://127.0.0.1:9/api/v1/w/w/apps?limit=10\n"
        "status 503 · 0 B sent · 53 B received · 0.01 s · retry 2\n"
    )
    assert "\nrequest body\n(empty)\n" in detail
    assert detail.endswith(
        "\nanswer (first 53 B)\n"
        '{\n  "error": {\n    "type": "unavailable",\n    "message": "down"\n  }\n}\n'
    )


def test_escape_sequences_from_a_server_never_reach_the_terminal_and_cut_bodies_say_so():
    from dusttui.tui.screens.requests import detail_of, row_of

    hostile = b"data: \x1b]52;c;cGF3bmVk\x07 and \x1b[2J and [/x] markup\n"
    record = _record(
        method="POST",
        url="http://127.0.0.1:9/api/v1/w/w/apps/a\x1b[31m/runs",
        request_body=b'{"inputs": [' + b"1," * 2000,
        sent_bytes=10_000,
        status=200,
        response_headers={"x-evil": "\x1b[31mred"},
        response_head=hostile,
        received_bytes=20_000,
        stream=True,
    )
    cells = row_of(record)
    assert cells[6] == "open" and cells[8] == "/api/v1/w/w/apps/a\\x1b[31m/runs"
    detail = detail_of(record).plain
    assert "\x1b" not in detail and "\x07" not in detail
    assert "x-evil: \\x1b[31mred" in detail
    assert "\nrequest body (first 4.0 kB of 10.0 kB)\n" in detail
    assert "\nanswer (first 48 B of 20.0 kB, still coming)\n" in detail
    assert "data: \\x1b]52;c;cGF3bmVk\\x07 and \\x1b[2J and [/x] markup" in detail


async def test_help_on_the_request_log_lists_its_own_keys(make_app):
    from dusttui.tui.screens.help import HelpScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("l")
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        shown = " ".join(screen_text(app).split())
        assert "Request log keys — escape, q, ? or F1 closes this" in shown
        assert "c Forget the calls listed so far (new ones are numbered on) requests.clear" in shown
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, RequestsScreen)
