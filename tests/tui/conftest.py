"""TUI test fixtures: a real embedded engine on loopback, and Apps built around a real client.

No user config, data dir or clock leaks in: the DUSTTUI_* variables point at tmp paths, the time
zone is UTC, and snapshot apps get a fixed clock.
"""

from __future__ import annotations

import os

os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")  # before Textual is imported

import itertools
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dusttui.api.client import DustClient
from dusttui.api.journal import Journal
from dusttui.config import Backend, Settings
from dusttui.tui.app import DustApp
from dusttui.tui.themes import bundled_themes_dir

FIXED_NOW = 1_767_225_600.0  # 2026-01-01 00:00:00 UTC
SIZE = (120, 36)

# An app whose name, description and error text look like Textual markup: they must show as-is.
MARKUP_APP = "[b]markup-demo"
MARKUP_DUST = """input INPUT { }

code BOOM {
  code:
```
_fun = (env) => {
  throw new Error("[/x] closing tag and [bold]not bold[/bold]");
}
```
}
"""
# An app that fails with whatever message its input gives (long, multi-line, control characters).
ECHO_ERROR_APP = "echo-error"
ECHO_ERROR_DUST = """input INPUT { }

code FAIL {
  code:
```
_fun = (env) => {
  if (env.state.INPUT.fail) { throw new Error(env.state.INPUT.fail); }
  return { ok: env.state.INPUT.text };
}
```
}
"""


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUSTTUI_CONFIG", str(tmp_path / "cfg" / "config.toml"))
    monkeypatch.setenv("DUSTTUI_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("DUSTTUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """One embedded engine for the TUI tests: the bundled demo apps plus the markup app."""
    from dusttui.engine.embedded import EmbeddedEngine

    apps = tmp_path_factory.mktemp("apps")
    (apps / f"{MARKUP_APP}.dust").write_text(MARKUP_DUST)
    (apps / f"{MARKUP_APP}.description.txt").write_text("[/x] a description with [b]markup[/b]")
    (apps / f"{MARKUP_APP}.inputs.jsonl").write_text('{"q": "[red]x"}\n')
    (apps / f"{ECHO_ERROR_APP}.dust").write_text(ECHO_ERROR_DUST)
    eng = EmbeddedEngine(data_dir=tmp_path_factory.mktemp("engine"), apps_dir=apps, token_delay=0.0)
    eng.start()
    yield eng
    eng.stop()


@pytest.fixture(scope="session")
def slow_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """An engine with `slow`: a code block whose inputs each wait `ms` milliseconds."""
    from dusttui.engine.embedded import EmbeddedEngine
    from tests.cli.procs import SLOW_BLOCK_APP

    apps = tmp_path_factory.mktemp("slow-apps")
    (apps / "slow.dust").write_text(SLOW_BLOCK_APP)
    eng = EmbeddedEngine(data_dir=tmp_path_factory.mktemp("slow-engine"), apps_dir=apps)
    eng.start()
    yield eng
    eng.stop()


EMBEDDED = Backend("embedded", None, "local", "local", None)


@pytest.fixture
def make_app(engine, tmp_path: Path) -> Iterator[Callable[..., DustApp]]:
    """Build a DustApp with a real client to the engine and a fresh journal in tmp_path."""
    journals: list[Journal] = []

    def build(
        settings: Settings | None = None,
        *,
        clock: Callable[[], float] = time.time,
        theme_dirs: tuple[Path | None, ...] | None = None,
        journal_path: Path | None = None,
        on: object | None = None,
    ) -> DustApp:
        target: Any = on or engine  # another engine than the shared one
        client = DustClient(target.url, target.api_key, "local", "local")
        journal = Journal(journal_path or tmp_path / "data" / "journal.sqlite")
        journals.append(journal)
        return DustApp(
            settings or Settings(bell=False),
            backend=EMBEDDED,
            client=client,
            journal=journal,
            clock=clock,
            theme_dirs=theme_dirs or (bundled_themes_dir(),),
            data_path=tmp_path / "data",
            cursor_blink=False,
        )

    yield build
    for journal in journals:
        journal.close()


@pytest.fixture
def fixed_run_ids(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """Run ids that depend only on the test and the launch order (snapshots must not vary).

    They differ between tests because the engine, shared by the session, keeps every run.
    """
    from blake3 import blake3

    from dusttui.engine import record

    counter = itertools.count(1)
    name = request.node.name
    monkeypatch.setattr(
        record, "new_run_id", lambda: blake3(f"{name}:{next(counter)}".encode()).hexdigest()
    )


def fixed_clock() -> float:
    """A clock that never moves (elapsed times read 0.0 s)."""
    return FIXED_NOW
