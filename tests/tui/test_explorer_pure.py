"""The explorer's Textual-free logic: read model, error order and groups, search, export, paths."""

from __future__ import annotations

import csv
import gc
import json
from pathlib import Path

import pytest

from dusttui.api.models import Execution, Run, RunEnvelope
from dusttui.api.sse import SSEDecoder, decode_event
from dusttui.api.state import RunState
from dusttui.tui.explorer.data import TraceData
from dusttui.tui.explorer.errors import group_errors, next_error, prev_error
from dusttui.tui.explorer.export import ExportError, default_filename, write_export
from dusttui.tui.explorer.gc_pacing import NEVER, IdleCollector
from dusttui.tui.explorer.jsonpath import find_paths, get_at, path_to_str, preview, summary
from dusttui.tui.explorer.search import Query, SearchError, parse_query, search
from dusttui.tui.explorer.summary import grid_cell, input_label, stats_rows

STREAMS = Path(__file__).parent.parent / "fixtures" / "streams"
LEN_ERROR = "Error in `code`: TypeError: cannot read property 'length' of undefined"


def fixture_run(name: str) -> Run:
    return RunEnvelope.model_validate_json((STREAMS / f"{name}.run.json").read_bytes()).run


def looped_run() -> Run:
    """input (3) → map → llm inside the map with 2/3/1 iterations, two of them failing → reduce."""

    def ok(v, meta=None):
        return {"value": v, "error": None, "meta": meta}

    def bad(msg):
        return {"value": None, "error": msg, "meta": None}

    usage = {"token_usage": {"prompt_tokens": 3, "completion_tokens": 2}}
    traces = [
        [["input", "INPUT"], [[ok({"w": "a b"})], [ok({"w": "c d e"})], [ok({"w": "f"})]]],
        [["map", "EACH"], [[ok(["a", "b"])], [ok(["c", "d", "e"])], [ok(["f"])]]],
        [
            ["llm", "UP"],
            [
                [ok("A", usage), bad("quota")],
                [ok("C", usage), bad("timeout"), bad("quota")],
                [ok("[/x] [bold]", usage)],
            ],
        ],
    ]
    blocks = [
        {
            "block_type": "input",
            "name": "INPUT",
            "status": "succeeded",
            "success_count": 3,
            "error_count": 0,
        },
        {
            "block_type": "map",
            "name": "EACH",
            "status": "succeeded",
            "success_count": 3,
            "error_count": 0,
        },
        {
            "block_type": "llm",
            "name": "UP",
            "status": "errored",
            "success_count": 3,
            "error_count": 3,
        },
    ]
    return Run.model_validate(
        {
            "run_id": "ab" * 32,
            "created": 1,
            "status": {"run": "errored", "blocks": blocks},
            "traces": traces,
        }
    )


# ---------------------------------------------------------------- read model


def test_from_run_lists_blocks_and_errors_in_run_order():
    data = TraceData.from_run(fixture_run("errored_second_input"))
    assert [(b.block_type, b.name, b.status) for b in data.blocks] == [
        ("input", "INPUT", "succeeded"),
        ("code", "LEN", "errored"),
    ]
    assert data.errors == [(1, 1, 0)]
    assert data.messages == [LEN_ERROR]
    assert data.num_inputs == 2
    assert data.input_value(1) == {"q": None}


def test_from_state_uses_the_reducers_error_index():
    state = RunState()
    decoder = SSEDecoder()
    for data in [
        *decoder.feed((STREAMS / "errored_second_input.sse").read_bytes()),
        *decoder.close(),
    ]:
        state.apply(decode_event(data))
    data = TraceData.from_state(state)
    assert [(b.block_type, b.name, b.error_count) for b in data.blocks] == [
        ("input", "INPUT", 0),
        ("code", "LEN", 1),
    ]
    assert data.run_status == "errored"
    assert data.errors == [(1, 1, 0)]
    assert data.messages == [LEN_ERROR]
    assert data.execution((1, 0, 0)).value == {"len": 2}
    assert data.version == state.version


def test_loop_blocks_are_marked_and_iterations_counted():
    data = TraceData.from_run(looped_run())
    assert [b.in_loop for b in data.blocks] == [False, False, True]
    assert data.errors == [(2, 0, 1), (2, 1, 1), (2, 1, 2)]
    assert data.error_inputs(2) == [0, 1]
    assert grid_cell(data, 2, 1).text == "1✓ 2✗"
    assert grid_cell(data, 2, 2).text == "1✓"
    assert grid_cell(data, 0, 2).text == "✓"
    assert input_label(data, 1) == '#1 {"w":"c d e"}'


def test_while_iterations_listed_separately_are_merged_along_j():
    def ex(v):
        return {"value": v, "error": None, "meta": None}

    run = Run.model_validate(
        {
            "run_id": "cd" * 32,
            "created": 1,
            "status": {"run": "succeeded", "blocks": []},
            "traces": [
                [["input", "INPUT"], [[ex({"n": 2})]]],
                [["while", "W"], [[ex(True)]]],
                [["code", "STEP"], [[ex(1)]]],
                [["while", "W"], [[ex(False)]]],
            ],
        }
    )
    data = TraceData.from_run(run)
    assert [b.name for b in data.blocks] == ["INPUT", "W", "STEP"]
    assert [e.value for e in data.row(1, 0)] == [True, False]


