"""`dusttui run APP --rerun-failed RUN_ID`: launch only the inputs that failed, then merge.

The re-run is followed like `dusttui run` (progress on stderr while a person watches); what is
printed at the end is the merged run (its summary, or ``--json`` its JSON), and the exit code is
the merged run's: 0 when it succeeded, 1 when inputs still fail or never finished.
"""

from __future__ import annotations

import asyncio
from typing import Any

from dusttui.api.inputs import InputError
from dusttui.compare.merge import RerunError
from dusttui.compare.text import numbered, plural, safe
from dusttui.exitcodes import EXIT_TIMEOUT

__all__ = ["cmd_rerun_failed"]


def _refuse_conflicts(options: dict[str, Any], run_id: str) -> None:
    given = [
        flag
        for flag, key in (
            ("--hash", "spec_hash"),
            ("--config", "config"),
            ("--input", "input_items"),
            ("--inputs", "inputs_file"),
            ("--block-filter", "block_filter"),
            ("--jsonl", "as_jsonl"),
            ("--keep", "keep"),
        )
        if options.get(key)
    ]
    if given:
        raise InputError(
            f"--rerun-failed re-runs run {safe(run_id)} with its own hash, config and failed "
            f"inputs: {', '.join(given)} cannot be given with it."
        )


def cmd_rerun_failed(
    settings: Any, backend: Any, *, app: str, rerun_failed: str, mode: str, **options: Any
) -> int:
    """The command body (``run_guarded`` turns its exceptions into messages and exit codes)."""
    from dusttui.session.backend import Connector

    _refuse_conflicts(options, rerun_failed)
    connector = Connector(backend, settings)
    connector.wait_ready()
    try:
        return asyncio.run(
            _main(connector, app, rerun_failed, mode, options["as_json"], options.get("timeout"))
        )
    finally:
        connector.close_engine()


async def _main(
    connector: Any, app: str, run_ref: str, mode: str, as_json: bool, limit: float | None
) -> int:
    from dusttui.compare.command import load_run
    from dusttui.compare.rerun import rerun_failed
    from dusttui.config import data_dir
    from dusttui.headless import find_app
    from dusttui.output import Printer, progress, report
    from dusttui.session.ends import end_of
    from dusttui.session.journal_io import JournalIO
    from dusttui.session.runs import RunSession

    journal = JournalIO(data_dir() / "journal.sqlite")
    session = RunSession(connector, journal=journal)
    try:
        client = await connector.ready()
        found = await find_app(client, app)
        base = await load_run(client, found, run_ref, "to re-run")
        session.subscribe(Printer(session.clock))

        def launched(run: Any) -> None:
            progress(
                f"{found.name} · re-running the failed inputs of run {base.run_id[:8]} · {mode}"
            )

        try:
            async with asyncio.timeout(limit):
                result = await rerun_failed(session, found, base, mode, launched=launched)
        except TimeoutError:
            from dusttui.output import err

            err("Timed out: the re-run goes on; nothing was merged.")
            return EXIT_TIMEOUT
        except RerunError as exc:
            raise InputError(str(exc)) from None
        r = result.report
        rerun_id = result.run.run_id or "?"
        progress(
            f"merged run {r.run_id}: run {base.run_id[:8]} with "
            f"{numbered('input', r.replaced)} from run {rerun_id[:8]}"
        )
        if r.still_failing:
            progress(f"  still failing: {numbered('input', r.still_failing)}")
        if r.unfinished:
            progress(
                f"  {plural(len(r.unfinished), 'input')} never ran every block (run {base.run_id[:8]} "
                "stopped at its first failing block): re-run the whole run for them"
            )
        return report(result.merged, end_of(result.merged), as_json=as_json)
    finally:
        await session.aclose()
        await connector.aclose(leave_engine=True)
        await asyncio.to_thread(journal.close)
