"""Start-up: the local apps are listed from their folder while the local engine starts.

A real local engine (the detached process every dusttui shares), held back by a gate the test
opens: the TUI must be usable before it answers, and a launch made meanwhile must wait for it
visibly, then go out.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from textual import events
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, TabbedContent

from dusttui.config import Backend, Settings
from dusttui.engine.process import EngineStartError
from dusttui.session.backend import Connector
from dusttui.tui.app import DustApp
from dusttui.tui.screens.main import MainScreen
from dusttui.tui.screens.start import StartScreen
from dusttui.tui.themes import bundled_themes_dir
from tests.tui.conftest import EMBEDDED, SIZE
from tests.tui.helpers import finish, notifications, pick, screen_text, text_of

GOOD_DUST = """input INPUT { }

code ECHO {
  code:
```
_fun = (env) => {
  return { said: env.state.INPUT.text };
}
```
}
"""
BROKEN_DUST = "input INPUT { }\n\ncode ECHO {\n  code: oops\n"
FILTERED = ["flaky-demo", "map-reduce-demo", "paced-demo", "qa-demo", "while-demo"]
DEMOS = ["flaky-demo", "load-1000", "map-reduce-demo", "paced-demo", "qa-demo", "while-demo"]


class GatedConnector(Connector):
    """The real local engine, started only once the test opens the gate (a slow start)."""

    def __init__(self, backend: Backend, settings: Settings, *, fail: bool = False) -> None:
        super().__init__(backend, settings)
        self.gate = threading.Event()
        self.fail = fail

    def _local_engine(self) -> Any:
        if not self.gate.wait(timeout=60):
            raise EngineStartError("The test never opened the gate.")
        if self.fail:
            raise EngineStartError("The local engine did not start: the test said no.")
        return super()._local_engine()


@pytest.fixture
def apps_dir(tmp_path: Path) -> Path:
    """A user's apps folder: one app that works, one whose .dust does not parse."""
    apps = tmp_path / "apps"
    apps.mkdir()
    (apps / "echo.dust").write_text(GOOD_DUST)
    (apps / "echo.description.txt").write_text("Says it back.")
    (apps / "echo.inputs.jsonl").write_text('{"text": "from the folder"}\n')
    (apps / "broken.dust").write_text(BROKEN_DUST)
    return apps


@pytest.fixture
def gated(
    apps_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., tuple[DustApp, GatedConnector]]]:
    """An App as `dusttui` builds it, its local engine held back until ``connector.gate`` opens."""
    from dusttui.engine.local import stop_local_engine

    monkeypatch.setenv("DUSTTUI_ENGINE_IDLE_SECONDS", "30")
    for name, sub in (("HOME", "home"), ("XDG_DATA_HOME", "xdg-data"), ("XDG_CONFIG_HOME", "xdg")):
        monkeypatch.setenv(name, str(tmp_path / sub))
    monkeypatch.delenv("DUSTTUI_ENGINE_THREAD", raising=False)
    built: list[GatedConnector] = []

    def build(*, fail: bool = False) -> tuple[DustApp, GatedConnector]:
        settings = Settings(bell=False, apps_dir=apps_dir, token_delay_ms=0)
        connector = GatedConnector(EMBEDDED, settings, fail=fail)
        connector.start()  # as the CLI does, before the App exists
        built.append(connector)
        for _ in range(1000):  # the CLI imports Textual meanwhile: the names are always there
            if connector.folder_names is not None:
                break
            time.sleep(0.01)
        app = DustApp(
            settings,
            backend=EMBEDDED,
            connector=connector,
            theme_dirs=(bundled_themes_dir(),),
            cursor_blink=False,
        )
        return app, connector

    yield build
    for connector in built:
        connector.fail = True  # an engine the test never let start is not started now
        connector.gate.set()
        with contextlib.suppress(EngineStartError):
            connector.wait_ready()  # the start thread is over
    stop_local_engine(tmp_path / "data" / "engine")


