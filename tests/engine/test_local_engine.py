"""The local engine's life through real processes: start, reuse, idle stop, restart, races, kills.

Every engine here is a real detached process (`python -m dusttui.engine.daemon`) on a loopback
port, found through its discovery file, and stopped at teardown.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dusttui.engine.local import (
    EngineStartError,
    LocalEngine,
    discovery_file,
    ensure_local_engine,
    find_local_engine,
    log_file,
    stop_local_engine,
)
from dusttui.engine.store import INTERRUPTED_MESSAGE
from tests.engine.conftest import parse_sse, runs_url, write_apps

SLOW = {"specification_hash": "latest", "config": {}}


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in {"Z", "X"}


def _wait(predicate, what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _client(engine: LocalEngine) -> httpx.Client:
    return httpx.Client(
        base_url=engine.url, headers={"Authorization": f"Bearer {engine.api_key}"}, timeout=30
    )


@pytest.fixture
def engine_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh data dir's engine folder; whatever engine runs there is stopped afterwards."""
    monkeypatch.setenv("DUSTTUI_ENGINE_IDLE_SECONDS", "60")  # a backstop if a test leaks one
    monkeypatch.delenv("DUSTTUI_SERVER_KEY", raising=False)
    folder = tmp_path / "data" / "engine"
    yield folder
    stop_local_engine(folder)


def test_the_first_call_starts_a_detached_engine_and_later_ones_reuse_it(engine_dir, apps_dir):
    first = ensure_local_engine(engine_dir, apps_dir=apps_dir, token_delay=0)
    assert first.started is True
    assert first.url.startswith("http://127.0.0.1:")
    assert first.apps_dirs[0] == str(apps_dir.resolve())
    assert first.mismatch is None
    again = ensure_local_engine(engine_dir, apps_dir=apps_dir, token_delay=0)
    assert (again.pid, again.url, again.started) == (first.pid, first.url, False)
    assert find_local_engine(engine_dir) == again

    # Detached: its own session, stdin and stdout on /dev/null, stderr into engine.log.
    assert os.getsid(first.pid) == first.pid
    assert os.readlink(f"/proc/{first.pid}/fd/0") == "/dev/null"
    assert os.readlink(f"/proc/{first.pid}/fd/1") == "/dev/null"
    assert os.readlink(f"/proc/{first.pid}/fd/2") == str(log_file(engine_dir))
    # The discovery file is private and says where, never the key (nor does argv).
    discovery = discovery_file(engine_dir)
    assert stat.S_IMODE(discovery.stat().st_mode) == 0o600
    assert first.api_key not in discovery.read_text()
    assert json.loads(discovery.read_text())["pid"] == first.pid
    assert first.api_key.encode() not in Path(f"/proc/{first.pid}/cmdline").read_bytes()
    assert first.api_key not in repr(first)

    with _client(first) as http:
        info = http.get("/dusttui/v1/engine").json()["engine"]
        assert (
            http.get("/dusttui/v1/engine", headers={"Authorization": "Bearer x"}).status_code == 401
        )
    assert info["pid"] == first.pid
    assert info["url"] == first.url
    assert info["data_dir"] == str(engine_dir.resolve())
    assert info["running_runs"] == 0
    assert info["idle_stop_seconds"] == 60.0


