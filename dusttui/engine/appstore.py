"""Apps served by the engine: one ``NAME.dust`` per app in the apps folder and the bundled demos.

Beside ``NAME.dust``: optional ``NAME.config.json`` (the saved config), ``NAME.inputs.jsonl``
(sample inputs) and ``NAME.description.txt``. Files are re-read when they change, so "latest" is
always the file as it is now; every specification ever loaded stays runnable by its hash (the store
keeps the texts).
"""

from __future__ import annotations

import hashlib
import json
import logging
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dusttui.engine.appfolder import BUNDLED_APPS_DIR, app_files, app_folders
from dusttui.engine.logtext import shown
from dusttui.engine.spec import Spec, SpecError, builder_blocks, parse_spec, read_spec_file
from dusttui.engine.store import Store

log = logging.getLogger(__name__)

__all__ = ["BUNDLED_APPS_DIR", "AppLookupError", "AppStore", "LoadedApp", "read_app"]
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class AppLookupError(LookupError):
    """No app by that name or sId."""


class SpecLookupError(LookupError):
    """A run cannot get its specification; `code` is the core error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def app_sid(name: str) -> str:
    """A stable 10-character sId for an app name (same name, same sId, on every machine)."""
    number = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big")
    chars = []
    for _ in range(10):
        number, digit = divmod(number, 62)
        chars.append(_BASE62[digit])
    return "".join(chars)


@dataclass
class LoadedApp:
    """An app as its files are now. `spec` is None when the .dust file does not parse."""

    name: str
    sid: str
    id: int
    path: Path
    source: str  # "apps_dir" or "bundled"
    text: str
    spec: Spec | None
    spec_error: str | None
    saved_config: dict[str, Any] | None
    sample_inputs: list[Any] | None
    description: str | None
    problems: list[str] = field(default_factory=list)
    signature: tuple[Any, ...] = ()

    def to_wire(self, space: dict[str, Any]) -> dict[str, Any]:
        """The App object of PROTOCOL §2, plus a `dusttui` extension the hosted API lacks."""
        saved_spec = None
        if self.spec is not None:
            saved_spec = json.dumps(builder_blocks(self.spec, self.saved_config or {}))
        return {
            "id": self.id,
            "sId": self.sid,
            "name": self.name,
            "description": self.description,
            "savedSpecification": saved_spec,
            "savedConfig": None if self.saved_config is None else json.dumps(self.saved_config),
            "savedRun": None,
            "dustAPIProjectId": str(self.id),
            "space": space,
            "dusttui": {
                "specificationHash": None if self.spec is None else self.spec.hash,
                "specificationError": self.spec_error,
                "sampleInputs": self.sample_inputs,
                "problems": self.problems,
                "source": self.source,
                "path": str(self.path),
            },
        }


def _signature(dust: Path) -> tuple[Any, ...]:
    parts: list[Any] = []
    for path in (dust, *_companions(dust).values()):
        try:
            stat = path.stat()
            parts.append((stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_size))
        except OSError:
            parts.append(None)
    return tuple(parts)


def _companions(dust: Path) -> dict[str, Path]:
    stem = dust.name[: -len(".dust")]
    return {
        "config": dust.with_name(f"{stem}.config.json"),
        "inputs": dust.with_name(f"{stem}.inputs.jsonl"),
        "description": dust.with_name(f"{stem}.description.txt"),
    }


MAX_APP_FILE_BYTES = 16 * 1024 * 1024


def _unreadable(path: Path) -> str | None:
    """Why an app file must not be read (a FIFO or a device would block or never end; a huge
    file would fill memory), or None for a regular file of a sane size."""
    try:
        info = path.stat()
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if not stat.S_ISREG(info.st_mode):
        return "is not a regular file: not read"
    if info.st_size > MAX_APP_FILE_BYTES:
        return f"is larger than {MAX_APP_FILE_BYTES // (1024 * 1024)} MB: not read"
    return None


def _read_config(path: Path, problems: list[str]) -> dict[str, Any] | None:
    if not path.exists():
        return None
    if (why := _unreadable(path)) is not None:
        problems.append(f"{path.name} {why}")
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        problems.append(f"{path.name}: not valid JSON ({exc})")
        return None
    if not isinstance(value, dict):
        problems.append(f"{path.name}: must hold a JSON object of block configs")
        return None
    return value


def _read_inputs(path: Path, problems: list[str]) -> list[Any] | None:
    if not path.exists():
        return None
    if (why := _unreadable(path)) is not None:
        problems.append(f"{path.name} {why}")
        return None
    inputs: list[Any] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        problems.append(f"{path.name}: cannot be read ({exc})")
        return None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            inputs.append(json.loads(line))
        except ValueError as exc:
            problems.append(f"{path.name} line {number}: not valid JSON ({exc})")
            return None
    return inputs


def read_app(name: str, dust: Path, source: str, signature: tuple[Any, ...] = ()) -> LoadedApp:
    """An app as its files are now (``id`` 0: the store numbers it); OSError or
    UnicodeDecodeError when the ``.dust`` cannot be read. Store-free and silent, so the front
    ends list the local apps with it before the engine answers. A ``.dust`` that is not a
    regular file of a sane size is not opened (OSError with why)."""
    if (why := _unreadable(dust)) is not None:
        raise OSError(f"{dust.name} {why}")
    text = read_spec_file(dust)
    problems: list[str] = []
    spec: Spec | None = None
    spec_error: str | None = None
    try:
        spec = parse_spec(text)
    except SpecError as exc:
        spec_error = f"{dust.name}: {exc}"
    files = _companions(dust)
    description = None
    if files["description"].exists():
        if (why := _unreadable(files["description"])) is not None:
            problems.append(f"{files['description'].name} {why}")
        else:
            try:
                text_of = files["description"].read_text(encoding="utf-8")
                description = text_of.strip() or None
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(f"{files['description'].name}: cannot be read ({exc})")
    return LoadedApp(
        name=name,
        sid=app_sid(name),
        id=0,
        path=dust,
        source=source,
        text=text,
        spec=spec,
        spec_error=spec_error,
        saved_config=_read_config(files["config"], problems),
        sample_inputs=_read_inputs(files["inputs"], problems),
        description=description,
        problems=problems,
        signature=signature,
    )


class AppStore:
    """The apps the engine answers for; the user's apps folder wins over a bundled app's name."""

    def __init__(self, store: Store, apps_dir: Path | None = None, *, bundled: bool = True):
        self._store = store
        self._dirs = app_folders(apps_dir, bundled=bundled)
        self._apps: dict[str, LoadedApp] = {}
        self._specs: dict[tuple[str, str], Spec] = {}
        self._lock = threading.Lock()

    @property
    def dirs(self) -> list[Path]:
        """The folders apps are loaded from, strongest first."""
        return [path for path, _ in self._dirs]

    def refresh(self) -> list[LoadedApp]:
        """Re-read changed app files; the apps, sorted by name."""
        with self._lock:
            apps: dict[str, LoadedApp] = {}
            for name, (dust, source) in app_files(self._dirs).items():
                current = self._apps.get(name)
                signature = _signature(dust)
                if current is not None and current.path == dust and current.signature == signature:
                    apps[name] = current
                    continue
                loaded = self._load(name, dust, source, signature)
                if loaded is not None:
                    apps[name] = loaded
            self._apps = apps
            return sorted(apps.values(), key=lambda app: app.name)

    def _load(
        self, name: str, dust: Path, source: str, signature: tuple[Any, ...]
    ) -> LoadedApp | None:
        if (why := _unreadable(dust)) is not None:
            log.warning("App file %s %s", shown(dust), why)
            return None
        try:
            loaded = read_app(name, dust, source, signature)
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("Cannot read app %s: %s", shown(dust), shown(exc))
            return None
        if loaded.spec_error is not None:
            why = loaded.spec_error.removeprefix(f"{dust.name}: ")  # the parser's own words
            log.warning("App %s does not parse: %s", shown(name), shown(why))
        if loaded.spec is not None:
            self._store.save_spec(name, loaded.spec.hash, loaded.text)
            self._specs[(name, loaded.spec.hash)] = loaded.spec
        loaded.id = self._store.app_id(name)
        return loaded

    def get(self, name_or_sid: str) -> LoadedApp:
        """The app by name (as in its file name) or by sId; AppLookupError when there is none."""
        apps = {app.name: app for app in self.refresh()}
        if name_or_sid in apps:
            return apps[name_or_sid]
        for app in apps.values():
            if app.sid == name_or_sid:
                return app
        raise AppLookupError(name_or_sid)

    def spec_for(self, app: LoadedApp, spec_hash: str) -> Spec:
        """The specification of `app` for a hash or "latest"; SpecLookupError like core's."""
        if spec_hash == "latest":
            if app.spec is None:
                raise SpecLookupError(
                    "invalid_specification_error",
                    f"Invalid specification: {app.spec_error}",
                )
            return app.spec
        with self._lock:
            cached = self._specs.get((app.name, spec_hash))
        if cached is not None:
            return cached
        text = self._store.load_spec(app.name, spec_hash)
        if text is None:
            raise SpecLookupError(
                "specification_not_found", f"No specification found for hash `{spec_hash}`"
            )
        try:
            spec = parse_spec(text)
        except SpecError as exc:  # a parser change made an old text invalid
            raise SpecLookupError(
                "invalid_specification_error", f"Invalid specification: {exc}"
            ) from exc
        with self._lock:
            self._specs[(app.name, spec_hash)] = spec
        return spec
