"""Server-sent events of a Dust run stream (PROTOCOL.md §4), decoded into typed events.

Two layers:

- :class:`SSEDecoder` turns bytes, in chunks of any size, into the ``data`` payload of each event.
  It follows the SSE parsing rules for what the protocol uses: ``:`` comment lines skipped, LF, CRLF
  and CR line ends, chunks split anywhere (even inside a CRLF), a leading BOM, multi-line ``data``,
  and a missing final blank line tolerated. ``event:``/``id:``/``retry:`` are ignored (the Dust
  stream is data-only). It is written for speed: on the usual ``data: {...}\\n\\n`` shape it does
  one split per chunk and no per-line work (see bench/stream_ingest.py).
- :class:`EventStream` iterates the typed events (:data:`dusttui.api.models.Event`) of a byte
  stream. An event whose JSON is malformed, or whose shape does not match its type, is counted in
  ``dropped`` (with a short reason in ``problems``) and skipped, never raised.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable
from typing import Any, Literal, NotRequired

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from dusttui.api.models import (
    BlockExecutionEvent,
    BlockStatusEvent,
    ErrorEvent,
    Event,
    FinalEvent,
    FunctionCallArgumentsTokensEvent,
    FunctionCallEvent,
    ReasoningItemEvent,
    ReasoningTokensEvent,
    RunStatusEvent,
    TokensEvent,
    UnknownEvent,
)

__all__ = ["EventStream", "MalformedEvent", "SSEDecoder", "decode_event"]

_BOM = b"\xef\xbb\xbf"

# One model per known event type; anything else is kept whole as UnknownEvent.
_MODELS: dict[str, type[BaseModel]] = {
    "run_status": RunStatusEvent,
    "block_status": BlockStatusEvent,
    "block_execution": BlockExecutionEvent,
    "tokens": TokensEvent,
    "reasoning_tokens": ReasoningTokensEvent,
    "reasoning_item": ReasoningItemEvent,
    "function_call": FunctionCallEvent,
    "function_call_arguments_tokens": FunctionCallArgumentsTokensEvent,
    "error": ErrorEvent,
    "final": FinalEvent,
}


class MalformedEvent(ValueError):
    """One event's data could not be understood (bad JSON or wrong shape)."""


def _block_data(block: bytes) -> bytes | None:
    """The data of one event block (lines without their ends); None when it carries no data."""
    if block.startswith(b"data: ") and b"\n" not in block:
        return block[6:]  # the common case: a single `data: ` line
    data: list[bytes] = []
    for line in block.split(b"\n"):
        if not line or line[0] == 0x3A:  # empty or `:` comment
            continue
        field, colon, value = line.partition(b":")
        if field != b"data":
            continue  # event/id/retry and unknown fields: not used by the Dust stream
        if colon and value[:1] == b" ":
            value = value[1:]
        data.append(value)
    if not data:
        return None
    return b"\n".join(data)


