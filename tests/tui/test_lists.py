"""The apps filter: escape and tab leave it whatever it matches (on the real engine's apps)."""

from __future__ import annotations

from textual.widgets import Input

from dusttui.tui.widgets.lists import AppsList, AppsPane

from .helpers import ready

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
