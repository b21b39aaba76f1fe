"""What a user found wrong in the explorer (issue 12), each on real engine runs: copy, escape and
digits around the search box, export on a fresh install, one count for loops, blocks that never
ran, and how a run the engine stopped reads in the errors view."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.widgets import Checkbox, Input, OptionList, Static

from dusttui.api.client import DustClient
from dusttui.api.inputs import blocks_of_saved_specification
from dusttui.api.models import Run
from dusttui.api.sse import SSEDecoder, decode_event
from dusttui.api.state import RunState
from dusttui.tui.explorer import ExplorerScreen
from dusttui.tui.explorer.app import STATUS_VARIABLES, ExplorerApp
from dusttui.tui.explorer.errors_panel import ErrorGroups
from dusttui.tui.explorer.grid import TraceGrid
from dusttui.tui.explorer.value_view import ErrorBox
from dusttui.tui.screens.help import HelpScreen

from .helpers import notifications, screen_text
from .test_explorer import APPS, SIZE, SYNTAX, _runs, explorer, labels

SPEC = list[tuple[str, str]]


@pytest.fixture(scope="module")
def runs(engine) -> dict[str, Run]:
    """Blocking runs of the demo apps (and the markup app) on the real engine."""
    return asyncio.run(_runs(engine))


async def _specs(engine) -> dict[str, SPEC]:
    async with DustClient(engine.url, engine.api_key, "local", "local") as client:
        apps = await client.list_apps()
    return {a.name: blocks_of_saved_specification(a.savedSpecification) or [] for a in apps}


@pytest.fixture(scope="module")
def specs(engine) -> dict[str, SPEC]:
    """The blocks of each app's specification, as the engine lists them."""
    return asyncio.run(_specs(engine))


class Host(App[None]):
    """An app that opens the explorer and notes when it closes (it stays open after)."""

    def __init__(self, screen: ExplorerScreen) -> None:
        super().__init__()
        self.explorer = screen
        self.closed: list[Any] = []

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(STATUS_VARIABLES)

    def on_mount(self) -> None:
        self.push_screen(self.explorer, self.closed.append)


# ---------------------------------------------------------------- copy


async def test_y_copies_the_highlighted_execution_its_error_when_it_failed(runs):
    app = ExplorerApp(runs["flaky-demo"])
    async with app.run_test(size=SIZE) as pilot:
        app.copy_to_clipboard("untouched")
        await pilot.press("y")  # the cursor is on a block: nothing to copy, and it says why
        await pilot.pause()
        assert app.clipboard == "untouched"
        assert "Put the cursor on an input or an iteration to copy it." in notifications(app)
        await pilot.press("down", "enter", "down")  # code PARSE, input #0
        await pilot.pause()
        assert explorer(app).current == (1, 0, 0)
        await pilot.press("y")
        assert json.loads(app.clipboard) == {"name": "ALPHA", "size": 3}
        assert "Copied the value of code PARSE #0" in notifications(app)
        await pilot.press("down", "y")  # input #1 failed: its whole error, every line
        error = runs["flaky-demo"].traces[1][1][1][0].error
        assert error is not None and error.startswith(SYNTAX) and "\n" in error
        assert app.clipboard == error
        assert "Copied the error of code PARSE #1" in notifications(app)


async def test_the_error_box_takes_the_focus_and_y_copies_the_error(runs):
    screen = ExplorerScreen(runs["flaky-demo"])
    app = Host(screen)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n", "tab")
        await pilot.pause()
        assert isinstance(app.focused, ErrorBox)
        await pilot.press("y")
        assert app.clipboard.startswith(
            "Error in `code`: TypeError: cannot read property 'length' of undefined\n"
        )
        await pilot.press("escape")  # back to the tree, not out of the explorer
        await pilot.pause()
        assert app.focused is screen.trace_tree and app.closed == []
        await pilot.press("escape")
        await pilot.pause()
        assert app.closed == [None]


# ---------------------------------------------------------------- the search box


async def test_escape_in_the_search_box_leaves_it_and_a_second_escape_closes(runs):
    screen = ExplorerScreen(runs["flaky-demo"])
    app = Host(screen)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "slash", *"json")
        await pilot.pause()
        box = screen.query_one("#search-input", Input)
        assert app.focused is box
        await pilot.press("escape")
        await pilot.pause()
        assert app.closed == [] and screen.view == "search"
        assert app.focused is screen.query_one("#search-results", OptionList)
        assert box.value == "json" and screen.current == (1, 1, 0)  # nothing lost
        await pilot.press("escape")
        await pilot.pause()
        assert app.closed == [None]


