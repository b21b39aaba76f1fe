"""`dusttui pull` with the real binary: every demo app off the local engine, tricky specs off an
engine reached as a remote workspace, the pulled folder served again by `dusttui serve --apps`
— the same hashes all the way — and every refusal with its message and exit code."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from dusttui.engine.appstore import BUNDLED_APPS_DIR
from dusttui.engine.embedded import EmbeddedEngine
from dusttui.engine.spec import builder_blocks, parse_spec
from dusttui.specs import dust_text_of_builder_blocks
from tests.cli.pull_apps import TRICKY

KEY = "sk-pull-test-5d1e"
DEMOS = sorted(p.stem for p in BUNDLED_APPS_DIR.glob("*.dust"))
DUSTTUI = shutil.which("dusttui")


def dusttui(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed `dusttui` script (it imports this checkout through PYTHONPATH)."""
    assert DUSTTUI is not None, "the dusttui script is not on PATH (pip install -e .)"
    return subprocess.run(
        [DUSTTUI, *args],
        capture_output=True,
        text=True,
        timeout=90,
        env=None if env is None else {**os.environ, **env},
    )


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else {}


@pytest.fixture(scope="module")
def tricky_engine(tmp_path_factory):
    """An engine serving the tricky specs (plus the demos), reached as a remote workspace."""
    root = tmp_path_factory.mktemp("pull-engine")
    apps = root / "apps"
    apps.mkdir()
    for name, text in TRICKY.items():
        (apps / f"{name}.dust").write_text(text, encoding="utf-8")
    (apps / "loops.config.json").write_text(
        json.dumps({"CHAT": {"provider_id": "openai", "model_id": "gpt-4o"}})
    )
    (apps / "loops.description.txt").write_text("Loops, a chat and a curl.\n")
    with EmbeddedEngine(data_dir=root / "data", apps_dir=apps, api_key=KEY, token_delay=0) as eng:
        yield eng


@pytest.fixture
def as_remote(tricky_engine, monkeypatch):
    monkeypatch.setenv("DUST_BASE_URL", tricky_engine.url)
    monkeypatch.setenv("DUST_WORKSPACE_ID", "w-pull")
    monkeypatch.setenv("DUST_SPACE_ID", "s-pull")
    monkeypatch.setenv("DUST_API_KEY", KEY)
    return tricky_engine


# ---------------------------------------------------------------- the round trip, in process


@pytest.mark.parametrize("name", DEMOS + sorted(TRICKY))
def test_builder_json_written_back_as_dust_hashes_the_same(name):
    text = TRICKY.get(name) or (BUNDLED_APPS_DIR / f"{name}.dust").read_text()
    spec = parse_spec(text)
    saved = json.loads(json.dumps(builder_blocks(spec)))  # what an App carries, as JSON
    pulled = dust_text_of_builder_blocks(saved)
    assert pulled is not None
    assert parse_spec(pulled).hash == spec.hash
    # and once more: a pulled file pulls to itself
    again = dust_text_of_builder_blocks(json.loads(json.dumps(builder_blocks(parse_spec(pulled)))))
    assert again == pulled


# ---------------------------------------------------------------- the real binary


