"""The engine's SQLite store: stable app ids, spec texts by hash, runs, recovery, the LLM cache."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys

import orjson
import pytest

from dusttui.engine.auth import resolve_server_key
from dusttui.engine.store import INTERRUPTED_MESSAGE, SqliteLLMCache, Store, StoreError


def _run(run_id: str, status: str = "running", blocks=None) -> dict:
    return {
        "run_id": run_id,
        "created": 1_700_000_000_000,
        "run_type": "deploy",
        "specification_hash": "a" * 64,
        "config": {"blocks": {}},
        "status": {"run": status, "blocks": blocks or []},
        "traces": [],
        "results": None,
    }


def _insert(store: Store, run_id: str, *, app: str = "hello", created: int = 1, **kw) -> None:
    run = _run(run_id, **kw)
    store.insert_run(
        run_id=run_id,
        app=app,
        run_type="deploy",
        created=created,
        specification_hash="a" * 64,
        status=run["status"]["run"],
        run_json=orjson.dumps(run),
        listing_json=orjson.dumps(run),
    )


def test_database_is_in_wal_mode(tmp_path):
    Store(tmp_path / "e.db").close()
    mode = sqlite3.connect(tmp_path / "e.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_app_ids_are_stable_across_reopen(tmp_path):
    store = Store(tmp_path / "e.db")
    first, second = store.app_id("hello"), store.app_id("map_reduce")
    assert store.app_id("hello") == first
    store.close()
    reopened = Store(tmp_path / "e.db")
    assert (reopened.app_id("hello"), reopened.app_id("map_reduce")) == (first, second)
    assert first != second
    reopened.close()


def test_every_spec_text_stays_loadable_by_hash(tmp_path):
    store = Store(tmp_path / "e.db")
    store.save_spec("hello", "1" * 64, "input INPUT { }\n")
    store.save_spec("hello", "2" * 64, "input INPUT { }\ncode C { ... }\n")
    store.close()
    store = Store(tmp_path / "e.db")
    assert store.load_spec("hello", "1" * 64) == "input INPUT { }\n"
    assert store.load_spec("hello", "2" * 64) == "input INPUT { }\ncode C { ... }\n"
    assert store.load_spec("other_app", "1" * 64) is None
    assert store.load_spec("hello", "3" * 64) is None
    store.close()


def test_runs_are_listed_newest_first_with_total_and_filters(tmp_path):
    store = Store(tmp_path / "e.db")
    for n in range(5):
        _insert(store, f"run{n}", created=1000 + n)
    _insert(store, "elsewhere", app="other")
    page, total = store.list_runs("hello", limit=2, offset=1)
    assert total == 5
    assert [row.run_id for row in page] == ["run3", "run2"]
    assert store.list_runs("hello", limit=10, offset=0, run_type="local") == ([], 0)
    assert store.get_run("hello", "elsewhere") is None
    assert orjson.loads(store.get_run("other", "elsewhere").run_json)["run_id"] == "elsewhere"
    store.close()


def test_update_replaces_the_snapshot(tmp_path):
    store = Store(tmp_path / "e.db")
    _insert(store, "r1")
    done = _run("r1", "succeeded")
    store.update_run("r1", "succeeded", orjson.dumps(done), orjson.dumps(done))
    row = store.get_run("hello", "r1")
    assert row.status == "succeeded"
    assert orjson.loads(row.run_json)["status"]["run"] == "succeeded"
    store.close()


def test_a_run_left_running_by_a_closed_engine_is_errored_at_next_start(tmp_path):
    old = Store(tmp_path / "e.db")
    blocks = [
        {
            "block_type": "input",
            "name": "INPUT",
            "status": "succeeded",
            "success_count": 2,
            "error_count": 0,
        },
        {
            "block_type": "code",
            "name": "SLOW",
            "status": "running",
            "success_count": 0,
            "error_count": 0,
        },
    ]
    _insert(old, "orphan", blocks=blocks)
    _insert(old, "finished", status="succeeded")
    old.close()

    new = Store(tmp_path / "e.db")
    assert new.recover_interrupted() == ["orphan"]
    run = orjson.loads(new.get_run("hello", "orphan").run_json)
    assert run["status"]["run"] == "errored"
    assert [b["status"] for b in run["status"]["blocks"]] == ["succeeded", "errored"]
    assert run["status"]["blocks"][0]["success_count"] == 2
    assert run["error"] == INTERRUPTED_MESSAGE
    assert run["results"] is None
    listing = orjson.loads(new.get_run("hello", "orphan").listing_json)
    assert listing["status"]["run"] == "errored"
    assert new.get_run("hello", "finished").status == "succeeded"
    assert new.recover_interrupted() == []
    new.close()


def test_runs_of_an_engine_still_open_are_not_recovered(tmp_path):
    alive = Store(tmp_path / "e.db")
    _insert(alive, "busy")
    other = Store(tmp_path / "e.db")
    assert other.recover_interrupted() == []
    assert other.get_run("hello", "busy").status == "running"
    other.close()
    alive.close()


def test_runs_of_a_killed_process_are_recovered_but_not_those_of_a_live_one(tmp_path):
    db = tmp_path / "e.db"
    script = (
        "import sys, orjson; from dusttui.engine.store import Store\n"
        "s = Store(sys.argv[1]); run = {'run_id': sys.argv[2], 'status': {'run': 'running', 'blocks': []}}\n"
        "s.insert_run(run_id=sys.argv[2], app='hello', run_type='deploy', created=1,"
        " specification_hash='h', status='running', run_json=orjson.dumps(run), listing_json=orjson.dumps(run))\n"
        "print('ready', flush=True); sys.stdin.readline()\n"
    )
    dead = subprocess.Popen(
        [sys.executable, "-c", script, str(db), "dead"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    alive = subprocess.Popen(
        [sys.executable, "-c", script, str(db), "alive"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert dead.stdout.readline() == b"ready\n"
        assert alive.stdout.readline() == b"ready\n"
        dead.kill()
        dead.wait()
        store = Store(db)
        assert store.recover_interrupted() == ["dead"]
        assert store.get_run("hello", "alive").status == "running"
        store.close()
    finally:
        alive.stdin.close()
        alive.wait()


def test_owned_runs_are_interrupted_when_the_engine_stops(tmp_path):
    store = Store(tmp_path / "e.db")
    _insert(store, "mine")
    assert store.interrupt_owned("stopped") == ["mine"]
    assert orjson.loads(store.get_run("hello", "mine").run_json)["error"] == "stopped"
    store.close()


async def test_llm_cache_answers_survive_a_restart(tmp_path):
    store = Store(tmp_path / "e.db")
    cache = SqliteLLMCache(store)
    assert await cache.get("k1") is None
    await cache.put("k1", {"completion": {"text": "Paris"}})
    store.close()
    store = Store(tmp_path / "e.db")
    assert await SqliteLLMCache(store).get("k1") == {"completion": {"text": "Paris"}}
    store.close()


def test_a_database_from_a_newer_version_is_refused_clearly(tmp_path):
    db = tmp_path / "e.db"
    sqlite3.connect(db).execute("PRAGMA user_version=99").connection.close()
    with pytest.raises(StoreError, match="newer dusttui"):
        Store(db)


def test_a_file_that_is_not_a_database_is_refused_clearly(tmp_path):
    db = tmp_path / "e.db"
    db.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=r"Cannot open the engine database .*e\.db"):
        Store(db)


_OPENER = """
import os, stat, sys
from pathlib import Path
from dusttui.engine.auth import resolve_server_key
from dusttui.engine.store import Store
print("ready", flush=True)
for line in sys.stdin:
    folder = Path(line.strip())
    try:
        store = Store(folder / "engine.sqlite3")
        store.insert_run(run_id=str(os.getpid()), app="a", run_type="deploy", created=1,
                         specification_hash="h", status="running", run_json=b"{}", listing_json=b"{}")
        store.close()
        print("ok " + resolve_server_key(folder).value, flush=True)
    except Exception as exc:
        print("failed " + repr(exc).replace(chr(10), " "), flush=True)
