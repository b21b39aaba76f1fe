"""Worker processes that render Tera templates off the event loop, each under hard limits.

A template is code: loops, `range()`, recursive macros. Rendered in the engine's process, one could
take every CPU second, all the memory, or the whole process down (a macro calling itself overflows
the stack: SIGSEGV). So templates that are more than text and `{{ path }}` render here, in workers
started on demand (at most `TemplateLimits.workers`), each killed and replaced when a render
outlives its wall-clock limit, exceeds its memory limit or crashes; only that render fails.

Each exchange runs in a thread of the pool's own executor (one per worker), so waiting never
holds the event loop nor the default executor's threads, and the pool serves any event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

WORKER = Path(__file__).with_name("template_worker.py")


@dataclass(frozen=True)
class TemplateLimits:
    """How far one template render may go."""

    seconds: float = 10.0  # wall clock per render, as core's code blocks
    max_chars: int = 8 * 1024 * 1024  # characters of output
    memory_mb: int = 2048  # address space of a worker process
    workers: int = 2  # worker processes at most (one render each at a time)


class RenderFailure(Exception):
    """A render stopped by a limit: `kind` is "timeout", "memory" or "crash"."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class _Gone(Exception):
    """The worker's pipe closed: it exited (`code` 0 when it stopped while idle) or died."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class _Worker:
    def __init__(self, memory_mb: int) -> None:
        self.folder = tempfile.mkdtemp(prefix="dusttui-tera-")
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", str(WORKER), self.folder, str(memory_mb), str(os.getpid())],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env={},  # Tera's get_env() must find none of the engine's variables (keys…)
                start_new_session=True,  # a Ctrl-C to the engine's terminal is not its business
            )
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise

    def exchange(self, request: bytes, seconds: float) -> Any:
        """Send one request and read its answer within `seconds`; RenderFailure or _Gone."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        deadline = time.monotonic() + seconds
        try:
            self.proc.stdin.write(struct.pack(">I", len(request)) + request)
            self.proc.stdin.flush()
        except OSError:
            raise _Gone(self.proc.wait()) from None
        fd = self.proc.stdout.fileno()
        head = self._read(fd, 4, deadline)
        return orjson.loads(self._read(fd, struct.unpack(">I", head)[0], deadline))

    def _read(self, fd: int, size: int, deadline: float) -> bytes:
        chunks, missing = [], size
        while missing:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise RenderFailure("timeout")
            chunk = os.read(fd, min(missing, 1 << 20))
            if not chunk:
                raise _Gone(self.proc.wait())
            chunks.append(chunk)
            missing -= len(chunk)
        return b"".join(chunks)

    def kill(self) -> None:
        """Stop the process, reap it and remove its folder."""
        with contextlib.suppress(OSError):
            self.proc.kill()
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        for pipe in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                if pipe is not None:
                    pipe.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _kill_all(workers: set[_Worker]) -> None:
    for worker in list(workers):
        worker.kill()
    workers.clear()


def _dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # integers beyond 64 bits, lone surrogates: the slower exact encoder
        return json.dumps(value).encode()


class TemplatePool:
    """Render requests over a few worker processes (see the module docstring)."""

    def __init__(self, limits: TemplateLimits | None = None) -> None:
        self.limits = limits or TemplateLimits()
        self._executor = ThreadPoolExecutor(self.limits.workers, "dusttui-tera")
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._finalizer = weakref.finalize(self, _kill_all, self._all)

    async def render(self, template: str, context: dict[str, Any], original: str | None) -> Any:
        """The worker's answer for one template (see template_worker); RenderFailure on a limit.

        `original` is the text as written when `template` differs (parse errors are reported on
        it). A cancelled render kills its worker.
        """
        request = _dumps({"t": template, "c": context, "m": self.limits.max_chars, "o": original})
        holder: list[_Worker] = []
        future = asyncio.get_running_loop().run_in_executor(
            self._executor, self._render, request, holder
        )
        try:
            return await future
        except asyncio.CancelledError:
            for worker in holder:  # the thread then sees the pipe close and gives up
                worker.kill()
            raise

    def _render(self, request: bytes, holder: list[_Worker]) -> Any:
        for attempt in range(2):
            worker = self._take()
            holder[:] = [worker]
            try:
                answer = worker.exchange(request, self.limits.seconds)
            except _Gone as gone:
                self._drop(worker)
                if gone.code == 0 and attempt == 0:
                    continue  # it had stopped while idle: ask a fresh one
                raise RenderFailure("crash" if gone.code == -signal.SIGSEGV else "memory") from None
            except BaseException:  # a timeout: its state is unknown, so it goes
                self._drop(worker)
                raise
            with self._lock:
                self._idle.append(worker)
            return answer
        raise RenderFailure("crash")

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.proc.poll() is None:
                    return worker
                self._all.discard(worker)
                worker.kill()
        worker = _Worker(self.limits.memory_mb)
        with self._lock:
            self._all.add(worker)
        return worker

    def _drop(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._all.discard(worker)

    def close(self) -> None:
        """Stop every worker now, from any thread (an idle one also stops by itself after a
        minute); a render in progress fails as a crash."""
        with self._lock:
            workers = set(self._all)
            self._all.clear()
            self._idle.clear()
        _kill_all(workers)

    async def aclose(self) -> None:
        """:meth:`close` from the event loop (the waits run in a thread)."""
        await asyncio.to_thread(self.close)
