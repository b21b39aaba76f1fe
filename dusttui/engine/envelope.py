"""Dust's error envelope, and reading a request body the way the hosted API does (and safely).

Every refusal is ``{"error": {"type", "message", ...}}`` with the hosted API's status codes. A body
is at most 4 MB (the hosted bodyParser limit), must arrive within a bound time, and may nest arrays
and objects at most :data:`MAX_JSON_DEPTH` deep (Dust core's JSON parser, serde_json, stops at 128;
deeper values would also exhaust the engine's own recursion).
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from dusttui.engine.wirejson import dumps

MAX_BODY_BYTES = 4 * 1024 * 1024  # the hosted API's bodyParser sizeLimit "4mb"
MAX_JSON_DEPTH = 128
BODY_TIMEOUT = 60.0  # seconds for a whole body to arrive once its headers have
_PARSE_IN_THREAD = 64 * 1024  # bodies above this are parsed off the event loop


class APIError(Exception):
    """Answered as the error envelope ``{"error": {"type", "message", ...}}``."""

    def __init__(self, status: int, type_: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.extra = extra

    def response(self) -> Response:
        """The envelope as an HTTP answer."""
        return json_response(
            {"error": {"type": self.type, "message": self.message, **self.extra}}, self.status
        )


def json_response(
    body: Any, status: int = 200, background: BackgroundTask | None = None
) -> Response:
    """A JSON answer with compact, literal JSON (`background` runs once it is sent)."""
    return Response(
        dumps(body), status_code=status, media_type="application/json", background=background
    )


def invalid_request(message: str) -> APIError:
    """A 400 ``invalid_request_error``."""
    return APIError(400, "invalid_request_error", message)


def run_error(code: str, message: str, *, retrieving: bool = False) -> APIError:
    """The 400 run_error envelope the hosted API uses for engine refusals."""
    outer = (
        "There was an error retrieving the run."
        if retrieving
        else "There was an error running the app."
    )
    return APIError(400, "run_error", outer, run_error={"code": code, "message": message})


def run_not_found(run_id: str) -> APIError:
    """An unknown run id: 400 (not 404), as the hosted API answers."""
    return run_error("run_not_found", f"No run found for id `{run_id}`", retrieving=True)


def method_not_allowed(expected: str) -> APIError:
    """A 405 in the envelope, naming the method the route expects."""
    return APIError(
        405,
        "method_not_supported_error",
        f"The method passed is not supported, {expected} is expected.",
    )


def too_deep() -> APIError:
    """A body nested deeper than Dust accepts."""
    return invalid_request(
        f"The request body is nested too deeply: arrays and objects may be nested at most "
        f"{MAX_JSON_DEPTH} levels deep (Dust's limit)."
    )


def json_depth_exceeds(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when arrays/objects in `value` nest deeper than `limit` (iterative: any depth)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _parse(raw: bytes) -> Any:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc) or "recursion" in str(exc):  # orjson stops near 1024
            raise too_deep() from None
        raise invalid_request(f"The request body is not valid JSON: {exc}") from None
    # Fewer brackets than the limit cannot nest deeper than it: most bodies skip the walk.
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and json_depth_exceeds(value):
        raise too_deep()
    return value


async def read_json_body(
    request: Request, *, limit: int = MAX_BODY_BYTES, seconds: float = BODY_TIMEOUT
) -> Any:
    """The request's JSON body (None when empty), refused with the envelope when too large, too
    slow, too deep or not JSON."""
    too_large = APIError(
        413,
        "content_too_large",
        f"Body exceeded {limit // (1024 * 1024)}mb limit: a request body may be at most "
        f"{limit} bytes; send fewer or smaller inputs.",
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    try:
        async with asyncio.timeout(seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise too_large
                chunks.append(chunk)
    except ClientDisconnect:
        raise invalid_request("The client went away before sending its whole body.") from None
    except TimeoutError:
        raise APIError(
            408,
            "invalid_request_error",
            f"The request body did not arrive within {seconds:g} s.",
        ) from None
    raw = b"".join(chunks)
    if not raw.strip():
        return None
    if len(raw) > _PARSE_IN_THREAD:
        return await asyncio.to_thread(_parse, raw)
    return _parse(raw)