def test_the_engine_outlives_the_process_that_started_it(engine_dir):
    code = textwrap.dedent(
        f"""
        from pathlib import Path
        from dusttui.engine.local import ensure_local_engine
        print(ensure_local_engine(Path({str(engine_dir)!r})).pid)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    pid = int(out.stdout)
    found = find_local_engine(engine_dir)
    assert found is not None and found.pid == pid and found.started is False
    with _client(found) as http:
        listing = http.get("/api/v1/w/local/spaces/local/apps").json()["apps"]
        qa = next(app for app in listing if app["name"] == "qa-demo")
        body = {
            "specification_hash": "latest",
            "config": json.loads(qa["savedConfig"]),
            "inputs": qa["dusttui"]["sampleInputs"],
            "blocking": True,
        }
        run = http.post(runs_url("qa-demo"), json=body).json()["run"]
    assert run["status"]["run"] == "succeeded"


def test_an_idle_engine_stops_by_itself_but_never_during_a_run(engine_dir, apps_dir, monkeypatch):
    monkeypatch.setenv("DUSTTUI_ENGINE_IDLE_SECONDS", "1")
    engine = ensure_local_engine(engine_dir, apps_dir=apps_dir, token_delay=0)
    with _client(engine) as http:
        # A run four times longer than the idle limit, and no request for 2.5 s meanwhile: the
        # engine is still there (the run cannot have ended: it lasts 4 s), and the run succeeds.
        run = http.post(runs_url("slow"), json={**SLOW, "inputs": [{"ms": 4000}]}).json()["run"]
        time.sleep(2.5)
        midway = http.get(runs_url("slow", run_id=run["run_id"])).json()["run"]
        assert midway["status"]["run"] == "running"
        _wait(
            lambda: (
                http.get(runs_url("slow", run_id=run["run_id"])).json()["run"]["status"]["run"]
                != "running"
            ),
            "the run to end",
        )
        done = http.get(runs_url("slow", run_id=run["run_id"])).json()["run"]
    assert done["status"]["run"] == "succeeded"
    _wait(lambda: _gone(engine.pid), "the idle engine to stop")
    assert not discovery_file(engine_dir).exists()
    assert find_local_engine(engine_dir) is None
    log = log_file(engine_dir).read_text()
    assert f"[{engine.pid}] dusttui engine stopped (idle for 1 s)" in log
    assert "Traceback" not in log
    # The next call starts a fresh one.
    assert ensure_local_engine(engine_dir, apps_dir=apps_dir, token_delay=0).started is True


def test_an_idle_engine_started_with_other_options_is_restarted(engine_dir, apps_dir, tmp_path):
    other = write_apps(tmp_path / "other-apps", {"solo.dust": "input INPUT { }\n"})
    first = ensure_local_engine(engine_dir, apps_dir=apps_dir, token_delay=0)
    second = ensure_local_engine(engine_dir, apps_dir=other, token_delay=0)
    assert second.started is True and second.pid != first.pid
    assert second.apps_dirs[0] == str(other.resolve())
    assert second.mismatch is None
    assert _gone(first.pid)
    third = ensure_local_engine(engine_dir, apps_dir=other, token_delay=0.5)
    assert third.started is True and third.pid != second.pid


def test_a_busy_engine_started_with_other_options_is_reused_and_says_so(engine_dir, apps_dir):
    busy = ensure_local_engine(engine_dir, apps_dir=apps_dir, token_delay=0)
    with _client(busy) as http:
        run = http.post(runs_url("slow"), json={**SLOW, "inputs": [{"ms": 1500}]}).json()["run"]
        reused = ensure_local_engine(engine_dir, apps_dir=None, token_delay=0)
        assert reused.pid == busy.pid and reused.started is False
        assert reused.mismatch == (
            f"the local engine (pid {busy.pid}) was started with apps dir {apps_dir.resolve()} "
            "(asked: none); it has 1 running run, so it was kept"
        )
        _wait(
            lambda: (
                http.get(runs_url("slow", run_id=run["run_id"])).json()["run"]["status"]["run"]
                != "running"
            ),
            "the run to end",
        )
        assert (
            http.get(runs_url("slow", run_id=run["run_id"])).json()["run"]["status"]["run"]
            == "succeeded"
        )


_ENSURER = """
import sys
from pathlib import Path
from dusttui.engine.local import ensure_local_engine
print("ready", flush=True)
for line in sys.stdin:
    engine = ensure_local_engine(Path(line.strip()))
    print(engine.pid, engine.started, flush=True)
"""


def test_processes_starting_the_engine_at_the_same_instant_get_exactly_one(engine_dir, tmp_path):
    callers = [
        subprocess.Popen(
            [sys.executable, "-c", _ENSURER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    try:
        for caller in callers:
            assert caller.stdout.readline() == "ready\n"
        for round_ in range(4):
            folder = tmp_path / f"round{round_}" / "engine"
            for caller in callers:  # every line written before any is flushed
                caller.stdin.write(f"{folder}\n")
            for caller in callers:
                caller.stdin.flush()
            answers = [caller.stdout.readline().split() for caller in callers]
            pids = {pid for pid, _ in answers}
            assert len(pids) == 1, answers
            assert sorted(started for _, started in answers) == ["False", "False", "True"]
            daemons = [
                p for p in os.listdir("/proc") if p.isdigit() and _is_daemon_of(int(p), folder)
            ]
            assert daemons == [pids.pop()]
            assert stop_local_engine(folder) is True
    finally:
        for caller in callers:
            caller.stdin.close()
            caller.wait()


def _is_daemon_of(pid: int, folder: Path) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return (
        b"dusttui.engine.daemon" in cmdline and str(folder).encode() in cmdline and not _gone(pid)
    )


def test_a_killed_engine_is_replaced_and_its_runs_read_interrupted(engine_dir, apps_dir):
    engine = ensure_local_engine(engine_dir, apps_dir=apps_dir, token_delay=0)
    with _client(engine) as http:
        run = http.post(runs_url("slow"), json={**SLOW, "inputs": [{"ms": 5000}]}).json()["run"]
        _wait(
            lambda: (
                http.get(runs_url("slow", run_id=run["run_id"]) + "/status").json()["run"][
                    "status"
                ]["blocks"][-1:]
                and http.get(runs_url("slow", run_id=run["run_id"]) + "/status").json()["run"][
                    "status"
                ]["blocks"][-1]["name"]
                == "WAIT"
            ),
            "WAIT to start",
        )
    os.kill(engine.pid, signal.SIGKILL)
    _wait(lambda: _gone(engine.pid), "the killed engine to be gone")
    assert find_local_engine(engine_dir) is None  # its discovery file names a dead process

    again = ensure_local_engine(engine_dir, apps_dir=apps_dir, token_delay=0)
    assert again.started is True and again.pid != engine.pid
    with _client(again) as http:
        got = http.get(runs_url("slow", run_id=run["run_id"])).json()["run"]
    assert got["status"]["run"] == "errored"
    assert got["error"] == INTERRUPTED_MESSAGE
    assert got["dusttui"]["end_reason"] == "interrupted"
    assert [(b["name"], b["status"]) for b in got["status"]["blocks"]] == [
        ("INPUT", "succeeded"),
        ("WAIT", "errored"),
    ]


def test_sigterm_interrupts_a_running_run_with_its_reason_and_ends_its_stream(engine_dir, apps_dir):
    engine = ensure_local_engine(engine_dir, apps_dir=apps_dir, token_delay=0)
    received: list[bytes] = []
    started = threading.Event()

    def listen() -> None:
        body = {**SLOW, "inputs": [{"ms": 10}, {"ms": 8000}], "stream": True}
        with _client(engine) as http, http.stream("POST", runs_url("slow"), json=body) as response:
            for chunk in response.iter_raw():
                received.append(chunk)
                if b'"name":"WAIT","status":"running"' in b"".join(received):
                    started.set()

    listener = threading.Thread(target=listen)
    listener.start()
    assert started.wait(30)
    run_id = parse_sse(b"".join(received)).events[0]["content"]["run_id"]

    def first_input_done() -> bool:  # the trace keeps what finished: wait for the 10 ms input
        with _client(engine) as http:
            run = http.get(runs_url("slow", run_id=run_id) + "/status").json()["run"]
        return run["status"]["blocks"][1]["success_count"] == 1

    _wait(first_input_done, "the 10 ms input to finish")
    os.kill(engine.pid, signal.SIGTERM)
    listener.join(30)
    _wait(lambda: _gone(engine.pid), "the engine to stop")
    assert not discovery_file(engine_dir).exists()

    sse = parse_sse(b"".join(received))
    reason = "Not run: the run was interrupted (the engine stopped)."
    assert sse.types[-4:] == ["block_execution", "block_status", "run_status", "final"]
    assert sse.events[-4]["content"]["execution"] == [
        [{"value": {"waited": 10}, "error": None, "meta": {"logs": []}}],
        [{"value": None, "error": reason, "meta": None}],
    ]
    assert sse.events[-3]["content"] == {
        "block_type": "code",
        "name": "WAIT",
        "status": "errored",
        "success_count": 1,
        "error_count": 0,
    }
    assert sse.events[-2]["content"]["status"] == "errored"
    assert sse.events[0]["content"]["run_id"] == run_id

    again = ensure_local_engine(engine_dir, apps_dir=apps_dir, token_delay=0)
    with _client(again) as http:
        got = http.get(runs_url("slow", run_id=run_id)).json()["run"]
    assert (
        got["error"]
        == "Run interrupted: the engine was stopped (SIGTERM) while this run was running."
    )
    assert got["dusttui"]["end_reason"] == "interrupted"
    assert got["traces"][1][1] == sse.events[-4]["content"]["execution"]
    log = log_file(engine_dir).read_text()
    assert f"[{engine.pid}] dusttui engine stopped (SIGTERM); 1 running run interrupted" in log
    assert "Traceback" not in log


def test_stop_ends_the_engine_and_says_whether_one_ran(engine_dir):
    assert stop_local_engine(engine_dir) is False
    engine = ensure_local_engine(engine_dir)
    assert stop_local_engine(engine_dir) is True
    assert _gone(engine.pid)
    assert find_local_engine(engine_dir) is None
    assert stop_local_engine(engine_dir) is False


def test_the_stop_endpoint_answers_then_stops(engine_dir):
    engine = ensure_local_engine(engine_dir)
    with _client(engine) as http:
        response = http.post("/dusttui/v1/engine/stop")
    assert (response.status_code, response.json()) == (202, {"stopping": True})
    _wait(lambda: _gone(engine.pid), "the engine to stop")
    assert "dusttui engine stopped (dusttui engine stop)" in log_file(engine_dir).read_text()


def test_an_engine_that_cannot_start_says_why(engine_dir):
    (engine_dir / "engine.sqlite3").mkdir(parents=True)  # a folder where the database should be
    with pytest.raises(EngineStartError) as info:
        ensure_local_engine(engine_dir, timeout=30)
    assert str(info.value).startswith(
        f"The local engine did not start: Cannot open the engine database {engine_dir / 'engine.sqlite3'}: "
    )
    assert find_local_engine(engine_dir) is None


def test_local_imports_only_the_standard_library():
    # The CLI imports it before Textual and before anything heavy (what a bare interpreter
    # already loaded, e.g. by .pth files, does not count).
    code = (
        "import sys; before = set(sys.modules); import dusttui.engine.local; "
        "print(sorted({m.split('.')[0] for m in set(sys.modules) - before}"
        " - set(sys.stdlib_module_names)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['dusttui']"


def test_an_engine_whose_start_hangs_ends_by_itself(engine_dir):
    # Another process holds the database's setup lock forever: the engine cannot open its store.
    # It never listens, so nobody could find it: its start-up alarm ends it.
    engine_dir.mkdir(parents=True)
    lock = os.open(engine_dir / "engine.sqlite3.open-lock", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        daemon = subprocess.run(
            [
                sys.executable,
                "-m",
                "dusttui.engine.daemon",
                "--data-dir",
                str(engine_dir),
                "--startup-limit",
                "1",
            ],
            capture_output=True,
            timeout=60,
        )
    finally:
        os.close(lock)
    assert daemon.returncode == -signal.SIGALRM
    assert not discovery_file(engine_dir).exists()
