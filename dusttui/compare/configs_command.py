"""`dusttui run APP --config A.json --config B.json [inputs]`: one set of inputs, N configs.

The N runs are launched together through the run session (each journaled as any launch), then
printed as a grid inputs × configs (each cell: the output, or the error, and its tokens; each
column: its run, status, latency and tokens), then, for each input the configs do not agree on,
the value diff of each config's cell against the first's. ``--keep K`` writes config K as the
app's saved config (the local engine's ``NAME.config.json``). Exit 0 when every run succeeded.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from dusttui.api.inputs import InputError
from dusttui.compare.grid import (
    ConfigGrid,
    SaveError,
    cell_diff,
    config_target,
    row_texts,
    write_config,
)
from dusttui.compare.render import change_line
from dusttui.compare.text import cell, one_line, plural, safe, safe_json
from dusttui.exitcodes import EXIT_OK, EXIT_RUN_ERRORED, EXIT_TIMEOUT

__all__ = ["cmd_try_configs", "grid_json", "grid_lines"]

FORMAT = "dusttui.configs/1"


def grid_lines(grid: ConfigGrid, width: int = 100, *, app: str = "") -> list[str]:
    """The grid as text: the columns' runs, the grid, then the diffs against the first config."""
    from dusttui.compare.values import diff_values

    lines = [
        f"{safe(app)} · {plural(len(grid.inputs), 'input')} × "
        f"{plural(len(grid.states), 'config')}".lstrip(" ·")
    ]
    columns = grid.columns
    for k, col in enumerate(columns, 1):
        took = "–" if col.latency is None else f"{col.latency:.1f} s"
        tokens = col.prompt_tokens + col.completion_tokens
        lines.append(
            f"config {k}: {safe(col.label)} · run {safe((col.run_id or '?')[:8])}… · "
            f"{col.status} · {took} · {tokens:,} tokens"
        )
        if k > 1:
            changes, total = diff_values(columns[0].config, col.config, limit=5)
            lines += [f"  vs config 1: {change_line(c, width=width - 16)}" for c in changes]
            if total > len(changes):
                lines.append(f"  … and {total - len(changes)} more config changes")
    input_w = min(30, max(10, width // (len(columns) + 2)))
    cell_w = max(12, (width - input_w - 3 * len(columns)) // len(columns))
    head = cell("input", input_w) + "".join(
        f" │ {cell(f'config {k}', cell_w)}" for k in range(1, len(columns) + 1)
    )
    lines += ["", head.rstrip(), "─" * min(width, len(head))]
    for i, value in enumerate(grid.inputs):
        row = cell(f"#{i} {one_line(value)}", input_w)
        row += "".join(f" │ {cell(text, cell_w)}" for text in row_texts(grid, i))
        lines.append(row.rstrip())
    differing = [i for i in range(len(grid.inputs)) if len(columns) > 1 and grid.differs(i)]
    lines.append("")
    if not differing:
        lines.append("Every config gives every input the same output.")
        return lines
    lines.append(
        f"outputs that differ ({plural(len(differing), 'input')}), each config against config 1:"
    )
    for i in differing:
        for k in range(1, len(columns)):
            changes, total = cell_diff(grid.cell(i, 0), grid.cell(i, k), limit=8)
            if not total:
                continue
            lines.append(f"#{i} config {k + 1}:")
            lines += ["    " + change_line(c, width=width - 8) for c in changes]
            if total > len(changes):
                lines.append(f"    … and {total - len(changes)} more changes")
    return lines


def grid_json(grid: ConfigGrid, app: str) -> dict[str, Any]:
    """The grid in its stable JSON shape (``docs/iterate.md``)."""
    columns = grid.columns
    return {
        "format": FORMAT,
        "app": app,
        "inputs": grid.inputs,
        "configs": [
            {
                "label": col.label,
                "config": col.config,
                "run_id": col.run_id,
                "status": col.status,
                "latency_ms": None if col.latency is None else round(col.latency * 1000),
                "tokens": {"prompt": col.prompt_tokens, "completion": col.completion_tokens},
            }
            for col in columns
        ],
        "cells": [
            [
                {
                    "ran": c.ran,
                    "value": c.value,
                    "error": c.error,
                    "tokens": {"prompt": c.prompt_tokens, "completion": c.completion_tokens},
                }
                for c in (grid.cell(i, k) for k in range(len(columns)))
            ]
            for i in range(len(grid.inputs))
        ],
    }


def cmd_try_configs(settings: Any, backend: Any, **options: Any) -> int:
    """The command body (``run_guarded`` turns its exceptions into messages and exit codes)."""
    from dusttui.headless import read_inputs
    from dusttui.session.backend import Connector

    for flag, key in (("--jsonl", "as_jsonl"), ("--block-filter", "block_filter")):
        if options.get(key):
            raise InputError(f"{flag} cannot be used with several --config.")
    keep = options.get("keep")
    configs: tuple[str, ...] = options["config"]
    if keep is not None and not 1 <= keep <= len(configs):
        raise InputError(f"--keep takes a config's number, 1 to {len(configs)}.")
    inputs = read_inputs(options["input_items"], options["inputs_file"])
    connector = Connector(backend, settings)
    connector.wait_ready()
    try:
        return asyncio.run(_main(connector, settings, options, configs, inputs))
    finally:
        connector.close_engine()


async def _main(
    connector: Any,
    settings: Any,
    options: dict[str, Any],
    sources: tuple[str, ...],
    inputs: list[Any],
) -> int:
    from dusttui.api.inputs import check_body_size
    from dusttui.config import data_dir
    from dusttui.headless import find_app, local_providers, read_config, resolve_hash
    from dusttui.output import err, progress
    from dusttui.session.journal_io import JournalIO
    from dusttui.session.runs import RunSession

    journal = JournalIO(data_dir() / "journal.sqlite")
    session = RunSession(connector, journal=journal)
    try:
        client = await connector.ready()
        found = await find_app(client, options["app"])
        if not inputs:
            from dusttui.specs import sample_inputs

            inputs = sample_inputs(found) or []
            if not inputs:
                raise InputError("No inputs: give --input JSON (repeatable) or --inputs FILE.")
        known = local_providers(session)
        configs = [read_config(source, found, known) for source in sources]  # checked, then sent
        target: Path | None = None
        if options.get("keep") is not None:
            try:  # before anything runs: a config that cannot be kept costs no run
                target = config_target(found, settings.apps_dir)
            except SaveError as exc:
                raise InputError(str(exc)) from None
        spec = resolve_hash(found, options.get("spec_hash"))
        for config in configs:
            check_body_size({"specification_hash": spec, "config": config, "inputs": inputs})
        mode = options["mode"]
        progress(
            f"{found.name} · {plural(len(inputs), 'input')} × "
            f"{plural(len(configs), 'config')} · {mode}"
        )
        keys: dict[str, int] = {}

        def said(run: Any, change: str) -> None:
            k = keys.get(run.key)
            if k is None:
                return
            if change == "started" and run.run_id is not None:
                err(f"config {k}: run {run.run_id} started")
            elif change == "ended":
                progress(f"config {k}: run {run.status}")

        session.subscribe(said)
        runs = []
        for k, config in enumerate(configs, 1):
            run = session.launch(found, spec, config, inputs, mode)
            keys[run.key] = k
            runs.append(run)
        try:
            async with asyncio.timeout(options.get("timeout")):
                await asyncio.gather(*(session.wait(run) for run in runs))
        except TimeoutError:
            err("Timed out: the runs go on; dusttui get RUN_ID --app APP reads each one.")
            return EXIT_TIMEOUT
        for run in runs:
            if run.error is not None:
                raise run.error
            if run.state is None or run.state.prerun_error is not None:
                raise InputError(f"A run never started: {run.end.message if run.end else '?'}")
        grid = ConfigGrid([run.state for run in runs], list(sources), inputs)
        if options["as_json"]:
            text = json.dumps(grid_json(grid, found.name), ensure_ascii=False, default=str)
            sys.stdout.write(safe_json(text) + "\n")
        else:
            width = max(60, shutil.get_terminal_size((100, 24)).columns)
            sys.stdout.write("\n".join(grid_lines(grid, width, app=found.name)) + "\n")
        keep = options.get("keep")
        if keep is not None and target is not None:
            try:
                path = await asyncio.to_thread(write_config, target, configs[keep - 1])
            except SaveError as exc:
                raise InputError(str(exc)) from None
            err(f"config {keep} kept as the saved config of {found.name}: {path}")
        failed = any(run.state is None or run.state.status != "succeeded" for run in runs)
        return EXIT_RUN_ERRORED if failed else EXIT_OK
    finally:
        await session.aclose()
        await connector.aclose(leave_engine=True)
        await asyncio.to_thread(journal.close)
