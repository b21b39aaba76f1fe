"""Snapshots of every screen and modal at 120×36, on the real engine with fixed ids and clock."""

from __future__ import annotations

from dusttui.config import Settings
from dusttui.tui.screens.confirm import ConfirmScreen
from dusttui.tui.screens.prompt import PromptScreen
from tests.tui.conftest import SIZE, fixed_clock
from tests.tui.helpers import finish, pick, ready


def _before(app_name: str | None = None, *, launch: bool = False, then=None):
    async def run_before(pilot) -> None:
        await ready(pilot)
        if app_name:
            await pick(pilot, app_name)
        if launch:
            await pilot.press("r")
            await finish(pilot)
        if then is not None:
            await then(pilot)
        pilot.app.clear_notifications()
        await pilot.pause()

    return run_before


def test_main_screen_at_start(snap_compare, make_app):
    app = make_app(clock=fixed_clock)
    assert snap_compare(app, terminal_size=SIZE, run_before=_before("qa-demo"))


def test_main_screen_after_a_succeeded_run(snap_compare, make_app, fixed_run_ids):
    app = make_app(clock=fixed_clock)
    assert snap_compare(app, terminal_size=SIZE, run_before=_before("map-reduce-demo", launch=True))


def test_main_screen_after_an_errored_run(snap_compare, make_app, fixed_run_ids):
    app = make_app(clock=fixed_clock)
    assert snap_compare(app, terminal_size=SIZE, run_before=_before("flaky-demo", launch=True))


async def _bad_inputs(pilot) -> None:
    await pilot.press("i")
    area = pilot.app.main.query_one("#inputs").text_area
    area.load_text('[{"question": "a"},\n {"q": "b"}]')
    await pilot.pause()


def test_inputs_tab_with_invalid_inputs(snap_compare, make_app):
    app = make_app(clock=fixed_clock)
    assert snap_compare(app, terminal_size=SIZE, run_before=_before("qa-demo", then=_bad_inputs))


async def _spec_tab(pilot) -> None:
    pilot.app.main.query_one("#tabs").active = "tab-spec"
    await pilot.pause()


def test_spec_tab(snap_compare, make_app):
    app = make_app(clock=fixed_clock)
    assert snap_compare(app, terminal_size=SIZE, run_before=_before("qa-demo", then=_spec_tab))


def test_help_overlay(snap_compare, make_app):
    async def help_(pilot) -> None:
        await pilot.press("f1")
        await pilot.pause()

    app = make_app(Settings(bell=False, keymap={"launch": "f5,ctrl+r"}), clock=fixed_clock)
    assert snap_compare(app, terminal_size=SIZE, run_before=_before("qa-demo", then=help_))


def test_quit_confirmation(snap_compare, make_app):
    async def confirm(pilot) -> None:
        pilot.app.push_screen(ConfirmScreen(pilot.app.quit_question(1)))
        await pilot.pause()

    app = make_app(clock=fixed_clock)
    assert snap_compare(app, terminal_size=SIZE, run_before=_before("qa-demo", then=confirm))


def test_load_inputs_prompt(snap_compare, make_app):
    async def prompt(pilot) -> None:
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(pilot.app.screen, PromptScreen)

    app = make_app(clock=fixed_clock)
    assert snap_compare(app, terminal_size=SIZE, run_before=_before("qa-demo", then=prompt))


def test_command_palette(snap_compare, make_app):
    async def palette(pilot) -> None:
        await pilot.press("ctrl+p")
        await pilot.pause()
        command_input = pilot.app.screen.query_one("CommandInput")
        command_input.cursor_blink = False  # Textual's own input: blink off for a stable picture
        command_input.value = "switch theme dusttui"
        await pilot.pause(0.5)

    app = make_app(clock=fixed_clock)
    assert snap_compare(app, terminal_size=SIZE, run_before=_before("qa-demo", then=palette))


def test_light_theme(snap_compare, make_app, fixed_run_ids):
    app = make_app(Settings(bell=False, theme="dusttui-light"), clock=fixed_clock)
    assert snap_compare(app, terminal_size=SIZE, run_before=_before("flaky-demo", launch=True))


def test_high_contrast_theme(snap_compare, make_app, fixed_run_ids):
    app = make_app(Settings(bell=False, theme="dusttui-high-contrast"), clock=fixed_clock)
    assert snap_compare(app, terminal_size=SIZE, run_before=_before("qa-demo", launch=True))
