"""The engine's SQLite store (WAL): apps' stable ids, every spec text by hash, runs, the LLM cache.

All methods are synchronous and thread-safe (one connection behind a lock); the server calls them
through ``asyncio.to_thread`` so the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from dusttui.engine.wirejson import EncodeError, dumps

try:
    import fcntl
except ImportError:  # pragma: no cover (Windows: no concurrent-open protection)
    fcntl = None  # type: ignore[assignment]

SCHEMA_VERSION = 2  # 2: runs.tag (X-Dusttui-Run-Tag)

INTERRUPTED_MESSAGE = (
    "Run interrupted: the engine stopped (crashed or was killed) while this run was running; "
    "it was marked errored when the engine started again."
)
STOPPED_MESSAGE = "Run interrupted: the engine was stopped while this run was running."

# Store instances alive in this process: a running run owned by one of them is not an orphan.
_LIVE_OWNERS: set[str] = set()

_SCHEMA = """
CREATE TABLE IF NOT EXISTS apps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS specs (
    app TEXT NOT NULL,
    hash TEXT NOT NULL,
    text TEXT NOT NULL,
    created INTEGER NOT NULL,
    PRIMARY KEY (app, hash)
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    app TEXT NOT NULL,
    run_type TEXT NOT NULL,
    status TEXT NOT NULL,
    created INTEGER NOT NULL,
    specification_hash TEXT NOT NULL,
    owner TEXT NOT NULL,
    run_json BLOB NOT NULL,
    listing_json BLOB NOT NULL,
    tag TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_app ON runs (app, created DESC);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status);
CREATE TABLE IF NOT EXISTS llm_cache (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    created INTEGER NOT NULL
);
"""


class StoreError(RuntimeError):
    """The database cannot be opened or has an unexpected shape; the message says which file."""


@dataclass(frozen=True)
class StoredRun:
    """One row of the runs table, with its wire JSON still encoded."""

    run_id: str
    app: str
    status: str
    run_json: bytes
    listing_json: bytes


def now_ms() -> int:
    """Unix epoch milliseconds, as the protocol writes `created`."""
    return time.time_ns() // 1_000_000


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def mark_interrupted(run: dict[str, Any], message: str) -> dict[str, Any]:
    """The wire run of a run that will never finish: errored, with `error` saying why."""
    status = run.setdefault("status", {})
    status["run"] = "errored"
    for block in status.get("blocks") or []:
        if block.get("status") == "running":
            block["status"] = "errored"
    run["results"] = None
    run["error"] = message
    extension = run.get("dusttui")
    if isinstance(extension, dict):
        extension["end_reason"] = "interrupted"
    return run


def _keep_live_counts(run: dict[str, Any], listing: dict[str, Any]) -> None:
    """Give the saved run the newer counts of its listing (saved while a block ran).

    A run is saved whole only when a block starts or ends: after a crash the block that was
    running keeps the executions that finished (their count; their values are lost with the
    process)."""
    blocks = (run.get("status") or {}).get("blocks") or []
    live = (listing.get("status") or {}).get("blocks") or []
    if len(blocks) != len(live):
        return  # the listing is older than the run (a block started since): nothing newer
    for block, newer in zip(blocks, live, strict=True):
        same = (block.get("block_type"), block.get("name")) == (
            newer.get("block_type"),
            newer.get("name"),
        )
        if same and block.get("status") == "running" == newer.get("status"):
            for key in ("success_count", "error_count"):
                block[key] = max(block.get(key) or 0, newer.get(key) or 0)


def private_file(path: Path) -> None:
    """Create `path` readable by its owner only (0600) unless it exists; tighten an older file."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)  # created 0600: never readable by others
    try:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if mode & 0o077:  # a file an older dusttui created 0644
            os.fchmod(fd, mode & 0o700)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _setup_lock(path: Path) -> Iterator[None]:
    # Switching to WAL and creating the schema race between processes opening a new file
    # ("database is locked", without the busy handler): one process at a time does it.
    lock_path = path.with_name(path.name + ".open-lock")
    private_file(lock_path)
    fd = os.open(lock_path, os.O_RDWR)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


