"""The diff screen: counts, differences changed first, n/N, value diffs, errors side by side,
the block table, a run that still streams, and text Textual could read as markup."""

from __future__ import annotations

from typing import Any

from dusttui.api.models import parse_event
from dusttui.api.state import RunState
from dusttui.tui.diff.app import DiffApp
from dusttui.tui.diff.diff_list import DiffList
from dusttui.tui.diff.lines_view import LinesView
from dusttui.tui.diff.screen import DiffScreen
from tests.compare.test_rundiff import INPUTS, err, events, ok, run_a, run_b, state_of


def text_of(screen: DiffScreen, selector: str) -> str:
    content: Any = screen.query_one(selector).content
    return content.plain


def detail_text(screen: DiffScreen) -> str:
    return screen.query_one(LinesView).plain


async def opened(pilot: Any) -> DiffScreen:
    """The diff screen once its comparison (a worker thread for finished runs) is shown."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, DiffScreen)
    return screen


async def test_the_differences_changed_first_and_n_moves_through_them():
    app = DiffApp(state_of("aaaaaaaaaaaa", run_a()), state_of("bbbbbbbbbbbb", run_b()))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await opened(pilot)
        head = text_of(screen, "#diff-head")
        assert "1 changed · 1 broken · 1 fixed · 2 only in A · 1 only in B · 7 same" in head
        assert text_of(screen, "#diff-title") == (
            "Diff · A aaaaaaaa… → B bbbbbbbb… · difference 1/6 (changed)"
        )
        assert detail_text(screen).splitlines()[:3] == [
            "~ code MORE · input 0 · iteration 1",
            '    input {"id": 1, "q": "a"}',
            "    ~ $: 2 → 20",
        ]
        await pilot.press("n")
        detail = detail_text(screen).splitlines()
        assert detail[0] == "✗ code ANSWER · input 2"
        assert detail[1:4] == [
            '    input {"id": 3, "q": "c"}',
            "    A value                        │ B error",
            '    "C"                            │ bust',
        ]
        await pilot.press("N")
        assert screen.list.cursor == 0
        await pilot.press("k")  # the next kind: broken
        assert screen.list.cursor == 1
        await pilot.press("k", "k")  # fixed, then only in A
        assert detail_text(screen).splitlines()[0] == "- code MORE · input 2 · iteration 1"
        await pilot.press("b")
        table = text_of(screen, "#diff-blocks-table").splitlines()
        assert table[0].split() == [
            "block",
            "same",
            "changed",
            "broken",
            "fixed",
            "only",
            "A",
            "only",
            "B",
            "latency",
            "A",
            "→",
            "B",
            "tokens",
            "A",
            "→",
            "B",
        ]
        assert table[2].split()[:8] == ["code", "ANSWER", "1", "0", "1", "1", "0", "0"]
        await pilot.press("escape")
        assert not any(isinstance(s, DiffScreen) for s in app.screen_stack)


async def test_a_run_that_streams_is_followed_live():
    a = state_of("aaaa", run_a())
    b = RunState(specification_hash="h" * 64)
    stream = [parse_event(e) for e in events("bbbb", run_b())]
    for event in stream[:4]:  # its inputs only
        b.apply(event)
    app = DiffApp(a, b)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await opened(pilot)
        assert "3 same · 9 still to come" in text_of(screen, "#diff-head")
        assert text_of(screen, "#diff-title").endswith(" · nothing differs so far · live")
        assert detail_text(screen) == ("No difference so far; the rest is still to come.")
        for event in stream[4:]:
            b.apply(event)
        screen._poll()  # what the 10 Hz timer does when a run's version moved
        await pilot.pause()
        assert "1 changed · 1 broken · 1 fixed · 2 only in A · 1 only in B · 7 same" in text_of(
            screen, "#diff-head"
        )
        assert len(screen.query_one(DiffList).diff) == 6
        assert not text_of(screen, "#diff-title").endswith("live")


async def test_values_that_look_like_markup_or_escapes_are_shown_as_they_are():
    nasty = "[/x] [b]x[/] \x1b[2J"
    a = state_of("a", [("input", "INPUT", [[INPUTS[0]]]), ("code", "X", [[ok("plain")]])])
    b = state_of("b", [("input", "INPUT", [[INPUTS[0]]]), ("code", "X", [[err(nasty)]])])
    async with DiffApp(a, b).run_test(size=(120, 30)) as pilot:
        screen = await opened(pilot)
        detail = detail_text(screen)
        assert "│ [/x] [b]x[/] \\u001b[2J" in detail
        assert "\x1b" not in detail


async def test_a_key_that_cannot_pair_the_inputs_says_why():
    a = state_of("a", run_a())
    async with DiffApp(a, a, key="nope").run_test(size=(120, 30)) as pilot:
        screen = await opened(pilot)
        assert text_of(screen, "#diff-head") == (
            "Input 0 of run A has no field `nope`: --key must name a field every input has."
        )
