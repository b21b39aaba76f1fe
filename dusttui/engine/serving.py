"""Serving the engine with uvicorn: the socket, signals that stop it gracefully, connection limits.

- :class:`EngineServer` turns SIGINT/SIGTERM into :meth:`EngineLife.stop` (runs interrupted with
  the reason, streams closed, then the server stops); a second Ctrl-C forces the exit. It never
  re-raises the signal afterwards: the process ends normally, with one line from the caller.
- Connections that send no complete request headers within ``header_timeout`` (after connecting,
  or after their previous answer) are closed, and at most ``max_idle`` such connections are kept:
  beyond that, the oldest is closed. Idle or slow sockets can no longer use up the open-files limit
  and block every client.
- asyncio accepts up to uvicorn's ``backlog`` connections in one go, before any is set up, and on
  EMFILE goes on trying (and logging a traceback) for the rest of that count: the burst is kept to a
  fraction of the idle cap, so the cap closes old connections between bursts; the kernel's queue of
  pending connections is made long again once listening (LISTEN_QUEUE).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from dusttui.engine.life import EngineLife
from dusttui.engine.process import EngineStartError

try:
    import resource
except ImportError:  # pragma: no cover (Windows)
    resource = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

GRACEFUL_SHUTDOWN = 3  # seconds uvicorn waits for open connections once runs are interrupted
# asyncio accepts up to `backlog` connections in one go before any of them is set up, and on
# EMFILE it keeps trying (and logging) for the rest of that count: small bursts let the idle cap
# close old connections between bursts. The kernel's queue of pending connections stays long.
LISTEN_QUEUE = 2048
# What a connection gets for bytes that are not an HTTP/1.1 request (a control character in the
# request line, a malformed header): Dust's error envelope, as every other refusal.
MALFORMED_REQUEST = (
    b'{"error":{"type":"invalid_request_error","message":"The request is not valid HTTP/1.1: '
    b'its request line or a header is malformed."}}'
)
SIGNAL_NAMES: dict[int, str] = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


@dataclass(frozen=True)
class ConnectionLimits:
    """How long a connection may take to send its request headers, and how many may wait."""

    header_timeout: float = 10.0
    max_idle: int | None = None  # None: a quarter of the open-files limit, at most 512


def open_files_limit() -> int:
    """The process's soft limit on open files (1024 when unknown)."""
    if resource is None:
        return 1024
    return int(resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def raise_open_files_limit(target: int = 8192) -> None:
    """Raise the soft open-files limit towards `target` (never above the hard limit)."""
    if resource is None:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = target if hard == resource.RLIM_INFINITY else min(target, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def bind(host: str, port: int) -> socket.socket:
    """A bound (not yet listening) socket; EngineStartError with a sentence when it cannot be."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise EngineStartError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    """The http:// URL a bound socket answers on."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def idle_cap(limits: ConnectionLimits) -> int:
    """How many connections may wait for their request headers at once."""
    return limits.max_idle or max(8, min(512, open_files_limit() // 4))


def accept_burst(max_idle: int) -> int:
    """Connections asyncio accepts in one go (see LISTEN_QUEUE): a fraction of the idle cap."""
    return max(4, min(32, max_idle // 4))


def protocol_class(limits: ConnectionLimits) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a deadline for request headers and a cap on idle connections."""
    max_idle = idle_cap(limits)
    waiting: dict[TimedH11Protocol, None] = {}  # connections awaiting headers, oldest first

    class TimedH11Protocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)  # type: ignore[arg-type]
            self._await_request()

        def _await_request(self) -> None:
            self._stop_waiting()
            self._deadline = self.loop.call_later(limits.header_timeout, self._drop)
            waiting[self] = None
            while len(waiting) > max_idle:
                next(iter(waiting))._drop()

        def _stop_waiting(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None
            waiting.pop(self, None)

        def _drop(self) -> None:
            self._stop_waiting()
            self.transport.close()

        def handle_events(self) -> None:
            cycle = self.cycle
            super().handle_events()
            if self.cycle is not cycle:  # a request's headers arrived whole
                self._stop_waiting()

        def on_response_complete(self) -> None:
            if not self.transport.is_closing():
                self._await_request()  # before super(): it may start a pipelined request
            super().on_response_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_waiting()
            super().connection_lost(exc)

        def send_400_response(self, msg: str) -> None:
            # uvicorn answers bytes that are not HTTP in plain text: this one in Dust's envelope
            self._stop_waiting()
            body = MALFORMED_REQUEST
            head = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ]
            for event in (
                h11.Response(status_code=400, headers=head, reason=b"Bad Request"),
                h11.Data(data=body),
                h11.EndOfMessage(),
            ):
                self.transport.write(self.conn.send(event) or b"")
            self.transport.close()

    return TimedH11Protocol


class EngineServer(uvicorn.Server):
    """uvicorn's server, stopping through :class:`EngineLife` (see the module docstring)."""

    def __init__(
        self,
        app: Any,
        life: EngineLife,
        *,
        log_level: str = "warning",
        access_log: bool = False,
        limits: ConnectionLimits | None = None,
        signal_names: dict[int, str] | None = None,
    ) -> None:
        limits = limits or ConnectionLimits()
        config = uvicorn.Config(
            app,
            log_level=log_level,
            access_log=access_log,
            lifespan="on",
            ws="none",
            http=protocol_class(limits),
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
            backlog=accept_burst(idle_cap(limits)),
        )
        super().__init__(config)
        self.life = life
        self.signal_names = signal_names or SIGNAL_NAMES
        self._loop: asyncio.AbstractEventLoop | None = None
        life.stop_server = self._exit

    def _exit(self) -> None:
        self.should_exit = True

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        """Serve until stopped (see :meth:`request_stop`)."""
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's startup; the kernel's queue then made long again (see LISTEN_QUEUE)."""
        await super().startup(sockets)
        for sock in sockets or []:
            with contextlib.suppress(OSError):
                sock.listen(LISTEN_QUEUE)

    def request_stop(self, reason: str) -> None:
        """Stop gracefully from any thread (runs interrupted with `reason`, then the server)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            self.should_exit = True
            return
        with contextlib.suppress(RuntimeError):  # the loop just closed: nothing left to stop
            loop.call_soon_threadsafe(self._begin_stop, reason)

    def _begin_stop(self, reason: str) -> None:
        life = self.life
        life.run_in_background(lambda: life.stop(reason))

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Our handlers while serving; unlike uvicorn's, the signal is not raised again after."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = list(self.signal_names)
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """A signal: the first stops gracefully; a second Ctrl-C (SIGINT) forces the exit."""
        if self.life.stopping or self.should_exit:
            if sig == signal.SIGINT:
                self.force_exit = True
            self.should_exit = True
            return
        self.request_stop(self.signal_names.get(sig, f"signal {sig}"))