@pytest.fixture
def files_gate(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Reading the apps' files (the real reader) waits until the test sets this: a slow disk."""
    from dusttui.session import folder_apps

    gate = threading.Event()
    read = folder_apps.read_folder_apps

    def slow_read(apps_dir: Path | None) -> list[Any]:
        gate.wait(timeout=60)
        return read(apps_dir)

    monkeypatch.setattr(folder_apps, "read_folder_apps", slow_read)
    return gate


async def until(pilot: Pilot, condition: Callable[[], bool]) -> None:
    """Let the app work until ``condition`` holds (a guard, not a timing assertion)."""
    for _ in range(600):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("it never happened")


def main_listed(app: DustApp) -> bool:
    """The main screen is up with its apps listed."""
    return isinstance(app.screen, MainScreen) and bool(listed(app))


def listed(app: DustApp) -> list[str]:
    """The apps list's rows, as shown."""
    found = app.screen.query("#apps-list").results(OptionList)
    return [str(option.prompt) for apps_list in found for option in apps_list.options]


async def test_apps_are_listed_from_the_folder_and_a_launch_waits_for_the_engine(gated):
    app, connector = gated()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: main_listed(app))
        # Usable before the engine answers: every app of the folder and the demos, by name.
        assert app.apps_source == "folder"
        assert not connector.connected

        assert listed(app) == ["broken ✗", "echo", *DEMOS]
        assert text_of(app, "#status-connection").endswith("local engine starting")

        # The broken .dust is listed with its problem.
        await pick(pilot, "broken")
        line = text_of(app, "#app-line")
        assert line.startswith("broken · ")
        assert line.endswith(" · ✗ does not parse")
        app.main.query_one(TabbedContent).active = "tab-spec"
        await pilot.pause()
        await until(pilot, lambda: "✗ does not parse — " in screen_text(app))
        app.main.query_one(TabbedContent).active = "tab-inputs"

        # The good app comes with its files: description, sample inputs, its spec's hash.
        await pick(pilot, "echo")
        assert app.main.query_one("#inputs").text == '[\n  {\n    "text": "from the folder"\n  }\n]'
        assert "hash " in text_of(app, "#app-line") and "(saved" in text_of(app, "#app-line")
        app.main.query_one("#inputs").load('[{"text": "typed before the engine"}]')
        rows_before = list(app.main.query_one("#apps-list", OptionList).options)

        await pilot.press("r")
        await pilot.pause()
        title = text_of(app, "#run-title")
        assert title.startswith("Run (starting) · echo · ● running")
        assert title.endswith("waiting for the local engine to start")

        connector.gate.set()
        await asyncio.wait_for(app.loaded.wait(), timeout=60)
        await finish(pilot)
        assert "· echo · ✓ succeeded ·" in text_of(app, "#run-title")
        run = next(iter(app.runs.values()))
        assert run.state is not None and run.inputs == [{"text": "typed before the engine"}]

        # The engine's answer replaced the folder's without touching the list or the user's work.
        assert app.apps_source == "backend"
        rows_after = list(app.main.query_one("#apps-list", OptionList).options)
        assert all(a is b for a, b in zip(rows_before, rows_after, strict=True))
        assert app.main.current_app is not None and app.main.current_app.name == "echo"
        assert app.main.current_app is next(a for a in app.apps if a.name == "echo")
        assert app.main.query_one("#inputs").text == '[{"text": "typed before the engine"}]'
        assert text_of(app, "#status-connection").endswith("idle")


async def test_a_launch_waiting_for_an_engine_that_never_starts_says_why(gated):
    app, connector = gated(fail=True)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: main_listed(app))
        await pick(pilot, "echo")
        await pilot.press("r")
        connector.gate.set()
        await asyncio.wait_for(app.session.idle(), timeout=60)  # the connect worker failed too
        await until(pilot, lambda: app.connection == "offline")
        assert text_of(app, "#run-title").startswith("Run (starting) · echo · ✗ failed")
        assert text_of(app, "#run-errors") == (
            "✗ The local engine did not start: the test said no."
        )
        assert app.connection == "offline"
        assert "echo" in listed(app)  # the folder's list stays


