"""A real engine on a loopback port for the CLI's "remote" cases, and an isolated user."""

from __future__ import annotations

from pathlib import Path

import pytest

from dusttui.engine.embedded import EmbeddedEngine

KEY = "sk-cli-test-9f2e4d"

SLOW_APP = """input INPUT { }

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
"""


@pytest.fixture(autouse=True)
def isolated_user(tmp_path, monkeypatch):
    """No user config, data or DUST_* variable leaks into a test."""
    monkeypatch.setenv("DUSTTUI_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("DUSTTUI_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DUSTTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DUSTTUI_TOKEN_DELAY_MS", "0")
    monkeypatch.setenv("DUSTTUI_ENGINE_IDLE_SECONDS", "30")  # a backstop: stopped below
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    for var in ("DUST_API_KEY", "DUST_WORKSPACE_ID", "DUST_SPACE_ID", "DUST_BASE_URL", "NO_COLOR"):
        monkeypatch.delenv(var, raising=False)
    yield tmp_path
    from dusttui.engine.local import stop_local_engine

    stop_local_engine(tmp_path / "data" / "engine")  # the local engine a command started


@pytest.fixture(scope="session")
def engine(tmp_path_factory) -> EmbeddedEngine:
    """One engine for the session: the demo apps plus `slow` (a code block that waits)."""
    root: Path = tmp_path_factory.mktemp("cli-engine")
    apps = root / "apps"
    apps.mkdir()
    (apps / "slow.dust").write_text(SLOW_APP)
    with EmbeddedEngine(data_dir=root / "data", apps_dir=apps, api_key=KEY, token_delay=0) as eng:
        yield eng


@pytest.fixture
def remote(engine, monkeypatch) -> EmbeddedEngine:
    """Point the CLI at the engine as at any remote Dust API (DUST_* variables)."""
    monkeypatch.setenv("DUST_BASE_URL", engine.url)
    monkeypatch.setenv("DUST_WORKSPACE_ID", "w-cli")
    monkeypatch.setenv("DUST_SPACE_ID", "s-cli")
    monkeypatch.setenv("DUST_API_KEY", KEY)
    return engine
