"""The engine's HTTP API (Starlette): the public Dust runs endpoints, exactly as PROTOCOL.md says.

Routes, under each of the four prefixes ``/api/v1/w/{wId}/spaces/{spaceId}``,
``/api/v1/w/{wId}/vaults/{spaceId}``, ``/api/v1/w/{wId}`` and ``/api/v1/apps/{user}`` (apps
listing only under the first three)::

    GET  .../apps                      {"apps": [App]}
    POST .../apps/{aId}/runs           create a run (non-blocking, blocking or streamed)
    GET  .../apps/{aId}/runs           runs listing extension: {"runs": [...], "total": N}
    GET  .../apps/{aId}/runs/{runId}   {"run": Run}

Single-tenant: any workspace and space id is answered.

Beyond the hosted API (clients ignore unknown keys): each App carries a `dusttui` object
(current specificationHash, specificationError, sampleInputs, problems, source, path), and a run
the engine itself had to end (a stop, a crash, an internal failure) carries `error` (a message).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from dusttui.engine.appstore import AppLookupError, AppStore, LoadedApp, SpecLookupError
from dusttui.engine.auth import ServerKey, authorization_error
from dusttui.engine.hub import FINAL_EVENT, LiveRun, RunHub, dumps
from dusttui.engine.runner import RunRequestError, validate_run_request
from dusttui.engine.store import now_ms

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 4 * 1024 * 1024  # the hosted API's bodyParser sizeLimit "4mb"
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
# Every route takes every method, so a wrong one gets our 405 envelope, not a bare 405.
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@dataclass
class ServerOptions:
    """Tunables of the HTTP layer."""

    keepalive_interval: float = 15.0
    max_body_bytes: int = MAX_BODY_BYTES
    space_name: str = "Local apps"


class APIError(Exception):
    """Answered as the error envelope ``{"error": {"type", "message", ...}}``."""

    def __init__(self, status: int, type_: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.extra = extra

    def response(self) -> Response:
        return json_response(
            {"error": {"type": self.type, "message": self.message, **self.extra}}, self.status
        )


def json_response(body: Any, status: int = 200) -> Response:
    """A JSON answer with compact, literal JSON."""
    return Response(dumps(body), status_code=status, media_type="application/json")


def run_error(code: str, message: str, *, retrieving: bool = False) -> APIError:
    """The 400 run_error envelope the hosted API uses for engine refusals."""
    outer = (
        "There was an error retrieving the run."
        if retrieving
        else "There was an error running the app."
    )
    return APIError(400, "run_error", outer, run_error={"code": code, "message": message})


def method_not_allowed(expected: str) -> APIError:
    return APIError(
        405,
        "method_not_supported_error",
        f"The method passed is not supported, {expected} is expected.",
    )


def _truthy(value: Any) -> bool:
    # JavaScript truthiness, as the hosted handler tests `req.body.stream` and `blocking`.
    if isinstance(value, (list, dict)):
        return True
    return bool(value)


class EngineAPI:
    """The request handlers, bound to one hub, one app store and one key."""

    def __init__(self, hub: RunHub, apps: AppStore, key: ServerKey, options: ServerOptions):
        self.hub = hub
        self.apps = apps
        self.key = key
        self.options = options
        self.started = now_ms()

    # -------------------------------------------------------------- helpers

    def _authenticate(self, request: Request) -> None:
        problem = authorization_error(request.headers.get("authorization"), self.key)
        if problem is not None:
            raise APIError(401, problem[0], problem[1])

    def _app(self, request: Request, *, running: bool) -> LoadedApp:
        name = request.path_params["aId"]
        try:
            return self.apps.get(name)
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

    async def _body(self, request: Request) -> Any:
        limit = self.options.max_body_bytes
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
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
        raw = b"".join(chunks)
        try:
            return orjson.loads(raw) if raw.strip() else None
        except orjson.JSONDecodeError as exc:
            raise APIError(
                400, "invalid_request_error", f"The request body is not valid JSON: {exc}"
            ) from None

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
        app = self._app(request, running=request.method == "POST")
        if request.method == "POST":
            return await self._create_run(request, app)
        if request.method == "GET":
            return await self._list_runs(request, app)
        raise method_not_allowed("POST")

    async def get_run(self, request: Request) -> Response:
        self._authenticate(request)
        app = self._app(request, running=False)
        if request.method != "GET":
            raise method_not_allowed("GET")
        run_id = request.path_params["runId"]
        live = self.hub.live(run_id)
        if live is not None and live.app == app.name:
            return json_response({"run": live.wire()})
        stored = await asyncio.to_thread(self.hub.store.get_run, app.name, run_id)
        if stored is None:
            raise run_error("run_not_found", f"No run found for id `{run_id}`", retrieving=True)
        return Response(b'{"run":' + stored.run_json + b"}", media_type="application/json")

    async def _list_runs(self, request: Request, app: LoadedApp) -> Response:
        query = request.query_params
        numbers = {}
        for name, default in (("limit", 10), ("offset", 0)):
            text = query.get(name)
            if text is None:
                numbers[name] = default
            elif text.isdigit():
                numbers[name] = int(text)
            else:
                raise APIError(
                    400,
                    "invalid_request_error",
                    f"`{name}` must be a non-negative integer (got {text!r}).",
                )
        run_type = query.get("runType") or None
        rows, total = await asyncio.to_thread(
            self.hub.store.list_runs,
            app.name,
            limit=numbers["limit"],
            offset=numbers["offset"],
            run_type=run_type,
        )
        live = self.hub.live_runs(app.name)
        parts = []
        for row in rows:
            run = live.get(row.run_id)
            parts.append(dumps(run.listing_wire()) if run is not None else row.listing_json)
        body = b'{"runs":[' + b",".join(parts) + b'],"total":' + str(total).encode() + b"}"
        return Response(body, media_type="application/json")

    async def _create_run(self, request: Request, app: LoadedApp) -> Response:
        body = await self._body(request)
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("specification_hash"), str)
            or not isinstance(body.get("config"), dict)
            or not isinstance(body.get("inputs"), list)
        ):
            raise APIError(400, "invalid_request_error", INVALID_BODY_MESSAGE)
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

        live, queue = await self.hub.start(
            app=app.name, spec=spec, config=config, inputs=inputs, subscribe=stream
        )
        if stream:
            assert queue is not None
            return StreamingResponse(
                self._stream(live, queue),
                headers=SSE_HEADERS,
            )
        if blocking:
            await live.done.wait()
            return json_response({"run": live.wire(block_filter, blocking=True)})
        # Non-blocking: the run as it is now, before any block ran (as the hosted API answers).
        run = live.wire()
        run["status"]["blocks"] = []
        run["traces"] = []
        run["results"] = None
        return json_response({"run": run})

    def _prerun_stream(self, code: str, message: str) -> StreamingResponse:
        async def events() -> AsyncIterator[bytes]:
            yield (
                b"data: "
                + dumps({"type": "error", "content": {"code": code, "message": message}})
                + b"\n\n"
            )
            yield b"data: " + dumps(FINAL_EVENT) + b"\n\n"

        return StreamingResponse(events(), headers=SSE_HEADERS)

    async def _stream(
        self, live: LiveRun, queue: asyncio.Queue[dict[str, Any] | None]
    ) -> AsyncIterator[bytes]:
        interval = self.options.keepalive_interval
        try:
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), interval)
                except TimeoutError:
                    yield KEEPALIVE
                    continue
                if event is None:
                    return
                yield b"data: " + dumps(event) + b"\n\n"
        finally:
            # The client may be gone: only its queue goes, the run carries on.
            live.unsubscribe(queue)


def _routes(api: EngineAPI) -> list[Route]:
    prefixes = [
        ("/api/v1/w/{wId}/spaces/{spaceId}", True),
        ("/api/v1/w/{wId}/vaults/{spaceId}", True),
        ("/api/v1/w/{wId}", True),
        ("/api/v1/apps/{user}", False),
    ]
    routes = []
    for prefix, has_listing in prefixes:
        if has_listing:
            routes.append(Route(f"{prefix}/apps", api.list_apps, methods=ALL_METHODS))
        routes.append(Route(f"{prefix}/apps/{{aId}}/runs", api.runs, methods=ALL_METHODS))
        routes.append(
            Route(f"{prefix}/apps/{{aId}}/runs/{{runId}}", api.get_run, methods=ALL_METHODS)
        )
    return routes


async def _not_found(request: Request) -> Response:
    return APIError(
        404, "not_found", f"No endpoint {request.method} {request.url.path} on this engine."
    ).response()


def create_app(
    hub: RunHub, apps: AppStore, key: ServerKey, options: ServerOptions | None = None
) -> Starlette:
    """The ASGI app. Stopping it (lifespan shutdown) stops live runs, which are saved as errored."""
    api = EngineAPI(hub, apps, key, options or ServerOptions())
    routes = [*_routes(api), Route("/{path:path}", _not_found, methods=ALL_METHODS)]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await hub.shutdown()

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
    return app
