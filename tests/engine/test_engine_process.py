"""The embedded engine in a child process (what the TUI runs): real child, real port, real SQLite."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from dusttui.engine.process import EngineProcess, EngineStartError

KEY = "sk-child-5e8d2b7a9c1f4e30"
APPS = "/api/v1/w/local/spaces/local/apps"


def _gone(pid: int) -> bool:
    """True once `pid` has exited (a zombie nobody reaped counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in {"Z", "X"}


def _wait_gone(pid: int, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.02)
    return False


def test_child_serves_the_demo_apps_with_the_key_it_reports(tmp_path: Path) -> None:
    with EngineProcess(data_dir=tmp_path) as engine:
        assert engine.url.startswith("http://127.0.0.1:")
        response = httpx.get(
            engine.url + APPS, headers={"Authorization": f"Bearer {engine.api_key}"}
        )
        assert response.status_code == 200
        names = {app["name"] for app in response.json()["apps"]}
        assert {"qa-demo", "flaky-demo", "map-reduce-demo"} <= names
        refused = httpx.get(engine.url + APPS, headers={"Authorization": "Bearer sk-wrong"})
        assert refused.status_code == 401
        key = engine.api_key
    # a generated key is kept in the data dir (mode 0600), like the in-process engine's
    assert (tmp_path / "server_key").read_text().strip() == key


async def test_ready_awaits_the_child_without_blocking(tmp_path: Path) -> None:
    engine = EngineProcess(data_dir=tmp_path, api_key=KEY)
    engine.start()
    try:
        address = await engine.ready()
        assert address.api_key == KEY
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}) as http:
            response = await http.get(address.url + APPS)
        assert "qa-demo" in {app["name"] for app in response.json()["apps"]}
    finally:
        engine.stop()


def test_key_is_never_on_the_command_line_nor_in_repr(tmp_path: Path) -> None:
    with EngineProcess(data_dir=tmp_path, api_key=KEY) as engine:
        assert engine.pid is not None
        cmdline = Path(f"/proc/{engine.pid}/cmdline").read_bytes().split(b"\0")
        assert b"dusttui.engine.child" in cmdline
        assert not any(KEY.encode() in arg for arg in cmdline)
        assert KEY not in repr(engine)
        assert KEY not in repr(engine.wait_ready())
        assert engine.api_key == KEY


def test_stop_is_clean_and_idempotent(tmp_path: Path) -> None:
    engine = EngineProcess(data_dir=tmp_path)
    engine.start()
    url = engine.wait_ready().url
    pid = engine.pid
    engine.stop()
    assert engine.exit_code == 0
    assert pid is not None and _wait_gone(pid)
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + APPS)
    engine.stop()  # a second stop does nothing
    assert engine.url == ""


