"""Big stream events read in a worker process, so the event loop stays free.

A ``block_execution`` event of a big block is megabytes of JSON: parsing it holds the GIL for
the whole parse (a thread would not help), and the UI would freeze meanwhile. Above
:data:`BIG_EVENT` bytes, :func:`read_in_worker` hands the event's text to one worker process,
which checks its shape as the fast validator does and returns what the reducer needs
(:class:`ExecutionSummary`): the block's trace already packed (each input's row as JSON text, its
counts beside), so neither the first repaint (the counts) nor a row read decodes the block.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import pickle
import subprocess
import sys
import threading
from typing import IO, NamedTuple

import orjson

from dusttui.api.traces import BlockTrace, Note, TraceShapeError

__all__ = ["BIG_EVENT", "ExecutionSummary", "read_in_worker", "summarize_execution"]

BIG_EVENT = 1 << 20  # bytes from which a block_execution event is read in the worker
_PREFIX = b'{"type":"block_execution"'


class ExecutionSummary(NamedTuple):
    """What the reducer needs of a ``block_execution`` event, without its executions."""

    block_type: str
    block_name: str
    inputs: int  # rows (one per input)
    notes: list[Note]  # failures and token usage, as the reducer scans them
    map_sizes: list[int] | None  # a map block: how many elements each input maps over
    trace: tuple[bytes, bytes, bytes, bytes, bytes, bool]  # BlockTrace.to_parts()


def summarize_execution(raw: bytes) -> ExecutionSummary | None:
    """The summary of a ``block_execution`` event's JSON text; None when it is not one of the
    shape the fast validator accepts (the caller then reads it the ordinary way, and explains)."""
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    content = payload.get("content") if type(payload) is dict else None
    if type(content) is not dict or payload.get("type") != "block_execution":
        return None
    block_type, name, execution = (
        content.get(k) for k in ("block_type", "block_name", "execution")
    )
    if type(block_type) is not str or type(name) is not str or type(execution) is not list:
        return None
    notes: list[Note] = []
    try:  # the rows as the reducer keeps them, checked as the fast validator checks them
        trace = BlockTrace.from_dicts(execution, check=True, notes=notes)
    except TraceShapeError:
        return None
    sizes = None
    if block_type == "map":
        sizes = []
        for row in execution:
            value = row[0].get("value") if row else None
            sizes.append(len(value) if type(value) is list else 1)
    return ExecutionSummary(block_type, name, len(execution), notes, sizes, trace.to_parts())


class _Worker:
    """One ``python -m dusttui.api.offload`` process: an event's text in, its summary out
    (each length-prefixed on the pipes). Started on first use; it exits when its stdin closes."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def call(self, raw: bytes) -> ExecutionSummary | None:
        with self._lock:  # one event at a time, in order
            try:
                proc = self._proc
                if proc is None or proc.poll() is not None:
                    proc = self._proc = subprocess.Popen(
                        [sys.executable, "-m", "dusttui.api.offload"],
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.DEVNULL,
                    )
                assert proc.stdin is not None and proc.stdout is not None
                proc.stdin.write(len(raw).to_bytes(8, "big") + raw)
                proc.stdin.flush()
                answer = _read(proc.stdout, int.from_bytes(_read(proc.stdout, 8), "big"))
            except (OSError, EOFError, ValueError):  # a dead worker: the next call starts one
                self.close()
                return None
        fields = pickle.loads(answer)  # a plain tuple: the worker's module is its __main__
        return None if fields is None else ExecutionSummary(*fields)

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.wait()


def _read(stream: IO[bytes], size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise EOFError("the worker is gone")
    return data


_WORKER = _Worker()
atexit.register(_WORKER.close)


def is_big_execution(raw: bytes) -> bool:
    """True for a ``block_execution`` event big enough to be read in the worker."""
    return len(raw) >= BIG_EVENT and raw.startswith(_PREFIX)


async def read_in_worker(raw: bytes) -> ExecutionSummary | None:
    """:func:`summarize_execution` in the worker process (None: read it the ordinary way).
    The pipes are written and read from a thread, which waits without the GIL."""
    return await asyncio.to_thread(_WORKER.call, raw)


def _serve() -> None:
    """The worker's loop: read an event, answer its summary, until stdin closes."""
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    try:  # a busy machine gives its cores to the UI first: this work is not the one waited on
        os.nice(10)
    except (AttributeError, OSError):
        pass
    while True:
        try:
            raw = _read(stdin, int.from_bytes(_read(stdin, 8), "big"))
        except EOFError:
            return
        summary = summarize_execution(raw)
        answer = pickle.dumps(None if summary is None else tuple(summary))
        stdout.write(len(answer).to_bytes(8, "big") + answer)
        stdout.flush()


if __name__ == "__main__":
    _serve()
