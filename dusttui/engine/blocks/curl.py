"""`curl` block: a real HTTP request (httpx), only when the engine allows network access.

As core/src/blocks/curl.rs and core/src/http/request.rs: headers and body come from
`headers_code` and `body_code` (`_fun(env)`, secrets revealed); the URL is a template with
`${BLOCK.key}` and `${secrets.NAME}`, rendered once (input data stays data); `https://dust.tt`
is refused, and so is any private address, for the URL and every redirect (see http_guard).
Value `{created, status, headers, body, body_base64}` (body parsed as JSON when it is JSON,
base64 of the bytes when the content is not text), meta `{logs}`; `use_cache` (default true)
reuses answers.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx

from dusttui.engine.blocks.base import REDACTED, BlockCall, BlockError, BlockResult, config_flag
from dusttui.engine.blocks.http_guard import Forbidden, check_url, redacted_url
from dusttui.engine.blocks.model import cache_key
from dusttui.engine.blocks.text import render_url
from dusttui.engine.record import now_ms

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
NETWORK_OFF = (
    "Network access is off: this engine was started without allowing `curl` blocks to make "
    "HTTP requests (start it with `dusttui serve --allow-network`)"
)
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
_TEXTUAL = ("text/", "application/json", "application/xml", "application/javascript")


def _headers(value: Any) -> dict[str, str]:
    # core: a non-object gives no headers; a non-string value is refused
    if not isinstance(value, dict):
        return {}
    for key, v in value.items():
        if not isinstance(v, str):
            raise BlockError(f"Header value for header {key} must be a string")
    return dict(value)


def _body(value: Any, headers: dict[str, str]) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        # core sends `req.json(&serde_json::to_string(body))`: the object's JSON, as a JSON string
        headers.setdefault("content-type", "application/json")
        inner = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
        return json.dumps(inner, ensure_ascii=False)
    raise BlockError("Returned body must be either a string or null.")


def _header_text(value: bytes) -> str:
    # core: `v.to_str().unwrap_or("")`, visible ASCII (and tab) only
    if all(32 <= b < 127 or b == 9 for b in value):
        return value.decode("ascii")
    return ""


class _Redirected(Exception):
    """A redirect to a forbidden address."""


async def _send(
    call: BlockCall, method: str, url: str, shown: str, headers: dict[str, str], body: Any
) -> Any:
    ctx = call.run.ctx
    safe = redacted_url(shown)  # no query, no credentials, no secret: what errors may show
    requests = 0

    async def guard(request: httpx.Request) -> None:
        nonlocal requests
        requests += 1
        if requests > 1:  # a redirect: core checks every hop (the first is checked below)
            try:
                await check_url(str(request.url), ctx.curl_allow_loopback)
            except Forbidden as exc:
                raise _Redirected(str(exc)) from None

    def scrub(text: str) -> str:
        for secret in ctx.secrets.values():
            if secret:
                text = text.replace(secret, REDACTED)
        return text.replace(url, safe)

    try:
        await check_url(url, ctx.curl_allow_loopback)
        async with (
            httpx.AsyncClient(
                timeout=ctx.http_timeout,
                follow_redirects=True,
                event_hooks={"request": [guard]},
            ) as client,
            client.stream(method, url, headers=headers, content=body) as response,
        ):
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > MAX_RESPONSE_BYTES:
                    raise BlockError(
                        f"HTTP request failed ({safe}): the response is over "
                        f"{MAX_RESPONSE_BYTES // 2**20} MB, the engine's limit"
                    )
    except Forbidden as exc:
        raise BlockError(scrub(str(exc))) from None
    except _Redirected as exc:
        raise BlockError(f"HTTP request failed ({safe}): redirected to {exc}") from None
    except httpx.HTTPError as exc:
        raise BlockError(
            f"HTTP request failed ({safe}): {type(exc).__name__}: {scrub(str(exc))}"
        ) from None
    raw = bytes(data)
    text = raw.decode("utf-8", "replace")
    parsed = _json_or_text(text)
    content_type = response.headers.get("content-type", "")
    return {
        "created": now_ms(),
        "status": response.status_code,
        "headers": {k.decode("latin-1"): _header_text(v) for k, v in response.headers.raw},
        "body": parsed,
        "body_base64": None
        if content_type.startswith(_TEXTUAL)
        else base64.b64encode(raw).decode("ascii"),
    }


def _no_constant(name: str) -> Any:
    raise ValueError(name)  # NaN and Infinity are not JSON for serde_json


def _json_or_text(text: str) -> Any:
    """The body as serde_json reads it (nesting deeper than its limit of 128 is not JSON), else
    the text itself."""
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return text
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            if depth >= 128:
                return text
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return value


async def execute(call: BlockCall) -> BlockResult:
    """Make the request; core's messages for bad headers, body, method, host or scheme."""
    ctx = call.run.ctx
    if not ctx.allow_network:
        raise BlockError(NETWORK_OFF)
    headers_value, logs = await call.run_js(
        call.block.get("headers_code"), "headers_code", reveal_secrets=True
    )
    body_value, body_logs = await call.run_js(
        call.block.get("body_code"), "body_code", reveal_secrets=True
    )
    logs.extend(body_logs)
    url, shown = await render_url(call, call.block.get("url"))
    if "https://dust.tt" in url or "https://www.dust.tt" in url:
        raise BlockError("Curl block cannot be used for reentrant calls to Dust")

    method = call.block.get("method")
    if method not in METHODS:
        raise BlockError(
            f"Invalid method {method}, supported methods are GET, POST, PUT, PATCH, DELETE."
        )
    headers = _headers(headers_value)
    body = _body(body_value, headers)
    if url.split(":", 1)[0].lower() not in ("http", "https"):
        raise BlockError("Only the `http` and `https` schemes are authorized.")

    key = cache_key("curl", {"method": method, "url": url, "headers": headers, "body": body})
    if config_flag(call.config, "use_cache", True):
        hit = await ctx.cache.get(key)
        if hit is not None:
            return BlockResult(hit, {"logs": logs})
    value = await _send(call, method, url, shown, headers, body)
    await ctx.cache.put(key, value)
    return BlockResult(value, {"logs": logs})
