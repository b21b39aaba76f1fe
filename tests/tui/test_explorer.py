"""Pilot tests of the trace explorer on runs from the real embedded engine (tests/tui/conftest.py)."""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from dusttui.api.client import DustClient
from dusttui.api.models import Run
from dusttui.api.sse import SSEDecoder, decode_event
from dusttui.api.state import RunState
from dusttui.tui.explorer import ExplorerScreen
from dusttui.tui.explorer.app import ExplorerApp
from dusttui.tui.explorer.errors_panel import ErrorGroups
from dusttui.tui.explorer.grid import TraceGrid
from dusttui.tui.explorer.value_view import ValueView

from .conftest import MARKUP_APP
from .helpers import finish, pick, ready, screen_text

APPS = Path(__file__).resolve().parents[2] / "dusttui" / "engine" / "apps"
SIZE = (120, 36)
SYNTAX = "Error in `code`: SyntaxError: expecting property name"
TYPE_ERR = "Error in `code`: TypeError: cannot read property 'length' of undefined"
# flaky-demo with inputs of our own: #1, #3, #5 are not JSON, #2 has no items.
FLAKY_INPUTS = [
    {"payload": '{"name": "alpha", "items": [1, 2, 3]}'},
    {"payload": "{not json"},
    {"payload": '{"name": "[bold]g"}'},
    {"payload": "{not json"},
    {"payload": '{"name": "delta", "items": []}'},
    {"payload": "{nope"},
]


async def _runs(engine) -> dict[str, Run]:
    async with DustClient(engine.url, engine.api_key, "local", "local") as client:
        ids = {a.name: a.sId for a in await client.list_apps()}
        out: dict[str, Run] = {}
        for name, inputs in (
            ("map-reduce-demo", None),
            ("while-demo", None),
            ("flaky-demo", FLAKY_INPUTS),
            (MARKUP_APP, [{"q": "[/x]"}]),
        ):
            config_file = APPS / f"{name}.config.json"
            config = json.loads(config_file.read_text()) if config_file.exists() else {}
            if inputs is None:
                lines = (APPS / f"{name}.inputs.jsonl").read_text().splitlines()
                inputs = [json.loads(line) for line in lines if line.strip()]
            out[name] = await client.create_run(ids[name], "latest", config, inputs, blocking=True)
        return out


@pytest.fixture(scope="module")
def runs(engine) -> dict[str, Run]:
    """Blocking runs of the demo apps (and the markup app) on the real engine."""
    return asyncio.run(_runs(engine))


def explorer(app: ExplorerApp) -> ExplorerScreen:
    screen = app.screen
    assert isinstance(screen, ExplorerScreen)
    return screen


def title(app: ExplorerApp) -> str:
    return str(explorer(app).query_one("#explorer-title", Static).render())


def labels(node) -> list[str]:
    return [child.label.plain for child in node.children]


def value_text(app: ExplorerApp) -> str:
    view = explorer(app).query_one(ValueView)
    header = str(view.query_one("#value-header", Static).render())
    error = str(view.query_one("#value-error", Static).render())
    return header + "\n" + error


# ---------------------------------------------------------------- tree


async def test_tree_lists_blocks_then_inputs_with_previews(runs):
    app = ExplorerApp(runs["flaky-demo"])
    async with app.run_test(size=SIZE) as pilot:
        screen = explorer(app)
        tree = screen.trace_tree
        assert labels(tree.root) == ["input INPUT  6✓", "code PARSE  2✓ 4✗"]
        await pilot.press("down", "enter")
        await pilot.pause()
        parse = tree.root.children[1]
        assert labels(parse)[:3] == [
            '#0 {"payload":"{\\"name\\": \\"alpha\\", \\"ite…  → {"name":"ALPHA","size":3}',
            '#1 {"payload":"{not json"}  → ' + SYNTAX,
            '#2 {"payload":"{\\"name\\": \\"[bold]g\\"}"}  → ' + TYPE_ERR[:59] + "…",
        ]
        assert [child.data.status for child in parse.children] == [
            "ok",
            "err",
            "err",
            "err",
            "ok",
            "err",
        ]
        await pilot.press("down", "down")
        await pilot.pause()
        assert screen.current == (1, 1, 0)
        assert "✗ code PARSE · input #1" in value_text(app)
        assert SYNTAX in value_text(app)


