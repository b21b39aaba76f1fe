"""Pilot tests on the real embedded engine: each demo app launched from the TUI, seen to the end."""

from __future__ import annotations

import json

import pytest

from tests.tui.conftest import ECHO_ERROR_APP
from tests.tui.helpers import finish, notifications, pick, ready, rows, text_of

SIZE = (120, 36)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "qa-demo",
            {
                "input:INPUT": ["input", "INPUT", "✓ succeeded", "3", "0"],
                "code:PREP": ["code", "PREP", "✓ succeeded", "3", "0"],
                "llm:ANSWER": ["llm", "ANSWER", "✓ succeeded", "3", "0"],
                "code:FORMAT": ["code", "FORMAT", "✓ succeeded", "3", "0"],
            },
        ),
        (
            "map-reduce-demo",
            {
                "input:INPUT": ["input", "INPUT", "✓ succeeded", "3", "0"],
                "code:SPLIT": ["code", "SPLIT", "✓ succeeded", "3", "0"],
                "map:EACH": ["map", "EACH", "✓ succeeded", "3", "0"],
                "llm:SHOUT": ["llm", "SHOUT", "✓ succeeded", "9", "0"],
                "reduce:EACH": ["reduce", "EACH", "✓ succeeded", "3", "0"],
                "code:JOIN": ["code", "JOIN", "✓ succeeded", "3", "0"],
            },
        ),
        (
            "load-1000",
            {
                "input:INPUT": ["input", "INPUT", "✓ succeeded", "1000", "0"],
                "code:DOUBLE": ["code", "DOUBLE", "✓ succeeded", "1000", "0"],
                "code:LABEL": ["code", "LABEL", "✓ succeeded", "1000", "0"],
            },
        ),
    ],
)
async def test_demo_app_runs_to_the_end_with_its_counts(make_app, name, expected):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, name)
        await pilot.press("r")
        await finish(pilot)
        shown = {key: cells[:5] for key, cells in rows(app).items()}
        assert shown == expected
        title = text_of(app, "#run-title")
        assert f"{name} · ✓ succeeded" in title
        assert any(f"of {name} succeeded" in n for n in notifications(app))


async def test_while_demo_succeeds_and_shows_each_loop_block(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "while-demo")
        await pilot.press("r")
        await finish(pilot)
        table = rows(app)
        assert list(table) == [
            "input:INPUT",
            "while:STEPS",
            "code:NEXT",
            "end:STEPS",
            "code:SUMMARY",
        ]
        assert all(cells[2] == "✓ succeeded" for cells in table.values())
        assert table["code:SUMMARY"][3:5] == ["3", "0"]
        # One count, as the explorer gives it: every pass of the loop body, every input.
        assert table["code:NEXT"][3:6] == ["20", "0", "20"]
        assert table["end:STEPS"][3] == "20"
        assert table["while:STEPS"][3] == "23"  # the condition once more per input, to leave


async def test_an_erroring_run_shows_its_error_and_the_block_it_never_reached(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "flaky-demo")
        await pilot.press("r")
        await finish(pilot)
        assert rows(app)["code:PARSE"][:5] == ["code", "PARSE", "✗ errored", "2", "2"]
        assert rows(app)["code:REPORT"][:5] == ["code", "REPORT", "– not run", "0", "0"]
        assert list(rows(app)) == ["input:INPUT", "code:PARSE", "code:REPORT"]
        assert text_of(app, "#run-errors").splitlines() == [
            "✗ error 1/2 · PARSE · input 1  (n/N step · z whole message)",
            "Error in `code`: SyntaxError: expecting property name …",  # its stack follows
        ]
        before = list(app._notifications)
        await pilot.press("n", "n")
        await pilot.pause()
        assert app.main.input_index == 2
        assert (
            text_of(app, "#run-errors").splitlines()[0].startswith("✗ error 2/2 · PARSE · input 2")
        )
        assert list(app._notifications) == before  # the panel changed in place: no toast
        await pilot.press("n")  # round again
        await pilot.pause()
        assert text_of(app, "#run-errors").startswith("✗ error 1/2 · PARSE · input 1")


