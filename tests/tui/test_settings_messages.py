"""Messages and settings (issue 12): a refused key, the theme kept, the palette's screenshot."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import SecretStr

from dusttui.api.client import DustClient
from dusttui.config import Backend, Settings, load_settings
from dusttui.tui.app import DustApp
from dusttui.tui.settings_file import save_theme, with_theme
from dusttui.tui.themes import bundled_themes_dir
from tests.tui.helpers import notifications, ready, text_of

SIZE = (120, 36)


async def until(pilot, check, what: str, limit: float = 20.0) -> None:
    """Let the app run until ``check()`` holds (a deadline, not a tuned sleep)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not check():
        assert loop.time() < deadline, f"{what} did not happen within {limit:g} s"
        await pilot.pause(0.05)


async def palette(pilot, command: str) -> None:
    """Run a command of the palette (ctrl+p) by its title."""
    await pilot.press("ctrl+p")
    await pilot.pause()
    pilot.app.screen.query_one("CommandInput").value = command
    await pilot.pause(0.3)
    await pilot.press("enter")
    await pilot.pause()


async def test_a_wrong_key_reads_as_refused_and_r_says_so(engine):
    host = engine.url.split("://", 1)[1]
    backend = Backend("remote", engine.url, "local", "local", SecretStr("not-the-key-0000"))
    client = DustClient(engine.url, "not-the-key-0000", "local", "local")
    app = DustApp(
        Settings(bell=False),
        backend=backend,
        client=client,
        theme_dirs=(bundled_themes_dir(),),
        cursor_blink=False,
    )
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        said = (
            f"Reached {host}, but the API key was refused (invalid_api_key_error). "
            "Check DUST_API_KEY (or your profile's key) and the workspace id."
        )
        assert said in notifications(app)
        assert text_of(app, "#app-line") == f"✗ {said}"
        assert text_of(app, "#status-connection") == "✗ key refused"
        await pilot.press("r")
        await pilot.pause()
        assert f"Nothing to launch: {said}" in notifications(app)
        assert "Pick an app first." not in notifications(app)
        assert "not-the-key-0000" not in "".join(notifications(app))


def test_the_theme_line_is_replaced_or_added_and_the_rest_kept():
    config = '# mine\ntheme = "dusttui-dark"  # was\nbell = false\n\n[keymap]\nlaunch = "f5"\n'
    assert with_theme(config, "dusttui-light") == (
        '# mine\ntheme = "dusttui-light"\nbell = false\n\n[keymap]\nlaunch = "f5"\n'
    )
    no_theme = '# mine\n[profiles.work]\nworkspace_id = "w"\n'
    assert (
        with_theme(no_theme, "x") == '# mine\ntheme = "x"\n\n[profiles.work]\nworkspace_id = "w"\n'
    )
    assert with_theme("bell = true", "x") == 'bell = true\ntheme = "x"\n'
    # A `theme` key inside a table is not the top-level one.
    assert with_theme('[a]\ntheme = "t"\n', "x") == 'theme = "x"\n\n[a]\ntheme = "t"\n'


def test_a_config_that_is_not_toml_is_left_alone(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text("theme = \n")
    problem = save_theme(path, "dusttui-light")
    assert problem is not None
    assert problem.startswith(f"The theme is not kept: {path} is not valid TOML (")
    assert path.read_text() == "theme = \n"


async def test_the_theme_chosen_in_the_palette_is_kept_for_the_next_start(engine, tmp_path: Path):
    path = tmp_path / "cfg" / "config.toml"
    path.parent.mkdir()
    path.write_text('# my settings\nbell = false\n\n[keymap]\nlaunch = "f5"\n')

    def build() -> DustApp:
        return DustApp(
            load_settings(path),
            backend=Backend("embedded", None, "local", "local", None),
            client=DustClient(engine.url, engine.api_key, "local", "local"),
            theme_dirs=(bundled_themes_dir(),),
            cursor_blink=False,
            settings_path=path,
        )

    app = build()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.theme == "dusttui-dark"
        await palette(pilot, "switch theme: dusttui-light")
        assert app.theme == "dusttui-light"
        await app.workers.wait_for_complete()
        assert 'theme = "dusttui-light"' in path.read_text()
        # Choices in a row: the file ends with the last one, whatever order the writes run in.
        for name in ("dusttui-high-contrast", "dusttui-dark", "dusttui-light"):
            app.set_theme(name)
            await pilot.pause()
        await app.workers.wait_for_complete()
    assert path.read_text() == (
        '# my settings\nbell = false\ntheme = "dusttui-light"\n\n[keymap]\nlaunch = "f5"\n'
    )
    again = build()
    async with again.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert again.theme == "dusttui-light"
        assert again.keymap_in_use == {"launch": "f5"}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh home: no Downloads folder, no XDG user dirs."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("XDG_CONFIG_HOME", "XDG_DOWNLOAD_DIR"):
        monkeypatch.delenv(name, raising=False)
    return home


async def test_screenshot_without_downloads_goes_to_the_data_folder_and_says_so(
    make_app, home: Path, tmp_path: Path
):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await palette(pilot, "screenshot")
        await until(pilot, lambda: any("screenshot" in n for n in notifications(app)), "saving")
        folder = tmp_path / "data" / "screenshots"
        shots = list(folder.glob("dusttui_*.svg"))
        assert len(shots) == 1
        assert (
            f"{home / 'Downloads'} does not exist: saved the screenshot to {shots[0]}"
            in notifications(app)
        )
    assert shots[0].read_text().startswith("<svg")
    assert shots[0].stat().st_mode & 0o777 == 0o600
    assert not (home / "Downloads").exists()


async def test_screenshot_goes_into_downloads_when_it_exists(make_app, home: Path):
    (home / "Downloads").mkdir()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await palette(pilot, "screenshot")
        await until(pilot, lambda: any("screenshot" in n for n in notifications(app)), "saving")
        shots = list((home / "Downloads").glob("dusttui_*.svg"))
        assert len(shots) == 1
        assert f"Saved the screenshot to {shots[0]}" in notifications(app)