async def test_map_iterations_load_lazily_and_open_the_right_value(runs):
    app = ExplorerApp(runs["map-reduce-demo"])
    async with app.run_test(size=SIZE) as pilot:
        screen = explorer(app)
        tree = screen.trace_tree
        assert [n.label.plain.split("  ")[0] for n in tree.root.children] == [
            "input INPUT",
            "code SPLIT",
            "map EACH",
            "llm SHOUT",
            "reduce EACH",
            "code JOIN",
        ]
        shout = tree.root.children[3]
        assert list(shout.children) == []  # nothing built before it is opened
        assert screen.open_in_tree((3, 1, 2))
        await pilot.pause()
        assert screen.current == (3, 1, 2)
        assert labels(shout)[1].startswith('#1 {"sentence":"one llm call per word"}  5 iterations')
        assert labels(shout.children[1])[2].startswith(
            'iteration 2  → {"prompt":{"text":"call","tokens":["call"],"logprobs":[null'
        )
        assert "llm SHOUT · input #1" in value_text(app) and "iteration 2" in value_text(app)
        json_tree = screen.query_one(ValueView).json
        assert json_tree.sections["value"] == {
            "prompt": {
                "text": "call",
                "tokens": ["call"],
                "logprobs": [None],
                "top_logprobs": None,
            },
            "completion": {
                "text": "CALL",
                "tokens": ["CALL"],
                "logprobs": [None],
                "top_logprobs": None,
            },
        }
        assert json_tree.sections["meta"] == {
            "token_usage": {"prompt_tokens": 1, "completion_tokens": 1},
            "provider_request_id": None,
        }


async def test_more_node_loads_the_next_chunk(runs, monkeypatch):
    monkeypatch.setattr("dusttui.tui.explorer.trace_tree.CHUNK", 2)
    app = ExplorerApp(runs["flaky-demo"])
    async with app.run_test(size=SIZE) as pilot:
        tree = explorer(app).trace_tree
        await pilot.press("down", "enter")
        await pilot.pause()
        parse = tree.root.children[1]
        assert [n.label.plain.split(" ")[0] for n in parse.children] == ["#0", "#1", "4"]
        assert labels(parse)[2] == "4 more inputs (#2–#5)"
        await pilot.press("down", "down", "down", "enter")
        await pilot.pause()
        assert [n.label.plain.split(" ")[0] for n in parse.children] == [
            "#0",
            "#1",
            "#2",
            "#3",
            "2",
        ]
        assert explorer(app).current == (1, 2, 0)


async def test_while_iterations_are_reachable(runs):
    app = ExplorerApp(runs["while-demo"])
    async with app.run_test(size=SIZE) as pilot:
        screen = explorer(app)
        assert screen.open_in_tree((2, 1, 2))
        await pilot.pause()
        assert screen.query_one(ValueView).json.sections["value"] == {"step": 3, "n": 5}
        assert 'code NEXT · input #1 {"n":6} · iteration 2' in value_text(app)


# ---------------------------------------------------------------- errors


async def test_n_and_shift_n_visit_every_error_in_order(runs):
    app = ExplorerApp(runs["flaky-demo"])
    async with app.run_test(size=SIZE) as pilot:
        screen = explorer(app)
        assert "4 errors" in title(app)
        seen = []
        for _ in range(5):
            await pilot.press("n")
            await pilot.pause()
            seen.append(screen.current)
        assert seen == [(1, 1, 0), (1, 2, 0), (1, 3, 0), (1, 5, 0), (1, 1, 0)]
        assert "error 1/4" in title(app)
        await pilot.press("N")
        await pilot.pause()
        assert screen.current == (1, 5, 0)
        assert "error 4/4" in title(app)
        await pilot.press("N")
        await pilot.pause()
        assert screen.current == (1, 3, 0)


