"""Async client for the Dust runs API (PROTOCOL.md §1, §3) over one ``httpx.AsyncClient``.

Retries: GETs retry on connection failures, timeouts, 429, 502, 503 and 504 with bounded
exponential backoff that honours ``Retry-After``. A POST is retried only when it provably created
nothing: the connection was never made, or the server answered 429. A refused connection (nothing
listens there) is said at once, never retried, unless ``retry_refused`` (an engine starting).

Request log: a client given a :class:`~dusttui.api.requestlog.RequestLog` (``request_log``)
records every attempt there, key-free (``docs/run-session.md``, "Request log").

``stream_run`` is an async context manager that yields a :class:`dusttui.api.sse.EventStream`
(an async iterator of typed events)::

    async with client.stream_run(app, spec_hash, config, inputs) as events:
        async for event in events:
            ...
"""

from __future__ import annotations

import asyncio
import random
import shlex
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal
from urllib.parse import quote

import httpx
import orjson
from pydantic import ValidationError

from dusttui import __version__
from dusttui.api.errors import (
    DustConnectionError,
    DustError,
    DustTimeoutError,
    RateLimitedError,
    StreamProtocolError,
    error_from_response,
)
from dusttui.api.memory import gc_paused
from dusttui.api.models import App, AppsEnvelope, Run, RunEnvelope
from dusttui.api.requestlog import RequestLog, RequestRecord
from dusttui.api.sse import EventStream

__all__ = [
    "DUST_EU",
    "DUST_US",
    "RUN_TAG_HEADER",
    "DustClient",
    "UrlStyle",
    "as_curl",
    "connection_refused",
]

DUST_US = "https://dust.tt"
DUST_EU = "https://eu.dust.tt"
RUN_TAG_HEADER = "X-Dusttui-Run-Tag"  # the local engine's run tag (blocking mode finds its run)

UrlStyle = Literal["spaces", "workspace", "user"]
URL_STYLES: tuple[str, ...] = ("spaces", "workspace", "user")

# Statuses worth retrying on an idempotent request; a POST only retries 429.
_RETRY_STATUSES = frozenset({429, 502, 503, 504})
# Never wait longer than this for one retry, even if Retry-After asks for more.
_MAX_RETRY_WAIT = 30.0
_RECORD = "dusttui.request_record"  # a streamed response's request log record (its extensions)


# Above this size, decoding a run pauses the garbage collector: a big run is hundreds of
# thousands of fresh objects without cycles, and full collections in the middle cost seconds.
_GC_PAUSE_BYTES = 1 << 20


def _seg(value: str) -> str:
    """One URL path segment, so an id can never reach another path."""
    return quote(str(value), safe="")


