"""The pool of JavaScript worker processes (dusttui/engine/jsworker.py) and its channel to them.

A batch of executions (same code, several envs) is cut into chunks; each chunk goes to one worker,
which runs them one at a time and answers a frame per execution, in order, written together when
the chunk is done. Each execution sent gets a sequence number; the worker keeps the number of the
one it runs, and since when, in a shared record (jsworker.Progress). Past its wall-clock limit a
worker is killed: the execution the record names fails, every other one it was sent and did not
answer goes back to the pool (no batch-mate pays for a bad neighbour). A worker that dies by itself
(a quickjs crash) is replaced the same way; one that leaves to give memory back says so first.

Everything here runs on the event loop that first used the pool; `close` may come from any thread.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import mmap
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from dusttui.engine import jsworker

log = logging.getLogger(__name__)

WORKER_SCRIPT = str(Path(jsworker.__file__).resolve())
PREFETCH = 2  # chunks in flight per worker: the next one is already there when one ends
KILL_GRACE = 0.25  # seconds past the limit before the process is killed (quickjs stops first)
START_FAILURES = 3  # workers dying before they are ready, in a row, before giving up
READ_SIZE = 1 << 18
Reason = tuple[str, Any]  # (code, detail) of a failure the pool itself saw: time, crash, start…


@dataclass(eq=False)
class Batch:
    """Executions of one code on several envs; `results[i]` is set as each one ends."""

    code: str
    envs: list[bytes]
    time_limit: float
    memory_limit: int
    max_output: int
    # (batch, index, kind, a, b) -> the execution's result, from a worker's answer
    on_result: Callable[[Batch, int, int, bytes, bytes], Any]
    results: list[Any] = field(default_factory=list)
    pending: int = 0
    future: asyncio.Future[list[Any]] | None = None
    on_settle: Callable[[int, Any], Any] | None = None  # hears each outcome as it is known

    def settle(self, index: int, result: Any) -> None:
        """Record one execution's outcome; resolve the batch when it is the last."""
        if self.results[index] is None:
            self.results[index] = result
            self.pending -= 1
            if self.on_settle is not None and not self.abandoned:
                try:
                    self.on_settle(index, result)
                except Exception:  # a listener's bug must not lose the batch's other results
                    log.exception("a JavaScript batch's listener failed")
            if self.pending == 0 and self.future is not None and not self.future.done():
                self.future.set_result(self.results)

    @property
    def abandoned(self) -> bool:
        """Nobody waits for it any more (its run was cancelled)."""
        return self.future is not None and self.future.cancelled()


@dataclass(eq=False)
class Chunk:
    """Executions `batch.envs[next:end]` of a batch; once sent, `seq` is the number of `next`."""

    batch: Batch
    next: int
    end: int
    seq: int = 0


