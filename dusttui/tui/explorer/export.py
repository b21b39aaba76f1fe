"""Export executions to a file as JSON, JSONL or CSV. Pure, no Textual.

Every format holds the same records, one per execution, in run order:
``block_type, block_name, input_index, iteration, value, error, meta``.
JSON is an array of them, JSONL one per line; CSV has those columns with ``value`` and ``meta``
as JSON text (empty when null) and ``error`` as plain text (empty when none).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from dusttui.tui.explorer.data import TraceData

FORMATS: tuple[str, ...] = ("jsonl", "json", "csv")
COLUMNS: tuple[str, ...] = (
    "block_type",
    "block_name",
    "input_index",
    "iteration",
    "value",
    "error",
    "meta",
)


class ExportError(ValueError):
    """The export cannot be written: unknown format, or a path that cannot be written to."""


def records(data: TraceData, blocks: Sequence[int] | None = None) -> Iterator[dict[str, Any]]:
    """One record per execution of the given blocks (all when None), in run order."""
    indices = range(len(data.blocks)) if blocks is None else blocks
    for b in indices:
        info = data.blocks[b]
        for i, row in enumerate(data.traces[b]):
            for j, e in enumerate(row):
                yield {
                    "block_type": info.block_type,
                    "block_name": info.name,
                    "input_index": i,
                    "iteration": j,
                    "value": e.value,
                    "error": e.error,
                    "meta": e.meta,
                }


def default_filename(data: TraceData, block: int | None, fmt: str) -> str:
    """A file name that says what is inside: ``run-5be2f4a1-code-LEN.jsonl``."""
    run = (data.run_id or "run")[:8]
    what = "all" if block is None else f"{data.blocks[block].block_type}-{data.blocks[block].name}"
    return f"run-{run}-{what}.{fmt}"


def _json_cell(value: Any) -> str:
    return "" if value is None else orjson.dumps(value, default=str).decode()


def write_export(path: str | Path, data: TraceData, blocks: Sequence[int] | None, fmt: str) -> int:
    """Write the records of ``blocks`` (all when None) to ``path``; return how many were written."""
    fmt = fmt.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ExportError(f"Unknown export format {fmt!r}: choose one of {', '.join(FORMATS)}.")
    target = Path(path).expanduser()
    if target.is_dir():
        raise ExportError(f"{target} is a folder: give a file name.")
    if not target.parent.is_dir():
        raise ExportError(f"Folder {target.parent} does not exist.")
    count = 0
    dump = orjson.dumps
    try:
        if fmt == "csv":
            with target.open("w", encoding="utf-8", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(COLUMNS)
                for rec in records(data, blocks):
                    writer.writerow(
                        (
                            rec["block_type"],
                            rec["block_name"],
                            rec["input_index"],
                            rec["iteration"],
                            _json_cell(rec["value"]),
                            rec["error"] or "",
                            _json_cell(rec["meta"]),
                        )
                    )
                    count += 1
        else:
            with target.open("wb") as fh:
                if fmt == "json":
                    fh.write(b"[")
                for rec in records(data, blocks):
                    line = dump(rec, default=str)
                    if fmt == "json":
                        fh.write(b"\n" if count == 0 else b",\n")
                    fh.write(line)
                    if fmt == "jsonl":
                        fh.write(b"\n")
                    count += 1
                if fmt == "json":
                    fh.write(b"\n]\n" if count else b"]\n")
    except OSError as exc:
        raise ExportError(f"Cannot write {target}: {exc.strerror or exc}") from None
    return count
