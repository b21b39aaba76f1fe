"""A blocking answer lists while iterations apart; the state merges them as GET does."""

from dusttui.api.client import DustClient
from dusttui.api.models import to_wire
from dusttui.api.state import RunState
from dusttui.engine.embedded import EmbeddedEngine


async def test_blocking_while_run_reduces_to_the_get_traces(tmp_path):
    with EmbeddedEngine(data_dir=tmp_path / "engine", api_key="sk-state") as engine:
        async with DustClient(engine.url, engine.api_key, "w", "s") as client:
            app = next(a for a in await client.list_apps() if a.name == "while-demo")
            inputs = [{"n": 1}, {"n": 6}, {"n": 27}]
            blocking = await client.create_run(app.sId, "latest", {}, inputs, blocking=True)
            fetched = await client.get_run(app.sId, blocking.run_id)
    assert len(blocking.traces) > len(fetched.traces)  # one entry per while iteration
    state = RunState()
    state.apply_run(blocking)
    assert to_wire(state.to_run())["traces"] == to_wire(fetched)["traces"]
    # 1 never enters the loop, 6 reaches 1 after 8 steps, 27 stops at the 12-iteration limit.
    assert [len(row) for row in state.executions("code", "NEXT")] == [0, 8, 12]
    assert state.apply_run(fetched) is False  # nothing was lost: nothing changes
