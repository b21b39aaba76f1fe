"""The App's shell: keys and keymap, help, palette, themes, history, markup safety, quitting."""

from __future__ import annotations

import io
import time
from pathlib import Path

from rich.console import Console
from rich.text import Text

from dusttui.config import Settings
from dusttui.tui.screens.confirm import ConfirmScreen
from dusttui.tui.screens.help import HelpScreen, key_table
from dusttui.tui.themes import bundled_themes_dir
from tests.tui.conftest import MARKUP_APP
from tests.tui.helpers import finish, notifications, pick, ready, rows, screen_text, text_of

SIZE = (120, 36)


async def test_keymap_override_moves_a_binding_and_unknown_ids_are_reported(make_app):
    app = make_app(Settings(bell=False, keymap={"launch": "f6", "lunch": "f7"}))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "qa-demo")
        assert (
            "keymap: no binding with id `lunch` — the help (? or F1) lists each key's id in its "
            "last column; the README's Keys table has them too."
        ) in notifications(app)
        await pilot.press("r")
        await finish(pilot)
        assert app.runs == {}
        await pilot.press("f6")
        await finish(pilot)
        assert [r.status for r in app.runs.values()] == ["succeeded"]


async def test_letter_keys_type_into_the_editor_instead_of_acting(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "qa-demo")
        await pilot.press("e", "r", "q")
        await pilot.pause()
        assert app.main.query_one("#config").text.startswith("rq{")
        assert app.runs == {} and app.is_running
        await pilot.press("escape", "r")
        await finish(pilot)
        assert app.runs == {}  # the config is now invalid: nothing is sent
        assert any(n.startswith("Not sent — config: line 1, column 1") for n in notifications(app))


async def test_help_overlay_lists_keys_as_remapped(make_app):
    app = make_app(Settings(bell=False, keymap={"launch": "f6"}))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        console = Console(width=110, record=True, file=io.StringIO())
        console.print(key_table(app.screen._keymap))
        lines = [" ".join(line.split()) for line in console.export_text().splitlines()]
        assert "F6 Launch a run of the selected app with this config and inputs launch" in lines
        assert "? / F1 Show every key (this overlay) help" in lines
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_a_remap_onto_a_key_in_use_is_refused_and_texts_name_the_real_keys(make_app):
    keymap = {"launch": "q", "next_error": "f8", "full_error": "f9", "mode": "f2"}
    app = make_app(Settings(bell=False, keymap=keymap))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "flaky-demo")
        assert (
            'keymap: launch = "q" is not used: q already does "quit" (id quit). Remap quit too, '
            "or pick another key."
        ) in notifications(app)
        assert text_of(app, "#run-title") == "No run yet: pick an app and press r to launch one."
        assert text_of(app, "#app-line").endswith("mode stream, F2 to change")
        await pilot.press("r")
        await finish(pilot)
        assert text_of(app, "#run-errors").startswith(
            "✗ error 1/2 · PARSE · input 1  (F8/N step · F9 whole message)"
        )
        assert app.is_running  # q was never given to launch


async def test_every_binding_has_an_id_and_a_tooltip(make_app):
    from dusttui.tui.keys import ALL_KEYS, bindings

    for binding in bindings(ALL_KEYS):
        assert binding.id and binding.tooltip, binding
    swallowed = {"ctrl+enter", "ctrl+s", "ctrl+j"}
    for key in ALL_KEYS:
        assert set(key.keys.split(",")) - swallowed, key.id


async def test_a_bad_user_theme_gives_one_toast_and_the_default(make_app, tmp_path: Path):
    user = tmp_path / "themes"
    user.mkdir()
    (user / "ugly.toml").write_text('name = "ugly"\nprimary = "#12345G"\n')
    (user / "worse.toml").write_text("name = \n")
    app = make_app(Settings(bell=False, theme="ugly"), theme_dirs=(bundled_themes_dir(), user))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.theme == "dusttui-dark"
        theme_toasts = [n for n in notifications(app) if n.startswith("Theme problem")]
        assert len(theme_toasts) == 1
        assert "ugly.toml: `primary` = '#12345G' is not a colour." in theme_toasts[0]
        assert "worse.toml: not valid TOML" in theme_toasts[0]
        assert "no theme named `ugly`" in theme_toasts[0]


