"""`dusttui run APP --config A --config B`: one set of inputs, N configs, side by side."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from dusttui.cli import main
from tests.compare.conftest import ITER_CONFIG, UPPER_CONFIG


def cli(*args: str, env: dict[str, str] | None = None):
    return CliRunner(env=env).invoke(main, list(args), catch_exceptions=False)


INPUTS = ['{"id": 1, "n": 1, "word": "a"}', '{"id": 2, "n": -1, "word": "b"}']


def test_two_configs_run_side_by_side_as_a_grid(remote, tmp_path: Path):
    (tmp_path / "echo.json").write_text(json.dumps(ITER_CONFIG))
    args = ["run", "iter", "--input", INPUTS[0], "--config", str(tmp_path / "echo.json")]
    result = cli(*args, "--config", json.dumps(UPPER_CONFIG), "--json")
    assert result.exit_code == 0, result.stderr
    grid = json.loads(result.stdout)
    assert grid["format"] == "dusttui.configs/1"
    assert [c["label"] for c in grid["configs"]] == [
        str(tmp_path / "echo.json"),
        json.dumps(UPPER_CONFIG),
    ]
    assert [c["status"] for c in grid["configs"]] == ["succeeded", "succeeded"]
    assert [c["config"] for c in grid["configs"]] == [ITER_CONFIG, UPPER_CONFIG]
    assert grid["cells"] == [
        [
            {
                "ran": True,
                "value": {"id": 1, "said": "a0 is here"},
                "error": None,
                "tokens": {"prompt": 3, "completion": 3},
            },
            {
                "ran": True,
                "value": {"id": 1, "said": "A0 IS HERE"},
                "error": None,
                "tokens": {"prompt": 3, "completion": 3},
            },
        ]
    ]
    text = cli(*args, "--config", json.dumps(UPPER_CONFIG))
    assert text.exit_code == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0] == "iter · 1 input × 2 configs"
    assert lines[3] == '  vs config 1: ~ $.SAY.model_id: "echo" → "upper"'
    assert lines[-3:] == [
        "outputs that differ (1 input), each config against config 1:",
        "#0 config 2:",
        '    ~ $.said: "[-a0-]{+A0+} [-is-]{+IS+} [-here-]{+HERE+}"',
    ]


def test_a_config_whose_run_fails_exits_1_and_shows_the_error_in_its_cells(remote):
    bad = {"SAY": {"provider_id": "offline", "model_id": "echo"}, "LIST": {}}
    result = cli(
        "run",
        "iter",
        "--input",
        INPUTS[1],
        "--config",
        json.dumps(ITER_CONFIG),
        "--config",
        json.dumps(bad),
        "--json",
    )
    assert result.exit_code == 1
    cells = json.loads(result.stdout)["cells"][0]
    assert [c["error"].splitlines()[0] for c in cells] == [
        "Error in `code`: Error: negative n: -1"
    ] * 2


def test_keep_writes_the_chosen_config_beside_the_app(remote, apps: Path, make_run):
    env = {"DUSTTUI_APPS_DIR": str(apps)}
    saved = apps / "echo.config.json"
    try:
        result = cli(
            "run",
            "echo",
            "--input",
            '{"text": "x"}',
            "--config",
            "{}",
            "--config",
            '{"ECHO": {}}',
            "--keep",
            "2",
            env=env,
        )
        assert result.exit_code == 0, result.stderr
        assert json.loads(saved.read_text()) == {"ECHO": {}}
        assert f"config 2 kept as the saved config of echo: {saved}" in result.stderr
    finally:
        saved.unlink(missing_ok=True)
    answer = json.dumps({"ANSWER": {"provider_id": "offline", "model_id": "upper"}})
    demo = cli("run", "qa-demo", "--config", answer, "--config", answer, "--keep", "1", env=env)
    assert demo.exit_code == 2
    assert "qa-demo is a bundled demo: its files are part of dusttui." in demo.stderr
    wrong = cli("run", "echo", "--input", '{"text": "x"}', "--config", "{}", "--keep", "3")
    assert (wrong.exit_code, wrong.stderr) == (
        2,
        "dusttui: --keep takes a config's number, 1 to 1.\n",
    )
