"""Export executions to a file as JSON, JSONL or CSV. Pure, no Textual.

Every format holds the same records, one per execution, in run order:
``block_type, block_name, input_index, iteration, value, error, meta``.
JSON is an array of them, JSONL one per line; CSV has those columns with ``value`` and ``meta``
as JSON text (empty when null) and ``error`` as plain text (empty when none).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

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


_FILE_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")  # block names go into a file name


class ExportError(ValueError):
    """The export cannot be written: unknown format, or a path that cannot be written to."""


def records(
    data: TraceData, blocks: Sequence[int] | None = None, *, errors_only: bool = False
) -> Iterator[dict[str, Any]]:
    """One record per execution of the given blocks (all when None), in run order
    (``errors_only``: only the executions that failed)."""
    indices = range(len(data.blocks)) if blocks is None else blocks
    for b in indices:
        info = data.blocks[b]
        for i, row in enumerate(data.traces[b]):
            for j, e in enumerate(row):
                if errors_only and e.error is None:
                    continue
                yield {
                    "block_type": info.block_type,
                    "block_name": info.name,
                    "input_index": i,
                    "iteration": j,
                    "value": e.value,
                    "error": e.error,
                    "meta": e.meta,
                }


def default_filename(
    data: TraceData, block: int | None, fmt: str, *, errors_only: bool = False
) -> str:
    """A file name that says what is inside: ``run-5be2f4a1-code-LEN.jsonl``,
    ``run-5be2f4a1-all-errors.csv``."""
    run = (data.run_id or "run")[:8]
    what = "all" if block is None else f"{data.blocks[block].block_type}-{data.blocks[block].name}"
    what = _FILE_UNSAFE.sub("_", what)
    return f"run-{run}-{what}{'-errors' if errors_only else ''}.{fmt}"


def _json_cell(value: Any) -> str:
    return "" if value is None else orjson.dumps(value, default=str).decode()


def _open_private(target: Path, binary: bool) -> IO[Any]:
    """Open ``target`` for writing, readable by its owner only (values may hold secrets)."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing file keeps its mode otherwise
    except OSError:
        os.close(fd)
        raise
    if binary:
        return os.fdopen(fd, "wb")
    return os.fdopen(fd, "w", encoding="utf-8", newline="")


def write_export(
    path: str | Path,
    data: TraceData,
    blocks: Sequence[int] | None,
    fmt: str,
    *,
    errors_only: bool = False,
) -> int:
    """Write the records of ``blocks`` (all when None) to ``path``; return how many were written.

    A missing folder is created (owner only); the file is readable by its owner only.
    """
    fmt = fmt.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ExportError(f"Unknown export format {fmt!r}: choose one of {', '.join(FORMATS)}.")
    target = Path(path).expanduser()
    if target.is_dir():
        raise ExportError(f"{target} is a folder: give a file name.")
    count = 0
    dump = orjson.dumps
    try:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if fmt == "csv":
            with _open_private(target, binary=False) as fh:
                writer = csv.writer(fh)
                writer.writerow(COLUMNS)
                for rec in records(data, blocks, errors_only=errors_only):
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
            with _open_private(target, binary=True) as fh:
                if fmt == "json":
                    fh.write(b"[")
                for rec in records(data, blocks, errors_only=errors_only):
                    line = dump(rec, default=str)
                    if fmt == "json":
                        fh.write(b"\n" if count == 0 else b",\n")
                    fh.write(line)
                    if fmt == "jsonl":
                        fh.write(b"\n")
                    count += 1
                if fmt == "json":
                    fh.write(b"\n]\n" if count else b"]\n")
    except FileExistsError:
        raise ExportError(
            f"Cannot create the folder {target.parent}: a file has that name."
        ) from None
    except NotADirectoryError:
        raise ExportError(f"Cannot write {target}: a part of its folder is a file.") from None
    except OSError as exc:
        raise ExportError(f"Cannot write {target}: {exc.strerror or exc}") from None
    return count
