"""The local journal of runs: the public API cannot list runs, so this is the user's history.

One SQLite file (``data_dir()/journal.sqlite``). Every run launched or opened is recorded with what is
needed to reopen it (profile, base URL, workspace, space, app) or re-run it (hash, config, inputs).
API keys are never written here.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    recorded_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    origin TEXT NOT NULL,              -- 'launched' or 'opened'
    profile TEXT,
    base_url TEXT,
    workspace_id TEXT NOT NULL,
    space_id TEXT,
    app_id TEXT NOT NULL,
    app_name TEXT,
    specification_hash TEXT,
    mode TEXT,                         -- 'stream', 'poll' or 'blocking'
    config TEXT,                       -- JSON
    inputs TEXT,                       -- JSON
    status TEXT,                       -- last known run status
    final_run TEXT                     -- the final run JSON, once known
);
CREATE INDEX IF NOT EXISTS runs_recorded ON runs (recorded_at DESC);
"""


@dataclass(frozen=True)
class JournalEntry:
    """One run in the history."""

    run_id: str
    recorded_at: float
    origin: str
    profile: str | None
    base_url: str | None
    workspace_id: str
    space_id: str | None
    app_id: str
    app_name: str | None
    specification_hash: str | None
    mode: str | None
    config: dict[str, Any] | None
    inputs: list[Any] | None
    status: str | None

    @property
    def can_rerun(self) -> bool:
        """A launched run with its hash, config and inputs known can be launched again."""
        return bool(self.specification_hash) and self.config is not None and self.inputs is not None


@dataclass(frozen=True)
class JournalSummary:
    """What the history list shows of a run (read without its config, inputs or final run)."""

    run_id: str
    recorded_at: float
    origin: str
    base_url: str | None
    workspace_id: str
    app_id: str
    app_name: str | None
    mode: str | None
    status: str | None


