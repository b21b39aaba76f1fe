"""A real engine on a loopback port serving small apps to compare, and an isolated user.

def test_x(remote, make_run):                  # the CLI points at the engine (DUST_* vars)
    run = make_run("iter", [{"id": 1, "n": 2, "word": "a"}])   # a blocking run's JSON
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dusttui.api.client import DustClient
from dusttui.api.journal import Journal
from dusttui.config import Backend, Settings
from dusttui.engine.embedded import EmbeddedEngine
from dusttui.tui.app import DustApp
from dusttui.tui.themes import bundled_themes_dir

KEY = "sk-compare-test-51c0de"

# INPUT → LIST (fails on a negative n) → a map over n words → SAY (offline llm) → JOIN.
ITER_APP = """input INPUT { }

code LIST {
  code:
```
_fun = (env) => {
  const n = env.state.INPUT.n;
  if (n < 0) { throw new Error("negative n: " + n); }
  return Array.from({ length: n }, (_, k) => env.state.INPUT.word + k);
}
```
}

map EACH {
  from: LIST
}

llm SAY {
  max_tokens: 16
  temperature: 0
  prompt:
```
{{EACH}} is here
```
}

reduce EACH { }

code JOIN {
  code:
```
_fun = (env) => ({ id: env.state.INPUT.id, said: env.state.SAY.map((s) => s.completion.text).join(", ") });
```
}
"""
ITER_CONFIG = {"SAY": {"provider_id": "offline", "model_id": "echo"}}
UPPER_CONFIG = {"SAY": {"provider_id": "offline", "model_id": "upper"}}

# Echoes its input's text: values with control characters for the terminal tests.
ECHO_APP = """input INPUT { }

code ECHO {
  code:
```
_fun = (env) => ({ text: env.state.INPUT.text });
```
}
"""

# Fails where an input says, by its place in the run (`env.input.index`): the same input passes
# when it is re-run alone (at index 0). PREP failing stops the run before LAST; LAST is the end.
RETRY_APP = """input INPUT { }

code PREP {
  code:
```
_fun = (env) => {
  if (env.state.INPUT.fail_prep === env.input.index) { throw new Error("prep failed here"); }
  return { id: env.state.INPUT.id, doubled: env.state.INPUT.id * 2 };
}
```
}

code LAST {
  code:
```
_fun = (env) => {
  if (env.state.INPUT.fail_last === env.input.index) { throw new Error("last failed here"); }
  return { id: env.state.INPUT.id, done: true };
}
```
}
"""


@pytest.fixture(autouse=True)
def isolated_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No user config, data or DUST_* variable leaks into a test."""
    monkeypatch.setenv("DUSTTUI_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("DUSTTUI_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DUSTTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DUSTTUI_TOKEN_DELAY_MS", "0")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    for var in ("DUST_API_KEY", "DUST_WORKSPACE_ID", "DUST_SPACE_ID", "DUST_BASE_URL", "NO_COLOR"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


@pytest.fixture(scope="session")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The apps folder the session's engine serves (a test may rewrite an app: new hash)."""
    folder = tmp_path_factory.mktemp("compare-apps")
    (folder / "iter.dust").write_text(ITER_APP)
    (folder / "iter.config.json").write_text(json.dumps(ITER_CONFIG))
    (folder / "echo.dust").write_text(ECHO_APP)
    (folder / "retry.dust").write_text(RETRY_APP)
    return folder


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory, apps: Path) -> Iterator[EmbeddedEngine]:
    """One engine for the session: the apps above, plus the bundled demos."""
    root = tmp_path_factory.mktemp("compare-engine")
    with EmbeddedEngine(data_dir=root / "data", apps_dir=apps, api_key=KEY, token_delay=0) as eng:
        yield eng


@pytest.fixture
def remote(engine: EmbeddedEngine, monkeypatch: pytest.MonkeyPatch) -> EmbeddedEngine:
    """Point the CLI at the engine as at any remote Dust API (DUST_* variables)."""
    monkeypatch.setenv("DUST_BASE_URL", engine.url)
    monkeypatch.setenv("DUST_WORKSPACE_ID", "w-cmp")
    monkeypatch.setenv("DUST_SPACE_ID", "s-cmp")
    monkeypatch.setenv("DUST_API_KEY", KEY)
    return engine


@pytest.fixture
def make_run(engine: EmbeddedEngine) -> Callable[..., dict[str, Any]]:
    """Run an app to its end (a blocking run over HTTP) and return the run's JSON."""

    def make(
        app: str,
        inputs: list[dict[str, Any]],
        config: dict[str, Any] | None = None,
        spec_hash: str = "latest",
    ) -> dict[str, Any]:
        body = {
            "specification_hash": spec_hash,
            "config": ITER_CONFIG if config is None and app == "iter" else (config or {}),
            "inputs": inputs,
            "blocking": True,
        }
        url = f"{engine.url}/api/v1/w/w-cmp/spaces/s-cmp/apps/{app}/runs"
        answer = httpx.post(url, json=body, headers={"Authorization": f"Bearer {KEY}"}, timeout=60)
        assert answer.status_code == 200, answer.text
        run: dict[str, Any] = answer.json()["run"]
        return run

    return make


EMBEDDED = Backend("embedded", None, "local", "local", None)


@pytest.fixture
def make_app(engine: Any, tmp_path: Path) -> Iterator[Callable[[], DustApp]]:
    """A DustApp on the compare engine, its journal in tmp_path (the same for every app built)."""
    journals: list[Journal] = []

    def build() -> DustApp:
        journal = Journal(tmp_path / "data" / "journal.sqlite")
        journals.append(journal)
        return DustApp(
            Settings(bell=False),
            backend=EMBEDDED,
            client=DustClient(engine.url, engine.api_key, "local", "local"),
            journal=journal,
            theme_dirs=(bundled_themes_dir(),),
            data_path=tmp_path / "data",
            cursor_blink=False,
        )

    yield build
    for journal in journals:
        journal.close()
