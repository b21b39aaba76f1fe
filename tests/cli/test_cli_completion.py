"""Shell completion of app names through the real binary: the local engine's apps from its
folders, a workspace's from its API through a cache, nothing (and no traceback) offline."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.cli.procs import cli_env

APP = {"id": 1, "savedSpecification": None, "savedConfig": "{}", "dustAPIProjectId": "1"}


def complete(words: str, env: dict[str, str], shell: str = "bash") -> tuple[int, str, str]:
    """What the shell gets for `words<TAB>`: (exit code, completions, stderr)."""
    parts = words.split(" ")
    env = dict(env, _DUSTTUI_COMPLETE=f"{shell}_complete", COMP_WORDS=words)
    env["COMP_CWORD"] = str(len(parts) - 1)
    done = subprocess.run(
        [sys.executable, "-m", "dusttui"], env=env, capture_output=True, text=True, timeout=60
    )
    return done.returncode, done.stdout, done.stderr


def test_the_local_engines_apps_complete_from_its_folders_without_starting_it(tmp_path):
    env = cli_env(tmp_path, apps={"my-app": "input INPUT { }\n", "mine2": "input INPUT { }\n"})
    code, out, err = complete("dusttui run m", env)
    assert (code, err) == (0, "")
    assert out.splitlines() == ["plain,map-reduce-demo", "plain,mine2", "plain,my-app"]
    code, out, _ = complete("dusttui get 5be2 --app qa", env)
    assert out.splitlines() == ["plain,qa-demo"]
    code, out, _ = complete("dusttui diff a b --app w", env, shell="zsh")
    assert out.splitlines() == ["plain", "while-demo", "_"]
    assert not (tmp_path / "data" / "engine").exists()  # no engine was started for it


def test_the_apps_of_the_folder_given_with_apps_complete(tmp_path):
    env = cli_env(tmp_path, apps={"my-app": "input INPUT { }\n"})
    other = tmp_path / "other"
    other.mkdir()
    (other / "shout.dust").write_text("input INPUT { }\n")
    code, out, err = complete(f"dusttui --apps {other} run s", env)
    assert (code, err, out.splitlines()) == (0, "", ["plain,shout"])
    code, out, _ = complete(f"dusttui --apps {other} run m", env)
    assert out.splitlines() == ["plain,map-reduce-demo"]  # instead of apps_dir's my-app


class Workspace:
    """A Dust API serving an apps listing, that can be stopped (a workspace gone offline)."""

    def __init__(self) -> None:
        self.names = ["alpha-app", "beta-app", "bad\x1b[2Japp", "two words"]
        self.calls = 0
        routes = [Route("/api/v1/w/{w}/spaces/{s}/apps", self.apps)]
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        app = Starlette(routes=routes)
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="off"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)

    async def apps(self, request):
        self.calls += 1
        apps = [dict(APP, sId=f"s{i}", name=n) for i, n in enumerate(self.names)]
        return JSONResponse({"apps": apps})

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)


@pytest.fixture
def workspace(tmp_path):
    served = Workspace()
    env = cli_env(tmp_path)
    env.update(
        DUST_BASE_URL=served.url, DUST_WORKSPACE_ID="w", DUST_SPACE_ID="s", DUST_API_KEY="sk-c"
    )
    yield served, env
    served.stop()


def test_a_workspaces_apps_complete_from_its_api_through_a_cache(workspace, tmp_path):
    served, env = workspace
    code, out, err = complete("dusttui run ", env)
    assert (code, err) == (0, "")
    # names a command line cannot hold as typed are left out
    assert out.splitlines() == ["plain,alpha-app", "plain,beta-app"]
    assert served.calls == 1
    cache_file = tmp_path / "data" / "cache" / "app-names.json"
    cache = json.loads(cache_file.read_text())
    (entry,) = cache.values()
    assert sorted(entry["names"]) == sorted(served.names)
    assert "sk-c" not in cache_file.read_text()

    served.names = ["gamma-app"]
    code, out, _ = complete("dusttui run ", env)  # within the cache's life: not asked again
    assert out.splitlines() == ["plain,alpha-app", "plain,beta-app"]
    assert served.calls == 1

    (key,) = cache
    cache[key]["at"] -= 3600  # an hour later: refreshed
    cache_file.write_text(json.dumps(cache))
    code, out, _ = complete("dusttui run ", env)
    assert out.splitlines() == ["plain,gamma-app"]
    assert served.calls == 2

    served.stop()  # offline: the last names known
    cache = json.loads(cache_file.read_text())
    cache[key]["at"] -= 3600
    cache_file.write_text(json.dumps(cache))
    code, out, err = complete("dusttui run g", env)
    assert (code, out.splitlines(), err) == (0, ["plain,gamma-app"], "")


def test_offline_without_a_cache_completes_nothing_and_says_nothing(tmp_path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    env = cli_env(tmp_path)
    env.update(DUST_BASE_URL=f"http://127.0.0.1:{port}", DUST_WORKSPACE_ID="w", DUST_API_KEY="k")
    assert complete("dusttui run ", env) == (0, "\n", "")  # bash: no completion
    bad = dict(env, DUST_BASE_URL="127.0.0.1:8899")  # a config error: no traceback either
    assert complete("dusttui watch x --app ", bad) == (0, "\n", "")
    assert os.path.exists(tmp_path / "data" / "cache") is False