# Every column but the final run (which can weigh megabytes): it is read only when asked for.
_ENTRY_COLUMNS = (
    "run_id, recorded_at, origin, profile, base_url, workspace_id, space_id, app_id, app_name, "
    "specification_hash, mode, config, inputs, status"
)
_SUMMARY_COLUMNS = (
    "run_id, recorded_at, origin, base_url, workspace_id, app_id, app_name, mode, status"
)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _dumps(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # lone surrogates, which orjson refuses: the stdlib escapes them
        return json.dumps(value)


def _make_private(path: Path) -> None:
    """Create the journal 0600 (SQLite gives its -wal and -shm files the same mode).

    A journal an older version created readable by others is made private too: it holds run
    inputs and outputs.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.chmod(0o600)


class Journal:
    """A small thread-safe SQLite journal; cheap enough to call from an event loop."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _make_private(self.path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def record_launch(
        self,
        *,
        run_id: str,
        workspace_id: str,
        app_id: str,
        app_name: str | None = None,
        profile: str | None = None,
        base_url: str | None = None,
        space_id: str | None = None,
        specification_hash: str | None = None,
        mode: str | None = None,
        config: dict[str, Any] | None = None,
        inputs: list[Any] | None = None,
        origin: str = "launched",
    ) -> None:
        """Record a run as soon as its id is known (launched here, or opened by id)."""
        now = time.time()
        with self._lock:
            self._db.execute(
                """INSERT INTO runs (run_id, recorded_at, updated_at, origin, profile, base_url,
                       workspace_id, space_id, app_id, app_name, specification_hash, mode, config,
                       inputs, status)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running')
                   ON CONFLICT(run_id) DO UPDATE SET updated_at = excluded.updated_at""",
                (
                    run_id,
                    now,
                    now,
                    origin,
                    profile,
                    base_url,
                    workspace_id,
                    space_id,
                    app_id,
                    app_name,
                    specification_hash,
                    mode,
                    None if config is None else json.dumps(config),
                    None if inputs is None else json.dumps(inputs),
                ),
            )

    def record_opened(self, *, run_id: str, workspace_id: str, app_id: str, **fields: Any) -> None:
        """Record a run the user opened by id (it was launched elsewhere)."""
        self.record_launch(
            run_id=run_id, workspace_id=workspace_id, app_id=app_id, origin="opened", **fields
        )

    def record_final(self, run_id: str, run: dict[str, Any]) -> None:
        """Store the run as the server last returned it (its wire JSON).

        A big run is megabytes of JSON: call it from a thread, never from an event loop."""
        status = (run.get("status") or {}).get("run")
        text = _dumps(run)
        with self._lock:
            self._db.execute(
                """UPDATE runs SET final_run = ?, status = ?, updated_at = ?,
                       specification_hash = COALESCE(specification_hash, ?)
                   WHERE run_id = ?""",
                (text, status, time.time(), run.get("specification_hash"), run_id),
            )

    def record_status(self, run_id: str, status: str) -> None:
        """Note how a run ended without storing it (read later from the server when opened)."""
        with self._lock:
            self._db.execute(
                "UPDATE runs SET status = ?, updated_at = ? WHERE run_id = ?",
                (status, time.time(), run_id),
            )

    def record_final_text(
        self, run_id: str, text: bytes | str, status: str | None, specification_hash: str | None
    ) -> None:
        """Store the run's wire JSON already written out (see :meth:`record_final`); bytes are
        kept as they are (no decoding of megabytes: SQLite stores them as they come)."""
        with self._lock:
            self._db.execute(
                """UPDATE runs SET final_run = ?, status = ?, updated_at = ?,
                       specification_hash = COALESCE(specification_hash, ?)
                   WHERE run_id = ?""",
                (text, status, time.time(), specification_hash, run_id),
            )

    def final_run_bytes(self, run_id: str) -> bytes | None:
        """The stored final run's JSON as bytes (None if the run never ended here); megabytes
        for a big run: call it from a thread."""
        with self._lock:
            row = self._db.execute("SELECT final_run FROM runs WHERE run_id = ?", (run_id,))
            found = row.fetchone()
        value = None if found is None else found[0]
        return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value

    def final_run_text(self, run_id: str) -> str | None:
        """The stored final run's JSON text (None if the run never ended here)."""
        data = self.final_run_bytes(run_id)
        return None if data is None else data.decode("utf-8", "surrogatepass")

    def list_summaries(self, limit: int = 200) -> list[JournalSummary]:
        """The history list, newest first: only the columns it shows."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_SUMMARY_COLUMNS} FROM runs ORDER BY recorded_at DESC LIMIT ?", (limit,)
            ).fetchall()
        return [JournalSummary(*row) for row in rows]

    def list_entries(self, limit: int = 100, app_id: str | None = None) -> list[JournalEntry]:
        """Newest first."""
        sql = f"SELECT {_ENTRY_COLUMNS} FROM runs"
        args: tuple[Any, ...] = ()
        if app_id is not None:
            sql += " WHERE app_id = ?"
            args = (app_id,)
        sql += " ORDER BY recorded_at DESC LIMIT ?"
        with self._lock:
            rows = self._db.execute(sql, (*args, limit)).fetchall()
        return [self._entry(row) for row in rows]

    def get(self, run_id: str) -> JournalEntry | None:
        """One entry by run id (or a unique prefix of it, as users type short ids)."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_ENTRY_COLUMNS} FROM runs WHERE run_id LIKE ? "
                "ORDER BY recorded_at DESC LIMIT 2",
                (run_id.replace("%", "").replace("_", "") + "%",),
            ).fetchall()
        if len(rows) != 1:
            exact = [r for r in rows if r[0] == run_id]
            return self._entry(exact[0]) if exact else None
        return self._entry(rows[0])

    @staticmethod
    def _entry(row: tuple[Any, ...]) -> JournalEntry:
        (
            run_id,
            recorded_at,
            origin,
            profile,
            base_url,
            workspace_id,
            space_id,
            app_id,
            app_name,
            spec_hash,
            mode,
            config,
            inputs,
            status,
        ) = row
        return JournalEntry(
            run_id=run_id,
            recorded_at=recorded_at,
            origin=origin,
            profile=profile,
            base_url=base_url,
            workspace_id=workspace_id,
            space_id=space_id,
            app_id=app_id,
            app_name=app_name,
            specification_hash=spec_hash,
            mode=mode,
            config=_loads(config),
            inputs=_loads(inputs),
            status=status,
        )