async def test_error_shows_in_full_with_its_input_beside(runs):
    app = ExplorerApp(runs["flaky-demo"])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "n")
        await pilot.pause()
        view = explorer(app).query_one(ValueView)
        assert (
            str(view.query_one("#value-error", Static).render())
            == TYPE_ERR + "\n    at _fun (line 4)"
        )
        assert view.json.sections["input"] == {"payload": '{"name": "[bold]g"}'}
        assert "value" not in view.json.sections


async def test_errors_grouped_by_message_and_enter_jumps(runs):
    app = ExplorerApp(runs["flaky-demo"])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("3")
        await pilot.pause()
        groups = explorer(app).query_one(ErrorGroups)
        assert [(g.count, g.message.splitlines()[0]) for g in groups.groups] == [
            (3, SYNTAX),
            (1, TYPE_ERR),
        ]
        first_lines = [str(groups.get_option_at_index(k).prompt) for k in range(2)]
        assert first_lines == [f"×3     {SYNTAX}", f"×1     {TYPE_ERR}"]
        await pilot.press("enter")
        await pilot.pause()
        assert explorer(app).current == (1, 1, 0)
        assert explorer(app).view == "tree"
        await pilot.press("3", "enter")
        await pilot.pause()
        assert explorer(app).current == (1, 3, 0)


async def test_errors_only_filter_keeps_failing_inputs(runs):
    app = ExplorerApp(runs["flaky-demo"])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f", "down", "enter")
        await pilot.pause()
        tree = explorer(app).trace_tree
        assert tree.root.children[0].allow_expand is False  # INPUT has no errors
        assert [n.label.plain.split(" ")[0] for n in tree.root.children[1].children] == [
            "#1",
            "#2",
            "#3",
            "#5",
        ]


# ---------------------------------------------------------------- help


async def test_help_on_the_explorer_lists_the_explorer_keys(make_app):
    from dusttui.tui.screens.help import HelpScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "flaky-demo")
        await pilot.press("r")
        await finish(pilot)
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, ExplorerScreen)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        lines = [" ".join(line.replace("│", " ").split()) for line in screen_text(app).splitlines()]
        for expected in (
            "Trace explorer keys",
            "n Jump to the next error of the run",
            "N Jump to the previous error of the run",
            "f Show only inputs with errors (tree and grid)",
            "2 View 2: the grid of inputs × blocks",
            "esc Close the trace explorer",
            "F3 / down value: Next match of the find in value (enter too)",
            "shift+F3 / shift+enter / up value: Previous match of the find in value",
            "enter grid: Open this execution in the tree",
        ):
            assert any(expected in line for line in lines), expected
        assert not any("Launch a run" in line for line in lines)  # not the main screen's keys
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ExplorerScreen)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "escape")
        await pilot.pause()
        assert app.screen is app.main
        await pilot.press("question_mark")  # the main screen's help is unchanged
        await pilot.pause()
        assert "Launch a run of the selected app" in screen_text(app)


# ---------------------------------------------------------------- grid


async def test_grid_cells_and_enter_opens_in_tree(runs):
    app = ExplorerApp(runs["map-reduce-demo"])
    async with app.run_test(size=(200, 36)) as pilot:  # wide enough for every column
        await pilot.press("2")
        await pilot.pause()
        grid = explorer(app).query_one(TraceGrid)
        header = "".join(seg.text for seg in grid.render_line(0))
        assert header.split() == [
            "input",
            "INPUT",
            "SPLIT",
            "map",
            "EACH",
            "SHOUT",
            "reduce",
            "EACH",
            "JOIN",
        ]
        line = "".join(seg.text for seg in grid.render_line(2))
        assert line.split() == ["#1", '{"sentence":"one', "llm", "…", "✓", "✓", "✓", "5✓", "✓", "✓"]
        await pilot.press("down", "right", "right", "right", "enter")
        await pilot.pause()
        assert explorer(app).view == "tree"
        assert explorer(app).current == (3, 1, 0)
        assert explorer(app).trace_tree.cursor_pos == (3, 1, 0)