def test_child_exits_when_its_parent_is_killed(tmp_path: Path) -> None:
    # A stand-in TUI starts the engine, says the child's pid, then dies by SIGKILL (no cleanup).
    parent_code = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from dusttui.engine.process import EngineProcess
        engine = EngineProcess(data_dir=Path({str(tmp_path)!r}))
        engine.start()
        engine.wait_ready()
        print(engine.pid, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", parent_code], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        assert not _gone(child_pid)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        assert _wait_gone(child_pid), "the engine outlived the killed TUI"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
    # it stopped in order: the next engine opens the same database and serves
    with EngineProcess(data_dir=tmp_path) as again:
        assert again.url.startswith("http://127.0.0.1:")


def test_sigterm_stops_the_child_cleanly(tmp_path: Path) -> None:
    engine = EngineProcess(data_dir=tmp_path)
    engine.start()
    engine.wait_ready()
    assert engine.pid is not None
    os.kill(engine.pid, signal.SIGTERM)
    engine.stop()
    assert engine.exit_code == 0


def test_unopenable_database_gives_a_clear_error(tmp_path: Path) -> None:
    engine = EngineProcess(data_dir=tmp_path, db_path=tmp_path)  # a folder, not a file
    engine.start()
    with pytest.raises(EngineStartError) as info:
        engine.wait_ready()
    message = str(info.value)
    assert message.startswith(
        f"The embedded engine did not start: Cannot open the engine database {tmp_path}: "
    )
    assert "Traceback" not in message
    assert engine.pid is None  # stopped and joined


def test_bad_key_is_refused_without_echoing_it(tmp_path: Path) -> None:
    engine = EngineProcess(data_dir=tmp_path, api_key="not a key!")
    engine.start()
    with pytest.raises(EngineStartError) as info:
        engine.wait_ready()
    assert str(info.value).startswith(
        "The embedded engine did not start: The server key from DUSTTUI_SERVER_KEY is empty "
        "or has characters a Bearer token cannot carry"
    )
    assert "not a key!" not in str(info.value)


def test_a_crash_before_listening_shows_the_last_line_of_its_stderr(tmp_path: Path) -> None:
    fake = tmp_path / "fake-python"
    fake.write_text("#!/bin/sh\necho 'something unexpected broke' >&2\nexit 3\n")
    fake.chmod(0o755)
    engine = EngineProcess(data_dir=tmp_path, python=str(fake))
    engine.start()
    with pytest.raises(EngineStartError) as info:
        engine.wait_ready()
    assert str(info.value) == (
        "The embedded engine did not start (exit code 3): something unexpected broke"
    )


def test_missing_python_is_reported_by_wait_ready(tmp_path: Path) -> None:
    engine = EngineProcess(data_dir=tmp_path, python=str(tmp_path / "no-python"))
    engine.start()  # returns at once even though nothing could be launched
    with pytest.raises(EngineStartError, match=r"^Cannot start the engine process: "):
        engine.wait_ready()


# `dusttui serve`, its modules already imported, started when a line arrives on stdin: two such
# processes given their line together open one fresh data dir within a millisecond or so.
_SERVE_ON_CUE = """
import sys
import dusttui.cli, dusttui.enginecmd, dusttui.engine.embedded
print("ready", file=sys.stderr, flush=True)
sys.stdin.readline()
sys.argv = ["dusttui", "serve", "--port", "0"]
dusttui.cli.main()
"""


def test_two_engines_started_at_the_same_instant_on_one_new_data_dir_both_serve(
    tmp_path: Path,
) -> None:
    # issue 10: two `dusttui serve` on one fresh data dir at once failed 1 in 20 ("database is
    # locked": WAL switch) and, with no DUSTTUI_SERVER_KEY, 10 in 20 (the key file made by both)
    env = {k: v for k, v in os.environ.items() if k != "DUSTTUI_SERVER_KEY"}
    body = {"specification_hash": "latest", "config": {}, "inputs": [{"n": 0}], "blocking": True}
    for round_ in range(6):
        data = tmp_path / f"round{round_}"
        engines = [
            subprocess.Popen(
                [sys.executable, "-c", _SERVE_ON_CUE],
                stdin=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**env, "DUSTTUI_DATA_DIR": str(data)},
            )
            for _ in range(2)
        ]
        try:
            for engine in engines:
                assert engine.stderr is not None and engine.stderr.readline() == "ready\n"
            for engine in engines:  # both cues written before either is flushed
                assert engine.stdin is not None
                engine.stdin.write("go\n")
            for engine in engines:
                assert engine.stdin is not None
                engine.stdin.flush()
            urls = []
            for engine in engines:
                assert engine.stderr is not None
                first = engine.stderr.readline()
                assert first.startswith("dusttui engine listening on "), (
                    first + engine.stderr.read()
                )
                urls.append(first.removeprefix("dusttui engine listening on ").strip())
            key = (data / "engine" / "server_key").read_text().strip()
            assert key.startswith("sk-")
            runs = []
            for url in urls:
                answer = httpx.post(
                    f"{url}{APPS}/load-1000/runs",
                    json=body,
                    headers={"Authorization": f"Bearer {key}"},
                    timeout=60,
                )
                assert answer.status_code == 200, answer.text
                runs.append(answer.json()["run"])
            assert [run["status"]["run"] for run in runs] == ["succeeded", "succeeded"]
            # one database: each engine reads the run the other made
            other = httpx.get(
                f"{urls[0]}{APPS}/load-1000/runs/{runs[1]['run_id']}",
                headers={"Authorization": f"Bearer {key}"},
            )
            assert other.json()["run"]["results"] == runs[1]["results"]
            for engine in engines:
                engine.terminate()
            for engine in engines:
                assert engine.wait(timeout=30) == 0
                assert engine.stderr is not None
                assert "Traceback" not in engine.stderr.read()
        finally:
            for engine in engines:
                if engine.poll() is None:
                    engine.kill()
                    engine.wait()
