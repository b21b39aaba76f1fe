"""Hostile input never takes the engine down (issue 10): every answer in Dust's envelope, no run
left running, idle and slow connections timed out — through a real engine on a loopback socket."""

from __future__ import annotations

import json
import os
import resource
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from dusttui.engine.serving import ConnectionLimits
from tests.engine.conftest import KEY, apps_url, auth, runs_url, stream_run, write_apps

LATEST = {"specification_hash": "latest", "config": {}}
TOO_DEEP = {
    "error": {
        "type": "invalid_request_error",
        "message": "The request body is nested too deeply: arrays and objects may be nested at "
        "most 128 levels deep (Dust's limit).",
    }
}


def _nested(depth: int) -> object:
    value: object = 1
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def _nested_text(depth: int) -> str:
    """The JSON text of `_nested(depth)` (json.dumps itself gives up near 1,000 levels)."""
    opens = ["[" if level % 2 else '{"k":' for level in range(depth)]
    closes = ["]" if level % 2 else "}" for level in range(depth)]
    return "".join(reversed(opens)) + "1" + "".join(closes)


def _no_run_running(http: httpx.Client, app: str) -> None:
    runs = http.get(runs_url(app) + "?limit=1000").json()["runs"]
    assert [r["run_id"] for r in runs if r["status"]["run"] == "running"] == []


# ------------------------------------------------------------------ deep JSON


@pytest.mark.parametrize("flavour", ["blocking", "non-blocking", "stream"])
@pytest.mark.parametrize("where", ["config", "inputs"])
@pytest.mark.parametrize("depth", [200, 980, 1000, 5000])
def test_json_nested_too_deep_is_refused_before_any_run(http, flavour, where, depth):
    deep = _nested_text(depth)
    config, inputs = '{"DOUBLE": {"deep": ' + deep + "}}", '[{"n": ' + deep + "}]"
    if where == "config":
        inputs = '[{"n": 1}]'
    else:
        config = "{}"
    extra = "" if flavour == "non-blocking" else f', "{flavour}": true'
    text = f'{{"specification_hash": "latest", "config": {config}, "inputs": {inputs}{extra}}}'
    response = http.post(runs_url("double"), content=text)
    assert (response.status_code, response.json()) == (400, TOO_DEEP)
    assert http.get(runs_url("double")).json()["total"] == 0


def test_nested_text_is_the_nested_value():
    assert json.loads(_nested_text(5)) == _nested(5)


def test_json_nested_within_the_limit_runs(http):
    # 128 levels in all: the body, `inputs`, the input object, then 125 levels of value.
    body = {**LATEST, "inputs": [{"n": _nested(125)}], "blocking": True}
    run = http.post(runs_url("double"), json=body).json()["run"]
    assert run["status"]["run"] == "succeeded"
    assert run["traces"][0][1][0][0]["value"] == {"n": _nested(125)}
    deeper = {**body, "inputs": [{"n": _nested(126)}]}
    assert http.post(runs_url("double"), json=deeper).json() == TOO_DEEP


# ------------------------------------------------------------------ odd listing numbers and methods


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=²", "`limit` must be a non-negative integer (got '²')."),
        ("limit=-1", "`limit` must be a non-negative integer (got '-1')."),
        ("offset=1e3", "`offset` must be a non-negative integer (got '1e3')."),
        ("limit=9223372036854775808", "`limit` must be at most 2^62 (got 9223372036854775808)"),
        (
            "offset=99999999999999999999999",
            "`offset` must be at most 2^62 (got 99999999999999999999999)",
        ),
    ],
)
def test_odd_listing_numbers_are_invalid_requests(http, query, message):
    response = http.get(runs_url("double") + "?" + query)
    assert response.status_code == 400
    assert response.json() == {"error": {"type": "invalid_request_error", "message": message}}


@pytest.mark.parametrize(
    "method", ["TRACE", "PROPFIND", "FOO", "PUT", "DELETE", "PATCH", "OPTIONS"]
)
@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (apps_url(), "GET"),
        (runs_url("double"), "POST"),
        (runs_url("double", run_id="a" * 64), "GET"),
        (runs_url("double", run_id="a" * 64) + "/status", "GET"),
        (runs_url("double", run_id="a" * 64) + "/cancel", "POST"),
        ("/dusttui/v1/engine", "GET"),
        ("/dusttui/v1/engine/stop", "POST"),
    ],
)
def test_every_unknown_method_gets_the_405_envelope(http, method, path, expected):
    response = http.request(method, path)
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "error": {
            "type": "method_not_supported_error",
            "message": f"The method passed is not supported, {expected} is expected.",
        }
    }