async def test_digits_switch_views_unless_the_query_box_has_the_focus(runs):
    app = ExplorerApp(runs["flaky-demo"])
    async with app.run_test(size=SIZE) as pilot:
        screen = explorer(app)
        await pilot.press("4")
        await pilot.pause()
        assert screen.view == "search"
        assert app.focused is screen.query_one("#search-results", OptionList)
        await pilot.press("1")
        await pilot.pause()
        assert screen.view == "tree"
        await pilot.press("slash", "1", "2", "4")
        await pilot.pause()
        assert screen.view == "search"
        assert screen.query_one("#search-input", Input).value == "124"
        await pilot.press("escape", "2")
        await pilot.pause()
        assert screen.view == "grid"


async def test_one_match_reads_in_the_singular(runs):
    app = ExplorerApp(runs["flaky-demo"])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", *"TypeError", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        status = explorer(app).query_one("#search-status", Static)
        assert str(status.render()) == "1 matching execution"


async def test_the_help_says_how_to_close_it_and_q_does(runs):
    app = ExplorerApp(runs["flaky-demo"])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert "Trace explorer keys  ·  escape, q, ? or F1 closes this help" in screen_text(app)
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ExplorerScreen)


# ---------------------------------------------------------------- export


def read_export(path: Path) -> tuple[list[str], int]:
    """An exported file's lines and its permission bits."""
    return path.read_text().splitlines(), path.stat().st_mode & 0o777


async def test_export_on_a_fresh_install_creates_the_folder_and_honours_errors_only(runs, tmp_path):
    exports = tmp_path / "data" / "exports"  # nothing there yet
    app = ExplorerApp(runs["flaky-demo"], export_dir=exports)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "x")
        await pilot.pause()
        box = app.screen.query_one("#export-path", Input)
        assert box.value.endswith("-code-PARSE.jsonl")
        assert app.screen.query_one("#export-errors", Checkbox).value is False
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        written = Path(box.value)
        assert f"Wrote 6 executions of code PARSE to {written}" in notifications(app)
        await pilot.press("f", "x")  # errors only: the dialog starts with it, and says so
        await pilot.pause()
        assert app.screen.query_one("#export-errors", Checkbox).value is True
        box = app.screen.query_one("#export-path", Input)
        assert box.value.endswith("-code-PARSE-errors.jsonl")
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        errors = Path(box.value)
        assert f"Wrote 4 failed executions of code PARSE to {errors}" in notifications(app)
    assert written.parent == exports
    lines, mode = read_export(written)
    assert (len(lines), mode) == (6, 0o600)
    records = [json.loads(line) for line in read_export(errors)[0]]
    assert [r["input_index"] for r in records] == [1, 2, 3, 5]
    assert all(r["error"] for r in records)


# ---------------------------------------------------------------- one count, blocks not run


async def test_a_while_loop_counts_the_same_in_tree_grid_and_stats(runs):
    app = ExplorerApp(runs["while-demo"])
    async with app.run_test(size=(200, 36)) as pilot:
        screen = explorer(app)
        assert labels(screen.trace_tree.root) == [
            "input INPUT  3✓",
            "while STEPS  23✓",
            "code NEXT  20✓",
            "end STEPS  20✓",
            "code SUMMARY  3✓",
        ]
        await pilot.press("2")
        await pilot.pause()
        grid = screen.query_one(TraceGrid)
        rows = ["".join(s.text for s in grid.render_line(y)).split() for y in range(1, 4)]
        assert [row[-4:] for row in rows] == [
            ["1✓", "·", "·", "✓"],
            ["9✓", "8✓", "8✓", "✓"],
            ["13✓", "12✓", "12✓", "✓"],
        ]
        await pilot.press("5")
        await pilot.pause()
        table = screen.query_one("#view-stats")
        stats = [[str(c) for c in table.get_row_at(k)][:4] for k in range(table.row_count)]
        assert stats[2] == ["code", "NEXT", "20", "0"]
        assert stats[-1] == ["total", "", "69", "0"]


async def _while_events(engine) -> list:
    async with DustClient(engine.url, engine.api_key, "local", "local") as client:
        ids = {a.name: a.sId for a in await client.list_apps()}
        inputs = [json.loads(line) for line in (APPS / "while-demo.inputs.jsonl").open()]
        request = client.build_create_run_request(
            ids["while-demo"], "latest", {}, inputs, stream=True
        )
        response = await client._http.send(request, stream=True)
        decoder = SSEDecoder()
        events = []
        async for chunk in response.aiter_bytes():
            events += [decode_event(d) for d in decoder.feed(chunk)]
        events += [decode_event(d) for d in decoder.close()]
        await response.aclose()
        return events


