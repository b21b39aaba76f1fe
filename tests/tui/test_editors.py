"""Config and inputs editors: checked as you type; nothing is sent while they are invalid."""

from __future__ import annotations

from pathlib import Path

import pytest

from dusttui.tui.widgets.editors import ConfigEditor, InputsEditor
from tests.tui.helpers import finish, notifications, pick, ready, rows, text_of

SIZE = (120, 36)


async def _runs_on_server(app, name: str) -> int:
    sid = next(a.sId for a in app.apps if a.name == name)
    _, total = await app.client.list_runs(sid, limit=1)
    return total


async def _type_into(pilot, editor_cls, text: str) -> None:
    editor = pilot.app.main.query_one(editor_cls)
    await pilot.press("e" if editor_cls is ConfigEditor else "i")
    area = editor.text_area
    area.select_all()
    await pilot.press("delete")
    area.insert(text)
    await pilot.pause()
    await pilot.press("escape")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            '{"ANSWER": {"provider_id": "offline",}}',
            "config: line 1, column 38: Expecting property name enclosed in double quotes",
        ),
        (
            '{"NOPE": {}}',
            "config: `NOPE` is not a block of this app (blocks: ANSWER, FORMAT, INPUT, PREP).",
        ),
        (
            '{"ANSWER": {"provider_id": "offline"}}',
            'config: llm block `ANSWER` needs `model_id`, e.g. {"provider_id": "openai", '
            '"model_id": "gpt-4o-mini"}.',
        ),
    ],
)
async def test_invalid_config_shows_the_message_and_sends_nothing(make_app, config, message):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "qa-demo")
        before = await _runs_on_server(app, "qa-demo")
        await _type_into(pilot, ConfigEditor, config)
        assert text_of(app, "#config .verdict") == f"✗ {message}"
        await pilot.press("r")
        await finish(pilot)
        assert f"Not sent — {message}" in notifications(app)
        assert app.runs == {}
        assert await _runs_on_server(app, "qa-demo") == before


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (
            '[{"question": "a"}, {"q": "b"}]',
            "inputs: all inputs must have the same keys — input 0 has {question}, input 1 has {q}.",
        ),
        ('[{"question": "a"}, 3]', "inputs: input 1 is a number; every input must be an object."),
        ('{"question": "a"}\n{"question": ', "inputs: line 2, column 14: Expecting value"),
    ],
)
async def test_invalid_inputs_show_the_message_and_send_nothing(make_app, inputs, message):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "qa-demo")
        before = await _runs_on_server(app, "qa-demo")
        await _type_into(pilot, InputsEditor, inputs)
        assert text_of(app, "#inputs .verdict") == f"✗ {message}"
        await pilot.press("r")
        await finish(pilot)
        assert f"Not sent — {message}" in notifications(app)
        assert app.main.query_one("#tabs").active == "tab-inputs"
        assert await _runs_on_server(app, "qa-demo") == before


async def test_jsonl_inputs_are_counted_and_run(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "qa-demo")
        await _type_into(pilot, InputsEditor, '{"question": "one"}\n{"question": "two"}\n')
        assert text_of(app, "#inputs .verdict") == "✓ valid inputs · 2 inputs"
        await pilot.press("r")
        await finish(pilot)
        assert rows(app)["input:INPUT"][:5] == ["input", "INPUT", "✓ succeeded", "2", "0"]


async def test_inputs_load_from_a_csv_file(make_app, tmp_path: Path):
    csv = tmp_path / "questions.csv"
    csv.write_text("question\nWhy is the sky blue\nWhat is [b]markup\n")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "qa-demo")
        await pilot.press("o")
        await pilot.pause()
        app.screen.query_one("#prompt-input").value = str(csv)
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        editor = app.main.query_one(InputsEditor)
        assert editor.check.value == [
            {"question": "Why is the sky blue"},
            {"question": "What is [b]markup"},
        ]
        assert text_of(app, "#inputs .verdict") == "✓ valid inputs · 2 inputs"
        assert "Loaded 2 inputs from questions.csv." in notifications(app)


async def test_a_bad_inputs_file_is_reported(make_app, tmp_path: Path):
    bad = tmp_path / "bad.csv"
    bad.write_text("question,extra\nonly one field\n")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "qa-demo")
        await pilot.press("o")
        await pilot.pause()
        app.screen.query_one("#prompt-input").value = str(bad)
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert (
            "Inputs not loaded — bad.csv: CSV line 2 has 1 fields, the header has 2."
            in notifications(app)
        )


async def test_edits_are_kept_per_app(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "qa-demo")
        await _type_into(pilot, InputsEditor, '[{"question": "kept?"}]')
        await pick(pilot, "flaky-demo")
        assert "payload" in app.main.query_one(InputsEditor).text
        await pick(pilot, "qa-demo")
        assert app.main.query_one(InputsEditor).text == '[{"question": "kept?"}]'