"""


def test_two_processes_opening_one_new_data_dir_at_the_same_instant_both_succeed(
    tmp_path, monkeypatch
):
    # Two processes, each told at the same moment to open a fresh data dir: every round, both
    # open the database and agree on one generated key (before: "database is locked" or an
    # empty key file, several times in 40 rounds).
    monkeypatch.delenv("DUSTTUI_SERVER_KEY", raising=False)
    openers = [
        subprocess.Popen(
            [sys.executable, "-c", _OPENER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        for opener in openers:
            assert opener.stdout.readline() == "ready\n"
        for round_ in range(40):
            folder = tmp_path / f"round{round_}"
            for opener in openers:  # both lines written before either is read
                opener.stdin.write(f"{folder}\n")
            for opener in openers:
                opener.stdin.flush()
            answers = [opener.stdout.readline().strip() for opener in openers]
            assert answers[0].startswith("ok sk-"), answers
            assert answers == [answers[0]] * 2, answers
            with sqlite3.connect(folder / "engine.sqlite3") as db:
                assert db.execute("SELECT COUNT(*) FROM runs").fetchone() == (2,)
    finally:
        for opener in openers:
            opener.stdin.close()
            opener.wait()


def test_database_key_and_lock_files_are_created_private(tmp_path, monkeypatch):
    monkeypatch.delenv("DUSTTUI_SERVER_KEY", raising=False)
    umask = os.umask(0o022)  # the usual umask, which made files 0644 before
    try:
        store = Store(tmp_path / "data" / "engine.sqlite3")
        _insert(store, "r1")  # the WAL file exists while the store is open
        resolve_server_key(tmp_path / "data")
    finally:
        os.umask(umask)
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in (tmp_path / "data").iterdir()}
    store.close()
    assert modes == {
        "engine.sqlite3": 0o600,
        "engine.sqlite3-wal": 0o600,
        "engine.sqlite3-shm": 0o600,
        "engine.sqlite3.open-lock": 0o600,
        "server_key": 0o600,
    }
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700


def test_a_database_an_older_version_created_readable_is_made_private(tmp_path):
    db = tmp_path / "e.db"
    Store(db).close()
    db.chmod(0o644)
    Store(db).close()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