class SSEDecoder:
    """Incremental SSE decoder: ``feed(chunk)`` then ``close()``, each returning data payloads."""

    __slots__ = ("_head", "_held_cr", "_last", "_parts", "_started")

    def __init__(self) -> None:
        self._parts: list[bytes] = []  # bytes of the event being received, not yet complete
        self._last = 0  # last byte of the pending bytes (0 when none)
        self._held_cr = False  # a chunk ended in CR: it may be the first half of a CRLF
        self._started = False
        self._head = b""  # first bytes, kept until we know whether they start with a BOM

    def feed(self, chunk: bytes) -> list[bytes]:
        """Add bytes; return the data of every event they complete, in order."""
        if not chunk:
            return []
        if not self._started:
            head = self._head + chunk
            if len(head) < 3 and _BOM.startswith(head):
                self._head = head  # maybe a BOM split across chunks: wait for more
                return []
            self._head = b""
            self._started = True
            chunk = head[3:] if head.startswith(_BOM) else head
            if not chunk:
                return []
        if self._held_cr:
            chunk = b"\r" + chunk
            self._held_cr = False
        if b"\r" in chunk:
            if chunk[-1] == 0x0D:
                chunk = chunk[:-1]
                self._held_cr = True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if not chunk:
                return []
        # A blank line may straddle chunks: the previous chunk ended in LF, this one starts with LF.
        if b"\n\n" not in chunk and not (self._last == 0x0A and chunk[0] == 0x0A):
            self._parts.append(chunk)
            self._last = chunk[-1]
            return []
        if self._parts:
            self._parts.append(chunk)
            chunk = b"".join(self._parts)
            self._parts = []
        blocks = chunk.split(b"\n\n")
        rest = blocks.pop()
        if rest:
            self._parts.append(rest)
            self._last = rest[-1]
        else:
            self._last = 0x0A  # the chunk ended on a blank line
        out = []
        for block in blocks:
            if block[:6] == b"data: " and b"\n" not in block:
                out.append(block[6:])  # the common case, inlined: one `data: ` line
                continue
            if block.startswith(b"\n"):
                block = block.lstrip(b"\n")  # more than one blank line in a row
                if not block:
                    continue
            data = _block_data(block)
            if data is not None:
                out.append(data)
        return out

    def close(self) -> list[bytes]:
        """End of stream: an event missing its final blank line is still delivered."""
        if self._held_cr:
            self._held_cr = False
            out = self.feed(b"\n")  # a CR at the very end is a line end
        else:
            out = []
        tail = b"".join(self._parts)
        self._parts = []
        self._last = 0
        if not self._started:
            tail, self._head = self._head, b""  # only part of a BOM ever arrived
            self._started = True
            if _BOM.startswith(tail):
                tail = b""
        tail = tail.strip(b"\n")
        if tail:
            data = _block_data(tail)
            if data is not None:
                out.append(data)
        return out


# Straight to pydantic-core: the same validation as Model.model_validate, minus a wrapper.
_VALIDATE: dict[str, Callable[[Any], Event]] = {
    k: m.__pydantic_validator__.validate_python for k, m in _MODELS.items()
}
_VALIDATE_UNKNOWN: Callable[[Any], Event] = UnknownEvent.__pydantic_validator__.validate_python


def decode_event(data: bytes) -> Event:
    """One event from its ``data`` payload; raises :class:`MalformedEvent` if not understood."""
    try:
        payload: Any = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        try:  # orjson refuses lone surrogate escapes, the stdlib does not
            payload = json.loads(data)
        except (ValueError, RecursionError):
            raise MalformedEvent(f"invalid JSON ({exc})") from None
    return _validate_payload(payload)


def _validate_payload(payload: Any) -> Event:
    if type(payload) is not dict:
        raise MalformedEvent("the event is not a JSON object")
    kind = payload.get("type")
    if kind == "final":
        return FinalEvent()  # whatever its content: the end of the stream is what matters
    validate = _VALIDATE.get(kind) if type(kind) is str else None
    if validate is None:
        if type(kind) is not str:
            raise MalformedEvent("the event has no `type`")
        validate = _VALIDATE_UNKNOWN
    try:
        return validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise MalformedEvent(f"`{kind}` event: {where}: {first.get('msg')}") from None


# ---------------------------------------------------------------- fast validation
# The hot event types are validated against TypedDict schemas that accept exactly what the
# models accept (same field types; tests/api/test_sse_fuzz.py checks the equivalence) but build
# plain dicts: several times cheaper than model instances. RunState reduces those dicts; the
# model of such an event is only built if someone asks for it (WatchUpdate.event).

_Status = Literal["running", "succeeded", "errored"]


class _ExecutionTD(TypedDict, total=False):
    value: Any
    error: str | None
    meta: Any


class _RunStatusTD(TypedDict):
    status: _Status
    run_id: str


class _BlockStatusTD(TypedDict):
    block_type: str
    name: str
    status: _Status
    success_count: NotRequired[int]
    error_count: NotRequired[int]


class _BlockExecutionTD(TypedDict):
    block_type: str
    block_name: str
    execution: list[list[_ExecutionTD]]


class _MapTD(TypedDict):
    name: str
    iteration: int


