"""`dusttui engine status|stop` and `dusttui serve`'s stop, through the real command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from dusttui.engine.local import ensure_local_engine, stop_local_engine
from tests.engine.conftest import KEY, auth, parse_sse, runs_url


@pytest.fixture
def user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An isolated user: its own data dir; any local engine started there is stopped after."""
    monkeypatch.setenv("DUSTTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DUSTTUI_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("DUSTTUI_ENGINE_IDLE_SECONDS", "60")
    monkeypatch.delenv("DUSTTUI_SERVER_KEY", raising=False)
    yield tmp_path / "data" / "engine"
    stop_local_engine(tmp_path / "data" / "engine")


def _dusttui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dusttui", *args], capture_output=True, text=True, timeout=60
    )


def test_engine_status_and_stop_without_an_engine(user):
    status = _dusttui("engine", "status")
    assert (status.returncode, status.stdout) == (
        0,
        f"No local engine is running (data dir {user}).\n",
    )
    assert json.loads(_dusttui("engine", "status", "--json").stdout) == {"engine": None}
    stop = _dusttui("engine", "stop")
    assert (stop.returncode, stop.stdout) == (
        0,
        f"No local engine was running (data dir {user}).\n",
    )


def test_engine_status_shows_the_running_engine_and_stop_stops_it(user):
    engine = ensure_local_engine(user)
    status = _dusttui("engine", "status")
    assert status.returncode == 0
    lines = status.stdout.splitlines()
    assert lines[0].startswith(f"Local engine running at {engine.url} (pid {engine.pid}, up ")
    assert lines[1:4] == [
        "  running runs: 0",
        "  stops by itself: after 60 s with no run and no client",
        f"  data dir: {user}",
    ]
    assert lines[-1] == f"  log: {user / 'engine.log'}"
    assert engine.api_key not in status.stdout
    as_json = json.loads(_dusttui("engine", "status", "--json").stdout)["engine"]
    assert (as_json["pid"], as_json["url"], as_json["running_runs"]) == (engine.pid, engine.url, 0)

    stop = _dusttui("engine", "stop")
    assert (stop.returncode, stop.stdout) == (0, f"Stopped the local engine (pid {engine.pid}).\n")
    with pytest.raises(ProcessLookupError):
        for _ in range(500):  # the stopped engine was reaped by init or by us: gone either way
            os.kill(engine.pid, 0)
            time.sleep(0.02)


def test_ctrl_c_on_serve_interrupts_a_followed_run_in_one_line(user, apps_dir, monkeypatch):
    monkeypatch.setenv("DUSTTUI_SERVER_KEY", KEY)
    serve = subprocess.Popen(
        [sys.executable, "-m", "dusttui", "serve", "--port", "0", "--apps", str(apps_dir)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert serve.stderr is not None
        first = serve.stderr.readline()
        assert first.startswith("dusttui engine listening on http://127.0.0.1:")
        url = first.split(" on ", 1)[1].strip()
        received: list[bytes] = []
        started = threading.Event()

        def follow() -> None:
            body = {"specification_hash": "latest", "config": {}, "inputs": [{"ms": 8000}]}
            with (
                httpx.Client(base_url=url, headers=auth(), timeout=30) as http,
                http.stream("POST", runs_url("slow"), json={**body, "stream": True}) as response,
            ):
                for chunk in response.iter_raw():
                    received.append(chunk)
                    if b'"name":"WAIT","status":"running"' in b"".join(received):
                        started.set()

        follower = threading.Thread(target=follow)
        follower.start()
        assert started.wait(30)
        serve.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert serve.wait(timeout=30) == 0
        follower.join(30)
        stderr = serve.stderr.read()
    finally:
        serve.kill()
        serve.wait()
    assert stderr.splitlines()[-1] == (
        "dusttui engine stopped (Ctrl-C); 1 running run interrupted, saved errored."
    )
    assert "Traceback" not in stderr
    assert "Exception in ASGI application" not in stderr
    sse = parse_sse(b"".join(received))
    assert sse.types[-3:] == ["block_status", "run_status", "final"]
    assert sse.events[-2]["content"]["status"] == "errored"