class Store:
    """The engine's database file. ``Store(path)`` creates it (and its folder) when missing.

    The file, its WAL and its lock file are created 0600. Several processes may open one file at
    the same instant (the setup is serialized by a file lock).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.owner = f"{os.getpid()}:{uuid.uuid4().hex}"
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        try:
            with _setup_lock(self.path):
                private_file(self.path)  # SQLite gives its -wal and -shm files the same mode
                self._db = sqlite3.connect(
                    self.path, check_same_thread=False, isolation_level=None, timeout=10
                )
                self.db.execute("PRAGMA busy_timeout=10000")
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                version = self.db.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.path} was written by a newer dusttui (schema {version}); "
                        "upgrade dusttui or use another --db file."
                    )
                self.db.executescript(_SCHEMA)
                if 0 < version < 2:  # a database of the first schema: runs had no tag
                    self.db.execute("ALTER TABLE runs ADD COLUMN tag TEXT")
                self.db.execute("CREATE INDEX IF NOT EXISTS runs_by_tag ON runs (app, tag)")
                self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except (sqlite3.DatabaseError, OSError, StoreError) as exc:
            if self._db is not None:
                with contextlib.suppress(Exception):
                    self._db.close()
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"Cannot open the engine database {self.path}: {exc}") from exc
        _LIVE_OWNERS.add(self.owner)

    @property
    def db(self) -> sqlite3.Connection:
        """The open connection (use under ``self._lock``)."""
        assert self._db is not None
        return self._db

    def close(self) -> None:
        """Close the connection; this store's running runs become orphans for the next start."""
        _LIVE_OWNERS.discard(self.owner)
        with self._lock:
            self.db.close()

    # ------------------------------------------------------------------ apps and specs

    def app_id(self, name: str) -> int:
        """The app's integer id: assigned the first time the name is seen, then never changes."""
        with self._lock:
            self.db.execute(
                "INSERT OR IGNORE INTO apps (name, created) VALUES (?, ?)", (name, now_ms())
            )
            row = self.db.execute("SELECT id FROM apps WHERE name = ?", (name,)).fetchone()
        return int(row[0])

    def save_spec(self, app: str, spec_hash: str, text: str) -> None:
        """Remember a specification text, so its hash stays runnable after the file changes."""
        with self._lock:
            self.db.execute(
                "INSERT OR IGNORE INTO specs (app, hash, text, created) VALUES (?, ?, ?, ?)",
                (app, spec_hash, text, now_ms()),
            )

    def load_spec(self, app: str, spec_hash: str) -> str | None:
        """The specification text of an app for a hash, or None when never seen."""
        with self._lock:
            row = self.db.execute(
                "SELECT text FROM specs WHERE app = ? AND hash = ?", (app, spec_hash)
            ).fetchone()
        return None if row is None else str(row[0])

    # ------------------------------------------------------------------ runs

    def insert_run(
        self,
        *,
        run_id: str,
        app: str,
        run_type: str,
        created: int,
        specification_hash: str,
        status: str,
        run_json: bytes,
        listing_json: bytes,
        tag: str | None = None,
    ) -> None:
        """Record a new run (owned by this store until it ends)."""
        with self._lock:
            self.db.execute(
                "INSERT INTO runs (run_id, app, run_type, status, created, specification_hash,"
                " owner, run_json, listing_json, tag) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    app,
                    run_type,
                    status,
                    created,
                    specification_hash,
                    self.owner,
                    run_json,
                    listing_json,
                    tag,
                ),
            )

    def update_run(self, run_id: str, status: str, run_json: bytes, listing_json: bytes) -> None:
        """Replace a run's status and JSON with a newer snapshot."""
        with self._lock:
            self.db.execute(
                "UPDATE runs SET status = ?, run_json = ?, listing_json = ? WHERE run_id = ?",
                (status, run_json, listing_json, run_id),
            )

    def update_progress(self, run_id: str, listing_json: bytes) -> None:
        """Save a running run's live counts (its listing JSON, no traces: cheap at any size).

        A run that has ended meanwhile is left as it is (its final snapshot is newer)."""
        with self._lock:
            self.db.execute(
                "UPDATE runs SET listing_json = ? WHERE run_id = ? AND status = 'running'",
                (listing_json, run_id),
            )

    def get_run(self, app: str, run_id: str) -> StoredRun | None:
        """A run of an app by id, or None (a run of another app is not found either)."""
        with self._lock:
            row = self.db.execute(
                "SELECT run_id, app, status, run_json, listing_json FROM runs"
                " WHERE run_id = ? AND app = ?",
                (run_id, app),
            ).fetchone()
        return None if row is None else StoredRun(*row)

    def list_runs(
        self,
        app: str,
        *,
        limit: int,
        offset: int,
        run_type: str | None = None,
        tag: str | None = None,
    ) -> tuple[list[StoredRun], int]:
        """An app's runs, newest first, one page of them, and how many there are in all."""
        where, args = "app = ?", [app]
        if run_type is not None:
            where += " AND run_type = ?"
            args.append(run_type)
        if tag is not None:
            where += " AND tag = ?"
            args.append(tag)
        with self._lock:
            total = self.db.execute(f"SELECT COUNT(*) FROM runs WHERE {where}", args).fetchone()
            rows = self.db.execute(
                "SELECT run_id, app, status, run_json, listing_json FROM runs"
                f" WHERE {where} ORDER BY created DESC, rowid DESC LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
        return [StoredRun(*row) for row in rows], int(total[0])

    def recover_interrupted(self, message: str = INTERRUPTED_MESSAGE) -> list[str]:
        """Mark errored every run left `running` by an engine that no longer exists; their ids."""
        with self._lock:
            rows = self.db.execute(
                "SELECT run_id, owner, run_json, listing_json FROM runs WHERE status = 'running'"
            ).fetchall()
        orphans = [row for row in rows if self._is_orphan(row[1])]
        for run_id, _owner, run_json, listing_json in orphans:
            self._finish_interrupted(run_id, run_json, listing_json, message)
        return [row[0] for row in orphans]

    def interrupt_owned(self, message: str = STOPPED_MESSAGE) -> list[str]:
        """Mark errored this store's own running runs (the engine is stopping); their ids."""
        with self._lock:
            rows = self.db.execute(
                "SELECT run_id, run_json, listing_json FROM runs"
                " WHERE status = 'running' AND owner = ?",
                (self.owner,),
            ).fetchall()
        for run_id, run_json, listing_json in rows:
            self._finish_interrupted(run_id, run_json, listing_json, message)
        return [row[0] for row in rows]

    def _finish_interrupted(
        self, run_id: str, run_json: bytes, listing_json: bytes, message: str
    ) -> None:
        run, listing = orjson.loads(run_json), orjson.loads(listing_json)
        _keep_live_counts(run, listing)
        run = mark_interrupted(run, message)
        listing = mark_interrupted(listing, message)
        self.update_run(run_id, "errored", orjson.dumps(run), orjson.dumps(listing))

    def _is_orphan(self, owner: str) -> bool:
        pid_text, _, _ = owner.partition(":")
        if owner in _LIVE_OWNERS:
            return False
        if pid_text.isdigit() and int(pid_text) != os.getpid():
            return not _pid_alive(int(pid_text))
        return True

    # ------------------------------------------------------------------ LLM cache

    def cache_get(self, key: str) -> bytes | None:
        """A cached LLM answer (encoded JSON) or None."""
        with self._lock:
            row = self.db.execute("SELECT value FROM llm_cache WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def cache_put(self, key: str, value: bytes) -> None:
        """Store (or replace) a cached LLM answer."""
        with self._lock:
            self.db.execute(
                "INSERT OR REPLACE INTO llm_cache (key, value, created) VALUES (?, ?, ?)",
                (key, value, now_ms()),
            )


class SqliteLLMCache:
    """The LLMCache of EngineContext backed by the store: answers survive restarts."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def get(self, key: str) -> dict[str, Any] | None:
        """The cached answer for `key`, or None."""
        raw = await asyncio.to_thread(self._store.cache_get, key)
        if raw is None:
            return None
        value: dict[str, Any] = orjson.loads(raw)
        return value

    async def put(self, key: str, value: dict[str, Any]) -> None:
        """Keep `value` as the answer for `key` (not kept when JSON cannot carry it)."""
        try:
            encoded = dumps(value)
        except EncodeError:  # the run refuses it in its own words; the cache just skips it
            return
        await asyncio.to_thread(self._store.cache_put, key, encoded)