async def test_a_loop_body_shows_its_progress_while_the_run_goes_on(engine, specs):
    events = await _while_events(engine)
    state = RunState(clock=lambda: 1.0)  # block times: 0 ms, whatever the machine
    passes = 0
    for event in events:
        state.apply(event)
        c = event.content
        if event.type == "block_status" and (c.name, c.status) == ("NEXT", "running"):
            passes += 1
            if passes == 4:  # 3 passes done, the 4th running: 2 of the 3 inputs still loop
                break
    app = ExplorerApp(state, spec_blocks=specs["while-demo"])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert labels(explorer(app).trace_tree.root) == [
            "input INPUT  3✓  0 ms",
            "while STEPS  9✓  0 ms",
            "code NEXT  6✓  running",
            "end STEPS  6✓  0 ms",
            "code SUMMARY  (waiting)",
        ]


async def test_a_block_the_run_never_reached_shows_as_not_run(runs, specs):
    assert specs["flaky-demo"] == [("input", "INPUT"), ("code", "PARSE"), ("code", "REPORT")]
    app = ExplorerApp(runs["flaky-demo"], spec_blocks=specs["flaky-demo"])
    async with app.run_test(size=SIZE) as pilot:
        screen = explorer(app)
        assert labels(screen.trace_tree.root) == [
            "input INPUT  6✓",
            "code PARSE  2✓ 4✗",
            "code REPORT  (not run)",
        ]
        await pilot.press("n")  # errors are where they were
        await pilot.pause()
        assert screen.current == (1, 1, 0)
        await pilot.press("2")
        await pilot.pause()
        grid = screen.query_one(TraceGrid)
        assert "".join(s.text for s in grid.render_line(0)).split()[-3:] == [
            "INPUT",
            "PARSE",
            "REPORT",
        ]
        assert "".join(s.text for s in grid.render_line(1)).split()[-3:] == ["✓", "✓", "·"]


# ---------------------------------------------------------------- a run the engine stopped


def _errors_lines(screen: ExplorerScreen) -> list[str]:
    groups = screen.query_one(ErrorGroups)
    return [str(groups.get_option_at_index(k).prompt) for k in range(groups.option_count)]


async def test_an_interrupted_run_without_errors_says_why_it_ended(engine, runs):
    async with DustClient(engine.url, engine.api_key, "local", "local") as client:
        ids = {a.name: a.sId for a in await client.list_apps()}
        raw = await client.get_run_raw(ids["map-reduce-demo"], runs["map-reduce-demo"].run_id)
    state = RunState.from_run_json(raw)
    message = "Run interrupted: the engine was stopped (SIGTERM) while this run was running."
    state.set_end("interrupted", message)
    app = ExplorerApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await pilot.pause()
        screen = explorer(app)
        assert _errors_lines(screen) == [
            f"■ {message}",
            "No execution failed before the run was interrupted.",
        ]
        assert "No errors in this run" not in screen_text(app)
        assert "succeeded · interrupted · no errors" in str(
            screen.query_one("#explorer-title", Static).render()
        )
        await pilot.press("n")
        await pilot.pause()
        assert "No execution failed before the run was interrupted." in notifications(app)


SLOW_APP = """input INPUT { }

code WAIT {
  code:
```
_fun = (env) => {
  const until = Date.now() + env.state.INPUT.ms;
  while (Date.now() < until) {}
  return { waited: env.state.INPUT.ms };
}
```
}

code AFTER {
  code:
```
_fun = (env) => { return env.state.WAIT.waited; }
```
}
"""


# Values, a key and an error full of escape sequences and markup-like text.
HOSTILE_APP = r"""input INPUT { }

code SAY {
  code:
```
_fun = (env) => {
  return { "\u001b[31mkey\u009b": "\u001b]52;c;aGk=\u0007 [/x] " + env.state.INPUT.q };
}
```
}

code BOOM {
  code:
```
_fun = (env) => {
  throw new Error("boom \u001b[2J [/x] [bold]no[/bold] \u009b31m\r\nsecond line");
}
```
}
"""


@pytest.fixture(scope="module")
def own_engine(tmp_path_factory: pytest.TempPathFactory):
    """An engine of its own: `slow`, whose WAIT block takes as long as its input says, and
    `hostile`, whose values, keys and errors hold escape sequences."""
    from dusttui.engine.embedded import EmbeddedEngine

    apps = tmp_path_factory.mktemp("own-apps")
    (apps / "slow.dust").write_text(SLOW_APP)
    (apps / "hostile.dust").write_text(HOSTILE_APP)
    eng = EmbeddedEngine(data_dir=tmp_path_factory.mktemp("own-engine"), apps_dir=apps)
    eng.start()
    yield eng
    eng.stop()


