"""Helpers for api tests: a scripted HTTP server on httpx.MockTransport (bodies stream for real)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from dusttui.api.client import DustClient

STREAMS = Path(__file__).parent.parent / "fixtures" / "streams"
KEY = "sk-test-SECRET-7f3a9c"
WS = "w0rkspace"
SPACE = "sp4ce"
APP = "app123"


def fixture_bytes(name: str) -> bytes:
    """The bytes of one fixture stream."""
    return (STREAMS / f"{name}.sse").read_bytes()


def fixture_run(name: str) -> dict[str, Any]:
    """The GET answer (``{"run": ...}``) recorded beside a fixture stream."""
    return json.loads((STREAMS / f"{name}.run.json").read_text())


async def _chunks(parts: list[bytes], fail: BaseException | None) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
    if fail is not None:
        raise fail


def sse_response(parts: list[bytes], *, fail: BaseException | None = None) -> httpx.Response:
    """A 200 event-stream answer sending ``parts`` one chunk at a time, then maybe failing."""
    return httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content=_chunks(parts, fail)
    )


class Sleeps:
    """A fake ``asyncio.sleep`` that records the delays and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def make_client(
    handler: Callable[[httpx.Request], Any], sleeps: Sleeps | None = None, **kw: Any
) -> DustClient:
    """A client for workspace WS / space SPACE whose requests go to ``handler``."""
    kw.setdefault("url_style", "spaces")
    return DustClient(
        "https://dust.tt",
        KEY,
        WS,
        SPACE if kw["url_style"] == "spaces" else None,
        transport=httpx.MockTransport(handler),
        sleep=sleeps or Sleeps(),
        **kw,
    )


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


class ScriptedServer:
    """A scripted Dust API: POST answers with ``post`` (a stream or a run), GETs with ``gets``.

    ``gets`` are served in order, the last one repeated; an item may be a run envelope (dict),
    an ``httpx.Response`` or an exception to raise.
    """

    def __init__(self, post: Callable[[], httpx.Response], gets: list[Any] | None = None) -> None:
        self.post = post
        self.gets = list(gets or [])
        self.requests: list[tuple[str, str]] = []
        self.bodies: list[dict[str, Any]] = []

    @property
    def get_count(self) -> int:
        return sum(1 for method, _ in self.requests if method == "GET")

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path))
        if request.method == "POST":
            self.bodies.append(json.loads(request.content))
            return self.post()
        answer = self.gets[min(self.get_count - 1, len(self.gets) - 1)]
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json=answer)