def test_pull_every_demo_app_off_the_local_engine_with_the_hash_it_runs(tmp_path):
    to = tmp_path / "pulled"
    result = dusttui("pull", "--to", str(to), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    pulled = {a["name"]: a for a in report["apps"]}
    assert sorted(pulled) == DEMOS
    listing = json.loads(dusttui("apps", "--json").stdout)
    for app in listing:
        assert pulled[app["name"]]["specification_hash"] == app["dusttui"]["specificationHash"]
        assert pulled[app["name"]]["warnings"] == []
    # the files: the text hashes as reported, config and samples as the engine has them
    qa = pulled["qa-demo"]
    assert qa["files"] == [
        str(to / f"qa-demo.{ext}")
        for ext in ("dust", "config.json", "description.txt", "inputs.jsonl")
    ]
    assert dusttui("hash", str(to / "qa-demo.dust")).stdout.strip() == qa["specification_hash"]
    original = BUNDLED_APPS_DIR / "qa-demo"
    assert json.loads((to / "qa-demo.config.json").read_text()) == json.loads(
        original.with_suffix(".config.json").read_text()
    )
    assert (to / "qa-demo.inputs.jsonl").read_text().splitlines() == [
        json.dumps(json.loads(line), ensure_ascii=False)
        for line in original.with_suffix(".inputs.jsonl").read_text().splitlines()
        if line.strip()
    ]


def test_pull_from_a_remote_workspace_then_serve_the_folder_runs_the_same_hashes(
    as_remote, tmp_path
):
    to = tmp_path / "apps"
    result = dusttui("pull", *TRICKY, "--to", str(to))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    expected = {name: parse_spec(text).hash for name, text in TRICKY.items()}
    assert lines[:4] == [  # in the order asked for
        f"multiline  {expected['multiline']}  1 file",
        f"mapreduce  {expected['mapreduce']}  1 file",
        f"loops      {expected['loops']}  3 files",
        f"hosted     {expected['hosted']}  1 file",
    ]
    assert lines[-1] == f"Pulled 4 apps into {to}: dusttui serve --apps {to}"
    assert (to / "loops.description.txt").read_text() == "Loops, a chat and a curl.\n"
    assert json.loads((to / "loops.config.json").read_text()) == {
        "CHAT": {"provider_id": "openai", "model_id": "gpt-4o"}
    }

    # `dusttui serve --apps DIR` serves them under the same hashes, and runs them
    env = {**os.environ, "DUSTTUI_SERVER_KEY": "sk-serve-pulled-1"}
    for var in ("DUST_BASE_URL", "DUST_WORKSPACE_ID", "DUST_SPACE_ID", "DUST_API_KEY"):
        env.pop(var, None)
    serve = subprocess.Popen(
        [DUSTTUI, "serve", "--apps", str(to), "--port", "0", "--db", str(tmp_path / "s.db")],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        url = None
        for line in serve.stderr:
            if "listening on" in line:
                url = line.split("listening on ", 1)[1].strip()
                break
        assert url, "dusttui serve did not start"
        headers = {"Authorization": "Bearer sk-serve-pulled-1"}
        apps = httpx.get(f"{url}/api/v1/w/local/apps", headers=headers, timeout=30).json()["apps"]
        served = {
            a["name"]: a["dusttui"]["specificationHash"]
            for a in apps
            if a["dusttui"]["source"] == "apps_dir"
        }
        assert served == expected
        run = dusttui(
            "run",
            "mapreduce",
            "--input",
            '{"n": 1}',
            "--json",
            env={
                "DUST_BASE_URL": url,
                "DUST_WORKSPACE_ID": "local",
                "DUST_API_KEY": "sk-serve-pulled-1",
            },
        )
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["specification_hash"] == expected["mapreduce"]
    finally:
        serve.terminate()
        serve.wait(timeout=30)


def test_the_embedded_engine_runs_a_pulled_folder_as_its_apps_dir(as_remote, tmp_path):
    to = tmp_path / "apps"
    assert dusttui("pull", "mapreduce", "--to", str(to)).returncode == 0
    env = {
        "DUSTTUI_APPS_DIR": str(to),
        "DUST_BASE_URL": "",
        "DUST_API_KEY": "",
        "DUST_WORKSPACE_ID": "",
    }
    run = dusttui("run", "mapreduce", "--input", '{"n": 7}', "--json", "--local", env=env)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["specification_hash"] == parse_spec(TRICKY["mapreduce"]).hash


# ---------------------------------------------------------------- refusals


def test_unknown_names_are_refused_and_nothing_is_written(as_remote, tmp_path):
    to = tmp_path / "apps"
    result = dusttui("pull", "loops", "nope", "Nope2", "--to", str(to))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"dusttui: no app named `nope` (apps: {', '.join(sorted([*DEMOS, *TRICKY]))})",
        f"dusttui: no app named `Nope2` (apps: {', '.join(sorted([*DEMOS, *TRICKY]))})",
        "dusttui: Nothing was written.",
    ]
    assert not to.exists()


def test_existing_files_are_kept_unless_force(as_remote, tmp_path):
    to = tmp_path / "apps"
    to.mkdir()
    (to / "loops.dust").write_text("mine\n")
    result = dusttui("pull", "loops", "--to", str(to))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"dusttui: {to / 'loops.dust'} exists (--force overwrites it)",
        "dusttui: Nothing was written.",
    ]
    assert snapshot(to) == {"loops.dust": b"mine\n"}
    result = dusttui("pull", "loops", "--to", str(to), "--force")
    assert result.returncode == 0, result.stderr
    assert sorted(snapshot(to)) == ["loops.config.json", "loops.description.txt", "loops.dust"]
    assert parse_spec((to / "loops.dust").read_text()).hash == parse_spec(TRICKY["loops"]).hash


