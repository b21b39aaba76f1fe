"""Copy the launch as curl: a working command for scripts, and the key never in it."""

from __future__ import annotations

import json
import shlex

from tests.tui.helpers import notifications, pick, ready

SIZE = (120, 36)


async def test_copy_the_launch_as_curl_keeps_the_key_out(make_app, engine):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pick(pilot, "qa-demo")
        await pilot.press("ctrl+p")
        await pilot.pause()
        app.screen.query_one("CommandInput").value = "copy the launch as curl"
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        command = app.clipboard
    assert engine.api_key not in command
    words = shlex.split(command)
    assert words[:3] == ["curl", "-sS", "-N"]  # streamed: curl must not buffer
    assert words[words.index("-H") + 1] == "Authorization: Bearer $DUST_API_KEY"
    assert words[5].endswith("/runs")
    body = json.loads(words[words.index("--data-binary") + 1])
    assert body["stream"] is True
    assert body["config"] == {
        "ANSWER": {"provider_id": "offline", "model_id": "upper", "use_stream": True}
    }
    assert body["inputs"][0] == {"question": "Why is the sky blue"}
    assert "Copied the launch as curl (the key reads $DUST_API_KEY)." in notifications(app)
