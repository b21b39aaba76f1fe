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


# ---------------------------------------------------------------- fast path ≡ models
# decode_fast validates the hot event types against TypedDict schemas (for speed); it must accept
# exactly what the models accept, and give the same field values.

BASES = [
    {"type": "run_status", "content": {"status": "running", "run_id": "ab" * 32}},
    {
        "type": "block_status",
        "content": {
            "block_type": "code",
            "name": "A",
            "status": "errored",
            "success_count": 1,
            "error_count": 1,
        },
    },
    {
        "type": "block_execution",
        "content": {
            "block_type": "llm",
            "block_name": "M",
            "execution": [
                [
                    {
                        "value": {"x": [1]},
                        "error": None,
                        "meta": {"token_usage": {"prompt_tokens": 2}},
                    }
                ],
                [{"value": None, "error": "boom", "meta": None}, {"value": 3}],
            ],
        },
    },
    {
        "type": "tokens",
        "content": {
            "block_type": "llm",
            "block_name": "M",
            "input_index": 1,
            "map": {"name": "EACH", "iteration": 2},
            "tokens": {"text": "hé", "tokens": ["h", "é"], "logprobs": [-0.5, None]},
        },
    },
]


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from paths(v, (*prefix, i))


def mutate(base, path, new, delete):
    payload = json.loads(json.dumps(base))
    if not path:
        return new
    parent = payload
    for step in path[:-1]:
        parent = parent[step]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return payload


def same_fields(fast, wire):
    """Every value the fast path gives equals the model's (extras may be left out)."""
    if isinstance(fast, dict):
        return isinstance(wire, dict) and all(same_fields(v, wire[k]) for k, v in fast.items())
    if isinstance(fast, list):
        return len(fast) == len(wire) and all(map(same_fields, fast, wire))
    return fast == wire and type(fast) is type(wire)


# Values that confuse types: each field gets a wrong one often.
ODD = st.sampled_from([None, 0, -1, 1.0, 1.5, "", "x", "7", True, [], {}, "running", [[]], [{}]])


@st.composite
def mutated_payloads(draw):
    base = draw(st.sampled_from(BASES))
    path = draw(st.sampled_from(list(paths(base))))
    return mutate(base, path, draw(ODD | JSON), draw(st.booleans()))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_payloads())
def test_fast_path_accepts_exactly_what_the_models_accept(payload):
    from dusttui.api.models import to_wire
    from dusttui.api.sse import decode_fast

    raw = json.dumps(payload).encode()
    try:
        model = decode_event(raw)
    except MalformedEvent:
        model = None
    try:
        kind, content, event = decode_fast(raw)
    except MalformedEvent:
        assert model is None
        return
    assert model is not None
    assert kind == model.type
    if event is None:
        assert same_fields(content, to_wire(model.content))
    else:
        assert event == model


def test_fast_path_on_the_bases():
    from dusttui.api.sse import decode_fast

    for base in BASES:
        kind, content, event = decode_fast(json.dumps(base).encode())
        assert (kind, event) == (base["type"], None)
        assert content == base["content"]
