"""The embedded engine in a child process, so the TUI and the engine each get a core (and a GIL).

Import-light on purpose: the TUI starts the child before importing Textual, and this module must
not pull in the engine (uvicorn, the store...) into the TUI's process. The child is
``python -m dusttui.engine.child``; it prints one JSON line ``{"url": ..., "key": ...}`` on its
stdout pipe when it listens, and exits when its stdin closes (the parent quit, crashed or was
killed) or on SIGTERM. The key only travels through that pipe or the environment, never argv.
"""

from __future__ import annotations

import asyncio
import json
import os
import selectors
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

READY_TIMEOUT = 30.0
STOP_TIMEOUT = 8.0  # a graceful stop waits up to 3 s for open streams, then closes the database
_TAIL_CHARS = 1500
CHILD_ERROR_PREFIX = "dusttui engine: "  # how the child's own error messages start on stderr


class EngineStartError(RuntimeError):
    """The engine could not start; the message says why (port taken, unsafe bind, bad DB...)."""


@dataclass(frozen=True)
class EngineAddress:
    """Where a started engine listens and the key clients must send."""

    url: str
    api_key: str = field(repr=False)


class EngineProcess:
    """The engine served by a child process: ``start()`` returns at once, ``wait_ready()`` waits.

    ``with EngineProcess(data_dir=d) as engine: httpx.get(engine.url + ..., headers=...)``
    """

    def __init__(
        self,
        *,
        data_dir: Path,
        apps_dir: Path | None = None,
        db_path: Path | None = None,
        api_key: str | None = None,
        token_delay: float | None = None,
        python: str | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.apps_dir = apps_dir
        self.db_path = db_path
        self.token_delay = token_delay
        self._api_key = api_key
        self._python = python or sys.executable
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None  # a temporary file: a pipe nobody drains could fill
        self._address: EngineAddress | None = None
        self._buffer = b""
        self._lock = threading.Lock()
        self._spawn_error: EngineStartError | None = None
        self.exit_code: int | None = None
        """The child's exit status once stopped (0: it stopped cleanly)."""

    def __repr__(self) -> str:
        return f"EngineProcess(url={self.url!r}, data_dir={str(self.data_dir)!r})"

    @property
    def pid(self) -> int | None:
        """The child's process id, once started."""
        return self._proc.pid if self._proc is not None else None

    @property
    def url(self) -> str:
        """The engine's URL ("" until ready)."""
        return self._address.url if self._address is not None else ""

    @property
    def api_key(self) -> str:
        """The key clients must send (``Authorization: Bearer <key>``)."""
        if self._address is None:
            raise RuntimeError("The engine is not ready")
        return self._address.api_key

    def command(self) -> list[str]:
        """The child's command line (no key in it: ``ps`` shows it to every user)."""
        cmd = [self._python, "-m", "dusttui.engine.child", "--data-dir", str(self.data_dir)]
        if self.apps_dir is not None:
            cmd += ["--apps-dir", str(self.apps_dir)]
        if self.db_path is not None:
            cmd += ["--db-path", str(self.db_path)]
        if self.token_delay is not None:
            cmd += ["--token-delay", repr(float(self.token_delay))]
        return cmd

    def start(self) -> None:
        """Launch the child; returns at once (the engine imports and opens its store meanwhile).

        Failures, even failing to launch, are raised by ``wait_ready``/``ready``.
        """
        if self._proc is not None or self._spawn_error is not None:
            raise RuntimeError("The engine is already started")
        env = dict(os.environ)
        if self._api_key is not None:
            env["DUSTTUI_SERVER_KEY"] = self._api_key  # the environment, never argv
        self._stderr = tempfile.TemporaryFile()
        try:
            self._proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.PIPE,  # never written: its end closing is the "parent gone" signal
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                env=env,
                start_new_session=True,  # the terminal's ^C/^Z reach the TUI only
            )
        except OSError as exc:  # reported by wait_ready, like every other start failure
            self._stderr.close()
            self._stderr = None
            self._spawn_error = EngineStartError(f"Cannot start the engine process: {exc}")

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> EngineAddress:
        """Block until the engine listens; raises ``EngineStartError`` (and stops it) if it fails."""
        with self._lock:
            if self._address is not None:
                return self._address
            if self._spawn_error is not None:
                raise self._spawn_error
            if self._proc is None or self._proc.stdout is None:
                raise RuntimeError("The engine is not started")
            try:
                line = self._read_line(timeout)
            except EngineStartError:
                self.stop()
                raise
            try:
                info = json.loads(line)
                self._address = EngineAddress(str(info["url"]), str(info["key"]))
            except (ValueError, KeyError, TypeError):
                self.stop()
                raise EngineStartError(
                    "The engine process answered something unexpected on start."
                ) from None
            return self._address

    async def ready(self) -> EngineAddress:
        """``wait_ready`` without blocking the event loop (wrap in ``asyncio.timeout`` to bound)."""
        return await asyncio.to_thread(self.wait_ready)

    def _read_line(self, timeout: float) -> bytes:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise EngineStartError(f"The engine did not start within {timeout:g} s.")
                if not sel.select(left):
                    continue
                chunk = os.read(fd, 4096)
                if not chunk:  # the child exited before listening
                    try:
                        self._proc.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        pass
                    raise EngineStartError(self._failure())
                self._buffer += chunk
        return self._buffer.split(b"\n", 1)[0]

    def _failure(self) -> str:
        tail = self.stderr_tail().strip()
        if self._api_key:
            tail = tail.replace(self._api_key, "***")
        lines = tail.splitlines()
        last = lines[-1] if lines else ""
        head = "The embedded engine did not start"
        if last.startswith(CHILD_ERROR_PREFIX):  # the child said why, in a sentence
            return f"{head}: {last[len(CHILD_ERROR_PREFIX) :]}"
        assert self._proc is not None
        code = self._proc.returncode
        head += f" (exit code {code})" if code else ""
        return f"{head}: {last}" if last else head + "."

    def stderr_tail(self) -> str:
        """The end of what the child wrote on its stderr (its errors and warnings)."""
        handle = self._stderr
        if handle is None:
            return ""
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - _TAIL_CHARS))
        return handle.read().decode("utf-8", "replace")

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Ask the child to stop (live runs saved as errored), wait, then force it. Idempotent."""
        proc = self._proc
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()  # the child stops gracefully when its stdin closes
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        self.exit_code = proc.returncode
        self._proc = None
        self._address = None

    def __enter__(self) -> EngineProcess:
        self.start()
        self.wait_ready()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