async def test_f_filters_the_grid_to_inputs_with_errors(runs):
    app = ExplorerApp(runs["flaky-demo"])
    async with app.run_test(size=SIZE) as pilot:
        screen = explorer(app)
        await pilot.press("2", "f")
        await pilot.pause()
        grid = screen.query_one(TraceGrid)

        def lines() -> list[list[str]]:
            return ["".join(seg.text for seg in grid.render_line(y)).split() for y in range(6)]

        assert lines() == [
            ["inputs", "with", "errors", "4/6", "INPUT", "PARSE"],
            ["#1", '{"payload":"{not', "json…", "✓", "✗"],
            ["#2", '{"payload":"{\\"name\\"…', "✓", "✗"],
            ["#3", '{"payload":"{not', "json…", "✓", "✗"],
            ["#5", '{"payload":"{nope"}', "✓", "✗"],
            [],
        ]
        assert "errors only" in title(app)
        await pilot.press("down", "right", "enter")  # the second row is input #2
        await pilot.pause()
        assert screen.view == "tree"
        assert screen.current == (1, 2, 0)
        await pilot.press("2", "f")
        await pilot.pause()
        assert lines()[0][:1] == ["input"]
        assert [row[0] for row in lines()[1:]] == ["#0", "#1", "#2", "#3", "#4"]
        assert "errors only" not in title(app)
        assert grid.cursor_pos == (1, 2, 0)  # still on input #2


async def test_errors_only_grid_of_a_run_without_errors_is_empty_and_says_so(runs):
    app = ExplorerApp(runs["map-reduce-demo"])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2", "f", "enter", "down")
        await pilot.pause()
        grid = explorer(app).query_one(TraceGrid)
        header = "".join(seg.text for seg in grid.render_line(0))
        assert header.startswith("inputs with errors 0/3 ")
        assert "".join(seg.text for seg in grid.render_line(1)).strip() == ""
        assert grid.cursor_pos is None
        assert explorer(app).view == "grid"  # enter on no row opens nothing


# ---------------------------------------------------------------- search, copy, export


async def test_search_across_values_and_errors(runs):
    app = ExplorerApp(runs["flaky-demo"])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", *"DELTA", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = explorer(app)
        assert [(h.pos, h.field) for h in screen.search_result.hits] == [
            ((0, 4, 0), "value"),
            ((1, 4, 0), "value"),
        ]
        assert str(screen.query_one("#search-status", Static).render()) == "2 matching executions"
        await pilot.press("down", "enter")
        await pilot.pause()
        assert screen.current == (1, 4, 0)
        await pilot.press("slash")
        await pilot.pause()
        search = screen.query_one("#search-input", Input)
        search.value = "/line [24]\\)/"
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert [h.pos for h in screen.search_result.hits] == [
            (1, 1, 0),
            (1, 2, 0),
            (1, 3, 0),
            (1, 5, 0),
        ]
        await pilot.press("slash")  # the results list has the focus: / goes to the query box
        await pilot.pause()
        search.value = "/(/"
        await pilot.press("enter")
        await pilot.pause()
        assert "Invalid regular expression /(/" in str(
            screen.query_one("#search-status", Static).render()
        )


