"""What the headless commands print: progress on stderr, the run on stdout (JSON or a summary)."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from dusttui.exitcodes import EXIT_OK, EXIT_RUN_ERRORED


def err(message: str) -> None:
    click.echo(f"dusttui: {message}", err=True)


def _color() -> bool:
    return "NO_COLOR" not in os.environ and sys.stderr.isatty()


def progress(message: str, fg: str | None = None) -> None:
    """A progress line on stderr, only when a person is watching it."""
    if sys.stderr.isatty():
        click.echo(click.style(message, fg=fg) if fg and _color() else message, err=True)


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")
    sys.stdout.flush()


GLYPH = {"running": "●", "succeeded": "✓", "errored": "✗"}
COLOR = {"running": "yellow", "succeeded": "green", "errored": "red"}


def block_line(block: Any) -> str:
    """One finished block, as the progress on stderr shows it."""
    counts = f"{block.success_count} ok"
    if block.error_count:
        counts += f" {block.error_count} err"
    return f"{GLYPH.get(block.status, '?')} {block.block_type:<8} {block.name:<16} {counts}"


def report(state: Any, *, as_json: bool, as_jsonl: bool) -> int:
    """Print the final run as promised and return the exit code of its status."""
    if as_json:
        emit_json(state.to_wire())
    elif as_jsonl:
        emit_json({"run": state.to_wire()})
    else:
        click.echo(summary(state))
    return EXIT_OK if state.status == "succeeded" else EXIT_RUN_ERRORED


def summary(state: Any) -> str:
    """The readable end-of-run summary (plain text; server text is printed as is)."""
    lines = [f"run {state.run_id} {GLYPH.get(state.status, '?')} {state.status}"]
    for block in state.blocks:
        counts = f"{block.success_count} ok"
        if block.error_count:
            counts += f", {block.error_count} errored"
        lines.append(
            f"  {GLYPH.get(block.status, '?')} {block.block_type:<8} {block.name:<16} {counts}"
        )
    errors = list(state.errors)
    if errors:
        lines.append(f"errors ({len(errors)}):")
        for ref in errors[:20]:
            where = f"input {ref.input_index}"
            if ref.iteration:
                where += f", iteration {ref.iteration}"
            message = ref.message.replace("\n", "\n      ")  # keep stack lines under their error
            lines.append(f"  {ref.block_name} ({where}): {message}")
        if len(errors) > 20:
            lines.append(f"  … and {len(errors) - 20} more (use --json for all)")
    results = state.results
    if results is not None:
        lines.append("results:")
        for index, executions in enumerate(results[:20]):
            values = [e.value for e in executions]
            shown = values[0] if len(values) == 1 else values
            text = json.dumps(shown, ensure_ascii=False)
            lines.append(f"  [{index}] {text if len(text) <= 200 else text[:199] + '…'}")
        if len(results) > 20:
            lines.append(f"  … and {len(results) - 20} more (use --json for all)")
    return "\n".join(lines)
