"""One exception hierarchy for everything that can go wrong talking to a Dust runs API.

Every error carries ``status`` (HTTP status or None), ``error_type`` (the envelope's
``error.type`` or None) and ``user_message``: one sentence a user understands. No error ever
contains the API key: the client redacts it before building messages.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthError",
    "DustConnectionError",
    "DustError",
    "DustTimeoutError",
    "InvalidRequestError",
    "NotFoundError",
    "RateLimitedError",
    "RunError",
    "ServerError",
    "StreamProtocolError",
    "error_from_response",
    "parse_retry_after",
]


class DustError(Exception):
    """Base of every dusttui API error."""

    def __init__(
        self,
        user_message: str,
        *,
        status: int | None = None,
        error_type: str | None = None,
        server_message: str | None = None,
    ) -> None:
        super().__init__(user_message)
        self.user_message = user_message
        self.status = status
        self.error_type = error_type
        self.server_message = server_message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, error_type={self.error_type!r}, user_message={self.user_message!r})"


class AuthError(DustError):
    """401 (missing, malformed or invalid key) or a 403 that is not ``app_not_found``."""


class NotFoundError(DustError):
    """404 workspace/space/app not found, or 403 ``app_not_found`` (exists, no access)."""


class InvalidRequestError(DustError):
    """400 ``invalid_request_error``, 405, 413 and other client errors."""


class RunError(DustError):
    """The engine refused the run (400 ``run_error``) or a stream ``error`` event (pre-run)."""

    def __init__(self, user_message: str, *, code: str, **kwargs: Any) -> None:
        super().__init__(user_message, **kwargs)
        self.code = code


class RateLimitedError(DustError):
    """429: too many runs; ``retry_after`` is the server's ``Retry-After`` in seconds, if any."""

    def __init__(self, user_message: str, *, retry_after: float | None = None, **kwargs: Any):
        super().__init__(user_message, **kwargs)
        self.retry_after = retry_after


class ServerError(DustError):
    """5xx: the service failed."""


class DustConnectionError(DustError):
    """Could not connect, or the connection dropped mid-answer."""


class DustTimeoutError(DustError):
    """The service did not answer in time."""


class StreamProtocolError(DustError):
    """The server answered something that is not a Dust run stream (wrong content type, junk)."""


# What the user can do about a refused key; shown after every auth failure.
_AUTH_HINT = "Check DUST_API_KEY (or your profile's key) and the workspace id."

_RUN_CODE_MESSAGES = {
    "specification_not_found": "No app version has this specification hash",
    "invalid_specification_error": "The app's specification is invalid",
    "invalid_inputs_error": "The inputs are invalid",
    "dataset_not_found": "The dataset the app reads was not found",
    "dataset_empty_error": "The dataset the app reads is empty",
    "run_not_found": "No run has this id",
    "internal_server_error": "The engine failed",
}


def run_error_message(code: str, message: str) -> str:
    """A sentence for a core run error code and its message."""
    lead = _RUN_CODE_MESSAGES.get(code, "The run was refused")
    message = (message or "").strip()
    return f"{lead} ({code}): {message}" if message else f"{lead} ({code})."


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date); None if absent/bad."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime
        from time import time

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - time()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def _not_found_message(error_type: str | None, status: int, target: str) -> str:
    if error_type == "workspace_not_found":
        return "The workspace was not found: check the workspace id and the base URL (US or EU)."
    if error_type == "space_not_found":
        return "The space was not found in this workspace: check the space id."
    if error_type == "app_not_found" and status == 403:
        return "The app exists but this API key has no access to it."
    if error_type == "app_not_found":
        return "The app was not found in this space: check the app id."
    return f"Not found: {target}."


def error_from_response(
    status: int,
    body: Any,
    *,
    headers: dict[str, str] | None = None,
    target: str = "",
    redact: str | None = None,
) -> DustError:
    """Map an HTTP error answer (status + decoded body, maybe not an envelope) to our hierarchy.

    ``target`` names what was asked (e.g. "GET /api/v1/..."), ``redact`` is a secret to scrub.
    """
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    error_type: str | None = None
    server_message: str | None = None
    run_error: dict[str, Any] | None = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        error_type = err.get("type") if isinstance(err.get("type"), str) else None
        msg = err.get("message")
        server_message = msg if isinstance(msg, str) else None
        if isinstance(err.get("run_error"), dict):
            run_error = err["run_error"]
    elif isinstance(body, str) and body.strip():
        server_message = body.strip()[:200]

    if redact and server_message:
        server_message = server_message.replace(redact, "***")
    detail = f" Server said: {server_message}" if server_message else ""
    kw: dict[str, Any] = {
        "status": status,
        "error_type": error_type,
        "server_message": server_message,
    }

    if status == 401:
        return AuthError(
            f"The API key was refused ({error_type or 'unauthorized'}). {_AUTH_HINT}", **kw
        )
    if status == 403:
        if error_type == "app_not_found":
            return NotFoundError(_not_found_message(error_type, status, target), **kw)
        return AuthError(
            f"This API key is not allowed to do that ({error_type or 'forbidden'}).{detail}", **kw
        )
    if status == 404:
        return NotFoundError(_not_found_message(error_type, status, target), **kw)
    if status == 429:
        retry_after = parse_retry_after(headers.get("retry-after"))
        wait = f" Retry in {retry_after:.0f} s." if retry_after is not None else ""
        return RateLimitedError(
            f"Rate limited: too many runs for this app (10,000 per 24 h).{wait}",
            retry_after=retry_after,
            **kw,
        )
    if status == 400 and (error_type == "run_error" or run_error is not None):
        code = str((run_error or {}).get("code") or "run_error")
        rmsg = str((run_error or {}).get("message") or server_message or "")
        if redact:
            rmsg = rmsg.replace(redact, "***")
        return RunError(run_error_message(code, rmsg), code=code, **kw)
    if status == 405:
        return InvalidRequestError(
            f"The server does not support this method here ({target}).{detail}", **kw
        )
    if status == 413:
        return InvalidRequestError(
            "The request is too large: the body (config + inputs) must stay under 4 MB.", **kw
        )
    if 400 <= status < 500:
        return InvalidRequestError(f"The request was refused ({status}).{detail}", **kw)
    if status >= 500:
        return ServerError(f"The server failed ({status}); try again later.{detail}", **kw)
    return DustError(f"Unexpected answer {status} from the server.{detail}", **kw)
