"""App names for shell completion (`dusttui run <TAB>`, `--app <TAB>`): fast, offline-safe.

The local engine's apps are its folders' ``NAME.dust`` files (the bundled demos and ``apps_dir``):
read from the disk, no engine started, nothing cached. A remote workspace's apps come from its
API, kept in a small cache (``<data dir>/cache/app-names.json``, names only, never a key) for
:data:`CACHE_SECONDS`; a refresh gets :data:`FETCH_SECONDS` at most, and when it fails (offline,
a bad key) the last names known are used. Nothing here ever raises into the shell.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

__all__ = ["CACHE_SECONDS", "FETCH_SECONDS", "complete_app_names", "local_app_names"]

CACHE_SECONDS = 300.0  # a workspace's listing is trusted this long before it is asked again
FETCH_SECONDS = 2.0  # the most a completion waits for the API


def complete_app_names(
    incomplete: str,
    *,
    profile: str | None = None,
    local: bool | None = None,
    base_url: str | None = None,
    workspace: str | None = None,
    space: str | None = None,
    apps_dir: Path | None = None,
) -> list[str]:
    """The app names starting with ``incomplete`` on the backend these options choose
    (``apps_dir``: the root's ``--apps``, over the setting)."""
    from dusttui.config import load_settings, resolve_backend

    settings = load_settings()
    backend = resolve_backend(
        settings,
        profile=profile,
        local=bool(local),
        base_url=base_url,
        workspace=workspace,
        space=space,
    )
    if backend.kind == "embedded":
        names = local_app_names(apps_dir or settings.apps_dir)
    else:
        names = _remote_names(backend, settings)
    return sorted(n for n in set(names) if n.startswith(incomplete) and _typeable(n))


def _typeable(name: str) -> bool:
    # A name with control characters or spaces would break the command line it lands on.
    return bool(name) and name.isprintable() and " " not in name


def local_app_names(apps_dir: Path | None) -> list[str]:
    """Names of the apps the local engine serves: the ``.dust`` files of its folders."""
    from dusttui.engine.appstore import BUNDLED_APPS_DIR

    names = []
    for folder in (apps_dir, BUNDLED_APPS_DIR):
        if folder is not None and Path(folder).is_dir():
            names += [p.name[: -len(".dust")] for p in Path(folder).glob("*.dust")]
    return names


def _cache_file() -> Path:
    from dusttui.config import data_dir

    return data_dir() / "cache" / "app-names.json"


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _remote_names(backend: Any, settings: Any) -> list[str]:
    key = f"{backend.base_url} {backend.workspace_id} {backend.space_id or ''}"
    path = _cache_file()
    cache = _read_cache(path)
    entry = cache.get(key)
    known: list[str] = []
    if isinstance(entry, dict) and isinstance(entry.get("names"), list):
        known = [n for n in entry["names"] if isinstance(n, str)]
        at = entry.get("at")
        if isinstance(at, int | float) and 0 <= time.time() - at < CACHE_SECONDS:
            return known
    try:
        names = _fetch(backend, settings)
    except Exception:  # offline, refused key, a server that is not Dust: the last names known
        return known
    cache[key] = {"at": time.time(), "names": names}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(cache), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        pass  # a read-only data dir: complete without a cache
    return names


def _fetch(backend: Any, settings: Any) -> list[str]:
    import asyncio

    from dusttui.session.backend import client_for

    async def listing() -> list[str]:
        client = client_for(backend)
        client.max_retries = 0
        try:
            async with asyncio.timeout(FETCH_SECONDS):
                return [app.name for app in await client.list_apps()]
        finally:
            await client.aclose()

    return asyncio.run(listing())
