"""A bounded fuzz of the HTTP surface (hypothesis, derandomized): bodies, paths, methods and query
strings of the families issue 10's campaign used. Every answer is below 500, every refusal is in
Dust's envelope, every stream ends with `final`, and no run is left running."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.engine.conftest import PREFIXES, parse_sse, runs_url

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same examples every run: a failure here is never a fluke
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
inputs = st.lists(
    st.dictionaries(st.sampled_from(["n", "m", "ms"]), values, max_size=2), max_size=4
)
bodies = st.fixed_dictionaries(
    {},
    optional={
        "specification_hash": st.sampled_from(["latest", "", "deadbeef", "a" * 64]) | values,
        "config": st.dictionaries(st.sampled_from(["DOUBLE", "INPUT", "X"]), values, max_size=2)
        | values,
        "inputs": inputs | values,
        "stream": values,
        "blocking": values,
        "block_filter": values,
    },
)
raw_bodies = st.binary(max_size=200) | st.sampled_from(
    [b"", b"{", b"[]" * 3, b'{"inputs": [' * 300, b"\xff\xfe", b'"\\ud800"', b"1e999", b"null"]
)
segments = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
methods = st.sampled_from(
    ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND", "FOO"]
)
numbers = st.sampled_from(
    ["0", "10", "-1", "²", "1e3", "9" * 25, "9223372036854775808", "", "x", "٣"]
)


def _check(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert isinstance(error["type"], str) and isinstance(error["message"], str)
    elif response.status_code in (307, 308):  # a trailing slash: redirected without it
        assert not response.headers["location"].endswith("/")
    elif response.headers.get("content-type") == "text/event-stream":
        assert parse_sse(response.content).types[-1] == "final"
    else:
        response.json()


def _no_run_left_running(http: httpx.Client) -> None:
    deadline = time.monotonic() + 60
    while True:
        runs = http.get(runs_url("double") + "?limit=10000").json()["runs"]
        running = [r["run_id"] for r in runs if r["status"]["run"] == "running"]
        if not running:
            return
        assert time.monotonic() < deadline, f"runs left running: {running}"
        time.sleep(0.05)


def test_fuzzed_run_bodies(http):
    @FUZZ
    @given(body=bodies, style=st.sampled_from(list(PREFIXES)))
    def one(body: dict[str, Any], style: str) -> None:
        _check(http.post(runs_url("double", style), content=json.dumps(body)))

    one()
    _no_run_left_running(http)


def test_fuzzed_raw_bodies(http):
    @FUZZ
    @given(raw=raw_bodies, app=st.sampled_from(["double", "nope", "%00", "x" * 300]))
    def one(raw: bytes, app: str) -> None:
        _check(http.post(runs_url("double").replace("double", app), content=raw))

    one()
    _no_run_left_running(http)


def test_fuzzed_paths_methods_and_queries(http):
    @FUZZ
    @given(
        method=methods,
        style=st.sampled_from(list(PREFIXES)),
        tail=st.lists(segments, max_size=4),
        limit=numbers,
        offset=numbers,
        tag=st.none() | segments,
    )
    def one(
        method: str, style: str, tail: list[str], limit: str, offset: str, tag: str | None
    ) -> None:
        path = "/".join([runs_url("double", style), *(quote(s, safe="") for s in tail)])
        params = {"limit": limit, "offset": offset}
        if tag is not None:
            params["tag"] = tag
        _check(http.request(method, path, params=params))

    one()


def test_fuzzed_deeply_nested_bodies(http):
    # The campaign's deep family: JSON 980–1,000 deep in a config or an input gave HTTP 500 and
    # runs stuck "running", and reset the connection in stream mode. Any depth past Dust's 128 is
    # now a 400 naming the limit, in every flavour, before a run exists.
    accepted: list[int] = []

    @FUZZ
    @given(
        depth=st.integers(min_value=126, max_value=6000),
        opener=st.sampled_from(["[", '{"k":', '{"":']),
        where=st.sampled_from(["config", "inputs", "block_filter"]),
        flavour=st.sampled_from(["", ', "blocking": true', ', "stream": true']),
    )
    def one(depth: int, opener: str, where: str, flavour: str) -> None:
        closer = "]" if opener == "[" else "}"
        deep = opener * depth + "1" + closer * depth
        parts = {"config": "{}", "inputs": '[{"n": 1}]', "block_filter": "null"}
        parts[where] = {
            "config": '{"DOUBLE": ' + deep + "}",
            "inputs": '[{"n": ' + deep + "}]",
            "block_filter": deep,
        }[where]
        body = (
            f'{{"specification_hash": "latest", "config": {parts["config"]}, '
            f'"inputs": {parts["inputs"]}, "block_filter": {parts["block_filter"]}{flavour}}}'
        )
        response = http.post(runs_url("double"), content=body)
        _check(response)
        # the body's own level, then one or two levels around the value: past 128 is refused
        outer = {"config": 2, "inputs": 3, "block_filter": 1}[where]
        if depth + outer > 128:
            assert response.status_code == 400
            assert response.json()["error"]["message"].startswith(
                "The request body is nested too deeply: arrays and objects may be nested at most "
                "128 levels deep"
            )
        else:
            accepted.append(depth)

    one()
    # refused bodies never made a run
    assert http.get(runs_url("double")).json()["total"] == len(accepted)
    _no_run_left_running(http)
