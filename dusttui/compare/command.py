"""`dusttui diff RUN_A RUN_B --app APP`: fetch two runs, print their diff, exit 0 when equal.

Runs are named by id or by a unique prefix of it (looked up in the journal and, on the local
engine, in the app's runs); a run the server no longer has is read from the journal when it kept
the run's final JSON. Exit codes as ``diff``: 0 equal, 1 different, 2 usage (bad ``--key``, no
such run), 3 API or connection errors.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from typing import Any

import click

from dusttui.api.errors import DustError, RunError
from dusttui.api.inputs import InputError
from dusttui.compare.render import report_lines
from dusttui.compare.report_json import json_chunks
from dusttui.compare.rows import DiffError
from dusttui.compare.rundiff import RunDiff
from dusttui.compare.text import safe
from dusttui.exitcodes import EXIT_OK, EXIT_RUN_ERRORED

__all__ = ["cmd_diff", "load_run", "resolve_run_id"]

_LISTING_PAGE = 100
_LISTING_MAX = 2_000  # runs looked through for a prefix on the local engine


def cmd_diff(
    settings: Any,
    backend: Any,
    *,
    run_a: str,
    run_b: str,
    app: str,
    key: str | None,
    as_json: bool,
    limit: int,
) -> int:
    """The command body (``run_guarded`` turns its exceptions into messages and exit codes)."""
    if limit < 0:
        raise InputError("--limit must be 0 (all) or more.")
    if key is not None and not key.strip():
        raise InputError("--key needs the name of an input field, e.g. --key id.")
    from dusttui.headless import find_app
    from dusttui.session import open_client

    async def go() -> tuple[Any, Any]:
        async with open_client(backend, settings) as client:
            found = await find_app(client, app)
            # Both at once: two big runs are two long GETs (the first failure is the one told).
            a, b = await asyncio.gather(
                load_run(client, found, run_a, "A"), load_run(client, found, run_b, "B")
            )
            return a, b

    a, b = asyncio.run(go())
    try:
        diff = RunDiff(a, b, key=key)
    except DiffError as exc:
        raise InputError(str(exc)) from None
    out = sys.stdout
    if as_json:
        for chunk in json_chunks(diff):
            out.write(chunk)
    else:
        width = max(60, shutil.get_terminal_size((100, 24)).columns)
        style = _styler(out)
        for line in report_lines(diff, width=width, limit=limit or None, style=style):
            out.write(line + "\n")
    out.flush()
    return EXIT_OK if diff.equal else EXIT_RUN_ERRORED


def _styler(out: Any) -> Any:
    if "NO_COLOR" in os.environ or not out.isatty():
        return lambda text, role: text
    colors = {"removed": "red", "added": "green", "title": None, "dim": None}

    def style(text: str, role: str) -> str:
        return click.style(text, fg=colors.get(role), bold=role == "title", dim=role == "dim")

    return style


async def load_run(client: Any, app: Any, ref: str, side: str) -> Any:
    """The run ``ref`` (an id or a unique prefix) of ``app`` as a RunState: from the server, or
    from the journal when the server no longer has it."""
    from dusttui.api.state import RunState

    run_id = ref
    try:
        data = await client.get_run_raw(app.sId, ref)
    except RunError as exc:
        if exc.code != "run_not_found":
            raise
        run_id = await resolve_run_id(client, app, ref, side)
        data = None
        if run_id != ref:
            try:
                data = await client.get_run_raw(app.sId, run_id)
            except RunError as again:
                if again.code != "run_not_found":
                    raise
        if data is None:
            data = await asyncio.to_thread(_journal_final_run, run_id)
            if data is None:
                raise InputError(
                    f"Run {side} `{safe(ref)}` is not on the server any more, and the history "
                    "did not keep it."
                ) from None
    try:
        return await asyncio.to_thread(RunState.from_run_json, data)
    except DustError as exc:
        raise DustError(f"Run {side} `{safe(run_id)}`: {exc.user_message}") from None


async def resolve_run_id(client: Any, app: Any, prefix: str, side: str) -> str:
    """The full id of the one run of ``app`` whose id starts with ``prefix`` (the journal, then
    the local engine's runs listing); a usage error when none or several do."""
    found = set(await asyncio.to_thread(_journal_ids, app.sId, prefix))
    offset = 0
    while offset < _LISTING_MAX:
        try:
            runs, total = await client.list_runs(app.sId, limit=_LISTING_PAGE, offset=offset)
        except DustError:
            break  # a server that cannot list runs (dust.tt): the journal is all there is
        found.update(r.run_id for r in runs if r.run_id.startswith(prefix))
        offset += _LISTING_PAGE
        if offset >= total or not runs:
            break
    if len(found) == 1:
        return found.pop()
    if not found:
        raise InputError(
            f"No run of {safe(app.name)} has an id starting with `{safe(prefix)}` (run {side})."
        )
    some = ", ".join(sorted(safe(r[:12]) for r in found)[:4])
    raise InputError(
        f"Run {side}: `{safe(prefix)}` starts {len(found)} run ids ({some}…): give more of it."
    )


def _journal() -> Any:
    from dusttui.api.journal import Journal
    from dusttui.config import data_dir

    return Journal(data_dir() / "journal.sqlite")


def _journal_ids(app_id: str, prefix: str) -> list[str]:
    with _journal() as journal:  # the summaries: no config or inputs parsed
        return [
            s.run_id
            for s in journal.list_summaries(limit=100_000)
            if s.app_id == app_id and s.run_id.startswith(prefix)
        ]


def _journal_final_run(run_id: str) -> bytes | None:
    """The final run JSON the journal kept for ``run_id``, or None."""
    with _journal() as journal:
        text = journal.final_run_text(run_id)
    return None if text is None else text.encode("utf-8", "surrogatepass")
