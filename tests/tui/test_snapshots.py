"""Snapshots of every screen and modal at 120×36, and of the main screen at 80×24, 120×36 and
200×60 (empty, mid-run, errored), on the real engine with fixed ids and clock."""

from __future__ import annotations

import asyncio

import pytest

from dusttui.api.client import DustClient
from dusttui.config import Settings
from dusttui.tui.screens.confirm import ConfirmScreen
from dusttui.tui.screens.prompt import PromptScreen
from tests.tui.conftest import SIZE, fixed_clock
from tests.tui.helpers import finish, pick, ready, rows


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


SIZES = [(80, 24), (120, 36), (200, 60)]
SIZE_IDS = ["80x24", "120x36", "200x60"]


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_main_screen_at_start(snap_compare, make_app, size):
    app = make_app(clock=fixed_clock)
    assert snap_compare(app, terminal_size=size, run_before=_before("qa-demo"))


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_main_screen_mid_run(snap_compare, make_app, slow_engine, fixed_run_ids, size):
    """One input done, the other busy for a minute: the running block, its progress."""

    started: list = []

    async def mid_run(pilot) -> None:
        pilot.app.main.query_one("#inputs").load('[{"ms": 1}, {"ms": 60000}]')
        await pilot.pause()
        await pilot.press("r")
        for _ in range(600):
            row = rows(pilot.app).get("code:WAIT", [""] * 6)
            if row[2] == "● running" and row[3] == "1":
                break
            await pilot.pause(0.05)
        else:
            raise AssertionError("the run never showed one input done")
        started.extend(pilot.app.runs.values())

    app = make_app(clock=fixed_clock, on=slow_engine)
    try:
        assert snap_compare(app, terminal_size=size, run_before=_before("slow", then=mid_run))
    finally:  # the engine would stay busy for a minute: free it for the next test
        asyncio.run(_cancel(slow_engine, started))


async def _cancel(engine, runs) -> None:
    client = DustClient(engine.url, engine.api_key, "local", "local")
    async with client:
        for run in runs:
            await client.cancel_run_raw(run.app_id, run.run_id)


def test_main_screen_after_a_succeeded_run(snap_compare, make_app, fixed_run_ids):
    app = make_app(clock=fixed_clock)
    assert snap_compare(app, terminal_size=SIZE, run_before=_before("map-reduce-demo", launch=True))


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_main_screen_after_an_errored_run(snap_compare, make_app, fixed_run_ids, size):
    app = make_app(clock=fixed_clock)
    assert snap_compare(app, terminal_size=size, run_before=_before("flaky-demo", launch=True))


async def _bad_inputs(pilot) -> None:
    await pilot.press("i")
    area = pilot.app.main.query_one("#inputs").text_area
    area.load_text('[{"question": "a"},\n {"q": "b"}]')
    await pilot.pause()


def test_inputs_tab_with_invalid_inputs(snap_compare, make_app):
    app = make_app(clock=fixed_clock)
    assert snap_compare(app, terminal_size=SIZE, run_before=_before("qa-demo", then=_bad_inputs))


async def _spec_tab(pilot) -> None:
    await pilot.press("s")  # the .dust source, read in a thread
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_spec_tab(snap_compare, make_app):
    app = make_app(clock=fixed_clock)
    assert snap_compare(app, terminal_size=SIZE, run_before=_before("qa-demo", then=_spec_tab))


def test_help_overlay(snap_compare, make_app):
    async def help_(pilot) -> None:
        await pilot.press("f1")
        await pilot.pause()

    app = make_app(Settings(bell=False, keymap={"launch": "f5,g"}), clock=fixed_clock)
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


def test_hash_dialog_refusing_a_short_hash(snap_compare, make_app):
    async def hash_dialog(pilot) -> None:
        await pilot.press("h")
        await pilot.pause()
        pilot.app.screen.query_one("#hash-input").value = "deadbeef"
        await pilot.press("enter")
        await pilot.pause()

    app = make_app(clock=fixed_clock)
    assert snap_compare(app, terminal_size=SIZE, run_before=_before("qa-demo", then=hash_dialog))
