"""Snapshot tests of the explorer on real engine runs: each view at 80×24, 120×36 and 200×60
(a standard terminal, the common one, a big one), and the value view's folded JSON."""

from __future__ import annotations

import asyncio

import pytest

from dusttui.api.models import Run
from dusttui.tui.explorer.app import ExplorerApp
from dusttui.tui.explorer.value_view import ValueView

from .test_explorer import _runs
from .test_explorer_items import _specs

SIZES = {"80x24": (80, 24), "120x36": (120, 36), "200x60": (200, 60)}
# What each view shows after these keys: an error opened in the tree, the grid's cursor on a
# failed cell, the errors grouped, a search's results, the stats.
VIEW_KEYS: dict[str, list[str]] = {
    "tree": ["n", "n"],
    "grid": ["2", "down", "right"],
    "errors": ["3"],
    "search": ["slash", *"json", "enter"],
    "stats": ["5"],
}


@pytest.fixture(scope="module")
def runs(engine) -> dict[str, Run]:
    """Blocking runs of the demo apps on the real engine (titles hide their random ids)."""
    return asyncio.run(_runs(engine))


@pytest.fixture(scope="module")
def specs(engine) -> dict[str, list[tuple[str, str]]]:
    """The blocks of each app's specification (flaky-demo's REPORT never runs)."""
    return asyncio.run(_specs(engine))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("view", VIEW_KEYS)
def test_each_view_at_each_size(snap_compare, runs, specs, view, size):
    app = ExplorerApp(
        runs["flaky-demo"], title="Traces · flaky-demo", spec_blocks=specs["flaky-demo"]
    )

    async def show(pilot) -> None:
        await pilot.press(*VIEW_KEYS[view])
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZES[size], run_before=show)


def test_grid_view_of_a_map_run(snap_compare, runs):
    app = ExplorerApp(runs["map-reduce-demo"], title="Traces · map-reduce-demo")
    assert snap_compare(
        app, terminal_size=(150, 20), press=["2", "down", "right", "right", "right"]
    )


def test_value_view_with_folded_json(snap_compare, runs):
    app = ExplorerApp(runs["while-demo"], title="Traces · while-demo")

    async def open_summary(pilot) -> None:
        pilot.app.screen.open_in_tree((4, 2, 0))
        await pilot.pause()
        pilot.app.screen.query_one(ValueView).json.focus()
        await pilot.pause()

    assert snap_compare(
        app, terminal_size=(110, 28), run_before=open_summary, press=["down", "down"]
    )
