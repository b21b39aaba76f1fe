"""The engine's HTTP API (Starlette): the public Dust runs endpoints, exactly as PROTOCOL.md says.

Routes, under each of the four prefixes ``/api/v1/w/{wId}/spaces/{spaceId}``,
``/api/v1/w/{wId}/vaults/{spaceId}``, ``/api/v1/w/{wId}`` and ``/api/v1/apps/{user}`` (apps
listing only under the first three)::

    GET  .../apps                             {"apps": [App]}
    POST .../apps/{aId}/runs                  create a run (non-blocking, blocking or streamed)
    GET  .../apps/{aId}/runs                  runs listing extension: {"runs": [...], "total": N}
    GET  .../apps/{aId}/runs/{runId}          {"run": Run}
    GET  .../apps/{aId}/runs/{runId}/status   extension: the run without traces, live counts
    POST .../apps/{aId}/runs/{runId}/cancel   extension: stop a running run
    GET  /dusttui/v1/engine                   extension: who this engine is, how busy
    POST /dusttui/v1/engine/stop              extension: a graceful stop

Single-tenant: any workspace and space id is answered. docs/engine.md describes the extensions
(the `dusttui` objects of Apps and runs, run tags, the end reasons).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route, request_response
from starlette.types import ASGIApp, Receive, Scope, Send

from dusttui.engine.appstore import AppLookupError, AppStore, LoadedApp, SpecLookupError
from dusttui.engine.auth import ServerKey, authorization_error
from dusttui.engine.envelope import (
    BODY_TIMEOUT,
    MAX_BODY_BYTES,
    APIError,
    invalid_request,
    json_response,
    method_not_allowed,
    read_json_body,
    run_error,
    run_not_found,
)
from dusttui.engine.hub import CANCELLED_MESSAGE, FINAL_EVENT, Frame, LiveRun, RunHub
from dusttui.engine.life import ActivityMiddleware, EngineLife
from dusttui.engine.runner import RunRequestError, validate_run_request
from dusttui.engine.store import now_ms
from dusttui.engine.wirejson import dumps

log = logging.getLogger(__name__)

INVALID_BODY_MESSAGE = (
    "Invalid request body, `specification_hash` (string), `config` (object), "
    "and `inputs` (array) are required."
)
# As the hosted API writes them (no charset on the content type).
SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "Connection": "keep-alive",
    "X-Accel-Buffering": "no",
}
KEEPALIVE = b": keep-alive\n\n"
TAG_HEADER = "x-dusttui-run-tag"
TAG_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_LISTING_NUMBER = 2**62  # limit/offset beyond this are refused (SQLite integers are 64-bit)


@dataclass
class ServerOptions:
    """Tunables of the HTTP layer."""

    keepalive_interval: float = 15.0
    max_body_bytes: int = MAX_BODY_BYTES
    body_timeout: float = BODY_TIMEOUT  # seconds for a body to arrive once its headers have
    space_name: str = "Local apps"


def _truthy(value: Any) -> bool:
    # JavaScript truthiness, as the hosted handler tests `req.body.stream` and `blocking`.
    if isinstance(value, (list, dict)):
        return True
    return bool(value)


def _status_form(run: dict[str, Any]) -> dict[str, Any]:
    """A run as the status and cancel extensions answer: no traces, no results."""
    run["traces"] = []
    run["results"] = None
    return run


class EngineAPI:
    """The request handlers, bound to one hub, one app store, one key and the engine's life."""

    def __init__(
        self,
        hub: RunHub,
        apps: AppStore,
        key: ServerKey,
        options: ServerOptions,
        life: EngineLife,
    ) -> None:
        self.hub = hub
        self.apps = apps
        self.key = key
        self.options = options
        self.life = life
        self.started = now_ms()

    # -------------------------------------------------------------- helpers

    def _authenticate(self, request: Request) -> None:
        problem = authorization_error(request.headers.get("authorization"), self.key)
        if problem is not None:
            raise APIError(401, problem[0], problem[1])

    async def _app(self, request: Request, *, running: bool) -> LoadedApp:
        name = request.path_params["aId"]
        try:
            # Looking an app up re-reads changed files: a thread, never the event loop.
            return await asyncio.to_thread(self.apps.get, name)
        except AppLookupError:
            verb = "run" if running else "access"
            raise APIError(
                404, "app_not_found", f"The app you're trying to {verb} was not found"
            ) from None

    def _space(self, request: Request) -> dict[str, Any]:
        return {
            "sId": request.path_params.get("spaceId", "local"),
            "name": self.options.space_name,
            "kind": "global",
            "isRestricted": False,
            "groupIds": [],
            "createdAt": self.started,
            "updatedAt": self.started,
        }

    async def _run_of(self, request: Request, app: LoadedApp) -> tuple[LiveRun | None, Any]:
        """(the live run, None) when it runs here, else (None, its stored row); unknown: 400."""
        run_id = request.path_params["runId"]
        live = self.hub.live(run_id)
        if live is not None and live.app == app.name:
            return live, None
        stored = await asyncio.to_thread(self.hub.store.get_run, app.name, run_id)
        if stored is None:
            raise run_not_found(run_id)
        return None, stored

    # -------------------------------------------------------------- endpoints

    async def list_apps(self, request: Request) -> Response:
        self._authenticate(request)
        if request.method != "GET":
            raise method_not_allowed("GET")
        space = self._space(request)
        apps = await asyncio.to_thread(self.apps.refresh)
        return json_response({"apps": [app.to_wire(space) for app in apps]})

    async def runs(self, request: Request) -> Response:
        self._authenticate(request)
        if request.method not in ("GET", "POST"):
            raise method_not_allowed("POST")
        app = await self._app(request, running=request.method == "POST")
        if request.method == "POST":
            return await self._create_run(request, app)
        return await self._list_runs(request, app)

    async def get_run(self, request: Request) -> Response:
        self._authenticate(request)
        if request.method != "GET":
            raise method_not_allowed("GET")
        app = await self._app(request, running=False)
        live, stored = await self._run_of(request, app)
        if live is not None:
            return json_response({"run": live.wire()})
        return Response(b'{"run":' + stored.run_json + b"}", media_type="application/json")

    async def run_status(self, request: Request) -> Response:
        """A.2: the run with live counts, never its traces (cheap at any run size)."""
        self._authenticate(request)
        if request.method != "GET":
            raise method_not_allowed("GET")
        app = await self._app(request, running=False)
        live, stored = await self._run_of(request, app)
        if live is not None:
            return json_response({"run": live.listing_wire()})
        return Response(b'{"run":' + stored.listing_json + b"}", media_type="application/json")

    async def cancel_run(self, request: Request) -> Response:
        """A.3: stop a running run; answers once it has ended and been saved."""
        self._authenticate(request)
        if request.method != "POST":
            raise method_not_allowed("POST")
        app = await self._app(request, running=False)
        live, stored = await self._run_of(request, app)
        if live is not None:
            await self.hub.end_run(live, "cancelled", CANCELLED_MESSAGE)
            return json_response({"run": live.listing_wire()})
        return Response(b'{"run":' + stored.listing_json + b"}", media_type="application/json")

    async def engine_info(self, request: Request) -> Response:
        """A.5: who this engine is and how busy."""
        self._authenticate(request)
        if request.method != "GET":
            raise method_not_allowed("GET")
        return json_response({"engine": self.life.info()})

    async def engine_stop(self, request: Request) -> Response:
        """A.5: answer, then stop gracefully (running runs interrupted)."""
        self._authenticate(request)
        if request.method != "POST":
            raise method_not_allowed("POST")
        life = self.life

        async def stop() -> None:
            life.run_in_background(lambda: life.stop("dusttui engine stop"))

        return json_response({"stopping": True}, 202, background=BackgroundTask(stop))

    async def _list_runs(self, request: Request, app: LoadedApp) -> Response:
        query = request.query_params
        numbers = {}
        for name, default in (("limit", 10), ("offset", 0)):
            text = query.get(name)
            if text is None:
                numbers[name] = default
            elif not (text.isascii() and text.isdigit()):  # "²".isdigit() is true
                raise invalid_request(
                    f"`{name}` must be a non-negative integer (got {text[:40]!r})."
                )
            elif len(text) > 19 or int(text) > MAX_LISTING_NUMBER:
                raise invalid_request(f"`{name}` must be at most 2^62 (got {text[:40]})")
            else:
                numbers[name] = int(text)
        run_type = query.get("runType") or None
        tag = query.get("tag")
        if tag is not None and not TAG_PATTERN.fullmatch(tag):
            raise invalid_request(_bad_tag("The `tag` parameter"))
        rows, total = await asyncio.to_thread(
            self.hub.store.list_runs,
            app.name,
            limit=numbers["limit"],
            offset=numbers["offset"],
            run_type=run_type,
            tag=tag,
        )
        live = self.hub.live_runs(app.name)
        parts = []
        for row in rows:
            run = live.get(row.run_id)
            parts.append(dumps(run.listing_wire()) if run is not None else row.listing_json)
        body = b'{"runs":[' + b",".join(parts) + b'],"total":' + str(total).encode() + b"}"
        return Response(body, media_type="application/json")

    async def _create_run(self, request: Request, app: LoadedApp) -> Response:
        tag = request.headers.get(TAG_HEADER)
        if tag is not None and not TAG_PATTERN.fullmatch(tag):
            raise invalid_request(_bad_tag("The X-Dusttui-Run-Tag header"))
        body = await read_json_body(
            request, limit=self.options.max_body_bytes, seconds=self.options.body_timeout
        )
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("specification_hash"), str)
            or not isinstance(body.get("config"), dict)
            or not isinstance(body.get("inputs"), list)
        ):
            raise invalid_request(INVALID_BODY_MESSAGE)
        config: dict[str, Any] = body["config"]
        for block_config in config.values():
            # As the hosted handler does: an input block's config never carries its dataset.
            if isinstance(block_config, dict) and block_config.get("type") == "input":
                block_config.pop("dataset", None)
        inputs: list[Any] = body["inputs"]
        stream = _truthy(body.get("stream"))
        blocking = not stream and _truthy(body.get("blocking"))
        raw_filter = body.get("block_filter")
        # Names only: the hosted handler compares block names with `includes`.
        block_filter = (
            [name for name in raw_filter if isinstance(name, str)]
            if isinstance(raw_filter, list)
            else None
        )

        try:
            spec = await asyncio.to_thread(self.apps.spec_for, app, body["specification_hash"])
            validate_run_request(spec, config, inputs)
        except (SpecLookupError, RunRequestError) as exc:
            if stream:
                return self._prerun_stream(exc.code, exc.message)
            raise run_error(exc.code, exc.message) from None

        if self.life.stopping:
            raise APIError(
                503, "service_unavailable", "The engine is stopping: start the run again."
            )
        live, queue = await self.hub.start(
            app=app.name, spec=spec, config=config, inputs=inputs, subscribe=stream, tag=tag
        )
        if stream:
            assert queue is not None
            return StreamingResponse(self._stream(live, queue), headers=SSE_HEADERS)
        if blocking:
            await live.done.wait()
            return json_response({"run": live.wire(block_filter, blocking=True)})
        # Non-blocking: the run as it is now, before any block ran (as the hosted API answers).
        run = live.wire()
        run["status"]["blocks"] = []
        run["traces"] = []
        run["results"] = None
        run["dusttui"]["blocks"] = []
        return json_response({"run": run})

    def _prerun_stream(self, code: str, message: str) -> StreamingResponse:
        async def events() -> AsyncIterator[bytes]:
            error = {"type": "error", "content": {"code": code, "message": message}}
            yield b"data: " + dumps(error) + b"\n\n"
            yield b"data: " + dumps(FINAL_EVENT) + b"\n\n"

        return StreamingResponse(events(), headers=SSE_HEADERS)

    async def _stream(
        self, live: LiveRun, queue: asyncio.Queue[Frame | None]
    ) -> AsyncIterator[bytes]:
        interval = self.options.keepalive_interval
        try:
            while True:
                try:
                    frame = await asyncio.wait_for(queue.get(), interval)
                except TimeoutError:
                    yield KEEPALIVE
                    continue
                if frame is None:
                    return
                yield b"data: " + frame + b"\n\n"
        finally:
            # The client may be gone: only its queue goes, the run carries on.
            live.unsubscribe(queue)