def test_a_folder_that_is_a_file_and_an_api_error_have_their_exit_codes(as_remote, tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    result = dusttui("pull", "loops", "--to", str(a_file))
    assert (result.returncode, result.stderr.splitlines()[0]) == (
        2,
        f"dusttui: {a_file} exists and is not a folder",
    )
    result = dusttui("pull", "--to", str(tmp_path / "x"), env={"DUST_API_KEY": "sk-wrong"})
    assert result.returncode == 3
    assert "sk-wrong" not in result.stderr
    assert not (tmp_path / "x").exists()


@pytest.fixture
def odd_engine(tmp_path, monkeypatch):
    """An engine with an app that does not parse (no saved specification) and one whose name
    cannot be a file name on every system."""
    apps = tmp_path / "odd-apps"
    apps.mkdir()
    (apps / "broken.dust").write_text("input INPUT { }\n\ncode C {\n  cod: x\n}\n")
    (apps / "ok.dust").write_text("input INPUT { }\n")
    with EmbeddedEngine(
        data_dir=tmp_path / "odd-data", apps_dir=apps, api_key=KEY, token_delay=0
    ) as eng:
        monkeypatch.setenv("DUST_BASE_URL", eng.url)
        monkeypatch.setenv("DUST_WORKSPACE_ID", "w")
        monkeypatch.setenv("DUST_SPACE_ID", "s")
        monkeypatch.setenv("DUST_API_KEY", KEY)
        yield apps


def test_an_app_without_saved_specification_is_refused_by_name_and_skipped_in_a_full_pull(
    odd_engine, tmp_path
):
    to = tmp_path / "out"
    result = dusttui("pull", "broken", "--to", str(to))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "dusttui: app `broken` has no saved specification (never saved in the builder)",
        "dusttui: Nothing was written.",
    ]
    result = dusttui("pull", "--to", str(to), "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == ["dusttui: skipped `broken`: no saved specification"]
    assert sorted(a["name"] for a in json.loads(result.stdout)["apps"]) == sorted([*DEMOS, "ok"])


def test_a_name_that_is_not_a_file_name_is_refused(odd_engine, tmp_path):
    (odd_engine / "a:b.dust").write_text("input INPUT { }\n")
    result = dusttui("pull", "a:b", "--to", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        'dusttui: the app name "a:b" holds a character a file name cannot: rename it in Dust, '
        "or pull the others",
        "dusttui: Nothing was written.",
    ]


# ---------------------------------------------------------------- a hosted workspace


HOSTED_BLOCKS = [
    {"type": "input", "name": "INPUT", "indent": 0, "spec": {}, "config": {"dataset": "d"}},
    {"type": "data", "name": "EXAMPLES", "indent": 0, "spec": {"dataset": "examples"}},
    {"type": "search", "name": "WEB", "indent": 0, "spec": {"query": "{{INPUT.q}}", "num": 4}},
    {"type": "code", "name": "OUT", "indent": 0, "spec": {"code": "_fun = (env) => 1"}},
]


@pytest.fixture
def hosted(monkeypatch):
    """A stand-in for dust.tt's apps listing: what the engine cannot know is left out."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from tests.engine.fake_llm_servers import serve_in_thread

    app = {
        "id": 7,
        "sId": "a1b2c3d4e5",
        "name": "hosted",
        "description": "From the hosted service.",
        "savedSpecification": json.dumps(HOSTED_BLOCKS),
        "savedConfig": json.dumps({"WEB": {"provider_id": "serpapi", "use_cache": True}}),
        "savedRun": None,
        "dustAPIProjectId": "99",
    }

    async def apps(request):
        if request.headers.get("authorization") != f"Bearer {KEY}":
            return JSONResponse({"error": {"type": "not_authenticated", "message": "no"}}, 401)
        return JSONResponse({"apps": [app]})

    routes = [Route("/api/v1/w/{w}/spaces/{s}/apps", apps)]
    with serve_in_thread(Starlette(routes=routes)) as url:
        monkeypatch.setenv("DUST_BASE_URL", url)
        monkeypatch.setenv("DUST_WORKSPACE_ID", "w-hosted")
        monkeypatch.setenv("DUST_SPACE_ID", "s-hosted")
        monkeypatch.setenv("DUST_API_KEY", KEY)
        yield


F = "```"


def test_a_hosted_app_is_written_as_front_would_with_what_is_unknown_said(hosted, tmp_path):
    to = tmp_path / "apps"
    result = dusttui("pull", "--to", str(to), "--json")
    assert result.returncode == 0, result.stderr
    assert (to / "hosted.dust").read_text() == (
        "input INPUT { }\n\n"
        "data EXAMPLES {\n  dataset_id: examples\n  hash: latest\n}\n\n"
        f"search WEB {{\n  query: \n{F}\n{{{{INPUT.q}}}}\n{F}\n  num: 4\n}}\n\n"
        f"code OUT {{\n  code: \n{F}\n_fun = (env) => 1\n{F}\n}}\n"
    )
    assert (to / "hosted.description.txt").read_text() == "From the hosted service.\n"
    pulled = json.loads(result.stdout)["apps"][0]
    # hashed as written (with `hash: latest`): not the workspace's hash, as the warning says
    assert pulled["specification_hash"] == parse_spec((to / "hosted.dust").read_text()).hash
    warnings = pulled["warnings"]
    assert warnings == [
        "app `hosted`: data block dataset `examples` is written `hash: latest` (the API does not "
        f"give dataset versions): its hash differs from the workspace's; put the records in "
        f"{to / 'datasets' / 'examples.jsonl'}"
    ]
    assert result.stderr.splitlines() == [f"dusttui: {warnings[0]}"]
