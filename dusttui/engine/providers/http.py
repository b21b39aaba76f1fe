"""HTTP for providers: one POST (JSON or a stream of Server-Sent Events) with core's retries, and
every failure turned into a :class:`ProviderError` a user can read, with the API key scrubbed.

Retries: as core's `with_retryable_back_off` — a 429, 500, 502, 503, 504 or 529 answer is retried
`retries` times (3 by default), waiting `backoff` seconds then twice as long each time, or what
`Retry-After` asks (up to 30 s). A refused connection, a timeout or a stream cut after it began
are not retried: the execution fails at once with a sentence saying which.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from dusttui.engine.providers.base import ProviderError
from dusttui.engine.providers.sse import iter_sse_data

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 529})
MAX_RETRY_WAIT = 30.0
# An error body longer than this is cut in messages (a proxy's HTML page, say).
_ERROR_TEXT_MAX = 300

# Reads a provider's error body: (status, parsed JSON or None, raw text) -> the message.
ErrorReader = Callable[[int, Any, str], str]


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """`text` with every secret replaced by `***` (a server may echo a key back)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def short(text: str) -> str:
    """A body cut to a readable length, on one line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= _ERROR_TEXT_MAX else flat[:_ERROR_TEXT_MAX] + "…"


def openai_error(label: str) -> ErrorReader:
    """The reader for `{"error": {"type", "message"}}` bodies (OpenAI and compatible servers)."""

    def read(status: int, payload: Any, text: str) -> str:
        err = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(err, dict) and err.get("message"):
            code = err.get("code")
            kind = err.get("type") or err.get("status") or (code if isinstance(code, str) else None)
            tag = f"[{kind}] " if kind else ""
            return f"{label}Error: {tag}{err['message']}"
        if isinstance(err, str) and err:
            return f"{label}Error: {err}"
        if isinstance(payload, dict) and isinstance(payload.get("message"), str):
            return f"{label}Error: {payload['message']}"  # Mistral's and some proxies' shape
        return f"{label}Error: {short(text) or 'no message'}"

    return read


class ProviderHTTP:
    """POSTs to one provider; `secrets` are scrubbed from every message it raises."""

    def __init__(
        self,
        label: str,
        secrets: tuple[str, ...],
        read_error: ErrorReader,
        *,
        timeout: float = 180.0,
        retries: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.label = label
        self._secrets = secrets
        self._read_error = read_error
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self._sleep = sleep

    def error(self, message: str) -> ProviderError:
        """A ProviderError with the secrets scrubbed."""
        return ProviderError(redact(message, self._secrets))

    def _client(self) -> httpx.AsyncClient:
        # follow_redirects stays off: a redirect would carry the key to another host.
        return httpx.AsyncClient(timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 15)))

    def _transport_error(self, exc: httpx.HTTPError, url: str) -> ProviderError:
        where = httpx.URL(url).copy_with(query=None)
        if isinstance(exc, httpx.TimeoutException):
            return self.error(f"{self.label} did not answer within {self.timeout:g} s ({where})")
        if isinstance(exc, httpx.ConnectError):
            return self.error(f"cannot reach {self.label} at {where}: {exc or 'connection failed'}")
        return self.error(f"the connection to {self.label} failed ({where}): {exc!r}")

    async def _status_error(self, response: httpx.Response, attempt: int) -> ProviderError:
        raw = await response.aread()
        text = raw[:65536].decode("utf-8", "replace")
        try:
            payload: Any = json.loads(text)
        except ValueError:
            payload = None
        message = self._read_error(response.status_code, payload, text)
        after = f", after {attempt} retries" if attempt else ""
        return self.error(f"{message} (HTTP {response.status_code}{after})")

    def _delay(self, attempt: int, response: httpx.Response) -> float | None:
        if attempt >= self.retries or response.status_code not in RETRY_STATUSES:
            return None
        asked = response.headers.get("retry-after")
        if asked is not None:
            try:
                wait = float(asked)
            except ValueError:
                wait = -1.0
            if 0 <= wait <= MAX_RETRY_WAIT:
                return wait
        return float(self.backoff * (2**attempt))

    @asynccontextmanager
    async def _open(
        self, url: str, body: dict[str, Any], headers: dict[str, str]
    ) -> AsyncIterator[httpx.Response]:
        """A 2xx streaming response, after the retries; raises ProviderError otherwise."""
        attempt = 0
        async with self._client() as client:
            while True:
                try:
                    request = client.build_request("POST", url, json=body, headers=headers)
                    response = await client.send(request, stream=True)
                except httpx.HTTPError as exc:
                    raise self._transport_error(exc, url) from None
                try:
                    if response.status_code < 400:
                        yield response
                        return
                    delay = self._delay(attempt, response)
                    if delay is None:
                        raise await self._status_error(response, attempt)
                finally:
                    await response.aclose()
                await self._sleep(delay)
                attempt += 1

    async def post_json(
        self, url: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[Any, httpx.Headers]:
        """POST `body`; the decoded JSON answer and the response headers."""
        try:
            async with self._open(url, body, headers) as response:
                raw = await response.aread()
                resp_headers = response.headers
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, url) from None
        try:
            return json.loads(raw), resp_headers
        except ValueError:
            raise self.error(
                f"{self.label} answered with malformed JSON: "
                f"{short(raw[:2000].decode('utf-8', 'replace'))}"
            ) from None

    @asynccontextmanager
    async def stream(
        self, url: str, body: dict[str, Any], headers: dict[str, str]
    ) -> AsyncIterator[tuple[httpx.Headers, AsyncIterator[str]]]:
        """POST `body` and read the answer as Server-Sent Events: (headers, event data texts).

        A connection dropped mid-stream raises ProviderError ("cut"); callers decide whether
        an answer that ended without its last event is complete.
        """
        try:
            async with self._open(url, body, headers) as response:
                yield response.headers, self._events(response, url)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, url) from None

    async def _events(self, response: httpx.Response, url: str) -> AsyncIterator[str]:
        try:
            async for data in iter_sse_data(response.aiter_lines()):
                yield data
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise self.error(
                f"the stream from {self.label} was cut before its end ({type(exc).__name__})"
            ) from None
        except httpx.TimeoutException:
            raise self.error(
                f"the stream from {self.label} was silent for more than {self.timeout:g} s"
            ) from None

    def loads(self, data: str) -> Any:
        """One event's JSON; ProviderError naming the provider when it is malformed."""
        try:
            return json.loads(data)
        except ValueError:
            raise self.error(
                f"{self.label} sent a malformed event in its stream: {short(data)}"
            ) from None

    def cut(self) -> ProviderError:
        """The error for a stream that ended without its last event."""
        return self.error(f"the stream from {self.label} ended before the answer was complete")
