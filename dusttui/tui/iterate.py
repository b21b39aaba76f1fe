"""The TUI's side of iterating on an app: compare two runs, re-run the failed inputs and merge.

The App's public methods (``open_diff``, ``mark_for_diff``, ``rerun_failed``) delegate here; the
runs come from the App's run session (a run of the history is opened through it first).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from dusttui.compare.text import numbered, plural
from dusttui.session.tracked import TrackedRun, short_id

__all__ = ["diff_partner", "mark_for_diff", "open_diff", "rerun_failed", "try_configs"]

_WAIT_STEP = 0.05  # while a run of the history is read from the server


def _app_of(app: Any, key: str) -> str | None:
    run = app.session.runs.get(key)
    if run is not None:
        return str(run.app_id)
    if key.startswith("j:"):
        entry = next((s for s in app.history if s.run_id == key[2:]), None)
        return entry.app_id if entry is not None else None
    return None


def _launched_at(app: Any, key: str) -> float | None:
    """When run ``key`` was launched (epoch seconds): the server's creation time, else the
    journal's, else when this session started following it (a run opened from the history is
    listed first, at the time it was opened: its place in the list says nothing of its age)."""
    run = app.session.runs.get(key)
    run_id = run.run_id if run is not None else key[2:]
    if run is not None and run.state is not None and run.state.created is not None:
        return float(run.state.created) / 1000.0
    entry = next((s for s in app.history if s.run_id == run_id), None)
    if entry is not None:
        return float(entry.recorded_at)
    return float(run.started) if run is not None else None


def diff_partner(app: Any, key: str) -> str | None:
    """The run to compare run ``key`` with: the one marked for diff, else the run of the same
    app launched just before it (a key of the session or ``j:<run id>`` of history)."""
    marked = getattr(app, "diff_mark", None)
    if marked is not None and marked != key:
        return str(marked)
    shown = app.session.runs.get(key)
    shown_id = shown.run_id if shown is not None else key[2:]
    app_id = _app_of(app, key)
    shown_at = _launched_at(app, key)
    best: tuple[float, str] | None = None
    for k, _ in app.run_labels_text():  # newest first
        if k == key or (k.startswith("j:") and k[2:] == shown_id) or _app_of(app, k) != app_id:
            continue
        at = _launched_at(app, k)
        if at is None or (shown_at is not None and at >= shown_at):
            continue
        if best is None or at > best[0]:
            best = (at, k)
    return best[1] if best is not None else None


async def _ready(app: Any, key: str) -> TrackedRun | None:
    """The tracked run of ``key`` with its state read (a run of the history is opened)."""
    run = app.session.runs.get(key)
    if run is None and key.startswith("j:"):
        run = app.open_history(key[2:])
    if run is None:
        return None
    # The session tells every listener of every run, with no way to stop listening: while a run
    # of the history is read (one GET), looking every 50 ms costs nothing.
    while run.state is None and run.end is None:  # noqa: ASYNC110
        await asyncio.sleep(_WAIT_STEP)
    return run if run.state is not None and run.state.run_id is not None else None


async def open_diff(app: Any, key: str | None) -> None:
    """Push the diff screen: run ``key`` (after) against its partner (before)."""
    if key is None:
        app.say(
            "Show a run first: the diff compares it with the run before it.", severity="warning"
        )
        return
    partner = diff_partner(app, key)
    if partner is None:
        app.say(
            "No earlier run of this app to compare with: press D on a run to mark it, "
            "then d on another.",
            severity="warning",
        )
        return
    before, after = await _ready(app, partner), await _ready(app, key)
    if before is None or after is None:
        app.say("That run could not be read: nothing to compare.", severity="error")
        return
    from dusttui.tui.diff import DiffScreen

    title = f"{after.app_name} · diff · A {short_id(before.run_id)} → B {short_id(after.run_id)}"
    app.push_screen(DiffScreen(before.state, after.state, title=title))


def mark_for_diff(app: Any, key: str | None) -> None:
    """Remember run ``key`` as the "before" of the next diff."""
    if key is None:
        app.say("Show a run first, then D marks it for a diff.", severity="warning")
        return
    app.diff_mark = key
    run = app.session.runs.get(key)
    run_id = run.run_id if run is not None else key[2:]
    app.say(f"Run {short_id(run_id)} marked: show another run and press d to compare them.")


async def rerun_failed(app: Any, key: str | None, show: Callable[[str], None]) -> None:
    """Re-run the failed inputs of run ``key``; ``show(key)`` the re-run, then the merged run."""
    from dusttui.api.errors import DustError
    from dusttui.compare.merge import RerunError
    from dusttui.compare.rerun import rerun_failed as run_it

    run = app.session.runs.get(key or "")
    if run is None or run.state is None:
        app.say("Show a run first: F re-runs its failed inputs.", severity="warning")
        return
    model = next((a for a in app.apps if a.sId == run.app_id), None)
    if model is None:
        app.say("Its app is not listed (yet): nothing launched.", severity="warning")
        return
    try:
        base = run.state
        if base.specification_hash is None and base.run_id is not None and base.done:
            # a stream does not say which hash "latest" was: the server's copy of the run does
            base = await app.session.fetch(run.app_id, base.run_id)
        result = await run_it(app.session, model, base, app.mode, launched=lambda r: show(r.key))
    except RerunError as exc:
        app.say(str(exc), severity="warning")
        return
    except DustError as exc:
        app.say(f"The re-run failed: {exc.user_message}", severity="error")
        return
    report = result.report
    merged = app.session.open(
        result.merged.run_id, run.app_id, run.app_name, mode="merged", from_journal=True
    )
    show(merged.key)
    said = f"Merged run {report.run_id}: {numbered('input', report.replaced)} replaced"
    if report.still_failing:
        said += f"; still failing: {', '.join(map(str, report.still_failing))}"
    if report.unfinished:
        said += (
            f"; {plural(len(report.unfinished), 'input')} never ran every block"
            " (the first run stopped early)"
        )
    app.say(
        said, severity="warning" if report.still_failing or report.unfinished else "information"
    )


def try_configs(
    app: Any, model: Any, spec_hash: str, configs: list[dict[str, Any]], inputs: list[Any]
) -> None:
    """Launch one run per config (same hash and inputs), then push the grid of their outputs."""
    from dusttui.tui.configs_screen import ConfigsScreen

    runs = [app.launch_run(model, spec_hash, config, inputs) for config in configs]
    app.push_screen(ConfigsScreen(model, runs, inputs))
