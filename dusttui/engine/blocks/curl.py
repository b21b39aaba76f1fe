"""`curl` block: a real HTTP request (httpx), only when the engine allows network access.

Headers and body come from `headers_code` and `body_code` (`_fun(env)`, secrets revealed); the URL
is a template with `${BLOCK.key}` and `${secrets.NAME}`. Value `{created, status, headers, body}`
(body parsed as JSON when it is JSON), meta `{logs}`; `use_cache` (default true) reuses answers.
"""

from __future__ import annotations

import json

import httpx

from dusttui.engine.blocks.base import BlockCall, BlockError, BlockResult, config_flag
from dusttui.engine.blocks.model import cache_key
from dusttui.engine.blocks.text import render_field, render_secrets
from dusttui.engine.record import now_ms

METHODS = ("GET", "POST", "PUT", "PATCH")
NETWORK_OFF = (
    "Network access is off: this engine was started without allowing `curl` blocks to make "
    "HTTP requests (start it with `dusttui serve --allow-network`)"
)


async def execute(call: BlockCall) -> BlockResult:
    """Make the request; core's messages for bad headers, body, method or scheme."""
    ctx = call.run.ctx
    if not ctx.allow_network:
        raise BlockError(NETWORK_OFF)
    headers, logs = await call.run_js(
        call.block.get("headers_code"), "headers_code", reveal_secrets=True
    )
    body, body_logs = await call.run_js(
        call.block.get("body_code"), "body_code", reveal_secrets=True
    )
    logs.extend(body_logs)
    shown_url = render_field(call.block.get("url"), "url", call.env.state)
    url = render_secrets(shown_url, "url", call.env.state, ctx.secrets)
    method = call.block.get("method")

    if method not in METHODS:
        raise BlockError(f"Invalid method {method}, supported methods are GET, POST, PUT.")
    if not isinstance(headers, dict) or any(not isinstance(v, str) for v in headers.values()):
        raise BlockError("Returned headers must be an object with string values.")
    if body is not None and not isinstance(body, str):
        raise BlockError("Returned body must be either a string or null.")
    scheme = url.split(":", 1)[0].lower()
    if scheme not in ("http", "https"):
        raise BlockError("Only the `http` and `https` schemes are authorized.")

    key = cache_key("curl", {"method": method, "url": url, "headers": headers, "body": body})
    if config_flag(call.config, "use_cache", True):
        hit = await ctx.cache.get(key)
        if hit is not None:
            return BlockResult(hit, {"logs": logs})
    try:
        async with httpx.AsyncClient(timeout=ctx.http_timeout) as client:
            response = await client.request(method, url, headers=headers, content=body)
    except httpx.HTTPError as exc:
        raise BlockError(
            f"HTTP request to {shown_url} failed: {type(exc).__name__}: {exc}"
        ) from None
    text = response.text
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = text
    value = {
        "created": now_ms(),
        "status": response.status_code,
        "headers": dict(response.headers),
        "body": parsed,
    }
    await ctx.cache.put(key, value)
    return BlockResult(value, {"logs": logs})
