"""In the TUI, on the real engine: a list of configs in the config editor runs side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from textual.widgets import DataTable

from dusttui.tui.configs_screen import ConfigsScreen
from dusttui.tui.widgets.editors import ConfigEditor, InputsEditor
from tests.compare.conftest import ITER_CONFIG, UPPER_CONFIG
from tests.tui.helpers import finish, pick, ready


def plain(screen: ConfigsScreen, selector: str) -> str:
    content: Any = screen.query_one(selector).content
    return content.plain


async def test_a_list_of_configs_runs_side_by_side_and_two_cells_diff(make_app):
    app = make_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await ready(pilot)
        await pick(pilot, "iter")
        main = app.main
        main.query_one(ConfigEditor).text_area.load_text(json.dumps([ITER_CONFIG, UPPER_CONFIG]))
        main.query_one(InputsEditor).text_area.load_text('[{"id": 1, "n": 2, "word": "a"}]')
        await pilot.pause()
        main.query_one(ConfigEditor).recheck()
        assert main.query_one(ConfigEditor).check.count == 2
        main.action_launch()
        await finish(pilot)
        screen = app.screen
        assert isinstance(screen, ConfigsScreen)
        screen._poll()
        await pilot.pause()
        table = screen.query_one(DataTable)
        row = [table.get_cell_at((0, k)).plain for k in range(3)]
        assert row == [
            '#0 {"id": 1, "n": 2, "word": "a"}',
            '{"said": "a0 is here, a1 is here"} · 12 tok',
            '{"said": "A0 IS HERE, A1 IS HERE"} · 12 tok',
        ]
        head = plain(screen, "#configs-head").splitlines()
        assert head[2] == '  vs config 1: ~ $.SAY.model_id: "echo" → "upper"'
        table.move_cursor(row=0, column=2)
        await pilot.pause()
        assert plain(screen, "#configs-diff-text").splitlines() == [
            "#0 config 1 → #0 config 2",
            '  ~ $.said: "[-a0-]{+A0+} [-is-]{+IS+} [-here-]{+HERE+}, [-a1-]{+A1+} [-is-]{+IS+} '
            '[-here-]{+HERE+}"',
        ]


async def test_K_keeps_a_config_only_for_an_app_of_the_users_folder(make_app, apps: Path):
    app = make_app()
    app.settings.apps_dir = apps
    saved = apps / "echo.config.json"
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await ready(pilot)
            await pick(pilot, "echo")
            main = app.main
            main.query_one(ConfigEditor).text_area.load_text('[{}, {"ECHO": {}}]')
            main.query_one(InputsEditor).text_area.load_text('[{"text": "x"}]')
            await pilot.pause()
            main.action_launch()
            await finish(pilot)
            screen = app.screen
            assert isinstance(screen, ConfigsScreen)
            screen.query_one(DataTable).move_cursor(row=0, column=2)
            await pilot.press("K")
            await pilot.press("y")
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert json.loads(saved.read_text()) == {"ECHO": {}}
    finally:
        saved.unlink(missing_ok=True)