async def _cancelled_run(engine) -> tuple[bytes, SPEC]:
    """A run of `slow` cancelled while WAIT runs: two quick inputs done, two long ones not."""
    async with DustClient(engine.url, engine.api_key, "local", "local") as client:
        app = next(a for a in await client.list_apps() if a.name == "slow")
        inputs = [{"ms": 1}, {"ms": 1}, {"ms": 60_000}, {"ms": 60_000}]
        run_id = ""
        async with client.stream_run(app.sId, "latest", {}, inputs) as events:
            async for event in events:
                if event.type == "run_status":
                    run_id = event.content.run_id
                if event.type == "block_status" and event.content.name == "WAIT":
                    break
            for _ in range(100):  # until the quick inputs are done (the engine's live counts)
                status = json.loads(await client.get_run_status_raw(app.sId, run_id))
                if status["run"]["status"]["blocks"][-1]["success_count"] >= 2:
                    break
                await asyncio.sleep(0.05)
            await client.cancel_run_raw(app.sId, run_id)
        raw = await client.get_run_raw(app.sId, run_id)
        return raw, blocks_of_saved_specification(app.savedSpecification) or []


async def test_a_cancelled_run_says_so_at_the_top_of_the_errors_view(own_engine):
    raw, spec = await _cancelled_run(own_engine)
    state = RunState.from_run_json(raw)
    assert state.end_reason == "cancelled"
    app = ExplorerApp(state, spec_blocks=spec)
    async with app.run_test(size=SIZE) as pilot:
        screen = explorer(app)
        # The two inputs the cancel cut short never ran: neither ✓ nor ✗ (the one count).
        assert labels(screen.trace_tree.root)[1:] == ["code WAIT  2✓", "code AFTER  (not run)"]
        await pilot.press("3")
        await pilot.pause()
        assert _errors_lines(screen) == [
            "■ Run cancelled.",
            "No execution failed before the run was cancelled.",
        ]
        assert "errored · cancelled · no errors" in str(
            screen.query_one("#explorer-title", Static).render()
        )


# ---------------------------------------------------------------- nothing raw reaches the terminal


def raw_controls(app: App[Any]) -> list[str]:
    """Control characters in what the screen would write to the terminal, with their row."""
    found = []
    for y, strip in enumerate(app.screen._compositor.render_strips()):
        for segment in strip:
            bad = [c for c in segment.text if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0]
            if bad:
                found.append(f"row {y}: {bad!r} in {segment.text!r}")
    return found


async def test_escape_sequences_and_markup_in_a_run_are_shown_never_sent(own_engine):
    async with DustClient(own_engine.url, own_engine.api_key, "local", "local") as client:
        app_id = next(a.sId for a in await client.list_apps() if a.name == "hostile")
        inputs = [{"q": "\u001b[2J"}, {"q": "[/x]"}]
        run = await client.create_run(app_id, "latest", {}, inputs, blocking=True)
    assert run.traces[2][1][0][0].error is not None  # BOOM failed, as written
    app = ExplorerApp(run)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("down", "enter", "down")  # SAY, input #0: its value in the value view
        await pilot.pause()
        assert raw_controls(app) == []
        text = screen_text(app)
        assert '\\u001b[31mkey\\x9b": "\\u001b]52;c;aGk=\\u0007 [/x] \\u001b[2J' in text
        await pilot.press("n")  # BOOM's error: in the tree, and in full in the value view
        await pilot.pause()
        assert raw_controls(app) == []
        text = screen_text(app)
        assert "boom \\x1b[2J [/x] [bold]no[/bold] \\x9b31m" in text
        assert "second line" in text
        await pilot.press("y")  # the toast names what was copied
        await pilot.pause()
        assert app.clipboard.startswith("Error in `code`: Error: boom \x1b[2J [/x]")
        for keys in (["3"], ["2"], ["5"], ["slash", *"boom", "enter"]):
            await pilot.press(*keys)
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert raw_controls(app) == [], keys
        assert "code BOOM #0  error: Error in `code`: Error: boom \\x1b[2J [/x]" in screen_text(app)


