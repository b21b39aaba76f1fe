"""The apps filter: escape and tab leave it whatever it matches (on the real engine's apps)."""

from __future__ import annotations

from textual.widgets import Input

from dusttui.tui.widgets.lists import AppsList, AppsPane

from .helpers import finish, pick, ready, screen_text

SIZE = (120, 36)


async def _filter(pilot, text: str) -> AppsPane:
    await pilot.press("slash", *text)
    await pilot.pause()
    pane = pilot.app.main.query_one(AppsPane)
    assert pilot.app.focused is pane.query_one("#apps-filter", Input)
    return pane


async def test_escape_leaves_a_filter_that_matches_no_app(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        pane = await _filter(pilot, "zzz")
        assert pane.shown_apps == []
        assert pane.visible is True  # Textual's own `visible` is left alone
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.focused, AppsList)


async def test_tab_leaves_a_filter_that_matches_no_app(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await _filter(pilot, "zzz")
        await pilot.press("tab")
        await pilot.pause()
        assert isinstance(app.focused, AppsList)
        await pilot.press("tab")
        await pilot.pause()
        assert app.focused is not None and app.focused.id == "runs"


async def test_the_filter_narrows_the_list_by_name(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        pane = await _filter(pilot, "flaky")
        assert [a.name for a in pane.shown_apps] == ["flaky-demo"]
        assert pane.query_one(AppsList).option_count == 1


async def test_typed_filter_text_shows_and_escape_clears_it(make_app):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        pane = await _filter(pilot, "flaky")
        box = pane.query_one("#apps-filter", Input)
        assert box.size.height == 1  # one row: what is typed shows in it
        assert screen_text(app).splitlines()[2].startswith(" flaky")
        await pilot.press("escape")
        await pilot.pause()
        assert box.value == "" and len(pane.shown_apps) == len(app.apps)
        assert isinstance(app.focused, AppsList)
        assert app.main.current_app is not None and app.main.current_app.name == "flaky-demo"


async def test_tab_into_the_runs_list_puts_its_cursor_on_the_newest_run_and_enter_opens_it(
    make_app,
):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "qa-demo")
        await pilot.press("r")
        await finish(pilot)
        await pick(pilot, "flaky-demo")
        await pilot.press("r")
        await finish(pilot)
        first = next(iter(app.runs))
        app.main.open_run(first)  # the qa-demo run in the pane
        await pilot.pause()
        runs = app.main.query_one("#runs")
        runs.highlighted = None
        app.main.query_one(AppsList).focus()
        await pilot.press("tab")
        await pilot.pause()
        assert app.focused is runs and runs.highlighted == 0
        await pilot.press("enter")
        await pilot.pause()
        assert app.runs[app.main.shown_key].app_name == "flaky-demo"
