"""Copy the launch as curl: a working command for scripts, and the key never in it."""

from __future__ import annotations

import json
import shlex

from tests.tui.helpers import notifications, pick, ready

SIZE = (120, 36)


async def test_copy_the_launch_as_curl_keeps_the_key_out(make_app, engine, tmp_path):
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
        told = notifications(app)
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
    key_file = tmp_path / "data" / "engine" / "server_key"  # the local engine's, in its data dir
    port = engine.url.rsplit(":", 1)[1]
    said = (
        "Copied the launch as curl. It reads the key from $DUST_API_KEY: the local engine's key "
        f'is in {key_file} (export DUST_API_KEY="$(cat {key_file})"). Port {port} is temporary: '
        "the local engine gets a new one when it starts again (`dusttui engine status` shows it)."
    )
    assert said in told
    assert engine.api_key not in "".join(told)


def test_with_dusttui_server_key_the_note_names_the_variable(monkeypatch):
    from dusttui.config import Settings
    from dusttui.session.backend import Connector
    from dusttui.tui.screens.main import curl_note
    from tests.tui.conftest import EMBEDDED

    monkeypatch.setenv("DUSTTUI_SERVER_KEY", "a-key-the-operator-chose")
    source = Connector(EMBEDDED, Settings()).local_key_source()
    assert source == "$DUSTTUI_SERVER_KEY"
    note = curl_note(source, "http://127.0.0.1:40123")
    assert (
        'the local engine\'s key is in $DUSTTUI_SERVER_KEY (export DUST_API_KEY="$DUSTTUI_SERVER_KEY")'
        in note
    )
    assert "Port 40123 is temporary" in note
    assert "a-key-the-operator-chose" not in note
