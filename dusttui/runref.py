"""A run named the way people name runs: its id, or the start of it (`5be2f4`, `5be2f4…` as the
TUI shows ids), resolved to the one run it means.

Runs are looked for in this machine's journal (every run launched or opened here) and, on the
local engine, in the app's runs listing (it knows every run it served). A prefix that matches
several runs says which; one that matches none says where it looked. Something that does not look
like the start of an id (not lower-case hex, or 64 characters and more) goes to the server as it
is: a server may have ids of another shape.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from dusttui.api.inputs import InputError

if TYPE_CHECKING:
    from dusttui.api.models import App
    from dusttui.session.runs import RunSession

__all__ = ["resolve_run_ref"]

_PREFIX = re.compile(r"[0-9a-f]{1,63}")
_LISTING_PAGE = 100
_LISTING_MAX = 2_000  # runs of one app looked through on the local engine
_JOURNAL_MAX = 10_000


async def resolve_run_ref(session: RunSession, app: App, ref: str) -> str:
    """The full id of the run of ``app`` that ``ref`` names; InputError (a usage error) when
    none or several match."""
    from dusttui.textsafe import safe_line

    wanted = ref.strip().rstrip("…").rstrip(".")
    if not _PREFIX.fullmatch(wanted):
        if not wanted:
            raise InputError("Give a run id, or the start of one.")
        return wanted
    found = await _journal_ids(session, app, wanted) | await _engine_ids(session, app, wanted)
    if len(found) == 1:
        return found.pop()
    name = safe_line(app.name)
    if not found:
        where = "this machine's history" + (
            " and the engine's runs" if session.connector.extensions else ""
        )
        raise InputError(
            f"No run of {name} has an id starting with `{wanted}` (looked in {where}); "
            "give the whole id."
        )
    some = ", ".join(f"{r[:12]}…" for r in sorted(found)[:4])
    more = f" and {len(found) - 4} more" if len(found) > 4 else ""
    raise InputError(
        f"`{wanted}` starts the ids of {len(found)} runs of {name} ({some}{more}): give more of it."
    )


async def _journal_ids(session: RunSession, app: App, prefix: str) -> set[str]:
    journal = session.journal
    if journal is None:
        return set()
    backend = session.connector.backend
    try:
        summaries = await journal.summaries(limit=_JOURNAL_MAX)
    except (OSError, RuntimeError):
        return set()  # a history that cannot be read: the engine's listing may still tell
    return {
        s.run_id
        for s in summaries
        if s.app_id == app.sId
        and s.workspace_id == backend.workspace_id
        and s.base_url == backend.base_url
        and s.run_id.startswith(prefix)
    }


async def _engine_ids(session: RunSession, app: App, prefix: str) -> set[str]:
    await session.connector.ready()  # a server reached by URL: whether it is a dusttui engine
    if not session.connector.extensions:
        return set()  # dust.tt cannot list runs
    from dusttui.api.errors import DustError

    client = session.connector.client
    found: set[str] = set()
    offset = 0
    while offset < _LISTING_MAX:
        try:
            runs, total = await client.list_runs(app.sId, limit=_LISTING_PAGE, offset=offset)
        except DustError:
            break
        found.update(r.run_id for r in runs if r.run_id.startswith(prefix))
        offset += _LISTING_PAGE
        if offset >= total or not runs:
            break
    return found