class Worker:
    """One worker process, its progress record and the executions it was sent."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        record = _record_file()
        try:
            os.ftruncate(record, jsworker.PROGRESS.size)
            self.progress = mmap.mmap(record, jsworker.PROGRESS.size)
            self.proc = subprocess.Popen(
                [sys.executable, "-P", WORKER_SCRIPT, str(record)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                pass_fds=(record,),
                start_new_session=True,  # Ctrl-C in the engine's terminal is the engine's
            )
        finally:
            os.close(record)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.rfd = self.proc.stdout.fileno()
        self.wfd = self.proc.stdin.fileno()
        os.set_blocking(self.rfd, False)
        os.set_blocking(self.wfd, False)
        self.ready = False
        self.gone = False  # killed, crashed or left: takes no more work
        self.inflight: collections.deque[Chunk] = collections.deque()
        self.sent = 0  # sequence number of the last execution sent
        self.timer: asyncio.TimerHandle | None = None
        self.idle_seen: int | None = None  # `seq` of the record when seen between executions
        self._in = bytearray()
        self._out = bytearray()
        pool.loop.add_reader(self.rfd, self._readable)

    @property
    def load(self) -> int:
        """Executions sent and not answered."""
        return sum(c.end - c.next for c in self.inflight)

    def running(self) -> tuple[int, float]:
        """(sequence number, start) of the execution running now; start 0.0 when none is."""
        while True:
            seq, start = jsworker.PROGRESS.unpack_from(self.progress, 0)
            if jsworker.PROGRESS.unpack_from(self.progress, 0)[0] == seq:
                return seq, start

    def send(self, chunk: Chunk) -> None:
        """Write a chunk's request; its executions run after those already in flight."""
        batch = chunk.batch
        envs = batch.envs[chunk.next : chunk.end]
        header = orjson.dumps(
            {
                "code": batch.code,
                "sizes": [len(e) for e in envs],
                "time": batch.time_limit,
                "memory": batch.memory_limit,
                "output": batch.max_output,
            }
        )
        chunk.seq = self.sent + 1
        self.sent += len(envs)
        self.inflight.append(chunk)
        if self.timer is None:
            self._arm(time.monotonic() + batch.time_limit + KILL_GRACE)
        self._write(jsworker.REQUEST.pack(len(header)) + header + b"".join(envs))

    def _write(self, data: bytes) -> None:
        if self._out:
            self._out += data
            return
        try:
            written = os.write(self.wfd, data)
        except BlockingIOError:
            written = 0
        except OSError:  # the process is gone: its EOF will tell
            return
        if written < len(data):
            self._out += data[written:]
            self.pool.loop.add_writer(self.wfd, self._writable)

    def _writable(self) -> None:
        try:
            written = os.write(self.wfd, self._out)
        except BlockingIOError:
            return
        except OSError:
            written = len(self._out)
        del self._out[:written]
        if not self._out:
            self.pool.loop.remove_writer(self.wfd)

    def _arm(self, when: float) -> None:
        delay = max(0.0, when - time.monotonic())
        self.timer = self.pool.loop.call_later(delay, self._check_time)

    def chunk_of(self, seq: int) -> tuple[Chunk, int] | None:
        """The unanswered execution with this sequence number: (its chunk, its index)."""
        for chunk in self.inflight:
            if chunk.seq <= seq < chunk.seq + chunk.end - chunk.next:
                return chunk, chunk.next + seq - chunk.seq
        return None

    def _check_time(self) -> None:
        self.timer = None
        if self.gone or not self.inflight:
            self.idle_seen = None
            return
        seq, start = self.running()
        found = self.chunk_of(seq) if start else None
        if found is None:  # between two executions: look again within a limit
            if self.idle_seen == seq:  # …and still there a whole limit later: it is stuck
                self.pool.worker_failed(self, ("crash", "it stopped answering"), seq + 1)
                return
            self.idle_seen = seq
            self._arm(time.monotonic() + self.inflight[0].batch.time_limit + KILL_GRACE)
            return
        self.idle_seen = None
        deadline = start + found[0].batch.time_limit + KILL_GRACE
        if time.monotonic() >= deadline:
            self.pool.worker_failed(self, ("time", None), seq)
        else:
            self._arm(deadline)

    def _readable(self) -> None:
        try:
            data = os.read(self.rfd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.pool.worker_exited(self)
            return
        self._in += data
        self._frames()

    def drain(self) -> None:
        """Read what the (killed) process had written, without waiting for more."""
        while not self.gone:
            try:
                data = os.read(self.rfd, READ_SIZE)
            except OSError:
                return
            if not data:
                return
            self._in += data
            self._frames()

    def _frames(self) -> None:
        buf, pos, size = self._in, 0, jsworker.RESULT.size
        with memoryview(buf) as view:
            while not self.gone and len(buf) - pos >= size:
                kind, la, lb = jsworker.RESULT.unpack_from(buf, pos)
                if la + lb > 2 * self.pool.max_frame:
                    self.pool.worker_failed(self, ("protocol", None), None)
                    return
                if len(buf) - pos - size < la + lb:
                    break
                start = pos + size
                a, b = bytes(view[start : start + la]), bytes(view[start + la : start + la + lb])
                pos = start + la + lb
                if kind == jsworker.READY:
                    self.ready = True
                    self.pool.worker_ready(self)
                elif kind == jsworker.BYE:
                    self.pool.worker_leaving(self)
                else:
                    self._result(kind, a, b)
        del buf[:pos]

    def _result(self, kind: int, a: bytes, b: bytes) -> None:
        if not self.inflight:
            self.pool.worker_failed(self, ("protocol", None), None)
            return
        chunk = self.inflight[0]
        index = chunk.next
        chunk.next += 1
        chunk.seq += 1
        batch = chunk.batch
        if not (batch.future is not None and batch.future.cancelled()):
            try:
                result = batch.on_result(batch, index, kind, a, b)
            except Exception as exc:  # a bug must fail this execution, never leave it waiting
                log.exception("reading a JavaScript worker's answer failed")
                result = self.pool.on_failure(batch, ("protocol", f"{type(exc).__name__}"))
            batch.settle(index, result)
        if chunk.next >= chunk.end:
            self.inflight.popleft()
            self.pool.dispatch()  # room for the next chunk

    def stop(self, *, kill: bool = True) -> None:
        """Take no more work, let go of the pipes, kill the process (from the loop's thread)."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if not self.gone:
            self.gone = True
            self.pool.loop.remove_reader(self.rfd)
            if self._out:
                self.pool.loop.remove_writer(self.wfd)
        self.kill(signal_it=kill)

    def kill(self, *, signal_it: bool = True) -> None:
        """Kill the process and close the pipes; safe from any thread."""
        if signal_it and self.proc.poll() is None:
            try:
                self.proc.kill()
            except OSError:
                pass
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:
                    pass


class Pool:
    """Worker processes on one event loop, and the chunks waiting for one."""

    def __init__(
        self,
        size: int,
        loop: asyncio.AbstractEventLoop,
        on_failure: Callable[[Batch, Reason], Any],
        max_frame: int,
    ) -> None:
        self.size = max(1, size)
        self.loop = loop
        self.on_failure = on_failure  # (batch, reason) -> the failed execution's result
        self.max_frame = max_frame
        self.workers: list[Worker] = []
        self.queue: collections.deque[Chunk] = collections.deque()
        self.start_failures = 0
        self.closed = False

    def submit(self, batch: Batch, chunk_size: int) -> None:
        """Queue a batch in chunks of at most `chunk_size` executions."""
        for start in range(0, len(batch.envs), chunk_size):
            self.queue.append(Chunk(batch, start, min(len(batch.envs), start + chunk_size)))
        self._fill()
        self.dispatch()

    def _fill(self) -> None:
        while not self.closed and sum(not w.gone for w in self.workers) < self.size:
            try:
                self.workers.append(Worker(self))
            except OSError as exc:
                self._fail_queue(("start", f"{type(exc).__name__}: {exc}"))
                return

    def dispatch(self) -> None:
        """Give queued chunks to ready workers, the least loaded first."""
        while self.queue:
            chunk = self.queue[0]
            if chunk.batch.abandoned:
                self.queue.popleft()
                continue
            live = [w for w in self.workers if not w.gone]
            # queue behind running work only when no worker is about to be ready
            depth = PREFETCH if all(w.ready for w in live) else 1
            free = [w for w in live if w.ready and len(w.inflight) < depth]
            if not free:
                return
            worker = min(free, key=lambda w: w.load)
            self.queue.popleft()
            worker.send(chunk)

    def worker_ready(self, worker: Worker) -> None:
        """A worker finished starting."""
        self.start_failures = 0
        self.dispatch()

    def worker_leaving(self, worker: Worker) -> None:
        """The worker asked to be replaced (its memory grew): what it was sent goes back."""
        self._retire(worker, None, None)

    def worker_failed(self, worker: Worker, reason: Reason, seq: int | None) -> None:
        """Kill a worker (time limit, protocol error); execution `seq` fails with `reason`."""
        if reason[0] == "time":
            worker.proc.kill()
            worker.ready = False  # no new work while its last answers are read
            worker.drain()  # answers already written are not run again
        self._retire(worker, reason, seq)

    def worker_exited(self, worker: Worker) -> None:
        """The process closed its end: a crash unless it said it was leaving (or was killed)."""
        if worker.gone:
            return
        worker.stop(kill=False)  # not killed: its own exit status says what happened
        seq, start = worker.running()
        waiting = self.loop.run_in_executor(None, _wait, worker.proc)
        waiting.add_done_callback(
            lambda done: self._exited(worker, done.result(), seq if start else None)
        )

    def _exited(self, worker: Worker, code: int | None, seq: int | None) -> None:
        if not worker.ready:
            self.start_failures += 1
            self._retire(worker, None, None)
            if self.start_failures >= START_FAILURES:
                self._fail_queue(("start", _exit_text(code)))
            return
        self._retire(worker, ("crash", _exit_text(code)), seq)

    def _retire(self, worker: Worker, reason: Reason | None, seq: int | None) -> None:
        """Let a worker go: execution `seq` fails with `reason`, the rest go back to the queue."""
        worker.stop()
        if worker in self.workers:
            self.workers.remove(worker)
        self._reap(worker.proc)
        blamed = worker.chunk_of(seq) if seq is not None else None
        back: list[Chunk] = []
        for chunk in worker.inflight:
            for index in range(chunk.next, chunk.end):
                if chunk.batch.abandoned:
                    break
                if reason is not None and blamed == (chunk, index):
                    chunk.batch.settle(index, self.on_failure(chunk.batch, reason))
                elif not back or back[-1].batch is not chunk.batch or back[-1].end != index:
                    back.append(Chunk(chunk.batch, index, index + 1))
                else:
                    back[-1].end = index + 1
        worker.inflight.clear()
        self.queue.extendleft(reversed(back))
        if not self.closed and self.queue:
            self._fill()
        self.dispatch()

    def _reap(self, proc: subprocess.Popen[bytes]) -> None:
        # a killed process is collected a moment later, without blocking the loop meanwhile
        if proc.poll() is None and not self.loop.is_closed():
            self.loop.call_later(0.05, self._reap, proc)

    def _fail_queue(self, reason: Reason) -> None:
        while self.queue:
            chunk = self.queue.popleft()
            for index in range(chunk.next, chunk.end):
                if not chunk.batch.abandoned:
                    chunk.batch.settle(index, self.on_failure(chunk.batch, reason))

    def abandon(self) -> None:
        """Kill workers busy only with batches nobody waits for (a cancelled run)."""
        for worker in list(self.workers):
            if worker.inflight and all(c.batch.abandoned for c in worker.inflight):
                self._retire(worker, None, None)

    def shutdown(self, reason: Reason) -> None:
        """Stop every worker (from the loop's thread); waiting executions fail with `reason`."""
        self.closed = True
        for worker in list(self.workers):
            worker.stop()
            self._fail_chunks(worker.inflight, reason)
            worker.inflight.clear()
        self._fail_queue(reason)

    def _fail_chunks(self, chunks: collections.deque[Chunk], reason: Reason) -> None:
        for chunk in chunks:
            for index in range(chunk.next, chunk.end):
                if not chunk.batch.abandoned:
                    chunk.batch.settle(index, self.on_failure(chunk.batch, reason))

    def kill_all(self) -> None:
        """Kill every worker process from any thread (the loop may be gone)."""
        self.closed = True
        for worker in list(self.workers):
            worker.kill()
            try:
                worker.proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                log.warning("JavaScript worker %s did not exit when killed", worker.proc.pid)


def _record_file() -> int:
    """A file descriptor for a worker's progress record: memory only where Linux allows."""
    if hasattr(os, "memfd_create"):
        return os.memfd_create("dusttui-js-progress")
    fd, path = tempfile.mkstemp(prefix="dusttui-js-progress-")
    os.unlink(path)
    return fd


def _wait(proc: subprocess.Popen[bytes]) -> int | None:
    """The exit status of a worker that closed its pipe (killed if it lingers)."""
    try:
        return proc.wait(timeout=2.0)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


def _exit_text(code: int | None) -> str:
    if code is None:
        return "it stopped answering"
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"
