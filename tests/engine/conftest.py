"""Shared fixtures: a real engine (uvicorn on 127.0.0.1, port 0, tmp SQLite file) and plain httpx.

Protocol tests talk plain httpx, never the dusttui client, so they check the literal wire JSON.

    def test_x(engine, http):                       # started engine + authenticated httpx.Client
        r = http.post(runs_url("double"), json={...})
    def test_y(engine_factory):                     # engines with other options, stopped for you
        slow = engine_factory(token_delay=0.2, keepalive_interval=0.05)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from dusttui.engine.embedded import EmbeddedEngine

KEY = "sk-test-3c1f0a9e7b2d4c6a"
WORKSPACE = "w0rkspace"
SPACE = "sp4ce"
HEX64 = re.compile(r"^[0-9a-f]{64}$")

# The four URL forms of PROTOCOL §1 (the last has no apps listing).
PREFIXES: dict[str, str] = {
    "spaces": f"/api/v1/w/{WORKSPACE}/spaces/{SPACE}",
    "vaults": f"/api/v1/w/{WORKSPACE}/vaults/{SPACE}",
    "workspace": f"/api/v1/w/{WORKSPACE}",
    "user": "/api/v1/apps/someone",
}

# Small apps of our own, so protocol tests do not move when the bundled demos change.
TEST_APPS: dict[str, str] = {
    "double.dust": """input INPUT { }

code DOUBLE {
  code:
```
_fun = (env) => {
  console.log("n=" + env.state.INPUT.n);
  if (env.state.INPUT.n < 0) { throw new Error("negative n"); }
  return { x: env.state.INPUT.n * 2 };
}
```
}
""",
    "slow.dust": """input INPUT { }

code WAIT {
  code:
```
_fun = (env) => {
  const until = Date.now() + env.state.INPUT.ms;
  while (Date.now() < until) {}
  return { waited: env.state.INPUT.ms };
}
```
}

code AFTER {
  code:
```
_fun = (env) => "done";
```
}
""",
    "shout.dust": """input INPUT { }

llm MODEL {
  max_tokens: 64
  temperature: 0.7
  prompt:
```
{{INPUT.q}}
```
}
""",
    "shout.config.json": json.dumps(
        {"MODEL": {"provider_id": "offline", "model_id": "upper", "use_stream": True}}
    ),
    "shout.inputs.jsonl": '{"q": "hello world"}\n{"q": "a b c"}\n',
    "shout.description.txt": "Shouts the question back (offline provider, not a model).\n",
}
SHOUT_CONFIG: dict[str, Any] = json.loads(TEST_APPS["shout.config.json"])


def runs_url(app: str, style: str = "spaces", run_id: str | None = None) -> str:
    """The runs URL of an app in one of the four URL forms (optionally of one run)."""
    url = f"{PREFIXES[style]}/apps/{app}/runs"
    return url if run_id is None else f"{url}/{run_id}"


def apps_url(style: str = "spaces") -> str:
    """The apps listing URL in one of the three forms that have one."""
    return f"{PREFIXES[style]}/apps"


def auth(key: str = KEY) -> dict[str, str]:
    """The Authorization header for a key."""
    return {"Authorization": f"Bearer {key}"}


@dataclass
class SSE:
    """A stream as received: decoded events in order, the comment lines, and the raw bytes."""

    events: list[dict[str, Any]] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    raw: bytes = b""

    @property
    def types(self) -> list[str]:
        """The event types in order."""
        return [event["type"] for event in self.events]


def parse_sse(raw: bytes) -> SSE:
    """Parse a data-only SSE body, checking its framing: `data: <JSON>` lines, a blank line after."""
    sse = SSE(raw=raw)
    for chunk in raw.decode().split("\n\n"):
        if not chunk:
            continue
        assert "\n" not in chunk, f"one line per event expected, got {chunk!r}"
        if chunk.startswith(":"):
            sse.comments.append(chunk)
            continue
        assert chunk.startswith("data: "), f"only data lines expected, got {chunk!r}"
        sse.events.append(json.loads(chunk[len("data: ") :]))
    assert raw.endswith(b"\n\n"), "a stream ends with a blank line"
    return sse


def stream_run(
    http: httpx.Client, app: str, body: dict[str, Any], style: str = "spaces"
) -> tuple[httpx.Response, SSE]:
    """POST a streamed run and read the whole stream."""
    with http.stream("POST", runs_url(app, style), json={**body, "stream": True}) as response:
        raw = response.read()
    return response, parse_sse(raw)


def write_apps(folder: Path, files: dict[str, str]) -> Path:
    """Write app files (name → text) into a folder; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def apps_dir(tmp_path: Path) -> Path:
    """A user apps folder holding TEST_APPS."""
    return write_apps(tmp_path / "apps", TEST_APPS)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """The engine's data dir (database and key) for this test."""
    return tmp_path / "data"


@pytest.fixture
def engine_factory(
    data_dir: Path, apps_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., EmbeddedEngine]]:
    """Start engines (default: KEY, TEST_APPS + bundled demos, no token pacing); all stopped after."""
    monkeypatch.delenv("DUSTTUI_SERVER_KEY", raising=False)
    started: list[EmbeddedEngine] = []

    def make(**options: Any) -> EmbeddedEngine:
        options.setdefault("data_dir", data_dir)
        options.setdefault("apps_dir", apps_dir)
        options.setdefault("api_key", KEY)
        options.setdefault("token_delay", 0.0)
        engine = EmbeddedEngine(**options)
        engine.start()
        started.append(engine)
        return engine

    yield make
    for engine in reversed(started):
        engine.stop()


@pytest.fixture
def engine(engine_factory: Callable[..., EmbeddedEngine]) -> EmbeddedEngine:
    """A started engine with the default options."""
    return engine_factory()


@pytest.fixture
def http(engine: EmbeddedEngine) -> Iterator[httpx.Client]:
    """A plain httpx client to `engine`, sending its key."""
    with httpx.Client(base_url=engine.url, headers=auth(engine.api_key), timeout=30) as client:
        yield client
