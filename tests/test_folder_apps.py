"""The local apps read from their folder are the apps the local engine lists (ids apart)."""

from __future__ import annotations

from pathlib import Path

from dusttui.api.client import DustClient
from dusttui.engine.appfolder import app_names
from dusttui.engine.embedded import EmbeddedEngine
from dusttui.session.folder_apps import read_folder_apps

GOOD = "input INPUT { }\n\ncode ECHO {\n  code:\n```\n_fun = (env) => env.state.INPUT;\n```\n}\n"


def _apps_folder(root: Path) -> Path:
    apps = root / "apps"
    apps.mkdir()
    (apps / "echo.dust").write_text(GOOD)
    (apps / "echo.description.txt").write_text("Says it back.\n")
    (apps / "echo.inputs.jsonl").write_text('{"text": "a"}\n{"text": "b"}\n')
    (apps / "echo.config.json").write_text('{"ECHO": {}}')
    (apps / "broken.dust").write_text("input INPUT { }\ncode X {\n")
    (apps / "bad-config.dust").write_text(GOOD)
    (apps / "bad-config.config.json").write_text("{not json")
    (apps / "qa-demo.dust").write_text(GOOD)  # the user's qa-demo wins over the bundled one
    (apps / "unreadable.dust").write_bytes(b"\xff\xfe not utf-8")
    return apps


async def test_the_folder_gives_the_engines_apps_before_it_answers(tmp_path):
    apps_dir = _apps_folder(tmp_path)
    from_folder = read_folder_apps(apps_dir)
    with EmbeddedEngine(data_dir=tmp_path / "engine", apps_dir=apps_dir) as engine:
        async with DustClient(engine.url, engine.api_key, "local", "local") as client:
            from_engine = await client.list_apps()

    def shown(apps):
        return [a.model_dump(exclude={"id", "space", "dustAPIProjectId"}) for a in apps]

    assert shown(from_folder) == shown(from_engine)
    names = [a.name for a in from_folder]
    assert names == [
        "bad-config",
        "broken",
        "echo",
        "flaky-demo",
        "load-1000",
        "map-reduce-demo",
        "paced-demo",
        "qa-demo",
        "while-demo",
    ]
    # The first frame's listing (names only) has the unreadable file too: the engine drops it.
    assert app_names(apps_dir) == sorted([*names, "unreadable"])
    by_name = {a.name: a.model_extra["dusttui"] for a in from_folder}
    assert by_name["broken"]["specificationError"].startswith("broken.dust: ")
    assert by_name["broken"]["specificationHash"] is None
    assert by_name["bad-config"]["problems"][0].startswith("bad-config.config.json: not valid JSON")
    assert by_name["qa-demo"]["source"] == "apps_dir"
    assert by_name["echo"]["sampleInputs"] == [{"text": "a"}, {"text": "b"}]


def test_no_apps_dir_lists_the_bundled_demos(tmp_path):
    assert app_names(None) == [
        "flaky-demo",
        "load-1000",
        "map-reduce-demo",
        "paced-demo",
        "qa-demo",
        "while-demo",
    ]
    assert app_names(tmp_path / "missing") == app_names(None)
    assert [a.name for a in read_folder_apps(tmp_path / "missing")] == app_names(None)