def test_stats_sum_token_usage_per_block_and_total():
    rows = stats_rows(TraceData.from_run(looped_run()))
    assert [
        (r.block_type, r.executions, r.errors, r.prompt_tokens, r.completion_tokens) for r in rows
    ] == [
        ("input", 3, 0, None, None),
        ("map", 3, 0, None, None),
        ("llm", 6, 3, 9, 6),
        ("total", 12, 3, 9, 6),
    ]


# ---------------------------------------------------------------- errors


def test_next_and_prev_error_visit_every_error_in_order_and_wrap():
    errors = TraceData.from_run(looped_run()).errors
    seen, pos = [], None
    for _ in range(4):
        k = next_error(errors, pos)
        pos = errors[k]
        seen.append(pos)
    assert seen == [(2, 0, 1), (2, 1, 1), (2, 1, 2), (2, 0, 1)]
    assert errors[prev_error(errors, (2, 0, 1))] == (2, 1, 2)
    assert errors[prev_error(errors, (2, 1, 2))] == (2, 1, 1)
    assert next_error([], None) is None


def test_errors_grouped_by_message_most_frequent_first():
    groups = group_errors(["quota", "timeout", "quota"])
    assert [(g.message, g.count, g.indices) for g in groups] == [
        ("quota", 2, [0, 2]),
        ("timeout", 1, [1]),
    ]


# ---------------------------------------------------------------- search


def test_search_finds_values_and_errors_substring_case_insensitive():
    data = TraceData.from_run(looped_run())
    result = search(data, parse_query("QUOTA"))
    assert [(h.pos, h.field, h.snippet) for h in result.hits] == [
        ((2, 0, 1), "error", "quota"),
        ((2, 1, 2), "error", "quota"),
    ]
    result = search(data, parse_query('"c'))
    assert [h.pos for h in result.hits] == [(0, 1, 0), (1, 1, 0), (2, 1, 0)]


def test_search_regex_and_limit():
    data = TraceData.from_run(looped_run())
    assert parse_query("/a+/") == Query("a+", regex=True)
    result = search(data, Query(r"tim.out", regex=True))
    assert [(h.pos, h.field) for h in result.hits] == [((2, 1, 1), "error")]
    result = search(data, Query("a"), limit=2)
    assert len(result.hits) == 2 and result.total == 5


def test_bad_regex_gives_a_clear_message():
    with pytest.raises(SearchError, match=r"Invalid regular expression /\(/"):
        parse_query("/(/").matcher()
    with pytest.raises(SearchError, match="Type something"):
        parse_query("  ").matcher()


# ---------------------------------------------------------------- export


def test_export_block_as_jsonl(tmp_path):
    data = TraceData.from_run(fixture_run("errored_second_input"))
    out = tmp_path / "len.jsonl"
    assert write_export(out, data, [1], "jsonl") == 2
    assert out.read_text().splitlines() == [
        '{"block_type":"code","block_name":"LEN","input_index":0,"iteration":0,"value":{"len":2},"error":null,"meta":{"logs":[]}}',
        '{"block_type":"code","block_name":"LEN","input_index":1,"iteration":0,"value":null,"error":"'
        + LEN_ERROR
        + '","meta":null}',
    ]


def test_export_whole_run_as_json_and_csv(tmp_path):
    data = TraceData.from_run(fixture_run("errored_second_input"))
    assert write_export(tmp_path / "all.json", data, None, "json") == 4
    records = json.loads((tmp_path / "all.json").read_text())
    assert [(r["block_name"], r["input_index"], r["value"], r["error"]) for r in records] == [
        ("INPUT", 0, {"q": "hi"}, None),
        ("INPUT", 1, {"q": None}, None),
        ("LEN", 0, {"len": 2}, None),
        ("LEN", 1, None, LEN_ERROR),
    ]
    assert write_export(tmp_path / "all.csv", data, None, "csv") == 4
    with (tmp_path / "all.csv").open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows == [
        ["block_type", "block_name", "input_index", "iteration", "value", "error", "meta"],
        ["input", "INPUT", "0", "0", '{"q":"hi"}', "", ""],
        ["input", "INPUT", "1", "0", '{"q":null}', "", ""],
        ["code", "LEN", "0", "0", '{"len":2}', "", '{"logs":[]}'],
        ["code", "LEN", "1", "0", "", LEN_ERROR, ""],
    ]
    assert default_filename(data, 1, "csv") == "run-d9eb253e-code-LEN.csv"