async def test_theme_switch_from_the_command_palette(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        app.screen.query_one("CommandInput").value = "switch theme dusttui-light"
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert app.theme == "dusttui-light"
        assert app.theme_variables["block-succeeded"] == "#1B7F3B"


async def test_launch_from_the_command_palette(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "map-reduce-demo")
        await pilot.press("ctrl+p")
        await pilot.pause()
        app.screen.query_one("CommandInput").value = "launch a run"
        await pilot.pause(0.3)
        await pilot.press("enter")
        await finish(pilot)
        assert [r.app_name for r in app.runs.values()] == ["map-reduce-demo"]


async def test_server_and_user_text_is_never_read_as_markup(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, MARKUP_APP)
        option = app.main.query_one("#apps-list").highlighted_option
        assert isinstance(option.prompt, Text) and option.prompt.plain == MARKUP_APP
        assert " ".join(text_of(app, "#app-description").split()) == (
            "[/x] a description with [b]markup[/b]"
        )
        await pilot.press("s")  # the source, read in a thread
        await app.workers.wait_for_complete()
        await pilot.pause()
        shown = screen_text(app)
        assert 'throw new Error("[/x] closing tag and [bold]not bold[/bold]");' in shown
        assert f" {MARKUP_APP} " in shown
        await pilot.press("r")
        await finish(pilot)
        assert text_of(app, "#run-errors").splitlines() == [
            "✗ error 1/1 · BOOM · input 0  (z whole message)",
            "Error in `code`: Error: [/x] closing tag and [bold]not bold[/bold] …",
        ]
        assert any("[b]markup-demo errored" in n for n in notifications(app))
        await pilot.press("ctrl+p")
        app.screen.query_one("CommandInput").value = "switch app"
        await pilot.pause(0.3)  # the palette lists the app by its literal name without crashing


async def test_history_reopens_a_past_run_and_reruns_it(make_app, tmp_path: Path):
    journal = tmp_path / "shared-journal.sqlite"
    first = make_app(journal_path=journal)
    async with first.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "qa-demo")
        await pilot.press("r")
        await finish(pilot)
        run_id = next(iter(first.runs.values())).run_id
    second = make_app(journal_path=journal)
    async with second.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert second.run_labels()[0][0] == f"j:{run_id}"
        runs_list = second.main.query_one("#runs")
        runs_list.focus()
        runs_list.highlighted = 0
        await pilot.press("enter")
        await finish(pilot)
        opened = next(iter(second.runs.values()))
        assert opened.run_id == run_id and opened.opened
        assert text_of(second, "#run-title").startswith(
            f"Run {run_id[:6]}… · qa-demo · ✓ succeeded"
        )
        assert rows(second)["llm:ANSWER"][:5] == ["llm", "ANSWER", "✓ succeeded", "3", "0"]
        await pilot.press("R")
        await finish(pilot)
        rerun = list(second.runs.values())[-1]
        assert rerun.run_id != run_id and rerun.status == "succeeded"
        assert rerun.inputs == opened.inputs and rerun.config == opened.config