async def test_a_long_error_is_cut_with_an_ellipsis_and_shown_whole_on_z(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pick(pilot, ECHO_ERROR_APP)
        long = "a long message " * 20
        area = app.main.query_one("#inputs").text_area
        area.load_text(json.dumps([{"fail": long, "text": ""}]))
        await pilot.pause()
        await pilot.press("r")
        await finish(pilot)
        panel_lines = text_of(app, "#run-errors").splitlines()
        assert len(panel_lines) == 2 and panel_lines[1].endswith("…")
        await pilot.press("z")
        await pilot.pause()
        whole = text_of(app, "#run-errors")
        assert "(n/N step" not in whole  # one error: nothing to step through
        assert whole.splitlines()[0].endswith("(z collapse)")
        assert "…" not in whole
        assert whole.splitlines()[1].rstrip() == "Error in `code`: Error: " + long.rstrip()
        await pilot.press("z")
        await pilot.pause()
        assert text_of(app, "#run-errors").splitlines()[1].endswith("…")


async def test_the_result_then_each_block_and_input_are_shown_below_the_table(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "qa-demo")
        await pilot.press("r")
        await finish(pilot)
        # Over: the cursor rests on the last block, whose value is the run's result.
        detail = text_of(app, "#run-detail").splitlines()
        assert detail[0] == (
            "result of code FORMAT · input 0 (0–2) · [ ] other inputs · ↑↓ other blocks"
        )
        assert detail[1] == (
            '{"question": "Why is the sky blue?", "answer": "WHY IS THE SKY BLUE?", "words": 5}'
        )
        table = app.main.query_one("#blocks")
        table.focus()
        await pilot.press("up")  # llm ANSWER: its streamed tokens
        await pilot.press("right_square_bracket")
        await pilot.pause()
        assert app.main.input_index == 1
        detail = text_of(app, "#run-detail").splitlines()
        assert detail[0].startswith("output of llm ANSWER · input 1 (0–2)")
        assert detail[1] == app.runs[app.main.shown_key].state.token_text("ANSWER", 1)
        await pilot.press("right_square_bracket", "right_square_bracket")
        await pilot.pause()
        assert app.main.input_index == 2  # past the last input: it stays on the last
        assert text_of(app, "#run-detail").startswith("output of llm ANSWER · input 2 (0–2)")
        assert "Input 2 is the last of 3." in notifications(app)


async def test_poll_and_blocking_modes_reach_the_same_end(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "qa-demo")
        await pilot.press("m")  # poll
        await pilot.press("r")
        await finish(pilot)
        assert "qa-demo · ✓ succeeded" in text_of(app, "#run-title")
        assert text_of(app, "#run-title").endswith("poll")
        await pilot.press("m")  # blocking
        await pilot.press("r")
        await finish(pilot)
        assert text_of(app, "#run-title").endswith("blocking")
        assert rows(app)["code:FORMAT"][:5] == ["code", "FORMAT", "✓ succeeded", "3", "0"]


async def test_several_runs_at_once_each_reach_their_end(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "qa-demo")
        await pilot.press("r")
        await pick(pilot, "flaky-demo")
        await pilot.press("r")
        await pick(pilot, "map-reduce-demo")
        await pilot.press("r")
        await finish(pilot)
        statuses = sorted((r.app_name, r.status) for r in app.runs.values())
        assert statuses == [
            ("flaky-demo", "errored"),
            ("map-reduce-demo", "succeeded"),
            ("qa-demo", "succeeded"),
        ]
        labels = [label for _, label in app.run_labels()]
        assert len(labels) == 3
        assert labels[0].startswith("✓ ") and labels[0].endswith(" map-reduce-demo")
        assert labels[1].startswith("✗ ") and labels[1].endswith(" flaky-demo")


async def test_t_opens_the_trace_explorer_on_the_run_and_escape_comes_back(make_app):
    from dusttui.tui.explorer import ExplorerScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("t")
        assert "No run to explore yet: launch or open one first." in notifications(app)
        await pick(pilot, "flaky-demo")
        await pilot.press("r")
        await finish(pilot)
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, ExplorerScreen)
        assert app.screen.state is next(iter(app.runs.values())).state
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.main


async def test_a_typed_hash_the_engine_does_not_know_is_refused_with_its_reason(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "qa-demo")
        await pilot.press("h")
        await pilot.pause()
        app.screen.query_one("#hash-input").value = "0" * 64
        await pilot.press("enter")
        await pilot.pause()
        assert "hash 00000000 (typed), h to change" in text_of(app, "#app-line")
        await pilot.press("r")
        await finish(pilot)
        live = next(iter(app.runs.values()))
        assert live.status == "refused"
        assert text_of(app, "#run-errors").startswith("✗ run refused (specification_not_found): ")
        assert any("of qa-demo refused" in n for n in notifications(app))


async def test_an_unreachable_server_is_reported_and_the_status_line_says_offline(tmp_path):
    import socket

    from dusttui.api.client import DustClient
    from dusttui.config import Settings
    from dusttui.tui.app import DustApp
    from dusttui.tui.themes import bundled_themes_dir
    from tests.tui.conftest import EMBEDDED

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = DustClient(f"http://127.0.0.1:{port}", "key", "local", "local", max_retries=0)
    app = DustApp(
        Settings(bell=False),
        backend=EMBEDDED,
        client=client,
        theme_dirs=(bundled_themes_dir(),),
        cursor_blink=False,
    )
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert text_of(app, "#status-connection") == "✗ offline"
        assert any(n.startswith("Cannot reach local engine: ") for n in notifications(app))
        assert text_of(app, "#app-line").startswith("✗ Cannot reach local engine: ")


async def test_export_writes_the_run_json_and_copy_takes_the_run_id(make_app, tmp_path):
    import json

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "qa-demo")
        await pilot.press("r")
        await finish(pilot)
        run_id = next(iter(app.runs.values())).run_id
        await pilot.press("x")
        await pilot.press("y")
        await pilot.pause()
        exported = json.loads(
            (tmp_path / "data" / "exports" / f"run-{run_id[:12]}.json").read_text()
        )
        assert exported["run_id"] == run_id
        assert exported["status"]["run"] == "succeeded"
        assert app.clipboard == run_id
