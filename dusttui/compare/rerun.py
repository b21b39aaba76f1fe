"""Re-run only the failed inputs, through the run session, then merge and journal the merged run.

Shared by ``dusttui run APP --rerun-failed RUN_ID`` and the TUI's ``F``: the re-run is launched
and followed like any run (:class:`~dusttui.session.runs.RunSession`, journaled as launched);
once it ended, the merged run (:func:`~dusttui.compare.merge.merge_rerun`) is written to the
journal — its launch (origin ``merged``, the first run's inputs) and its final JSON, which names
both runs — so it is reopened from the history, explored, diffed and exported like any run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from dusttui.compare.merge import (
    MergeReport,
    RerunError,
    RerunPlan,
    input_values,
    merge_rerun,
    plan_rerun,
)

__all__ = ["RerunResult", "journal_merged", "rerun_failed"]


@dataclass(slots=True)
class RerunResult:
    """The re-run (a tracked run of the session), the merged run's state, what the merge did."""

    plan: RerunPlan
    run: Any
    merged: Any
    report: MergeReport


async def rerun_failed(
    session: Any,
    app: Any,
    base: Any,
    mode: str,
    *,
    launched: Callable[[Any], None] | None = None,
) -> RerunResult:
    """Launch the failed inputs of run ``base`` again (same hash and config), wait for the end,
    merge, journal the merged run. ``launched(run)`` is called once the re-run is on its way.

    Raises :class:`~dusttui.compare.merge.RerunError` when there is nothing to re-run or the
    re-run never ran; errors of the watch itself (connection, API) as they come.
    """
    from dusttui.api.state import RunState

    plan = plan_rerun(base)
    run = session.launch(app, plan.specification_hash, plan.config, plan.inputs, mode)
    if launched is not None:
        launched(run)
    await session.wait(run)
    if run.error is not None:
        raise run.error
    state = run.state
    if state is None or state.prerun_error is not None:
        why = state.prerun_error.message if state is not None and state.prerun_error else "?"
        raise RerunError(f"The re-run of run {base.run_id} never started: {why}")
    if not state.done:
        end = run.end.message if run.end is not None else "it did not end"
        raise RerunError(f"The re-run {state.run_id} did not end here ({end}): nothing merged.")
    text, report = await asyncio.to_thread(merge_rerun, base, state, plan.indices)
    merged = await asyncio.to_thread(RunState.from_run_json, text)
    await journal_merged(session, app, base, merged)
    return RerunResult(plan, run, merged, report)


async def journal_merged(session: Any, app: Any, base: Any, merged: Any) -> None:
    """Record the merged run in the session's journal: its launch, then its final JSON."""
    journal = session.journal
    if journal is None:
        return
    backend = session.connector.backend
    with suppress(OSError, RuntimeError):  # a history that cannot be written loses no run
        await journal.record_launch(
            run_id=merged.run_id,
            workspace_id=backend.workspace_id,
            app_id=app.sId,
            app_name=app.name,
            profile=backend.profile,
            base_url=backend.base_url,
            space_id=backend.space_id,
            specification_hash=base.specification_hash,
            mode="merged",
            config=dict(base.config),
            inputs=input_values(base),
            origin="merged",
        )
        await journal.record_final(merged)