async def test_copy_value_and_json_path(runs):
    app = ExplorerApp(runs["map-reduce-demo"])
    async with app.run_test(size=SIZE) as pilot:
        screen = explorer(app)
        screen.open_in_tree((5, 1, 0))
        await pilot.pause()
        json_tree = screen.query_one(ValueView).json
        json_tree.focus()
        json_tree.goto(json_tree.reveal("value", ("shouted",)))
        await pilot.press("y")
        assert app.clipboard == "ONE LLM CALL PER WORD"
        await pilot.press("Y")
        assert app.clipboard == "$.shouted"
        json_tree.goto(json_tree.reveal("value", ()))  # the value's root: the whole object, as JSON
        await pilot.press("y")
        assert json.loads(app.clipboard) == {"words": 5, "shouted": "ONE LLM CALL PER WORD"}


async def test_find_inside_a_value(runs):
    app = ExplorerApp(runs["while-demo"])
    async with app.run_test(size=SIZE) as pilot:
        screen = explorer(app)
        screen.open_in_tree((4, 2, 0))
        await pilot.pause()
        view = screen.query_one(ValueView)
        view.json.focus()
        await pilot.press("slash", *"124", "enter")
        await pilot.pause()
        assert view.json.cursor_path()[1:] == ("$.sequence[2]", 124)
        assert str(view.query_one("#value-find-status", Static).render()) == "match 1/1"


async def test_find_inside_a_value_goes_back_with_up_and_shift_f3(runs):
    app = ExplorerApp(runs["while-demo"])
    async with app.run_test(size=SIZE) as pilot:
        screen = explorer(app)
        screen.open_in_tree((4, 2, 0))
        await pilot.pause()
        view = screen.query_one(ValueView)
        view.json.focus()
        status = view.query_one("#value-find-status", Static)
        seen = []
        await pilot.press("slash", *"14")  # 142 and 214 in the sequence
        for key in ("enter", "enter", "up", "shift+f3", "down", "f3"):
            await pilot.press(key)
            await pilot.pause()
            seen.append((view.json.cursor_path()[1], str(status.render())))
        assert seen == [
            ("$.sequence[7]", "match 1/2"),
            ("$.sequence[9]", "match 2/2"),
            ("$.sequence[7]", "match 1/2"),
            ("$.sequence[9]", "match 2/2"),
            ("$.sequence[7]", "match 1/2"),
            ("$.sequence[9]", "match 2/2"),
        ]


