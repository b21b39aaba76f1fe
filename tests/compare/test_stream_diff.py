"""The diff follows a run that still streams from the real engine: what it lacks is pending."""

from __future__ import annotations

from dusttui.api.client import DustClient
from dusttui.api.state import RunState
from dusttui.api.watch import watch_run
from dusttui.compare import KINDS, RunDiff
from tests.compare.conftest import KEY

INPUTS = [{"n": 6}, {"n": 7}, {"n": 1}]


async def test_a_streaming_run_is_compared_as_it_comes(engine, make_run):
    first = make_run("while-demo", INPUTS)
    async with DustClient(engine.url, KEY, "w-cmp", "s-cmp") as client:
        a = RunState.from_run_json(await client.get_run_raw("while-demo", first["run_id"]))
        diff = None
        seen_pending = 0
        kinds_seen: set[str] = set()
        kept = None
        updates = 0
        request = (first["specification_hash"], {}, INPUTS)
        async for update in watch_run(client, "while-demo", mode="stream", request=request):
            b = update.state
            if diff is None:
                diff = RunDiff(a, b)
            elif diff.update():
                updates += 1
            seen_pending = max(seen_pending, diff.counts["pending"])
            kinds_seen |= {k for k in KINDS if diff.counts[k]}
            if b.block("input", "INPUT") is not None and b.block("input", "INPUT").done:
                if kept is None:
                    kept = diff.blocks[0].compared
                else:
                    assert diff.blocks[0].compared is kept  # INPUT is not compared again
    assert diff is not None and b.done
    assert updates > 10
    assert seen_pending == 69  # every execution of A, before B had any
    assert kinds_seen == set()  # never "only in A" while B ran, though its loop ended early
    assert diff.equal and diff.counts["same"] == 69