class DustClient:
    """Talks to dust.tt, eu.dust.tt or a local engine. Use as ``async with DustClient(...)``."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        workspace_id: str,
        space_id: str | None = None,
        *,
        url_style: UrlStyle = "spaces",
        user: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        backoff_max: float = 8.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        request_log: RequestLog | None = None,
        retry_refused: bool = False,
    ) -> None:
        if url_style not in URL_STYLES:
            raise ValueError(
                f"Unknown URL style {url_style!r}: use one of {', '.join(URL_STYLES)}."
            )
        if url_style == "spaces" and not space_id:
            raise ValueError(
                "A space id is needed for this workspace (set DUST_SPACE_ID or --space)."
            )
        if url_style == "user" and not user:
            raise ValueError("The /apps/{user}/... URL style needs a user name.")
        if url_style != "user" and not workspace_id:
            raise ValueError("A workspace id is needed (set DUST_WORKSPACE_ID or --workspace).")
        self.base_url = base_url.rstrip("/")
        self.workspace_id = workspace_id
        self.space_id = space_id
        self.url_style: UrlStyle = url_style
        self.user = user
        self.timeout = timeout
        self.max_retries = max(0, max_retries)
        self._backoff = backoff
        self._backoff_max = backoff_max
        self._sleep = sleep
        self._api_key = api_key or None
        # What is scrubbed from messages and the request log: the key, unless it is so short
        # (a placeholder like "x") that scrubbing it would garble every message.
        self._secret = self._api_key if self._api_key and len(self._api_key) >= 4 else None
        self.request_log = request_log
        """Where every HTTP attempt is recorded (None: nowhere); may be set at any time."""
        self.retry_refused = retry_refused
        headers = {"User-Agent": f"dusttui/{__version__}", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            transport=transport,
            timeout=httpx.Timeout(timeout),
        )

    def __repr__(self) -> str:
        return (
            f"DustClient(base_url={self.base_url!r}, workspace_id={self.workspace_id!r}, "
            f"space_id={self.space_id!r}, url_style={self.url_style!r}, "
            f"api_key={'***' if self._api_key else None})"
        )

    async def __aenter__(self) -> DustClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    @property
    def is_closed(self) -> bool:
        """True once closed (e.g. the local engine it spoke to was replaced)."""
        return self._http.is_closed

    # ------------------------------------------------------------------ paths

    def apps_path(self) -> str:
        """Path of the apps listing for this URL style."""
        w = _seg(self.workspace_id)
        if self.url_style == "spaces":
            return f"/api/v1/w/{w}/spaces/{_seg(self.space_id or '')}/apps"
        if self.url_style == "workspace":
            return f"/api/v1/w/{w}/apps"
        raise DustError(
            "Listing apps needs a workspace: the /apps/{user}/ URL style cannot list apps."
        )

    def runs_path(self, app_id: str) -> str:
        """Path of an app's runs collection for this URL style."""
        if self.url_style == "user":
            return f"/api/v1/apps/{_seg(self.user or '')}/{_seg(app_id)}/runs"
        return f"{self.apps_path()}/{_seg(app_id)}/runs"

    def run_path(self, app_id: str, run_id: str) -> str:
        """Path of one run."""
        return f"{self.runs_path(app_id)}/{_seg(run_id)}"

    # ------------------------------------------------------------------ requests

    def _redact(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text

    @staticmethod
    def _run_body(
        specification_hash: str,
        config: dict[str, Any],
        inputs: list[Any],
        *,
        stream: bool = False,
        blocking: bool = False,
        block_filter: list[str] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "specification_hash": specification_hash,
            "config": config,
            "inputs": inputs,
        }
        if stream:
            body["stream"] = True
        elif blocking:
            body["blocking"] = True
            if block_filter is not None:
                body["block_filter"] = list(block_filter)
        return body

    def build_create_run_request(
        self,
        app_id: str,
        specification_hash: str,
        config: dict[str, Any],
        inputs: list[Any],
        *,
        stream: bool = False,
        blocking: bool = False,
        block_filter: list[str] | None = None,
        tag: str | None = None,
    ) -> httpx.Request:
        """The POST that creates a run, without sending it (for ``as_curl``).

        ``tag``: the local engine's run tag (``X-Dusttui-Run-Tag``), to find the run by it."""
        body = self._run_body(
            specification_hash,
            config,
            inputs,
            stream=stream,
            blocking=blocking,
            block_filter=block_filter,
        )
        headers = {"Content-Type": "application/json"}
        if tag is not None:
            headers[RUN_TAG_HEADER] = tag
        return self._http.build_request(
            "POST", self.runs_path(app_id), content=orjson.dumps(body), headers=headers
        )

    def build_get_run_request(self, app_id: str, run_id: str) -> httpx.Request:
        """The GET of one run, without sending it (for ``as_curl``)."""
        return self._http.build_request("GET", self.run_path(app_id, run_id))

    def _transport_error(self, exc: httpx.HTTPError, request: httpx.Request) -> DustError:
        where = f"{request.url.scheme}://{request.url.netloc.decode()}"
        reason = self._redact(str(exc)) or type(exc).__name__
        if isinstance(exc, httpx.TimeoutException):
            return DustTimeoutError(f"{where} did not answer in time ({reason}).")
        if isinstance(exc, httpx.ConnectError):
            if connection_refused(exc):
                return DustConnectionError(
                    f"Could not connect to {where}: connection refused (nothing listens there)."
                )
            return DustConnectionError(f"Could not connect to {where}: {reason}.")
        return DustConnectionError(f"The connection to {where} failed: {reason}.")

    async def _error_for(self, response: httpx.Response) -> DustError:
        await response.aread()
        try:
            body: Any = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            body = response.content.decode("utf-8", "replace")
        target = f"{response.request.method} {response.request.url.path}"
        return error_from_response(
            response.status_code,
            body,
            headers=dict(response.headers),
            target=target,
            redact=self._secret,
        )

    def _delay(
        self, attempt: int, error: DustError | None, retries: int | None = None
    ) -> float | None:
        """Seconds before retry number ``attempt`` (0-based); None: do not retry."""
        if attempt >= (self.max_retries if retries is None else retries):
            return None
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            wait: float = error.retry_after
            return wait if wait <= _MAX_RETRY_WAIT else None
        base: float = min(self._backoff_max, self._backoff * 2.0**attempt)
        return base * (0.5 + random.random() / 2)  # jitter, so many clients do not align

    async def _send(
        self,
        request: httpx.Request,
        *,
        idempotent: bool,
        stream: bool = False,
        retries: int | None = None,
    ) -> httpx.Response:
        """Send with retries (``retries``: this many at most, else the client's); returns a 2xx
        response (streaming if asked) or raises DustError."""
        attempt = 0
        while True:
            error: DustError
            record = self._log_start(request, attempt, stream)
            try:
                response = await self._http.send(request, stream=stream)
            except httpx.HTTPError as exc:
                error = self._transport_error(exc, request)
                self._log_finish(record, error=error.user_message)
                # A POST may have reached the server unless the connection never opened.
                never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if not (idempotent or never_sent):
                    raise error from exc
                if connection_refused(exc) and not self.retry_refused:
                    raise error from exc  # nothing listens: waiting will not change it
            else:
                if response.is_success:
                    if stream and record is not None:
                        self._log_answered(record, response)
                        response.extensions[_RECORD] = record
                    else:
                        self._log_finish(record, response=response)
                    return response
                error = await self._error_for(response)
                self._log_finish(record, response=response)
                await response.aclose()
                retryable = response.status_code in _RETRY_STATUSES
                if not retryable or (not idempotent and response.status_code != 429):
                    raise error
            delay = self._delay(attempt, error, retries)
            if delay is None:
                raise error
            await self._sleep(delay)
            attempt += 1

    # ------------------------------------------------------------------ request log

    def _log_start(self, request: httpx.Request, retry: int, stream: bool) -> RequestRecord | None:
        log = self.request_log
        if log is None:
            return None
        return log.start(request, retry=retry, stream=stream, secret=self._secret)

    def _log_answered(self, record: RequestRecord, response: httpx.Response) -> None:
        if self.request_log is not None:
            self.request_log.answered(record, response, self._secret)

    def _log_finish(
        self,
        record: RequestRecord | None,
        *,
        response: httpx.Response | None = None,
        error: str | None = None,
    ) -> None:
        if record is not None and self.request_log is not None:
            self.request_log.finish(record, response=response, error=error, secret=self._secret)

    def _log_stream_end(self, response: httpx.Response, error: str | None = None) -> None:
        record = response.extensions.get(_RECORD)
        if isinstance(record, RequestRecord):
            self._log_finish(record, response=response, error=error)

    async def _json(self, request: httpx.Request, *, idempotent: bool) -> Any:
        response = await self._send(request, idempotent=idempotent)
        return self._loads(response)

    @staticmethod
    def _not_json(response: httpx.Response) -> StreamProtocolError:
        return StreamProtocolError(
            f"The server answered {response.request.method} {response.request.url.path} "
            "with something that is not JSON: is the base URL right?",
            status=response.status_code,
        )

    @classmethod
    def _loads(cls, response: httpx.Response) -> Any:
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise cls._not_json(response) from None

    async def _run_request(self, request: httpx.Request, *, idempotent: bool) -> Run:
        response = await self._send(request, idempotent=idempotent)
        with gc_paused(len(response.content) >= _GC_PAUSE_BYTES):
            return self._run_from(self._loads(response))

    @staticmethod
    def _shape_error(what: str, exc: ValidationError) -> StreamProtocolError:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return StreamProtocolError(
            f"The server's {what} does not have the expected shape ({where}: {first.get('msg')})."
        )

    def _run_from(self, payload: Any) -> Run:
        try:
            return RunEnvelope.model_validate(payload).run
        except ValidationError as exc:
            raise self._shape_error("run", exc) from None

    # ------------------------------------------------------------------ API

    async def list_apps(self) -> list[App]:
        """The apps of the space (``GET .../apps``)."""
        request = self._http.build_request("GET", self.apps_path())
        payload = await self._json(request, idempotent=True)
        try:
            return AppsEnvelope.model_validate(payload).apps
        except ValidationError as exc:
            raise self._shape_error("apps list", exc) from None

    async def create_run(
        self,
        app_id: str,
        specification_hash: str,
        config: dict[str, Any],
        inputs: list[Any],
        *,
        blocking: bool = False,
        block_filter: list[str] | None = None,
        read_timeout: float | None = None,
        tag: str | None = None,
    ) -> Run:
        """Create a run: non-blocking (returns at once, status running) or blocking (full run).

        A blocking run waits without a read limit unless ``read_timeout`` is given.
        """
        request = self.build_create_run_request(
            app_id,
            specification_hash,
            config,
            inputs,
            blocking=blocking,
            block_filter=block_filter,
            tag=tag,
        )
        if blocking:
            request.extensions["timeout"] = httpx.Timeout(self.timeout, read=read_timeout).as_dict()
        return await self._run_request(request, idempotent=False)

    @asynccontextmanager
    async def stream_run(
        self,
        app_id: str,
        specification_hash: str,
        config: dict[str, Any],
        inputs: list[Any],
        *,
        idle_timeout: float | None = 60.0,
        tag: str | None = None,
    ) -> AsyncIterator[EventStream]:
        """Create a streamed run; yields the :class:`EventStream` of its events.

        ``idle_timeout``: seconds without any byte (keep-alives count) before the stream raises
        :class:`DustTimeoutError`.
        """
        request = self.build_create_run_request(
            app_id, specification_hash, config, inputs, stream=True, tag=tag
        )
        request.headers["Accept"] = "text/event-stream"
        # No read limit at the transport: the idle limit below also works on any transport.
        request.extensions["timeout"] = httpx.Timeout(self.timeout, read=None).as_dict()
        response = await self._send(request, idempotent=False, stream=True)
        try:
            ctype = response.headers.get("content-type", "")
            if "text/event-stream" not in ctype:
                await response.aread()
                raise StreamProtocolError(
                    f"Expected an event stream but the server sent {ctype or 'no content type'}.",
                    status=response.status_code,
                )
            yield EventStream(self._guarded_bytes(response, idle_timeout))
        finally:
            await response.aclose()
            self._log_stream_end(response)

    async def _guarded_bytes(
        self, response: httpx.Response, idle_timeout: float | None
    ) -> AsyncIterator[bytes]:
        """The body's chunks; transport failures and silence past the idle limit become ours."""
        chunks = response.aiter_bytes().__aiter__()
        record = response.extensions.get(_RECORD)
        log = self.request_log if isinstance(record, RequestRecord) else None
        try:
            while True:
                try:
                    async with asyncio.timeout(idle_timeout):
                        chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    return
                if log is not None:
                    log.received(record, chunk, self._secret)  # type: ignore[arg-type]
                yield chunk
        except TimeoutError:
            error = DustTimeoutError(f"The stream was silent for more than {idle_timeout:g} s.")
            self._log_stream_end(response, error.user_message)
            raise error from None
        except httpx.HTTPError as exc:
            lost = self._transport_error(exc, response.request)
            self._log_stream_end(response, lost.user_message)
            raise lost from exc

    async def get_run(self, app_id: str, run_id: str) -> Run:
        """One run with all its traces and results (``GET .../runs/{run_id}``)."""
        request = self.build_get_run_request(app_id, run_id)
        return await self._run_request(request, idempotent=True)

    async def get_run_raw(self, app_id: str, run_id: str, *, retries: int | None = None) -> bytes:
        """The GET answer of one run as its JSON text, unparsed (retries as :meth:`get_run`,
        or ``retries`` times at most: a caller that retries by itself gives 0).

        For :meth:`dusttui.api.state.RunState.apply_run_json`, which never builds models for
        the executions: big runs stay near the size of their JSON in memory.
        """
        request = self.build_get_run_request(app_id, run_id)
        response = await self._send(request, idempotent=True, retries=retries)
        body = response.content
        if body[:64].lstrip()[:1] != b"{":  # an HTML page, a proxy's text: say so as get_run does
            raise self._not_json(response)
        return body

    async def list_runs(
        self, app_id: str, *, limit: int = 10, offset: int = 0
    ) -> tuple[list[Run], int]:
        """Runs of an app, newest first, and their total (the local engine's extension)."""
        request = self._http.build_request(
            "GET", self.runs_path(app_id), params={"limit": limit, "offset": offset}
        )
        payload = await self._json(request, idempotent=True)
        try:
            runs = [Run.model_validate(r) for r in payload["runs"]]
            total = int(payload.get("total", len(runs)))
        except (ValidationError, KeyError, TypeError, ValueError):
            raise StreamProtocolError(
                "This server does not list runs (only the local engine does)."
            ) from None
        return runs, total

    # ------------------------------------------------------------------ local engine only

    async def get_run_status_raw(
        self, app_id: str, run_id: str, *, retries: int | None = None
    ) -> bytes:
        """The local engine's status form of a run (live counts, no traces) as JSON text."""
        path = f"{self.run_path(app_id, run_id)}/status"
        request = self._http.build_request("GET", path)
        response = await self._send(request, idempotent=True, retries=retries)
        return response.content

    async def cancel_run_raw(self, app_id: str, run_id: str) -> bytes:
        """Ask the local engine to stop a run; its status form once ended, as JSON text."""
        path = f"{self.run_path(app_id, run_id)}/cancel"
        request = self._http.build_request("POST", path)
        # Answered once the run has ended and been saved: no read limit of our own.
        request.extensions["timeout"] = httpx.Timeout(self.timeout, read=None).as_dict()
        response = await self._send(request, idempotent=True)  # cancelling twice is harmless
        return response.content

    async def run_ids_with_tag(self, app_id: str, tag: str) -> list[str]:
        """Ids of the runs the local engine created with this run tag (newest first)."""
        request = self._http.build_request("GET", self.runs_path(app_id), params={"tag": tag})
        payload = await self._json(request, idempotent=True)
        runs = payload.get("runs") if type(payload) is dict else None
        if type(runs) is not list:
            raise StreamProtocolError("This server does not list runs by tag.")
        return [r["run_id"] for r in runs if type(r) is dict and type(r.get("run_id")) is str]

    async def engine_info(self, *, retries: int | None = None) -> dict[str, Any]:
        """The local engine's own description (``GET /dusttui/v1/engine``); a light request.
        ``retries``: at most this many (default: the client's)."""
        request = self._http.build_request("GET", "/dusttui/v1/engine")
        payload = self._loads(await self._send(request, idempotent=True, retries=retries))
        engine = payload.get("engine") if type(payload) is dict else None
        if type(engine) is not dict:
            raise StreamProtocolError("This server is not a dusttui engine.")
        return engine

    def as_curl(self, request: httpx.Request) -> str:
        """``request`` as a curl command line, with the key replaced by ``$DUST_API_KEY``."""
        return as_curl(request)


def connection_refused(exc: BaseException) -> bool:
    """True when a connect failed because nothing listens there (not a timeout, not DNS)."""
    seen: BaseException | None = exc
    for _ in range(8):  # httpx → httpcore → OSError → ConnectionRefusedError
        if seen is None:
            return False
        if isinstance(seen, ConnectionRefusedError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def as_curl(request: httpx.Request) -> str:
    """A curl command reproducing ``request``; the bearer key becomes ``$DUST_API_KEY``."""
    parts = ["curl", "-sS"]
    body = request.content if request.content else b""
    if body and b'"stream":true' in body:
        parts.append("-N")
    if request.method != "GET":
        parts += ["-X", request.method]
    parts.append(shlex.quote(str(request.url)))
    if "authorization" in request.headers:
        parts.append('-H "Authorization: Bearer $DUST_API_KEY"')
    if body:
        ctype = request.headers.get("content-type", "application/json")
        parts += ["-H", shlex.quote(f"Content-Type: {ctype}")]
    if body:
        parts += ["--data-binary", shlex.quote(body.decode("utf-8", "replace"))]
    return " ".join(parts)
