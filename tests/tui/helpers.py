"""Helpers for Pilot tests: pick an app, launch, read what the screen shows."""

from __future__ import annotations

import asyncio

from textual.pilot import Pilot
from textual.widgets import Static

from dusttui.tui.app import DustApp
from dusttui.tui.widgets.block_table import BlockTable


async def ready(pilot: Pilot) -> DustApp:
    """Wait until the apps are listed."""
    app: DustApp = pilot.app  # type: ignore[assignment]
    await asyncio.wait_for(app.loaded.wait(), timeout=30)
    await app.workers.wait_for_complete()
    await pilot.pause()
    return app


async def pick(pilot: Pilot, name: str) -> None:
    """Select an app by name in the apps list."""
    app: DustApp = pilot.app  # type: ignore[assignment]
    sid = next(a.sId for a in app.apps if a.name == name)
    assert app.main.query_one("AppsPane").select(sid)
    await pilot.pause()
    assert app.main.current_app is not None and app.main.current_app.name == name


async def finish(pilot: Pilot) -> None:
    """Wait for every run being watched to end, and the screen to catch up."""
    app: DustApp = pilot.app  # type: ignore[assignment]
    await app.workers.wait_for_complete()
    await asyncio.wait_for(app.session.idle(), timeout=60)
    await app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


def rows(app: DustApp) -> dict[str, list[str]]:
    """The block table as text: row key → cells."""
    table = app.main.query_one(BlockTable)
    return {key: [cell.plain for cell in table.get_row(key)] for key in table.rows}


def text_of(app: DustApp, selector: str) -> str:
    """What a Static shows."""
    widget = app.screen.query_one(selector, Static)
    content = widget.render()
    return getattr(content, "plain", str(content))


def notifications(app: DustApp) -> list[str]:
    """The texts of the notifications currently shown."""
    return [n.message for n in app._notifications]


def screen_text(app: DustApp) -> str:
    """The whole screen as plain text, line by line, as the terminal would show it."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)