async def test_quit_asks_while_a_run_is_being_watched(engine, tmp_path: Path):
    from dusttui.api.client import DustClient
    from dusttui.api.journal import Journal
    from dusttui.engine.embedded import EmbeddedEngine
    from dusttui.tui.app import DustApp
    from tests.tui.conftest import EMBEDDED

    slow = EmbeddedEngine(data_dir=tmp_path / "slow", token_delay=0.2)
    slow.start()
    try:
        client = DustClient(slow.url, slow.api_key, "local", "local")
        with Journal(tmp_path / "j.sqlite") as journal:
            app = DustApp(
                Settings(bell=False),
                backend=EMBEDDED,
                client=client,
                journal=journal,
                theme_dirs=(bundled_themes_dir(),),
                cursor_blink=False,
            )
            async with app.run_test(size=SIZE) as pilot:
                await ready(pilot)
                await pick(pilot, "qa-demo")
                await pilot.press("r")
                await pilot.pause(0.2)
                await pilot.press("q")
                await pilot.pause()
                assert isinstance(app.screen, ConfirmScreen)
                await pilot.press("n")
                await pilot.pause()
                assert app.is_running and not isinstance(app.screen, ConfirmScreen)
                await pilot.press("q")
                await pilot.pause()
                await pilot.press("y")
                await pilot.pause()
                assert app.return_code == 0
    finally:
        slow.stop()


async def test_explorer_keys_are_remappable_too(make_app):
    app = make_app(Settings(bell=False, keymap={"explorer.next_error": "j"}))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "flaky-demo")
        assert not any(n.startswith("keymap:") for n in notifications(app))
        await pilot.press("r")
        await finish(pilot)
        await pilot.press("t")
        await pilot.pause()
        await pilot.press("j")
        await pilot.pause()
        assert "errors · error 1/2" in screen_text(app).splitlines()[0]


async def test_a_run_opened_from_the_history_keeps_its_own_time_in_the_runs_list(
    make_app, tmp_path: Path
):
    journal = tmp_path / "shared-journal.sqlite"
    first = make_app(journal_path=journal)
    async with first.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "qa-demo")
        await pilot.press("r")
        await finish(pilot)
        run_id = next(iter(first.runs.values())).run_id
    # Opened three hours later: the list still says when the run was created.
    second = make_app(journal_path=journal, clock=lambda: time.time() + 3 * 3600)
    async with second.run_test(size=SIZE) as pilot:
        await ready(pilot)
        runs_list = second.main.query_one("#runs")
        runs_list.focus()
        runs_list.highlighted = 0
        await pilot.press("enter")
        await finish(pilot)
        opened = next(iter(second.runs.values()))
        assert opened.run_id == run_id and opened.state.created is not None
        label = second.run_labels()[0][1]
        created = time.strftime("%H:%M", time.localtime(opened.state.created / 1000))
        later = time.strftime("%H:%M", time.localtime(time.time() + 3 * 3600))
        assert label.startswith(f"✓ {run_id[:6]} {created} qa-demo")
        assert later not in label


def test_merged_runs_are_told_apart_in_the_runs_list():
    from dusttui.tui.runs import short_label_id

    assert short_label_id("merged-7d8ee907f45d133e-76fd220f6af33389") == "⊕7d8ee"
    assert short_label_id("merged-91ab22907f45d133-76fd220f6af33389") == "⊕91ab2"
    assert short_label_id("5be2f4aa" * 8) == "5be2f4"
    assert short_label_id(None) == "……"


async def test_a_history_run_left_running_by_a_detached_front_end_shows_how_it_ended(
    make_app, tmp_path: Path
):
    import sqlite3

    journal = tmp_path / "shared-journal.sqlite"
    first = make_app(journal_path=journal)
    async with first.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "qa-demo")
        await pilot.press("r")
        await finish(pilot)
        run_id = next(iter(first.runs.values())).run_id
    # What a CLI that detached (Ctrl-C, --timeout) leaves in the journal: the launch, no end.
    with sqlite3.connect(journal) as db:
        db.execute(
            "UPDATE runs SET status = 'running', final_run = NULL WHERE run_id = ?", (run_id,)
        )
    second = make_app(journal_path=journal)
    async with second.run_test(size=SIZE) as pilot:
        await ready(pilot)
        for _ in range(200):
            await pilot.pause(0.05)
            if second.run_labels()[0][1].startswith("✓ "):
                break
        assert second.run_labels()[0][1].startswith(f"✓ {run_id[:6]} ")
    with sqlite3.connect(journal) as db:
        (status,) = db.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    assert status == "succeeded"
