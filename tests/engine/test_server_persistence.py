"""Runs live in SQLite: they survive a restart, and a kill leaves them errored, never `running`."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import orjson

from dusttui.engine.store import INTERRUPTED_MESSAGE, STOPPED_MESSAGE, Store
from tests.engine.conftest import KEY, apps_url, auth, parse_sse, runs_url

SLOW = {"specification_hash": "latest", "config": {}}


def _client(engine) -> httpx.Client:
    return httpx.Client(base_url=engine.url, headers=auth(engine.api_key), timeout=30)


def _stored_blocks(db: Path, run_id: str) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT run_json FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    blocks = orjson.loads(row[0])["status"]["blocks"] if row else []
    return [(b["name"], b["status"]) for b in blocks]


def _wait(predicate, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_runs_and_app_ids_survive_a_restart(engine_factory):
    first = engine_factory()
    with _client(first) as http:
        ok = http.post(
            runs_url("double"), json={**SLOW, "inputs": [{"n": 3}], "blocking": True}
        ).json()["run"]
        bad = http.post(
            runs_url("double"), json={**SLOW, "inputs": [{"n": -3}], "blocking": True}
        ).json()["run"]
        apps = http.get(apps_url()).json()["apps"]
    first.stop()

    second = engine_factory()
    with _client(second) as http:
        assert http.get(runs_url("double", run_id=ok["run_id"])).json() == {"run": ok}
        assert http.get(runs_url("double", run_id=bad["run_id"])).json() == {"run": bad}
        listing = http.get(runs_url("double")).json()
        assert [r["run_id"] for r in listing["runs"]] == [bad["run_id"], ok["run_id"]]
        assert listing["total"] == 2
        again = http.get(apps_url()).json()["apps"]
    assert [(a["name"], a["id"], a["sId"]) for a in again] == [
        (a["name"], a["id"], a["sId"]) for a in apps
    ]


def test_a_run_left_running_is_errored_with_a_message_at_next_start(engine_factory, data_dir):
    old = Store(data_dir / "engine.sqlite3")
    run = {
        "run_id": "e" * 64,
        "created": 1_700_000_000_000,
        "run_type": "deploy",
        "specification_hash": "a" * 64,
        "config": {"blocks": {}},
        "status": {
            "run": "running",
            "blocks": [
                {
                    "block_type": "input",
                    "name": "INPUT",
                    "status": "running",
                    "success_count": 0,
                    "error_count": 0,
                }
            ],
        },
        "traces": [],
        "results": None,
    }
    encoded = orjson.dumps(run)
    old.insert_run(
        run_id=run["run_id"],
        app="double",
        run_type="deploy",
        created=run["created"],
        specification_hash="a" * 64,
        status="running",
        run_json=encoded,
        listing_json=encoded,
    )
    old.close()  # as if its process had died

    engine = engine_factory()
    assert engine.parts.recovered == ["e" * 64]
    with _client(engine) as http:
        got = http.get(runs_url("double", run_id="e" * 64)).json()["run"]
    assert got["status"] == {
        "run": "errored",
        "blocks": [
            {
                "block_type": "input",
                "name": "INPUT",
                "status": "errored",
                "success_count": 0,
                "error_count": 0,
            }
        ],
    }
    assert got["error"] == INTERRUPTED_MESSAGE
    assert got["results"] is None


_SERVE = """
import sys
from pathlib import Path
from dusttui.engine.embedded import serve
serve("127.0.0.1", 0, Path(sys.argv[1]), None, data_dir=Path(sys.argv[2]), api_key=sys.argv[3],
      on_ready=lambda info: print(info.url, flush=True), log_level="warning", access_log=False)