def _bad_tag(what: str) -> str:
    return f"{what} must be 1 to 64 characters among letters, digits, `-` and `_`."


Handler = Callable[[Request], Awaitable[Response]]


class _AnyMethod:
    """A route endpoint taking every method (TRACE, PROPFIND, FOO...): the handler answers a
    wrong one with the 405 envelope. (Starlette gives function endpoints GET only by default.)"""

    def __init__(self, handler: Handler) -> None:
        self.app = request_response(handler)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def _route(path: str, handler: Handler) -> Route:
    return Route(path, _AnyMethod(handler))


def _routes(api: EngineAPI) -> list[Route]:
    prefixes = [
        ("/api/v1/w/{wId}/spaces/{spaceId}", True),
        ("/api/v1/w/{wId}/vaults/{spaceId}", True),
        ("/api/v1/w/{wId}", True),
        ("/api/v1/apps/{user}", False),
    ]
    routes: list[Route] = []
    for prefix, has_listing in prefixes:
        if has_listing:
            routes.append(_route(f"{prefix}/apps", api.list_apps))
        runs = f"{prefix}/apps/{{aId}}/runs"
        routes.append(_route(runs, api.runs))
        routes.append(_route(f"{runs}/{{runId}}", api.get_run))
        routes.append(_route(f"{runs}/{{runId}}/status", api.run_status))
        routes.append(_route(f"{runs}/{{runId}}/cancel", api.cancel_run))
    routes.append(_route("/dusttui/v1/engine", api.engine_info))
    routes.append(_route("/dusttui/v1/engine/stop", api.engine_stop))
    return routes


