"""Snapshot tests of the explorer's tree, grid and value views, on real engine runs."""

from __future__ import annotations

import asyncio

import pytest

from dusttui.api.models import Run
from dusttui.tui.explorer.app import ExplorerApp
from dusttui.tui.explorer.value_view import ValueView

from .test_explorer import _runs

SIZE = (110, 28)


@pytest.fixture(scope="module")
def runs(engine) -> dict[str, Run]:
    """Blocking runs of the demo apps on the real engine (titles hide their random ids)."""
    return asyncio.run(_runs(engine))


def test_tree_view_on_an_errored_run(snap_compare, runs):
    app = ExplorerApp(runs["flaky-demo"], title="Traces · flaky-demo")
    assert snap_compare(app, terminal_size=SIZE, press=["n", "n"])


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

    assert snap_compare(app, terminal_size=SIZE, run_before=open_summary, press=["down", "down"])
