"""Apps and editing (issue 12): the apps folder watched and ctrl+r, the Spec tab's source and
parse error, the hash dialog, the checks before launch, drafts across restarts and saving them
back — Pilot tests against a real engine whose apps folder the test edits."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from dusttui.config import Settings
from dusttui.specs import saved_specification_hash
from dusttui.tui.screens.confirm import ConfirmScreen
from dusttui.tui.screens.hash import HashScreen
from tests.tui.conftest import SIZE
from tests.tui.helpers import finish, notifications, pick, ready, screen_text, text_of

ECHO = """input INPUT { }

code SAY {
  code:
```
_fun = (env) => {
  return { said: "one " + env.state.INPUT.q };
}
```
}
"""
ECHO_TWO = ECHO.replace('"one "', '"two "')
# Line 5 misses its `:` (the parser stops at line 5, column 3).
BROKEN = """input INPUT { }

code SAY {
  code
  nothing here
}
"""


@pytest.fixture
def own_engine(tmp_path: Path) -> Iterator[tuple[object, Path]]:
    """An engine on a folder this test may edit: `echo` (a code block) with sample inputs."""
    from dusttui.engine.embedded import EmbeddedEngine

    apps = tmp_path / "apps"
    apps.mkdir()
    (apps / "echo.dust").write_text(ECHO)
    (apps / "echo.inputs.jsonl").write_text('{"q": "a"}\n')
    eng = EmbeddedEngine(data_dir=tmp_path / "engine", apps_dir=apps, token_delay=0.0)
    eng.start()
    yield eng, apps
    eng.stop()


async def until(pilot, predicate, what: str, seconds: float = 30.0) -> None:
    """Let the app work until ``predicate()`` holds (the folder watch looks once a second)."""
    for _ in range(int(seconds / 0.05)):
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"never happened: {what}")


def echo_app(app):
    return next(a for a in app.apps if a.name == "echo")


def last_output(app) -> object:
    run = list(app.runs.values())[-1]
    return run.state.results[0][-1].value if run.state.results else run.status


async def test_an_edited_dust_file_is_what_the_next_launch_runs(make_app, own_engine):
    eng, apps = own_engine
    app = make_app(on=eng)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "echo")
        first = saved_specification_hash(echo_app(app))
        assert f"hash {first[:8]} (saved)" in text_of(app, "#app-line")
        (apps / "echo.dust").write_text(ECHO_TWO)
        await until(pilot, lambda: saved_specification_hash(echo_app(app)) != first, "reload")
        second = saved_specification_hash(echo_app(app))
        said = f"echo changed: now hash {second[:8]}; the next launch runs it."
        await until(pilot, lambda: said in notifications(app), "the change said")
        assert f"hash {second[:8]} (saved)" in text_of(app, "#app-line")
        await pilot.press("r")
        await finish(pilot)
        run = list(app.runs.values())[-1]
        assert (run.specification_hash, run.status) == (second, "succeeded")
        assert last_output(app) == {"said": "two a"}


async def test_a_broken_file_is_reported_at_its_line_and_an_earlier_version_still_runs(
    make_app, own_engine
):
    eng, apps = own_engine
    app = make_app(on=eng)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "echo")
        good = saved_specification_hash(echo_app(app))
        (apps / "echo.dust").write_text(BROKEN)
        await until(pilot, lambda: saved_specification_hash(echo_app(app)) is None, "reload")
        await until(pilot, lambda: any("does not parse" in n for n in notifications(app)), "said")
        said = [n for n in notifications(app) if n.startswith("echo: the file does not parse")]
        assert said == [
            "echo: the file does not parse (line 5, column 3: expected `:` after `code`, found "
            "`n`). The Spec tab shows where; launches wait until it is fixed (or pick an earlier "
            "version with h)."
        ]
        assert text_of(app, "#app-line").endswith(" · ✗ does not parse")
        await pilot.press("s")
        await until(pilot, lambda: "│   nothing here" in screen_text(app), "the Spec tab")
        shown = screen_text(app).splitlines()
        assert any(
            "✗ does not parse — line 5, column 3: expected `:` after `code`, found `n`" in line
            for line in shown
        )
        at = next(i for i, line in enumerate(shown) if "5 │   nothing here" in line)
        # the caret under column 3 of line 5, the reason beside it
        assert shown[at + 1].index("^ expected `:` after `code`, found `n`") == shown[at].index(
            "nothing"
        )
        # A launch of the broken file is refused with the reason; the earlier version runs.
        await pilot.press("escape", "r")
        await pilot.pause()
        assert app.runs == {}
        assert any(n.startswith("Not sent — echo.dust: line 5") for n in notifications(app))
        await pilot.press("h")
        await pilot.pause()
        assert isinstance(app.screen, HashScreen)
        versions = app.screen.query_one("#hash-versions")
        labels = [str(versions.get_option_at_index(i).prompt) for i in range(versions.option_count)]
        assert labels[1] == f"{good[:12]}  an earlier version, seen " + labels[1][-8:]
        versions.focus()
        versions.highlighted = 1
        await pilot.press("enter")
        await pilot.pause()
        assert f"hash {good[:8]} (typed)" in text_of(app, "#app-line")
        await pilot.press("r")
        await finish(pilot)
        assert last_output(app) == {"said": "one a"}


async def test_ctrl_r_rereads_the_apps_and_says_so(make_app, own_engine):
    eng, apps = own_engine
    app = make_app(on=eng)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+r")
        await until(pilot, lambda: any("Apps re-read" in n for n in notifications(app)), "ctrl+r")
        assert "Apps re-read: 7 apps, none changed." in notifications(app)
        (apps / "second.dust").write_text(ECHO)
        await until(pilot, lambda: "New app: second." in notifications(app), "the new app")
        assert any(a.name == "second" for a in app.apps)


async def test_the_spec_tab_shows_the_dust_source_highlighted(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "qa-demo")
        await pilot.press("s")
        await until(pilot, lambda: "│ code PREP {" in screen_text(app), "the source")
        shown = screen_text(app)
        assert " 1 │ input INPUT { }" in shown
        assert " 3 │ code PREP {" in shown
        assert "qa-demo.dust" in shown  # where it comes from
        assert '"type": "code"' not in shown  # the source, not the parsed JSON


def test_source_view_highlights_blocks_keys_and_code():
    from dusttui.tui.widgets.spec_view import parse_problem, source_view

    text = source_view(ECHO)
    assert text.plain.splitlines()[:4] == [
        " 1 │ input INPUT { }",
        " 2 │ ",
        " 3 │ code SAY {",
        " 4 │   code:",
    ]

    def style_at(needle: str) -> set[str]:
        start = text.plain.index(needle)
        return {str(s.style) for s in text.spans if s.start <= start < s.end}

    assert "bold magenta" in style_at("code SAY")  # a block's type
    assert "cyan" in style_at("code:")  # a key
    assert "bright_blue" in style_at("return")  # JavaScript, by pygments
    broken = source_view(BROKEN, parse_problem("echo.dust: line 5, column 3: bad [/x] here"))
    assert broken.plain.splitlines()[0] == "✗ does not parse — line 5, column 3: bad [/x] here"
    assert "      ^ bad [/x] here" in broken.plain.splitlines()  # under "n" of "5 │   nothing"


async def test_the_hash_dialog_refuses_a_short_hash_and_offers_the_versions(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "qa-demo")
        saved = saved_specification_hash(app.main.current_app)
        await pilot.press("h")
        await pilot.pause()
        app.screen.query_one("#hash-input").value = "deadbeef"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, HashScreen)  # still open: nothing was accepted
        assert text_of(app, "#hash-error") == (
            "✗ A hash is 64 hex characters; `deadbeef` has 8 and starts no known version: pick "
            "one below, or type latest."
        )
        versions = app.screen.query_one("#hash-versions")
        labels = [str(versions.get_option_at_index(i).prompt) for i in range(versions.option_count)]
        assert labels == [
            f"saved         saved version: follows the file (now {saved[:8]})",
            f"{saved[:12]}  this version, pinned",
            "latest        whatever the app's file holds at launch",
        ]
        app.screen.query_one("#hash-input").value = saved[:6]  # a known version's start
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is app.main
        assert f"hash {saved[:8]} (typed)" in text_of(app, "#app-line")


@pytest.mark.parametrize(
    ("config", "inputs", "said"),
    [
        (
            '{"ANSWER": {"provider_id": "opanai", "model_id": "gpt-4o-mini"}}',
            '[{"question": "a"}]',
            'Not sent — config: llm block `ANSWER`: `provider_id` "opanai" is not a provider of '
            "this engine (known: offline, openai, azure_openai, anthropic, mistral, "
            "google_ai_studio, togetherai, deepseek, fireworks, xai, openai_compatible, ollama).",
        ),
        (
            '{"ANSWER": {"providr_id": "offline", "model_id": "echo"}}',
            '[{"question": "a"}]',
            "Not sent — config: llm block `ANSWER` needs `provider_id` (`providr_id` given: a "
            'typo of `provider_id`?), e.g. {"provider_id": "openai", "model_id": "gpt-4o-mini"}.',
        ),
        (
            '{"ANSWER": {"provider_id": "offline", "model_id": "echo"}}',
            "[]",
            "Not sent — inputs: none — a run needs at least one input (an object; {} for an app "
            "whose input block takes no field).",
        ),
    ],
    ids=["unknown-provider", "misspelt-key", "no-inputs"],
)
async def test_checks_before_launch(make_app, config, inputs, said):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "qa-demo")
        app.main.query_one("#config").load(config)
        app.main.query_one("#inputs").load(inputs)
        await pilot.press("r")
        await pilot.pause()
        assert app.runs == {}
        assert said in notifications(app)


async def test_drafts_survive_a_restart_and_save_back_as_the_apps_own(
    make_app, own_engine, tmp_path
):
    eng, apps = own_engine
    settings = Settings(bell=False, apps_dir=apps)
    drafts = tmp_path / "data" / "drafts.json"
    edited = '[{"q": "kept"}]'
    app = make_app(settings, on=eng)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "echo")
        app.main.query_one("#inputs").text_area.load_text(edited)
        await until(pilot, lambda: drafts.exists() and "kept" in drafts.read_text(), "draft")
        await app.workers.wait_for_complete()
    assert stat.S_IMODE(drafts.stat().st_mode) == 0o600
    # A new session: the edited inputs are back, and S saves them as the app's sample inputs.
    app = make_app(settings, on=eng)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "echo")
        await until(pilot, lambda: app.main.query_one("#inputs").text == edited, "restored")
        await pilot.press("S")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await until(pilot, lambda: any("Saved echo" in n for n in notifications(app)), "save")
        assert (apps / "echo.inputs.jsonl").read_text() == '{"q": "kept"}\n'
        assert json.loads((apps / "echo.config.json").read_text()) == {}
        # The engine lists them as the app's own: the draft is no longer kept.
        await until(
            pilot, lambda: "kept" in json.dumps(echo_app(app).model_extra), "the app re-listed"
        )
        await until(pilot, lambda: "kept" not in drafts.read_text(), "draft dropped")
        await app.workers.wait_for_complete()


async def test_save_back_refuses_a_bundled_demo(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "qa-demo")
        await pilot.press("S")
        await pilot.pause()
        assert app.screen is app.main
        assert any(
            n.startswith("Not saved — qa-demo is a bundled demo: its files are part of dusttui.")
            for n in notifications(app)
        )


async def test_drafts_file_unreadable_is_no_drafts(make_app, tmp_path):
    drafts = tmp_path / "data" / "drafts.json"
    drafts.parent.mkdir(parents=True, exist_ok=True)
    drafts.write_text("{not json")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "qa-demo")
        await asyncio.sleep(0)
        assert app.main.query_one("#inputs").check.ok  # the sample inputs, nothing lost


async def test_edits_made_just_before_quitting_are_kept(make_app, tmp_path):
    drafts = tmp_path / "data" / "drafts.json"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "qa-demo")
        area = app.main.query_one("#inputs").text_area
        area.load_text('[{"question": "first"}]')
        await pilot.pause()
        area.load_text('[{"question": "last"}]')  # while the first is being written
        await pilot.pause()
    kept = json.loads(drafts.read_text())["drafts"]["local|local"]
    assert [json.loads(d["inputs"]) for d in kept.values()] == [[{"question": "last"}]]


async def test_versions_seen_before_are_offered_after_a_restart(make_app, own_engine):
    eng, apps = own_engine
    app = make_app(on=eng)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        first = saved_specification_hash(echo_app(app))
    (apps / "echo.dust").write_text(ECHO_TWO)  # edited while dusttui is closed
    app = make_app(on=eng)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "echo")
        second = saved_specification_hash(echo_app(app))
        assert second != first
        await pilot.press("h")
        await pilot.pause()
        versions = app.screen.query_one("#hash-versions")
        labels = [str(versions.get_option_at_index(i).prompt) for i in range(versions.option_count)]
        assert labels[1:3] == [
            f"{second[:12]}  this version, pinned",
            f"{first[:12]}  an earlier version, seen " + labels[2][-8:],
        ]
        versions.focus()
        versions.highlighted = 2
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("r")  # the engine still has the first version: it runs
        await finish(pilot)
        assert last_output(app) == {"said": "one a"}


async def test_an_app_only_looked_at_leaves_no_draft(make_app, tmp_path):
    drafts = tmp_path / "data" / "drafts.json"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "qa-demo")
        await pick(pilot, "while-demo")
        # the same inputs as the sample, typed as JSON lines: still the app's own
        app.main.query_one("#inputs").text_area.load_text(
            "\n".join(json.dumps(item) for item in echo_inputs(app, "while-demo"))
        )
        await pilot.pause()
        await app.workers.wait_for_complete()
    kept = json.loads(drafts.read_text())["drafts"] if drafts.exists() else {}
    assert kept == {}


def echo_inputs(app, name: str) -> list:
    from dusttui.specs import sample_inputs

    return sample_inputs(next(a for a in app.apps if a.name == name)) or []


def test_the_app_line_keeps_room_to_say_the_file_does_not_parse():
    from dusttui.tui.widgets.app_line import AppLineData, app_line_text

    broken = AppLineData("echo", "latest", "latest", "stream", spec_key="F3", problem="x")
    assert [app_line_text(broken, width).plain for width in (100, 88, 40)] == [
        "echo · hash latest, h to change · mode stream, m to change · ✗ file does not parse (F3: "
        "Spec tab)",
        "echo · hash latest, h to change · mode stream, m to change · ✗ does not parse",
        "echo · latest · stream · ✗ does not parse",
    ]


async def test_a_workspace_app_shows_its_saved_specification_as_dust(make_app):
    """An app of dust.tt has no file here: the Spec tab writes its builder blocks as .dust."""
    from dusttui.api.models import App
    from dusttui.tui.app_files import spec_source

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        local = next(a for a in app.apps if a.name == "qa-demo")
    remote = App(id=1, sId="abc", name="qa-demo", savedSpecification=local.savedSpecification)
    text, where = spec_source(remote)
    assert where == "the saved specification, as .dust"
    assert text is not None and text.startswith("input INPUT {")
    assert "code PREP {" in text and "llm ANSWER {" in text