async def _not_found(request: Request) -> Response:
    path = request.url.path.encode("unicode_escape").decode("ascii")  # no raw control characters
    shown = path if len(path) <= 200 else path[:200] + "…"
    return APIError(
        404, "not_found", f"No endpoint {request.method} {shown} on this engine."
    ).response()


def create_app(
    hub: RunHub,
    apps: AppStore,
    key: ServerKey,
    options: ServerOptions | None = None,
    life: EngineLife | None = None,
) -> ASGIApp:
    """The ASGI app. Stopping it (lifespan shutdown) interrupts live runs, saved as errored."""
    life = life or EngineLife(hub)
    api = EngineAPI(hub, apps, key, options or ServerOptions(), life)
    routes = _routes(api)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        life.start_idle_watch()
        yield
        await life.stop(None)

    async def api_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, APIError)
        return exc.response()

    async def internal_error(_request: Request, exc: Exception) -> Response:
        # Starlette re-raises after answering, so the server logs the traceback once.
        return APIError(
            500,
            "internal_server_error",
            f"The engine failed unexpectedly: {type(exc).__name__}: {exc}",
        ).response()

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={APIError: api_error, Exception: internal_error},
    )
    app.state.api = api
    # Every path no route matches (even one with a newline, which `{path:path}` would not
    # match) gets the 404 envelope, never Starlette's plain-text "Not Found".
    app.router.default = _AnyMethod(_not_found)
    return ActivityMiddleware(app, life)
