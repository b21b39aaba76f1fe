"""Property tests of the event parser: any bytes, any split points, only our own typed errors."""

from __future__ import annotations

import asyncio
import json

from httpx._decoders import LineDecoder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dusttui.api.models import UnknownEvent
from dusttui.api.sse import EventStream, MalformedEvent, SSEDecoder, decode_event

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


def ours(chunks: list[bytes]) -> list[bytes]:
    decoder = SSEDecoder()
    out = [d for c in chunks for d in decoder.feed(c)]
    return out + decoder.close()


def reference(data: bytes) -> list[bytes]:
    """The SSE rules read line by line (httpx's line splitter), dispatching on blank lines."""
    lines = LineDecoder()
    text = data.decode("latin-1")
    out, buf = [], []
    for line in [*lines.decode(text), *lines.flush()]:
        if not line:
            if buf:
                out.append("\n".join(buf).encode("latin-1"))
            buf = []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            if name == "data":
                buf.append(value[1:] if value.startswith(" ") else value)
    return out


# Pieces that exercise every rule: fields, comments, every line end, JSON-ish data.
PIECES = st.sampled_from(
    [
        b"data",
        b"data:",
        b"data: ",
        b":",
        b": keep-alive",
        b"event: x",
        b"id: 1",
        b"retry: 5",
        b"\n",
        b"\r",
        b"\r\n",
        b"\n\n",
        b" ",
        b"x",
        b'{"type":"final","content":null}',
        b"dat",
        b"{",
    ]
)


@FAST
@given(st.lists(PIECES, max_size=40), st.lists(st.integers(min_value=0), max_size=12))
def test_decoder_matches_the_sse_rules_at_any_split(pieces, cuts):
    data = b"".join(pieces)
    assert ours(split(data, cuts)) == reference(data + b"\n\n")


@FAST
@given(st.binary(max_size=400), st.lists(st.integers(min_value=0), max_size=16))
def test_random_bytes_never_raise_from_the_decoder(data, cuts):
    whole = ours([data])
    assert ours(split(data, cuts)) == whole
    for payload in whole:
        try:
            decode_event(payload)
        except MalformedEvent:
            pass  # our own typed error: counted by EventStream


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
TYPES = st.sampled_from(
    [
        "run_status",
        "block_status",
        "block_execution",
        "tokens",
        "reasoning_tokens",
        "reasoning_item",
        "function_call",
        "function_call_arguments_tokens",
        "error",
        "final",
        "mystery",
        3,
        None,
    ]
)


@FAST
@given(TYPES, JSON)
def test_any_json_payload_is_an_event_or_a_malformed_event(kind, content):
    try:
        event = decode_event(json.dumps({"type": kind, "content": content}).encode())
    except MalformedEvent as exc:
        assert str(exc)
    else:
        assert event.type == kind or isinstance(event, UnknownEvent)


@FAST
@given(st.binary(max_size=300), st.lists(st.integers(min_value=0), max_size=8))
def test_event_stream_counts_instead_of_raising(junk, cuts):
    data = b'data: {"type":"run_status","content":{"status":"running","run_id":"r"}}\n\n'
    data += junk + b'\n\ndata: {"type":"final","content":null}\n\n'

    async def chunks():
        for part in split(data, cuts):
            yield part

    async def run():
        stream = EventStream(chunks())
        return [e.type async for e in stream], stream

    types, stream = asyncio.run(run())
    assert types[0] == "run_status"
    assert stream.dropped == len(stream.problems) or stream.dropped > EventStream.MAX_PROBLEMS
    if stream.saw_final:
        assert types[-1] == "final"


def test_bom_is_skipped_even_when_split():
    data = b"\xef\xbb\xbfdata: 1\n\n"
    for cut in range(len(data) + 1):
        assert ours([data[:cut], data[cut:]]) == [b"1"]


def test_json_that_orjson_refuses_is_still_read():
    # A lone surrogate escape is valid JSON text (JavaScript's JSON.stringify can emit it).
    event = decode_event(
        b'{"type":"tokens","content":{"block_type":"llm","block_name":"M","input_index":0,'
        b'"map":null,"tokens":{"text":"\\ud83d"}}}'
    )
    assert event.content.tokens.text == "\ud83d"
