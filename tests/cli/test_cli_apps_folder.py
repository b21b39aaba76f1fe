"""Your own apps: `dusttui locate apps` says where they go, `--create` makes the folder, and
`dusttui --apps DIR` points the TUI (and any command) at another folder — through the real
binary and the real local engine."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time

from click.testing import CliRunner

from dusttui.cli import main
from tests.cli.procs import cli_env, run_cli, stop_engines

SHOUT = (
    "input INPUT { }\n\ncode SHOUT {\n  code:\n```\n"
    "_fun = (env) => { return env.state.INPUT.word.toUpperCase(); }\n```\n}\n"
)
BROKEN = "input INPUT { }\n\ncode C {\n  kode: x\n}\n"
PUT_THERE = (
    "dusttui: put NAME.dust files there (NAME.config.json, NAME.inputs.jsonl and "
    "NAME.description.txt beside them are optional): the TUI and `dusttui run NAME` serve them "
    "with the local engine.\n"
)


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_locate_apps_create_and_an_app_put_there_is_listed_and_runs(tmp_path):
    env = cli_env(tmp_path)
    folder = tmp_path / "config" / "apps"
    try:
        assert run_cli(["locate", "apps"], env) == (
            0,
            f"{folder}\n",
            f"dusttui: {folder} does not exist yet: `dusttui locate apps --create` makes it.\n",
        )
        assert not folder.exists()
        assert run_cli(["locate", "apps", "--create"], env) == (
            0,
            f"{folder}\n",
            f"dusttui: created the folder {folder}\n{PUT_THERE}",
        )
        (folder / "shout.dust").write_text(SHOUT)
        (folder / "shout.description.txt").write_text("Shouts the word.\n")

        code, out, err = run_cli(["apps"], env)
        assert code == 0, err
        mine = [line for line in out.splitlines() if line.startswith("shout ")]
        assert len(mine) == 1 and re.fullmatch(r"shout +\w{10}  Shouts the word\.", mine[0]), out
        assert "qa-demo" in out  # beside the demo apps, not instead of them

        code, out, err = run_cli(["run", "shout", "--input", '{"word": "hey"}', "--json"], env)
        assert code == 0, err
        assert json.loads(out)["results"] == [
            [{"value": "HEY", "error": None, "meta": {"logs": []}}]
        ]

        assert run_cli(["locate", "apps", "--create"], env) == (
            0,
            f"{folder}\n",
            f"dusttui: {folder} exists already: left as it is.\n",
        )
    finally:
        stop_engines(tmp_path / "data")


def test_locate_apps_follows_apps_dir_and_the_apps_option(tmp_path, monkeypatch):
    configured = tmp_path / "from-config"
    (tmp_path / "config.toml").write_text(f'apps_dir = "{configured}"\n')
    result = invoke("locate", "apps")
    assert (result.exit_code, result.stdout) == (0, f"{configured}\n")
    assert result.stderr == (
        f"dusttui: {configured} does not exist yet: `dusttui locate apps --create` makes it.\n"
    )
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "config.toml").write_text('apps_dir = "~/my-apps"\n')
    assert invoke("locate", "apps").stdout == f"{tmp_path / 'my-apps'}\n"  # ~ is the home
    from_env = tmp_path / "from-env"
    monkeypatch.setenv("DUSTTUI_APPS_DIR", str(from_env))
    assert invoke("locate", "apps").stdout == f"{from_env}\n"
    given = tmp_path / "given"
    given.mkdir()
    result = invoke("--apps", str(given), "locate", "apps")
    assert (result.exit_code, result.stdout, result.stderr) == (0, f"{given}\n", "")
    (tmp_path / "config.toml").write_text("apps_dir = [1]\n")
    monkeypatch.delenv("DUSTTUI_APPS_DIR")
    result = invoke("locate", "apps")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.startswith(f"dusttui: {tmp_path / 'config.toml'}: `apps_dir`: ")


def test_locate_alone_lists_each_place_and_says_what_is_not_there_yet(tmp_path):
    (tmp_path / "config" / "apps").mkdir(parents=True)
    result = invoke("locate")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        f"config  {tmp_path / 'config.toml'}   (not there yet: dusttui locate config --create)",
        f"data    {tmp_path / 'data'}   (not there yet: dusttui locate data --create)",
        f"themes  {tmp_path / 'config' / 'themes'}   (not there yet: dusttui locate themes --create)",
        f"prices  {tmp_path / 'config' / 'prices.toml'}   (not there yet: dusttui locate prices "
        "--create)",
        f"apps    {tmp_path / 'config' / 'apps'}",
    ]
    result = invoke("locate", "--create")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        "dusttui: --create makes one thing: name it (dusttui locate apps --create).\n"
    )


def test_apps_option_lists_that_folder_and_says_which_app_does_not_parse(tmp_path):
    env = cli_env(tmp_path)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "shout.dust").write_text(SHOUT)
    (mine / "broken.dust").write_text(BROKEN)
    try:
        code, out, err = run_cli(["--apps", str(mine), "apps"], env)
        assert code == 0, err
        lines = {line.split()[0]: line for line in out.splitlines()}
        assert re.fullmatch(r"shout +\w{10}", lines["shout"])
        assert lines["broken"].endswith(
            "  ✗ does not parse: broken.dust: line 4, column 3: Unexpected `kode` in `code` block"
        )
        code, out, err = run_cli(["--apps", str(mine), "run", "broken", "--input", "{}"], env)
        assert (code, out) == (2, "")
        assert "broken.dust: line 4, column 3: Unexpected `kode` in `code` block" in err
        # without --apps the folder is not served
        code, out, err = run_cli(["apps"], env)
        names = [line.split()[0] for line in out.splitlines()]
        assert code == 0 and "shout" not in names and "qa-demo" in names
    finally:
        stop_engines(tmp_path / "data")


def test_apps_option_refuses_a_missing_folder_and_a_remote_backend(tmp_path, monkeypatch):
    result = invoke("--apps", str(tmp_path / "nope"), "apps")
    assert (result.exit_code, result.stdout) == (2, "")
    assert f"Invalid value for '--apps': Directory '{tmp_path / 'nope'}' does not exist." in (
        result.stderr
    )
    monkeypatch.setenv("DUST_BASE_URL", "https://dust.tt")
    monkeypatch.setenv("DUST_WORKSPACE_ID", "w1")
    result = invoke("--apps", str(tmp_path), "apps")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        "dusttui: --apps serves a folder with the local engine, but the backend is dust.tt · "
        "workspace w1: add --local to use the local engine.\n"
    )


def test_the_tui_started_with_apps_lists_the_folders_apps(tmp_path):
    assert shutil.which("tmux"), "this test drives the TUI in tmux: install tmux"
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "shout.dust").write_text(SHOUT)
    env = cli_env(tmp_path)
    tmux = ["tmux", "-L", f"dusttui-apps-test-{os.getpid()}-{tmp_path.name}", "-f", "/dev/null"]
    command = f'{sys.executable} -m dusttui --apps {mine}; echo "dusttui exited with $?"; sleep 30'
    subprocess.run(
        [*tmux, "new-session", "-d", "-x", "120", "-y", "40", command], env=env, check=True
    )
    try:
        screen = _wait_for_screen(tmux, r"(?m)^▊ shout +│")  # in the apps list
        assert re.search(r"(?m)^▊ qa-demo +│", screen), screen  # beside the demos
        subprocess.run([*tmux, "send-keys", "q"], check=True)
        _wait_for_screen(tmux, r"(?m)^dusttui exited with 0$")
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
        stop_engines(tmp_path / "data")


def _wait_for_screen(tmux: list[str], pattern: str, limit: float = 60.0) -> str:
    """The pane's text once ``pattern`` matches it (an AssertionError with the screen if not)."""
    deadline = time.monotonic() + limit
    screen = ""
    while time.monotonic() < deadline:
        shown = subprocess.run([*tmux, "capture-pane", "-p"], capture_output=True, text=True)
        screen = shown.stdout
        if re.search(pattern, screen):
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{pattern!r} never matched; the screen was:\n{screen}")