async def test_the_first_frame_lists_the_names_while_the_files_are_read(
    gated, apps_dir, files_gate
):
    (apps_dir / "slow.dust").write_text(GOOD_DUST)
    app, _ = gated()
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, StartScreen)
            assert listed(app) == ["broken", "echo", *DEMOS[:5], "slow", DEMOS[5]]
            assert app.screen.query_one("#apps-list").has_focus
            # The list works already: filter, move; what needs the main screen says it waits.
            await pilot.press("slash", *"demo", "enter", "down")
            assert listed(app) == FILTERED
            # A key for the main screen waits for it, and the user is told.
            await pilot.press("r")
            assert notifications(app) == [
                "Loading the apps: your keys go through as soon as they are read."
            ]
            assert isinstance(app.screen, StartScreen) and not app.runs

            files_gate.set()
            await until(pilot, lambda: main_listed(app) and app.main.current_app is not None)
            await pilot.pause()
            # The main screen took over the filter, the app under the cursor and the focus.
            assert app.apps_source == "folder"
            assert app.main.query_one("#apps-filter", Input).value == "demo"
            assert listed(app) == FILTERED
            assert app.main.current_app.name == "map-reduce-demo"
            assert app.main.query_one("#apps-list").has_focus
            assert "map-reduce-demo" in text_of(app, "#app-line")
            # ... and `r` launched the app under the cursor (it waits for the engine).
            await until(pilot, lambda: bool(app.runs))
            assert [run.app_name for run in app.runs.values()] == ["map-reduce-demo"]
    finally:
        files_gate.set()


async def test_a_remote_backend_lists_nothing_from_a_folder(engine, apps_dir):
    backend = Backend("remote", engine.url, "local", "local", SecretStr(engine.api_key), None)
    settings = Settings(bell=False, apps_dir=apps_dir)
    connector = Connector(backend, settings)
    connector.start()
    assert connector.folder_names is None and not connector.lists_folder
    app = DustApp(
        settings,
        backend=backend,
        connector=connector,
        theme_dirs=(bundled_themes_dir(),),
        cursor_blink=False,
    )
    async with app.run_test(size=SIZE) as pilot:
        await asyncio.wait_for(app.loaded.wait(), timeout=30)
        await pilot.pause()
        assert app.apps_source == "backend"
        names = listed(app)
        assert "echo" not in names and "broken" not in names
        assert names[0] == "[b]markup-demo"  # the server's apps: the test engine's own folder


KEY_NAMES = {"/": "slash", "-": "minus"}


@pytest.mark.parametrize("after", [0.0, 0.005, 0.05])
@pytest.mark.parametrize("typed", ["qa-demo", "/qa-demo"])
async def test_keys_typed_while_the_main_screen_takes_over_all_land_in_order(
    gated, apps_dir, files_gate, after, typed
):
    # Keys straight from the terminal (no waiting between them, unlike Pilot's press), typed at
    # a few moments around the main screen taking over from the start screen; `/` on the start
    # screen, or in the same burst (it must focus the filter before the next key is routed:
    # "q" would quit, "o" open a prompt).
    (apps_dir / "slow.dust").write_text(GOOD_DUST)
    app, _ = gated()
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            if not typed.startswith("/"):
                await pilot.press("slash")
            files_gate.set()
            await asyncio.sleep(after)
            for char in typed:
                app.post_message(events.Key(KEY_NAMES.get(char, char), char))
                await asyncio.sleep(0.002)
            await until(pilot, lambda: main_listed(app) and len(listed(app)) == 1)
            await pilot.pause()
            assert app.main.query_one("#apps-filter", Input).value == "qa-demo"
            assert listed(app) == ["qa-demo"]
            assert app.main.current_app is not None and app.main.current_app.name == "qa-demo"
            assert app.main.query_one("#apps-filter").has_focus
    finally:
        files_gate.set()


@pytest.mark.parametrize("after", [0.0, 0.05])
async def test_a_launch_typed_in_the_same_burst_goes_to_the_app_picked_by_the_filter(
    gated, apps_dir, files_gate, after
):
    # `/`, the app's name, enter (back to the list) and `r`, in one burst while the main screen
    # takes over: `r` must launch, not land in the filter.
    (apps_dir / "slow.dust").write_text(GOOD_DUST)
    app, _ = gated()
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            files_gate.set()
            await asyncio.sleep(after)
            for key, char in [*((KEY_NAMES.get(c, c), c) for c in "/qa-demo"), ("enter", "\r")]:
                app.post_message(events.Key(key, char))
            app.post_message(events.Key("r", "r"))
            await until(pilot, lambda: bool(app.runs))
            await pilot.pause()
            assert app.main.query_one("#apps-filter", Input).value == "qa-demo"
            assert app.main.query_one("#apps-list").has_focus
            assert [run.app_name for run in app.runs.values()] == ["qa-demo"]
    finally:
        files_gate.set()