"""


def test_a_run_killed_with_the_server_process_is_errored_at_next_start(
    engine_factory, apps_dir, data_dir
):
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVE, str(apps_dir), str(data_dir), KEY],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = server.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=url, headers=auth(), timeout=30) as http:
            run = http.post(runs_url("slow"), json={**SLOW, "inputs": [{"ms": 4000}]}).json()["run"]
        db = data_dir / "engine.sqlite3"
        _wait(
            lambda: ("WAIT", "running") in _stored_blocks(db, run["run_id"]),
            "the running block to be saved",
        )
    finally:
        server.kill()  # SIGKILL: no shutdown code runs
        server.wait()

    engine = engine_factory()
    with _client(engine) as http:
        got = http.get(runs_url("slow", run_id=run["run_id"])).json()["run"]
    assert got["status"]["run"] == "errored"
    assert [(b["name"], b["status"]) for b in got["status"]["blocks"]] == [
        ("INPUT", "succeeded"),
        ("WAIT", "errored"),
    ]
    assert got["error"] == INTERRUPTED_MESSAGE
    assert got["traces"][0][0] == ["input", "INPUT"]


def test_stopping_the_engine_ends_live_streams_and_saves_the_run_errored(engine_factory):
    engine = engine_factory()
    received: list[bytes] = []
    started = threading.Event()

    def listen() -> None:
        with (
            _client(engine) as http,
            http.stream(
                "POST", runs_url("slow"), json={**SLOW, "inputs": [{"ms": 1500}], "stream": True}
            ) as response,
        ):
            for chunk in response.iter_raw():
                received.append(chunk)
                if b'"name":"WAIT","status":"running"' in chunk:
                    started.set()

    listener = threading.Thread(target=listen)
    listener.start()
    assert started.wait(20)
    engine.stop()
    listener.join(20)
    sse = parse_sse(b"".join(received))
    assert sse.types[-2:] == ["run_status", "final"]
    assert sse.events[-2]["content"]["status"] == "errored"
    run_id = sse.events[0]["content"]["run_id"]

    again = engine_factory()
    with _client(again) as http:
        got = http.get(runs_url("slow", run_id=run_id)).json()["run"]
    assert got["status"]["run"] == "errored"
    assert got["error"] == STOPPED_MESSAGE


def test_serve_stops_on_sigterm_and_saves_live_runs_as_stopped(engine_factory, apps_dir, data_dir):
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVE, str(apps_dir), str(data_dir), KEY],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = server.stdout.readline().strip()
        with httpx.Client(base_url=url, headers=auth(), timeout=30) as http:
            run = http.post(runs_url("slow"), json={**SLOW, "inputs": [{"ms": 1000}]}).json()["run"]
            _wait(
                lambda: (
                    http.get(runs_url("slow", run_id=run["run_id"])).json()["run"]["status"][
                        "blocks"
                    ][-1:]
                    == [
                        {
                            "block_type": "code",
                            "name": "WAIT",
                            "status": "running",
                            "success_count": 0,
                            "error_count": 0,
                        }
                    ]
                ),
                "WAIT to start",
            )
        server.terminate()  # SIGTERM: a graceful stop, and a normal exit
        assert server.wait(timeout=20) == 0
        stderr = server.stderr.read()
    finally:
        server.kill()
        server.wait()
    assert "Traceback" not in stderr
    assert "Exception in ASGI application" not in stderr

    engine = engine_factory()
    assert engine.parts.recovered == []
    with _client(engine) as http:
        got = http.get(runs_url("slow", run_id=run["run_id"])).json()["run"]
    assert got["status"]["run"] == "errored"
    assert got["error"] == (
        "Run interrupted: the engine was stopped (SIGTERM) while this run was running."
    )
    assert got["dusttui"]["end_reason"] == "interrupted"
    assert [(b["name"], b["status"]) for b in got["status"]["blocks"]] == [
        ("INPUT", "succeeded"),
        ("WAIT", "errored"),
    ]
    # WAIT's one execution never finished: its trace says why
    assert got["traces"][1] == [
        ["code", "WAIT"],
        [
            [
                {
                    "value": None,
                    "error": "Not run: the run was interrupted (the engine stopped).",
                    "meta": None,
                }
            ]
        ],
    ]
