"""The engine's API key: where it comes from, where it is kept, and checking a request's header.

The key is ``DUSTTUI_SERVER_KEY`` when set, else one generated on first start and kept (mode 0600)
in the data dir. The key's value never appears in a repr, a log line or an error message.
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

KEY_ENV = "DUSTTUI_SERVER_KEY"
KEY_FILE_NAME = "server_key"

# RFC 6750 token characters, the same pattern as the hosted service's parser.
_BEARER = re.compile(r"^Bearer\s+([A-Za-z0-9\-._~+/]+=*)$", re.IGNORECASE)


class ServerKeyError(RuntimeError):
    """The key cannot be used or read (bad env value, unreadable key file, unsafe bind)."""


@dataclass(frozen=True)
class ServerKey:
    """The engine's key and where it came from: "env", "file" (generated earlier) or "explicit"."""

    value: str = field(repr=False)
    source: Literal["env", "file", "explicit"]
    path: Path | None = None

    @property
    def is_explicit(self) -> bool:
        """True when the operator chose the key (env or argument), not the engine."""
        return self.source != "file"


def key_file(data_dir: Path) -> Path:
    """Where a generated key is kept."""
    return Path(data_dir) / KEY_FILE_NAME


def _check_key(value: str, origin: str) -> str:
    value = value.strip()
    if not value or not re.fullmatch(r"[A-Za-z0-9\-._~+/]+=*", value):
        raise ServerKeyError(
            f"The server key from {origin} is empty or has characters a Bearer token cannot "
            "carry; use letters, digits and - . _ ~ + / only."
        )
    return value


def resolve_server_key(data_dir: Path, explicit: str | None = None) -> ServerKey:
    """The key to serve with: `explicit`, else ``DUSTTUI_SERVER_KEY``, else the kept/new file key."""
    if explicit is not None:
        return ServerKey(_check_key(explicit, "the api_key argument"), "explicit")
    env = os.environ.get(KEY_ENV)
    if env is not None and env.strip():
        return ServerKey(_check_key(env, KEY_ENV), "env")
    return ServerKey(file_key(data_dir), "file", key_file(data_dir))


def file_key(data_dir: Path) -> str:
    """The key kept in the data dir, created (0600) on first use; safe when processes race."""
    path = key_file(data_dir)
    try:
        if not path.exists():
            _create_key_file(path)
        return _check_key(path.read_text(), str(path))
    except OSError as exc:
        raise ServerKeyError(f"Cannot read or create the server key file {path}: {exc}") from exc


def _create_key_file(path: Path) -> None:
    # Written whole under a private name, then linked into place: a process that loses the race
    # reads the winner's complete file, never an empty one (link fails if the name exists).
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write("sk-" + secrets.token_hex(24) + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(draft)


def is_loopback(host: str) -> bool:
    """True for hosts only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


MIN_OPEN_KEY_LENGTH = 32
MIN_OPEN_KEY_DISTINCT = 10
KEY_HINT = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"


def check_bind(host: str, key: ServerKey) -> None:
    """Refuse to listen beyond this machine with a key the operator never chose, or a weak one."""
    if is_loopback(host):
        return
    if not key.is_explicit:
        raise ServerKeyError(
            f"Refusing to listen on {host} without an explicit key: other machines could reach "
            f"this engine. Set {KEY_ENV} to a secret of your choice (at least "
            f"{MIN_OPEN_KEY_LENGTH} random characters, e.g. from `{KEY_HINT}`), or bind 127.0.0.1."
        )
    value = key.value
    if len(value) < MIN_OPEN_KEY_LENGTH or len(set(value)) < MIN_OPEN_KEY_DISTINCT:
        raise ServerKeyError(
            f"Refusing to listen on {host} with a weak key ({len(value)} characters): other "
            f"machines could reach this engine, so its key needs at least {MIN_OPEN_KEY_LENGTH} "
            f"characters and {MIN_OPEN_KEY_DISTINCT} different ones. Generate one with "
            f"`{KEY_HINT}` and set {KEY_ENV}, or bind 127.0.0.1."
        )


def authorization_error(header: str | None, key: ServerKey) -> tuple[str, str] | None:
    """None when the Authorization header carries the key, else (error type, message)."""
    if not header:
        return (
            "not_authenticated",
            "The request does not have valid authentication credentials: "
            "send `Authorization: Bearer <api key>`.",
        )
    match = _BEARER.match(header.strip())
    if match is None:
        return (
            "malformed_authorization_header_error",
            "Malformed Authorization header: expected `Bearer <api key>`.",
        )
    if not hmac.compare_digest(match.group(1).encode(), key.value.encode()):
        return ("invalid_api_key_error", "The API key provided is invalid or disabled.")
    return None