@pytest.mark.parametrize(
    "path",
    ["/", "/api/v2/x", "/api/v1/w/w/spaces/s/apps/a/runs/r/x/y", "/%00%ff", "/" + "x" * 5000],
)
def test_unknown_paths_get_the_404_envelope(http, path):
    response = http.request("FOO", path)
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["type"] == "not_found"
    assert error["message"].startswith("No endpoint FOO /")
    assert len(error["message"]) < 260  # a long path is cut in the message


# ------------------------------------------------------------------ values JSON cannot carry


class _SurrogateModel(BaseHTTPRequestHandler):
    """An OpenAI-compatible server whose answer ends inside an emoji (a lone surrogate)."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        body = (
            b'{"id":"c1","choices":[{"index":0,"message":{"role":"assistant",'
            b'"content":"abcd\\ud83d"}}],"usage":{"prompt_tokens":1,"completion_tokens":1}}'
        )
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def surrogate_model(monkeypatch) -> Iterator[None]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SurrogateModel)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("OPENAI_COMPATIBLE_BASE_URL", f"http://127.0.0.1:{server.server_port}/v1")
    yield
    server.shutdown()


REFUSED = (
    "text that is not valid Unicode (a lone UTF-16 surrogate, e.g. a string cut inside an emoji)"
)


@pytest.mark.parametrize("flavour", ["blocking", "non-blocking", "stream"])
def test_an_output_json_cannot_carry_ends_the_run_errored_with_the_reason(
    engine_factory, tmp_path, surrogate_model, flavour
):
    apps = write_apps(
        tmp_path / "model-apps",
        {
            "model.dust": "input INPUT { }\n\nllm MODEL {\n  max_tokens: 8\n  temperature: 0\n  prompt:\n```\n{{INPUT.q}}\n```\n}\n"
        },
    )
    engine = engine_factory(apps_dir=apps)
    config = {"MODEL": {"provider_id": "openai_compatible", "model_id": "m", "use_stream": False}}
    body = {"specification_hash": "latest", "config": config, "inputs": [{"q": "hi"}]}
    with httpx.Client(base_url=engine.url, headers=auth(engine.api_key), timeout=30) as http:
        if flavour == "stream":
            response, sse = stream_run(http, "model", body)
            assert sse.types[-4:] == ["block_execution", "block_status", "run_status", "final"]
            run_id = sse.events[0]["content"]["run_id"]
        else:
            response = http.post(
                runs_url("model"), json={**body, "blocking": flavour == "blocking"}
            )
            run_id = response.json()["run"]["run_id"]
        assert response.status_code == 200
        deadline = time.monotonic() + 30
        while (run := http.get(runs_url("model", run_id=run_id)).json()["run"])["status"][
            "run"
        ] == "running":
            assert time.monotonic() < deadline, "the run stayed running"
            time.sleep(0.01)
        _no_run_running(http, "model")
    assert run["status"]["blocks"][1] == {
        "block_type": "llm",
        "name": "MODEL",
        "status": "errored",
        "success_count": 0,
        "error_count": 1,
    }
    assert run["traces"][1][1] == [
        [{"value": None, "error": f"Output refused: {REFUSED}.", "meta": None}]
    ]
    assert run["error"] == f"Run stopped: block `MODEL` produced {REFUSED}."
    assert run["dusttui"]["end_reason"] == "engine_error"


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /dusttui/v1/engine?x=\x1b]52;c;aGk=\x07 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS hello on the plain port
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    ],
)
def test_bytes_that_are_not_http_get_the_envelope(engine, request_bytes):
    # uvicorn answered these in plain text ("Invalid HTTP request received.")
    host, port = engine.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(request_bytes)
        sock.settimeout(20)
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"content-type: application/json" in head.lower()
    assert f"content-length: {len(body)}".encode() in head.lower()
    assert json.loads(body) == {
        "error": {
            "type": "invalid_request_error",
            "message": "The request is not valid HTTP/1.1: its request line or a header is "
            "malformed.",
        }
    }


# ------------------------------------------------------------------ connections


def _closed_by_server(sock: socket.socket, seconds: float = 20.0) -> bool:
    sock.settimeout(seconds)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_idle_connections_are_closed_and_capped_while_clients_are_served(engine_factory):
    engine = engine_factory(connection_limits=ConnectionLimits(header_timeout=1.0, max_idle=4))
    host, port = engine.url.removeprefix("http://").split(":")
    idle = [socket.create_connection((host, int(port))) for _ in range(12)]
    try:
        # A real client is served while a dozen sockets sit idle.
        with httpx.Client(base_url=engine.url, headers=auth(engine.api_key), timeout=10) as http:
            assert http.get(apps_url()).status_code == 200
        # The oldest beyond the cap are dropped at once, the others when their time is up.
        assert all(_closed_by_server(sock) for sock in idle)
    finally:
        for sock in idle:
            sock.close()


def test_a_kept_alive_connection_left_idle_after_its_answer_is_closed(engine_factory):
    engine = engine_factory(connection_limits=ConnectionLimits(header_timeout=1.0, max_idle=50))
    host, port = engine.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            f"GET /dusttui/v1/engine HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            f"{engine.api_key}\r\n\r\n".encode()
        )
        sock.settimeout(20)
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 200 ")
        assert b"connection: close" not in answer.lower()  # kept alive, then idle
        sock.settimeout(None)
        while True:  # the rest of the answer, then nothing until the server closes
            chunk = sock.recv(4096) if _readable(sock, 20) else None
            if not chunk:
                break
        assert chunk == b"", "the idle kept-alive connection was never closed"


def _readable(sock: socket.socket, seconds: float) -> bool:
    return bool(select.select([sock], [], [], seconds)[0])


def test_a_slow_sender_of_headers_is_cut_off(engine_factory):
    engine = engine_factory(connection_limits=ConnectionLimits(header_timeout=1.0, max_idle=50))
    host, port = engine.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.settimeout(0.2)
        request = (
            f"GET {apps_url()} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {engine.api_key}\r\n"
        )
        closed = False
        for byte in request.encode():  # one byte every 0.2 s: it would take 20 s
            try:
                sock.sendall(bytes([byte]))
                closed = sock.recv(1) == b""
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                closed = True
            if closed:
                break
        assert closed, "the slow sender was never cut off"


def test_a_body_that_never_arrives_is_refused_in_the_envelope(engine_factory):
    engine = engine_factory(body_timeout=1.0)
    host, port = engine.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            (
                f"POST {runs_url('double')} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                f"{engine.api_key}\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n"
                '{"specification_hash": "latest", '
            ).encode()
        )
        sock.settimeout(20)
        answer = b""
        while b"}}" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert json.loads(body) == {
        "error": {
            "type": "invalid_request_error",
            "message": "The request body did not arrive within 1 s.",
        }
    }


def test_idle_sockets_beyond_the_open_files_limit_never_block_service(tmp_path, apps_dir):
    # `dusttui serve` with 256 open files at most (soft and hard): 300 idle sockets used to take
    # every descriptor and block all service; now the oldest idle ones are closed to make room.
    env = {**os.environ, "DUSTTUI_DATA_DIR": str(tmp_path / "data"), "DUSTTUI_SERVER_KEY": KEY}

    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    serve = subprocess.Popen(
        [sys.executable, "-m", "dusttui", "serve", "--port", "0", "--apps", str(apps_dir)],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=limit_files,
    )
    idle: list[socket.socket] = []
    try:
        assert serve.stderr is not None
        url = serve.stderr.readline().split(" on ", 1)[1].strip()
        host, port = url.removeprefix("http://").split(":")
        idle = [socket.create_connection((host, int(port))) for _ in range(300)]
        with httpx.Client(base_url=url, headers=auth(KEY), timeout=30) as http:
            body = {**LATEST, "inputs": [{"n": 2}], "blocking": True}
            run = http.post(runs_url("double"), json=body).json()["run"]
        assert run["results"] == [[{"value": {"x": 4}, "error": None, "meta": {"logs": ["n=2"]}}]]
    finally:
        for sock in idle:
            sock.close()
        serve.terminate()
        assert serve.wait(timeout=30) == 0
    assert serve.stderr is not None
    stderr = serve.stderr.read()
    assert "Too many open files" not in stderr and "Traceback" not in stderr
    assert stderr.splitlines()[-1] == "dusttui engine stopped (SIGTERM)."


# ------------------------------------------------------------------ what `dusttui serve` prints


def test_app_files_never_put_escape_sequences_on_the_terminal_of_dusttui_serve(tmp_path):
    # An app folder is not ours: a file name, or a text quoted in a parse error, holding
    # `ESC ] 52 ; …` would set the clipboard of whoever runs `dusttui serve` on it.
    osc52, clear = "\x1b]52;c;cHduZWQ=\x07", "\x1b[2J"
    apps = write_apps(
        tmp_path / "hostile",
        {
            f"clip{osc52}.dust": "nope\n",
            "quoted.dust": f"input INPUT {{ }}\n\n{clear}code X {{\n}}\n",
        },
    )
    env = {**os.environ, "DUSTTUI_DATA_DIR": str(tmp_path / "data"), "DUSTTUI_SERVER_KEY": KEY}
    serve = subprocess.Popen(
        [sys.executable, "-m", "dusttui", "serve", "--port", "0", "--apps", str(apps)],
        stderr=subprocess.PIPE,
        env=env,
    )
    printed = ""
    try:
        assert serve.stderr is not None
        while "dusttui engine listening on " not in printed:
            line = serve.stderr.readline().decode()
            assert line, printed
            printed += line
        url = printed.rsplit(" on ", 1)[1].strip()
        with httpx.Client(base_url=url, headers=auth(KEY), timeout=30) as http:
            listed = {app["name"] for app in http.get(apps_url()).json()["apps"]}
        assert {f"clip{osc52}", "quoted"} <= listed  # served as they are: clients escape them
    finally:
        serve.terminate()
        assert serve.wait(timeout=30) == 0
    assert serve.stderr is not None
    printed += serve.stderr.read().decode()
    assert "\x1b" not in printed and "\x07" not in printed
    assert (
        "App clip\\x1b]52;c;cHduZWQ=\\x07 does not parse: line 2, column 1: expected a block name "
        "after `nope` (UPPER_CASE: A-Z, 0-9 and `_`), found the end of the file" in printed
    )
    assert (
        "App quoted does not parse: line 3, column 1: expected a block type such as `input` or "
        "`code`, found `\\x1b`" in printed
    )


# ------------------------------------------------------------------ bounded memory per run


def test_model_outputs_past_the_runs_allowance_are_refused_with_the_setting_named(
    engine_factory, monkeypatch
):
    # Only code blocks had a per-run allowance: an llm block echoing an 8 M-character prompt gave
    # 64 MB per input, so enough inputs took the engine's memory without bound.
    monkeypatch.setenv("DUSTTUI_RUN_OUTPUT_MB", "1")
    engine = engine_factory()
    config = {"MODEL": {"provider_id": "offline", "model_id": "upper", "concurrency": 1}}
    body = {
        "specification_hash": "latest",
        "config": config,
        "inputs": [{"q": "x" * 100_000} for _ in range(4)],
        "blocking": True,
    }
    with httpx.Client(base_url=engine.url, headers=auth(engine.api_key), timeout=60) as http:
        run = http.post(runs_url("shout"), json=body).json()["run"]
        again = http.post(runs_url("shout"), json={**body, "inputs": body["inputs"][:2]})
    refused = {
        "value": None,
        "error": "Output refused: this output (0.4 MB of JSON) would take the run's outputs past "
        "1 MB, the engine's limit per run (DUSTTUI_RUN_OUTPUT_MB sets it).",
        "meta": None,
    }
    rows = [row[0] for row in run["traces"][1][1]]
    assert [row["value"]["completion"]["text"] for row in rows[:2]] == ["X" * 100_000] * 2
    assert rows[2:] == [refused, refused]
    assert run["status"]["run"] == "errored"
    assert run["status"]["blocks"][1] == {
        "block_type": "llm",
        "name": "MODEL",
        "status": "errored",
        "success_count": 2,
        "error_count": 2,
    }
    assert run["dusttui"]["end_reason"] is None  # a block failed: the run ended by itself
    assert again.json()["run"]["status"]["run"] == "succeeded"  # each run has its own allowance


def test_the_run_output_setting_is_megabytes_and_nonsense_keeps_the_default(monkeypatch, caplog):
    from dusttui.engine.context import run_output_bytes_from_env

    monkeypatch.setenv("DUSTTUI_RUN_OUTPUT_MB", "0.5")
    assert run_output_bytes_from_env() == 524_288
    for nonsense in ("lots", "-3", "0"):
        monkeypatch.setenv("DUSTTUI_RUN_OUTPUT_MB", nonsense)
        assert run_output_bytes_from_env() == 134_217_728  # 128 MB
    assert "DUSTTUI_RUN_OUTPUT_MB='lots' is not a positive number: using the default" in caplog.text
