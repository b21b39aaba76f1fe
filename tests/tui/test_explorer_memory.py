"""A closed explorer lets its run go, and leaves the garbage collector as it found it."""

from __future__ import annotations

import gc
import weakref

import orjson
from textual.app import App

from dusttui.api.state import RunState
from dusttui.tui.explorer import ExplorerScreen
from dusttui.tui.explorer.app import STATUS_VARIABLES
from dusttui.tui.explorer.gc_pacing import NEVER

INPUTS = 60_000  # more executions than the explorer once froze the GC for (50,000)


def big_run_json() -> bytes:
    """A finished run of 60,000 inputs through one code block, every 1,000th failing."""

    def execution(i: int) -> dict:
        if i % 1000 == 7:
            return {"value": None, "error": f"bad input {i}", "meta": None}
        return {"value": {"n": i}, "error": None, "meta": None}

    run = {
        "run_id": "cafe" * 16,
        "created": 1764320000000,
        "run_type": "deploy",
        "specification_hash": "0" * 64,
        "config": {"blocks": {}},
        "status": {
            "run": "errored",
            "blocks": [
                {
                    "block_type": "input",
                    "name": "INPUT",
                    "status": "succeeded",
                    "success_count": INPUTS,
                    "error_count": 0,
                },
                {
                    "block_type": "code",
                    "name": "CHECK",
                    "status": "errored",
                    "success_count": INPUTS - 60,
                    "error_count": 60,
                },
            ],
        },
        "traces": [
            [
                ["input", "INPUT"],
                [[{"value": {"n": i}, "error": None, "meta": None}] for i in range(INPUTS)],
            ],
            [["code", "CHECK"], [[execution(i)] for i in range(INPUTS)]],
        ],
        "results": None,
    }
    return orjson.dumps({"run": run})


class Host(App[None]):
    """An app with nothing else in it: whatever still holds the run after close is the explorer's."""

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(STATUS_VARIABLES)


async def test_a_closed_explorer_frees_its_run_and_leaves_the_gc_alone(tmp_path):
    state = RunState.from_run_json(big_run_json())
    assert len(state.errors) == 60
    run_ref = weakref.ref(state)
    frozen = gc.get_freeze_count()
    thresholds = gc.get_threshold()
    app = Host()
    async with app.run_test(size=(120, 36)) as pilot:
        screen = ExplorerScreen(state, export_dir=tmp_path)
        screen_ref = weakref.ref(screen)
        await app.push_screen(screen)
        await pilot.pause()
        # a jump, the grid, a search and an export: each in a thread, none may keep the run
        await pilot.press("n", "n", "2", "1", "x", "enter")
        await app.workers.wait_for_complete()
        await pilot.press("slash", *"bad input 1007", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.current == (1, 1007, 0)
        assert screen.search_result is not None and screen.search_result.total == 1
        exported = (tmp_path / "run-cafecafe-code-CHECK.jsonl").read_text().splitlines()
        assert len(exported) == INPUTS
        # nothing moved out of the collector's reach (other tests' frozen objects may go);
        # while it is open the older generations collect between keys, not during them
        assert gc.get_freeze_count() <= frozen
        assert gc.get_threshold()[1:] == (NEVER, NEVER)
        reachable = gc.get_objects()  # every object the collector scans (not the frozen ones)
        assert any(o is screen for o in reachable) and any(o is state for o in reachable)
        del reachable
        await pilot.press("escape")  # from the results list: closes the explorer
        await pilot.pause()
        assert app.screen is not screen
        assert gc.get_threshold() == thresholds  # the collector as it was
        del screen, state
        await pilot.pause()
        gc.collect()
        assert screen_ref() is None
        assert run_ref() is None  # the run went with the explorer
