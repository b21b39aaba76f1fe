"""In the TUI, on the real engine: d compares the shown run with the one before it (of this
session or of the history), D marks the run to compare with, F re-runs the failed inputs and shows
the merged run."""

from __future__ import annotations

from typing import Any

from dusttui.tui.app import DustApp
from dusttui.tui.diff import DiffScreen
from dusttui.tui.diff.lines_view import LinesView
from tests.compare.test_merge import row
from tests.tui.helpers import finish, notifications, ready

SIZE = (120, 36)


async def launch(pilot: Any, name: str, inputs: list[dict]) -> str:
    """Launch a run of app ``name`` to its end and show it; its key."""
    app: DustApp = pilot.app
    model = next(a for a in app.apps if a.name == name)
    run = app.launch_run(model, "latest", {}, inputs)
    await finish(pilot)
    app.main.open_run(run.key)
    await pilot.pause()
    return run.key


async def diff_shown(pilot: Any) -> DiffScreen:
    """The diff screen, once it compared."""
    app: DustApp = pilot.app
    await app.workers.wait_for_complete()
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, DiffScreen)
    return screen


def detail(screen: DiffScreen) -> list[str]:
    return screen.query_one(LinesView).plain.splitlines()


async def test_d_compares_the_shown_run_with_the_run_before_it(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await launch(pilot, "echo", [{"text": "old words"}])
        await launch(pilot, "iter", [{"id": 1, "n": 1, "word": "x"}])  # another app between
        await launch(pilot, "echo", [{"text": "new words"}])
        await pilot.press("d")
        screen = await diff_shown(pilot)
        assert detail(screen)[:4] == [
            "~ input INPUT · input 0",
            '    input A {"text": "old words"}',
            '    input B {"text": "new words"}',
            '    ~ $.text: "[-old-]{+new+} words"',
        ]
        await pilot.press("escape")
        assert not isinstance(app.screen, DiffScreen)


async def test_d_reaches_into_the_history_and_D_marks_the_run_to_compare_with(make_app):
    first = make_app()
    async with first.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await launch(pilot, "echo", [{"text": "from yesterday"}])
    app = make_app()  # a new session: that run is only in the history now
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        today = await launch(pilot, "echo", [{"text": "today"}])
        await pilot.press("d")  # the run before it: the history's
        screen = await diff_shown(pilot)
        assert detail(screen)[3] == '    ~ $.text: "from yesterday" → "today"'
        await pilot.press("escape")
        await pilot.press("D")
        assert app.diff_mark == today
        await launch(pilot, "echo", [{"text": "later"}])
        await launch(pilot, "echo", [{"text": "latest"}])
        await pilot.press("d")  # against the marked run, not the one just before
        screen = await diff_shown(pilot)
        assert detail(screen)[3] == '    ~ $.text: "today" → "latest"'


async def test_d_on_an_older_run_of_the_history_compares_it_with_the_run_launched_before_it(
    make_app,
):
    first = make_app()
    async with first.run_test(size=SIZE) as pilot:
        await ready(pilot)
        for text in ("one", "two", "three"):
            await launch(pilot, "echo", [{"text": text}])
    app = make_app()  # a new session: the three runs are in the history, newest first
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        _three, two, one = (entry.run_id for entry in app.history[:3])
        app.main.open_run(f"j:{two}")  # opening it puts it first in the runs list
        await finish(pilot)
        await pilot.press("d")  # still against the run launched before it, not the newest
        screen = await diff_shown(pilot)
        assert (screen.a.run_id, screen.b.run_id) == (one, two)
        assert detail(screen)[3] == '    ~ $.text: "one" → "two"'


async def test_F_re_runs_the_failed_inputs_and_shows_the_merged_run(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        base = await launch(pilot, "retry", [row(1), row(2, fail_last=1), row(3)])
        assert app.runs[base].status == "errored"
        await pilot.press("D")  # to compare the merged run with it afterwards
        await pilot.press("F")
        await finish(pilot)
        await app.workers.wait_for_complete()
        await pilot.pause()
        shown = app.main.shown_run
        assert shown is not None and shown.run_id is not None
        assert shown.run_id.startswith("merged-")
        assert shown.state is not None and shown.state.status == "succeeded"
        assert [n for n in notifications(app) if n.startswith("Merged run")] == [
            f"Merged run {shown.run_id}: input 1 replaced"
        ]
        await pilot.press("d")  # the merged run diffs like any run
        screen = await diff_shown(pilot)
        assert screen.diff is not None
        assert (screen.diff.counts["fixed"], screen.diff.counts["same"], len(screen.diff)) == (
            1,
            8,
            1,
        )
