"""Noticing edits in the apps folders, and saying what changed once the apps are listed again.

Pure functions (no Textual): :func:`folder_signature` is I/O the App runs in a thread every
second (a few ``stat`` calls); :func:`describe_changes` compares two listings;
:func:`load_versions` / :func:`save_versions` keep the versions seen of each app across sessions
(``<data dir>/versions.json``, read and written in a thread).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dusttui.specs import engine_extension, saved_specification_hash
from dusttui.tui import safe

if TYPE_CHECKING:
    from dusttui.api.models import App

__all__ = [
    "APP_FILE_SUFFIXES",
    "describe_changes",
    "folder_signature",
    "load_versions",
    "save_versions",
]

# The files of an app (PROTOCOL: NAME.dust and its companions).
APP_FILE_SUFFIXES = (".dust", ".config.json", ".inputs.jsonl", ".description.txt")


def folder_signature(folders: Iterable[str | Path]) -> tuple[Any, ...]:
    """What the app files of these folders look like now: (folder, name, mtime, size) of each.

    A folder that does not exist (yet) counts as empty: creating it later is noticed."""
    entries: list[tuple[str, str, int, int]] = []
    for folder in folders:
        try:
            with os.scandir(folder) as found:
                for entry in found:
                    if not entry.name.endswith(APP_FILE_SUFFIXES):
                        continue
                    try:
                        stat = entry.stat()
                    except OSError:
                        continue
                    entries.append((str(folder), entry.name, stat.st_mtime_ns, stat.st_size))
        except OSError:
            continue
    return tuple(sorted(entries))


def _hash(app: App) -> str | None:
    return saved_specification_hash(app)


def _problem(app: App) -> str | None:
    problem = engine_extension(app).get("specificationError")
    return problem if isinstance(problem, str) and problem else None


def describe_changes(before: Sequence[App], after: Sequence[App]) -> list[str]:
    """A sentence for each app added, removed, changed to a new version or now broken."""
    old = {app.sId: app for app in before}
    new = {app.sId: app for app in after}
    said: list[str] = []
    for sid, app in new.items():
        name = safe.line(app.name)  # a file name: control characters shown, never run
        if sid not in old:
            said.append(f"New app: {name}.")
            continue
        was = old[sid]
        problem = _problem(app)
        if problem is not None:
            if problem != _problem(was):
                said.append(
                    f"{name}: the file does not parse ({safe.line(problem.split(': ', 1)[-1])}). "
                    "The Spec tab shows where; launches wait until it is fixed (or pick an "
                    "earlier version with h)."
                )
            continue
        now, then = _hash(app), _hash(was)
        if now != then and now is not None:
            fixed = " (it parses again)" if _problem(was) else ""
            said.append(f"{name} changed{fixed}: now hash {now[:8]}; the next launch runs it.")
        elif app.description != was.description or app.savedConfig != was.savedConfig:
            said.append(f"{name}: its description or saved config changed.")
    for sid, app in old.items():
        if sid not in new:
            said.append(f"{safe.line(app.name)} is gone from the apps folder.")
    return said


MAX_VERSIONS = 20  # per app: the newest versions seen are offered, older ones forgotten
Seen = dict[str, dict[str, float]]  # app sId → version hash → when first seen (epoch seconds)


def load_versions(path: Path, backend: str) -> Seen:
    """The versions seen of each app of a backend (a missing or broken file is none)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    apps = data.get("apps") if isinstance(data, dict) else None
    section = apps.get(backend) if isinstance(apps, dict) else None
    seen: Seen = {}
    for sid, versions in section.items() if isinstance(section, dict) else ():
        if isinstance(versions, dict):
            seen[sid] = {
                h: float(t)
                for h, t in versions.items()
                if len(h) == 64 and isinstance(t, int | float) and not isinstance(t, bool)
            }
    return seen


def save_versions(path: Path, backend: str, seen: Seen) -> None:
    """Write a backend's versions (the newest :data:`MAX_VERSIONS` of each app), keeping the
    other backends'; the file is replaced whole."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict) or not isinstance(data.get("apps"), dict):
        data = {"version": 1, "apps": {}}
    data["apps"][backend] = {
        sid: dict(sorted(versions.items(), key=lambda item: item[1])[-MAX_VERSIONS:])
        for sid, versions in seen.items()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".versions-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