class _TokenTextTD(TypedDict, total=False):
    text: str
    tokens: list[str] | None
    logprobs: list[float | None] | None


class _TokensTD(TypedDict):
    block_type: str
    block_name: str
    input_index: int
    map: NotRequired[_MapTD | None]
    tokens: _TokenTextTD


def _envelope(kind: str, content: Any) -> Any:
    return TypedDict(f"_{kind}", {"type": Literal[kind], "content": content})  # type: ignore[operator]


_FAST_VALIDATE = {
    kind: TypeAdapter(_envelope(kind, td)).validator.validate_python
    for kind, td in (
        ("run_status", _RunStatusTD),
        ("block_status", _BlockStatusTD),
        ("block_execution", _BlockExecutionTD),
        ("tokens", _TokensTD),
    )
}
FAST_TYPES = frozenset(_FAST_VALIDATE)


def decode_fast(data: bytes) -> tuple[str, Any, Event | None]:
    """``(type, content, event)``: for the hot types, ``content`` is the validated content as a
    dict and ``event`` is None; for others, ``event`` is the model and ``content`` its content.
    Raises :class:`MalformedEvent` exactly when :func:`decode_event` would."""
    try:
        payload: Any = orjson.loads(data)
    except orjson.JSONDecodeError:
        event = decode_event(data)  # the slow path decides, and explains
        return event.type, event.content, event
    kind = payload.get("type") if type(payload) is dict else None
    validate = _FAST_VALIDATE.get(kind) if type(kind) is str else None
    if validate is None:
        event = _validate_payload(payload)
        return event.type, event.content, event
    try:
        return kind, validate(payload)["content"], None  # type: ignore[return-value]
    except ValidationError:
        event = _validate_payload(payload)  # raises MalformedEvent with the model's words
        return event.type, event.content, event


class EventStream:
    """Async iterator of the typed events of a run stream's bytes; stops after ``final``.

    ``dropped`` counts events that could not be understood; ``problems`` keeps the first few
    reasons (for the UI); ``saw_final`` tells whether the stream ended properly. Iterate it
    event by event, or with :meth:`data_batches` + :meth:`decode` (what ``watch_run`` does).
    """

    MAX_PROBLEMS = 20

    def __init__(self, chunks: AsyncIterable[bytes]) -> None:
        self._chunks = chunks
        self.dropped = 0
        self.problems: list[str] = []
        self.saw_final = False
        self.events = 0
        self.last_raw = b""  # the JSON text of the event just yielded (RunState keeps it lazily)

    def _drop(self, reason: str) -> None:
        self.dropped += 1
        if len(self.problems) < self.MAX_PROBLEMS:
            self.problems.append(reason)

    def decode(self, data: bytes) -> Event | None:
        """One event's data → the event, or None (counted in ``dropped``) if not understood."""
        try:
            event = decode_event(data)
        except MalformedEvent as exc:
            self._drop(str(exc))
            return None
        self.events += 1
        if type(event) is FinalEvent:
            self.saw_final = True
        return event

    def decode_fast(self, data: bytes) -> tuple[str, Any, Event | None] | None:
        """Like :meth:`decode`, through :func:`decode_fast`; None (counted) if not understood."""
        try:
            got = decode_fast(data)
        except MalformedEvent as exc:
            self._drop(str(exc))
            return None
        self.events += 1
        if got[0] == "final":
            self.saw_final = True
        return got

    async def data_batches(self) -> AsyncGenerator[list[bytes], None]:
        """The undecoded data of the events, one list per received chunk (decode each with
        :meth:`decode`, one at a time: that keeps few objects alive, cheap for the collector)."""
        decoder = SSEDecoder()
        feed = decoder.feed
        async for chunk in self._chunks:
            datas = feed(chunk)
            if datas:
                yield datas
        datas = decoder.close()
        if datas:
            yield datas

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        decode = self.decode
        async for datas in self.data_batches():
            for data in datas:
                event = decode(data)
                if event is None:
                    continue
                self.last_raw = data
                yield event
                if self.saw_final:
                    return