async def test_the_errors_and_search_lists_show_what_their_cursor_is_on(runs):
    app = ExplorerApp(runs["flaky-demo"])
    async with app.run_test(size=SIZE) as pilot:
        screen = explorer(app)
        await pilot.press("3")
        await pilot.pause()
        assert screen.current == (1, 1, 0)  # the most frequent error's first one
        await pilot.press("down")
        await pilot.pause()
        assert screen.current == (1, 2, 0)  # the TypeError
        assert "✗ code PARSE · input #2" in str(screen.query_one("#value-header", Static).render())
        await pilot.press("slash", *"delta", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.current == (0, 4, 0)
        await pilot.press("down")
        await pilot.pause()
        assert screen.current == (1, 4, 0) and screen.view == "search"


async def test_a_run_that_strays_from_the_spec_it_was_given_still_lists_its_blocks(engine):
    events = await _while_events(engine)
    state = RunState(clock=lambda: 1.0)
    cut = next(  # the loop's first pass is over: NEXT has run once
        k
        for k, e in enumerate(events)
        if e.type == "block_status" and (e.content.name, e.content.status) == ("NEXT", "succeeded")
    )
    for event in events[: cut + 1]:
        state.apply(event)
    # a spec without the loop (the app changed since): the loop's blocks are listed where they
    # ran, the spec's own after them
    spec = [("input", "INPUT"), ("code", "SUMMARY")]
    app = ExplorerApp(state, spec_blocks=spec)
    async with app.run_test(size=SIZE) as pilot:
        screen = explorer(app)
        tree = screen.trace_tree
        assert labels(tree.root) == [
            "input INPUT  3✓  0 ms",
            "while STEPS  3✓  0 ms",
            "code NEXT  2✓  0 ms",
            "code SUMMARY  (waiting)",
        ]
        assert screen.open_in_tree((2, 1, 0))  # NEXT, input #1: its node is loaded
        await pilot.pause()
        for event in events[cut + 1 :]:  # `end STEPS` comes in where SUMMARY was listed
            state.apply(event)
        screen.refresh_from_state()
        await pilot.pause()
        assert labels(tree.root) == [
            "input INPUT  3✓  0 ms",
            "while STEPS  23✓  0 ms",
            "code NEXT  20✓  0 ms",
            "end STEPS  20✓  0 ms",
            "code SUMMARY  3✓  0 ms",
        ]
        summary = tree.root.children[4]
        assert all(not child.label.plain.endswith("iterations") for child in summary.children)
        assert screen.open_in_tree((4, 2, 0))
        await pilot.pause()
        assert screen.current == (4, 2, 0)


def _wire(blocks: list[tuple[str, str, list[Any]]]) -> bytes:
    """A finished run's GET answer: (block_type, name, one value per input) per block."""
    status = [
        {
            "block_type": t,
            "name": n,
            "status": "succeeded",
            "success_count": len(v),
            "error_count": 0,
        }
        for t, n, v in blocks
    ]
    traces = [
        [[t, n], [[{"value": x, "error": None, "meta": None}] for x in values]]
        for t, n, values in blocks
    ]
    run = {
        "run_id": "ab" * 32,
        "created": 1,
        "status": {"run": "succeeded", "blocks": status},
        "traces": traces,
    }
    return json.dumps({"run": run}).encode()


async def test_a_block_that_moves_in_a_newer_answer_gets_its_own_rows():
    state = RunState.from_run_json(
        _wire([("input", "INPUT", [{"n": 1}, {"n": 2}]), ("code", "CHECK", ["c1", "c2"])])
    )
    app = ExplorerApp(state)
    async with app.run_test(size=SIZE) as pilot:
        screen = explorer(app)
        assert screen.open_in_tree((1, 1, 0))
        await pilot.pause()
        tree = screen.trace_tree
        assert labels(tree.root.children[1]) == ['#0 {"n":1}  → "c1"', '#1 {"n":2}  → "c2"']
        # the server's newer answer has a block before CHECK (its answer wins)
        state.apply_run_json(
            _wire(
                [
                    ("input", "INPUT", [{"n": 1}, {"n": 2}]),
                    ("code", "PREP", ["p1", "p2"]),
                    ("code", "CHECK", ["c1", "c2"]),
                ]
            )
        )
        screen.refresh_from_state()
        await pilot.pause()
        assert [n.label.plain for n in tree.root.children] == [
            "input INPUT  2✓",
            "code PREP  2✓",
            "code CHECK  2✓",
        ]
        for node in tree.root.children[1:]:
            node.expand()
        await pilot.pause()
        assert labels(tree.root.children[1]) == ['#0 {"n":1}  → "p1"', '#1 {"n":2}  → "p2"']
        assert labels(tree.root.children[2]) == ['#0 {"n":1}  → "c1"', '#1 {"n":2}  → "c2"']