async def test_export_dialog_writes_the_selected_block(runs, tmp_path):
    app = ExplorerApp(runs["flaky-demo"], export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n", "x")
        await pilot.pause()
        box = app.screen.query_one("#export-path", Input)
        assert Path(box.value).name.endswith("-code-PARSE.jsonl")
        box.value = str(tmp_path / "parse.csv")
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
    with (tmp_path / "parse.csv").open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == [
        "block_type",
        "block_name",
        "input_index",
        "iteration",
        "value",
        "error",
        "meta",
    ]
    assert rows[1] == [
        "code",
        "PARSE",
        "0",
        "0",
        '{"name":"ALPHA","size":3}',
        "",
        '{"logs":["parsed 2 keys"]}',
    ]
    assert (
        rows[3][:4] == ["code", "PARSE", "2", "0"]
        and rows[3][5] == TYPE_ERR + "\n    at _fun (line 4)"
    )
    assert len(rows) == 7


async def test_export_refuses_an_unknown_extension(runs, tmp_path):
    app = ExplorerApp(runs["flaky-demo"], export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("x")
        await pilot.pause()
        app.screen.query_one("#export-path", Input).value = str(tmp_path / "out.xml")
        await pilot.press("enter")
        await pilot.pause()
        message = str(app.screen.query_one("#export-error", Static).render())
        assert message == "Give the file a .jsonl, .json or .csv extension: the format follows it."
        assert not (tmp_path / "out.xml").exists()


# ---------------------------------------------------------------- text safety, stats, live


async def test_markup_like_text_displays_as_text(runs):
    app = ExplorerApp(runs[MARKUP_APP])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("n")
        await pilot.pause()
        error = str(explorer(app).query_one("#value-error", Static).render())
        assert error.startswith(
            "Error in `code`: Error: [/x] closing tag and [bold]not bold[/bold]"
        )
        tree = explorer(app).trace_tree
        assert tree.root.children[1].children[0].label.plain.startswith('#0 {"q":"[/x]"}')


async def test_stats_show_tokens_per_block_and_totals(runs):
    app = ExplorerApp(runs["map-reduce-demo"])
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("5")
        await pilot.pause()
        table = explorer(app).query_one("#view-stats")
        rows = [[str(c) for c in table.get_row_at(k)] for k in range(table.row_count)]
        # the offline provider's models are priced, at nothing (dusttui/prices.toml)
        assert rows[3] == ["llm", "SHOUT", "9", "0", "9", "9", "–", "$0.00"]
        assert rows[-1] == ["total", "", "24", "0", "9", "9", "–", "$0.00"]


async def _stream_events(engine) -> list:
    async with DustClient(engine.url, engine.api_key, "local", "local") as client:
        ids = {a.name: a.sId for a in await client.list_apps()}
        config = json.loads((APPS / "map-reduce-demo.config.json").read_text())
        request = client.build_create_run_request(
            ids["map-reduce-demo"],
            "latest",
            config,
            [{"sentence": "a b"}, {"sentence": "c"}],
            stream=True,
        )
        response = await client._http.send(request, stream=True)
        decoder = SSEDecoder()
        events = []
        async for chunk in response.aiter_bytes():
            events += [decode_event(d) for d in decoder.feed(chunk)]
        events += [decode_event(d) for d in decoder.close()]
        await response.aclose()
        return events


async def test_live_run_adds_blocks_and_keeps_the_cursor(engine):
    events = await _stream_events(engine)
    state = RunState()
    cut = next(
        k for k, e in enumerate(events) if e.type == "block_status" and e.content.name == "SHOUT"
    )
    for event in events[:cut]:
        state.apply(event)
    app = ExplorerApp(state)
    async with app.run_test(size=SIZE) as pilot:
        screen = explorer(app)
        assert [n.label.plain.split("  ")[0] for n in screen.trace_tree.root.children] == [
            "input INPUT",
            "code SPLIT",
            "map EACH",
        ]
        assert screen.open_in_tree((1, 1, 0))
        await pilot.pause()
        for event in events[cut:]:
            state.apply(event)
        await pilot.pause(0.25)  # the explorer re-reads the state on its 10 Hz timer
        assert [n.label.plain.split("  ")[0] for n in screen.trace_tree.root.children] == [
            "input INPUT",
            "code SPLIT",
            "map EACH",
            "llm SHOUT",
            "reduce EACH",
            "code JOIN",
        ]
        assert screen.trace_tree.cursor_pos == (1, 1, 0)
        assert screen.trace_tree.root.children[1].is_expanded
        assert "succeeded" in title(app)
        await pilot.press("escape")
        await pilot.pause()
    assert app.return_value is None


async def test_a_jump_folds_and_unloads_what_the_previous_jump_opened():
    from .test_explorer_pure import looped_run

    app = ExplorerApp(looped_run())
    async with app.run_test(size=SIZE) as pilot:
        screen = explorer(app)
        tree = screen.trace_tree
        await pilot.press("n")
        await pilot.pause()
        first = tree.root.children[2].children[0]  # llm UP, input #0
        assert screen.current == (2, 0, 1)
        assert labels(first) == ['iteration 0  → "A"', "iteration 1  → quota"]
        await pilot.press("n")
        await pilot.pause()
        assert screen.current == (2, 1, 1)
        assert not first.is_expanded and labels(first) == []  # its nodes are gone
        assert first.allow_expand  # and come back when it is opened
        nodes = len(tree._tree_nodes)
        for _ in range(6):  # round and round the three errors: the tree does not grow
            await pilot.press("n")
            await pilot.pause()
        assert len(tree._tree_nodes) == nodes
        tree.goto(first)
        await pilot.press("space")
        await pilot.pause()
        assert labels(first) == ['iteration 0  → "A"', "iteration 1  → quota"]
