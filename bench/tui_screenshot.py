"""Export a screenshot of the real TUI as SVG (for the README).

    python bench/tui_screenshot.py OUT.svg [--app map-reduce-demo] [--theme dusttui-dark]

It starts the embedded engine in a temporary folder (no user config or data is read), opens the
app at 120×36, launches a run of the demo app, waits for it to end, puts the cursor on the llm
block so its streamed tokens show, and saves what the screen shows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


async def shoot(app_name: str, theme: str) -> str:
    """The SVG of the screen after a run of ``app_name``."""
    from dusttui.api.client import DustClient
    from dusttui.api.journal import Journal
    from dusttui.config import Backend, Settings
    from dusttui.engine.embedded import EmbeddedEngine
    from dusttui.tui.app import DustApp
    from dusttui.tui.themes import bundled_themes_dir

    with tempfile.TemporaryDirectory() as home:
        os.environ.update(
            DUSTTUI_CONFIG=f"{home}/config.toml",
            DUSTTUI_CONFIG_DIR=home,
            DUSTTUI_DATA_DIR=f"{home}/data",
        )
        engine = EmbeddedEngine(data_dir=Path(home) / "engine", token_delay=0.0)
        engine.start()
        try:
            client = DustClient(engine.url, engine.api_key, "local", "local")
            with Journal(Path(home) / "journal.sqlite") as journal:
                app = DustApp(
                    Settings(bell=False, theme=theme),
                    backend=Backend("embedded", None, "local", "local", None),
                    client=client,
                    journal=journal,
                    theme_dirs=(bundled_themes_dir(),),
                    cursor_blink=False,
                )
                async with app.run_test(size=(120, 36)) as pilot:
                    await app.loaded.wait()
                    await pilot.pause()
                    sid = next(a.sId for a in app.apps if a.name == app_name)
                    app.main.query_one("AppsPane").select(sid)
                    await pilot.pause()
                    await pilot.press("r")
                    await app.workers.wait_for_complete()
                    await pilot.pause()
                    table = app.main.query_one("#blocks")
                    llm = next((i for i, k in enumerate(table.rows) if k.startswith("llm:")), 0)
                    table.move_cursor(row=llm)
                    table.focus()
                    await pilot.pause()
                    app.clear_notifications()
                    await pilot.pause()
                    return app.export_screenshot(title="dusttui")
        finally:
            engine.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="where to write the SVG")
    parser.add_argument("--app", default="map-reduce-demo", help="the demo app to run")
    parser.add_argument("--theme", default="dusttui-dark")
    args = parser.parse_args()
    args.out.write_text(asyncio.run(shoot(args.app, args.theme)), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
