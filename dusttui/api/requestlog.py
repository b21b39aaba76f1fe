"""The request log: every call a :class:`~dusttui.api.client.DustClient` makes, as it happens.

A client given a :class:`RequestLog` records each HTTP attempt (a retry is a record of its own)
with its method, URL, status, body bytes sent and bytes received, time, retry number, the request
body and the answer's first bytes (both bounded). The API key never enters a record: not in the
URL, not in a header, not in a body (each is scrubbed before it is kept).

Listeners hear a record when it starts and when it is done (a stream is done when it closes);
``dusttui --verbose`` prints one line per done record, the TUI's request log screen lists them.
No Textual, no I/O: listeners run on the client's event loop and must be quick.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

__all__ = ["BODY_KEEP", "RequestLog", "RequestRecord", "redact_headers"]

BODY_KEEP = 4096  # bytes of a request body and of an answer kept in a record
REDACTED = "***"

_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})


@dataclass(slots=True)
class RequestRecord:
    """One HTTP attempt. Fields after ``stream`` fill in as the answer comes."""

    seq: int  # 1, 2, 3… in the order requests were sent
    method: str
    url: str  # the full URL, key-free
    started: float  # wall-clock time it was sent (seconds since the epoch)
    retry: int  # 0 for the first attempt, 1 for the first retry…
    request_headers: dict[str, str]
    request_body: bytes  # its first BODY_KEEP bytes
    sent_bytes: int  # the whole body's size
    stream: bool  # an event stream (received_bytes grows until it closes)
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_head: bytes = b""  # the answer's first BODY_KEEP bytes
    received_bytes: int = 0
    answered_after: float | None = None  # seconds until the status line came
    elapsed: float | None = None  # seconds until done (the stream closed, the body was read)
    error: str | None = None  # why it failed without an answer (connection refused, timeout…)
    done: bool = False
    _t0: float = field(default=0.0, repr=False)
    _raw_head: bytes = field(default=b"", repr=False)  # a stream's first bytes, not yet scrubbed

    @property
    def ok(self) -> bool:
        """Answered with a 2xx status."""
        return self.status is not None and 200 <= self.status < 300


Listener = Callable[[RequestRecord], None]


def redact_headers(headers: httpx.Headers, secret: str | None) -> dict[str, str]:
    """Headers as a plain dict, credentials replaced by ``***`` (and the key wherever it is)."""
    out: dict[str, str] = {}
    for name, value in headers.multi_items():
        lower = name.lower()
        if lower in _SECRET_HEADERS:
            scheme = value.split(" ", 1)[0] if lower == "authorization" and " " in value else ""
            value = f"{scheme} {REDACTED}".strip()
        elif secret:
            value = value.replace(secret, REDACTED)
        out[lower] = value
    return out


class RequestLog:
    """The last ``limit`` records of the clients that write here, newest last."""

    def __init__(self, limit: int = 1000, *, clock: Callable[[], float] = time.time) -> None:
        self._records: deque[RequestRecord] = deque(maxlen=max(1, limit))
        self._listeners: list[Listener] = []
        self._seq = 0
        self._clock = clock
        self.version = 0
        """Bumped on every change (a screen redraws when it moved)."""

    # ------------------------------------------------------------------ reading

    def records(self) -> list[RequestRecord]:
        """Every record kept, oldest first (a copy of the list; records are shared)."""
        return list(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(record)`` when a record starts and when it is done; returns the
        function that stops it."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def clear(self) -> None:
        """Forget every record (numbering goes on)."""
        self._records.clear()
        self.version += 1

    # ------------------------------------------------------------------ writing (the client)

    def _notify(self, record: RequestRecord) -> None:
        self.version += 1
        for listener in list(self._listeners):
            listener(record)

    def start(
        self, request: httpx.Request, *, retry: int, stream: bool, secret: str | None
    ) -> RequestRecord:
        """A request is being sent."""
        self._seq += 1
        try:
            body = request.content
        except httpx.RequestNotRead:
            body = b""
        record = RequestRecord(
            seq=self._seq,
            method=request.method,
            url=_scrub_text(str(request.url), secret),
            started=self._clock(),
            retry=retry,
            request_headers=redact_headers(request.headers, secret),
            request_body=_kept(body, secret),
            sent_bytes=len(body),
            stream=stream,
            _t0=time.monotonic(),
        )
        self._records.append(record)
        self._notify(record)
        return record

    def answered(self, record: RequestRecord, response: httpx.Response, secret: str | None) -> None:
        """The status line and headers came (the body may still be coming)."""
        record.status = response.status_code
        record.response_headers = redact_headers(response.headers, secret)
        record.answered_after = time.monotonic() - record._t0
        self.version += 1

    def received(self, record: RequestRecord, chunk: bytes, secret: str | None) -> None:
        """Bytes of a streamed answer (the first ones are kept)."""
        record.received_bytes += len(chunk)
        # A little more than is shown, so a key cut between two chunks is still seen whole.
        room = BODY_KEEP + len(secret or "") - len(record._raw_head)
        if room > 0:
            record._raw_head += chunk[:room]
            record.response_head = _kept(record._raw_head, secret, complete=False)

    def finish(
        self,
        record: RequestRecord,
        *,
        response: httpx.Response | None = None,
        error: str | None = None,
        secret: str | None = None,
    ) -> None:
        """The request is over: its whole answer read (``response``), or failed (``error``)."""
        if record.done:
            return
        content: bytes | None = None
        if response is not None:
            if record.status is None:
                self.answered(record, response, secret)
            try:  # read whole (any answer but a stream that was iterated)
                content = response.content
            except httpx.ResponseNotRead:
                content = None
            # On the wire (compressed) when the transport counts it, else the body read.
            wire = response.num_bytes_downloaded or (len(content) if content else 0)
            record.received_bytes = max(record.received_bytes, wire)
        if content is not None and not record._raw_head:
            record.response_head = _kept(content, secret)
        else:  # nothing more comes: the whole head can be scrubbed and shown
            record.response_head = _kept(record._raw_head, secret)
        record._raw_head = b""
        if error is not None:
            record.error = _scrub_text(error, secret)
        record.elapsed = time.monotonic() - record._t0
        record.done = True
        self._notify(record)


def _kept(data: bytes, secret: str | None, *, complete: bool = True) -> bytes:
    """The first BODY_KEEP bytes of ``data`` with the key scrubbed; when more may follow
    (``complete=False``), without a tail that could be the start of the key."""
    if not secret or not data:
        return data[:BODY_KEEP]
    key = secret.encode()
    data = data.replace(key, REDACTED.encode())
    if not complete:
        for size in range(min(len(key) - 1, len(data)), 0, -1):
            if data.endswith(key[:size]):
                data = data[:-size]
                break
    return data[:BODY_KEEP]


def _scrub_text(text: str, secret: str | None) -> str:
    return text.replace(secret, REDACTED) if secret else text