def test_export_bad_format_or_path_is_explained(tmp_path):
    data = TraceData.from_run(fixture_run("ok_two_inputs"))
    with pytest.raises(ExportError, match="Unknown export format 'xml'"):
        write_export(tmp_path / "a.xml", data, None, "xml")
    with pytest.raises(ExportError, match="is a folder"):
        write_export(tmp_path, data, None, "json")
    (tmp_path / "file").write_text("")
    with pytest.raises(
        ExportError, match=r"Cannot create the folder .*/file: a file has that name"
    ):
        write_export(tmp_path / "file" / "a.json", data, None, "json")
    assert (tmp_path / "file").read_text() == ""  # nothing lost


def test_export_creates_its_folder_and_files_only_the_owner_reads(tmp_path):
    data = TraceData.from_run(fixture_run("errored_second_input"))
    target = tmp_path / "fresh" / "exports" / "run.jsonl"
    assert write_export(target, data, None, "jsonl") == 4
    assert target.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "fresh" / "exports").stat().st_mode & 0o777 == 0o700
    target.chmod(0o644)  # an existing file is rewritten owner-only too
    assert write_export(target, data, [1], "csv") == 2
    assert target.stat().st_mode & 0o777 == 0o600


def test_export_errors_only_writes_the_failed_executions(tmp_path):
    data = TraceData.from_run(looped_run())
    out = tmp_path / "errors.jsonl"
    assert write_export(out, data, None, "jsonl", errors_only=True) == 3
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["block_name"], r["input_index"], r["iteration"], r["error"]) for r in records] == [
        ("UP", 0, 1, "quota"),
        ("UP", 1, 1, "timeout"),
        ("UP", 1, 2, "quota"),
    ]
    assert default_filename(data, 2, "csv", errors_only=True) == "run-abababab-llm-UP-errors.csv"


# ---------------------------------------------------------------- JSON paths


def test_json_paths_previews_and_find():
    value = {"a": [{"b c": 1}, "x"], "ok": True}
    assert path_to_str(()) == "$"
    assert path_to_str(("a", 0, "b c")) == '$.a[0]["b c"]'
    assert get_at(value, ("a", 0, "b c")) == 1
    assert preview({"long": "y" * 100}, 20) == '{"long":"yyyyyyyyyy…'
    assert summary([1, 2]) == "[2 items]" and summary({"k": 1}) == "{1 key}"
    assert find_paths(value, lambda s: "b" in s) == [("a", 0, "b c")]
    assert find_paths(value, lambda s: s == "true") == [("ok",)]


def test_execution_lookup_out_of_range_is_none():
    data = TraceData.from_run(fixture_run("ok_two_inputs"))
    assert data.execution((1, 5, 0)) is None
    assert data.execution((1, 1, 0)) == Execution(
        value={"x": 10}, error=None, meta={"logs": ["n=5"]}
    )


# ---------------------------------------------------------------- GC pacing


def test_full_collections_wait_for_a_pause(monkeypatch):
    now = [100.0]
    collected = []
    monkeypatch.setattr("dusttui.tui.explorer.gc_pacing.gc.collect", lambda: collected.append(1))
    before = gc.get_threshold()
    pacing = IdleCollector(quiet=0.4, longest=5.0, clock=lambda: now[0])
    pacing.start()
    try:
        assert gc.get_threshold() == (before[0], NEVER, NEVER)  # the youngest still collects
        assert pacing.tick() is False  # nothing happened yet
        pacing.touch()
        now[0] += 0.3
        assert pacing.tick() is False and collected == []  # the user is still at it
        now[0] += 0.2
        assert pacing.tick() is True and collected == [1]  # paused: collected once
        assert pacing.tick() is False
        for _ in range(26):  # non-stop activity: still collected every 5 s
            pacing.touch()
            pacing.tick()
            now[0] += 0.2
        assert collected == [1, 1]
    finally:
        pacing.stop()
    assert gc.get_threshold() == before


# ---------------------------------------------------------------- Textual's private names


def test_the_private_textual_names_the_explorer_uses_still_exist():
    from textual.app import App
    from textual.scrollbar import ScrollBar
    from textual.widgets import Static, Tree

    from dusttui.tui.explorer import textual_private as private

    tree: Tree[None] = Tree("root")
    node = tree.root.add("child")
    line = private.TreeLine([tree.root, node], last=True)
    missing = [
        *(f"TreeNode.{a}" for a in private.TREE_NODE_ATTRIBUTES if not hasattr(node, a)),
        *(f"Tree.{a}" for a in private.TREE_ATTRIBUTES if not hasattr(tree, a)),
        *(f"_TreeLine.{a}" for a in private.TREE_LINE_ATTRIBUTES if not hasattr(line, a)),
        *(f"Tree.{a}" for a in private.OVERRIDDEN if not callable(getattr(Tree, a, None))),
        *(f"ScrollBar.{a}" for a in private.SCROLLBAR_ATTRIBUTES if not hasattr(ScrollBar(), a)),
        *(
            f"Static.{a}"
            for a in private.STATIC_OVERRIDDEN
            if not callable(getattr(Static, a, None))
        ),
        *(f"App.{a}" for a in private.APP_ATTRIBUTES if not callable(getattr(App, a, None))),
    ]
    assert missing == []
