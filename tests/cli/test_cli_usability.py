"""Issue 12's CLI items, each as a user meets it: options that contradict each other, a bad
timeout, input numbering, short run ids, a URL without its scheme, a refused key, `locate`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dusttui.cli import main
from dusttui.config import Settings, load_settings

QUESTION = '{"question": "What is 2+2?"}'


def invoke(*args: str, stdin: str | None = None):
    return CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)


@pytest.mark.parametrize(
    ("modes", "said"),
    [
        (["--poll", "--blocking"], "--poll and --blocking cannot be used together: pick one mode."),
        (["--blocking", "--stream"], "--stream and --blocking cannot be used together"),
        (["--stream", "--poll", "--blocking"], "--stream and --poll and --blocking cannot"),
    ],
)
def test_two_launch_modes_are_refused_as_json_and_jsonl_are(modes, said):
    result = invoke("run", "qa-demo", "--input", QUESTION, *modes)
    assert (result.exit_code, result.stdout) == (2, "")
    assert said in result.stderr
    both = invoke("run", "qa-demo", "--input", QUESTION, "--json", "--jsonl")
    assert (both.exit_code, both.stderr) == (
        2,
        "dusttui: --json and --jsonl cannot be used together.\n",
    )


@pytest.mark.parametrize("value", ["-1", "0", "nan"])
def test_a_timeout_of_zero_or_less_is_a_usage_error_not_a_timeout(value):
    for command in (["run", "qa-demo", "--input", QUESTION], ["watch", "f" * 64, "--app", "x"]):
        result = invoke(*command, "--timeout", value)
        assert (result.exit_code, result.stdout) == (2, ""), command
        assert result.stderr.startswith("dusttui: --timeout must be more than 0 seconds (got ")
        assert "leave it out to wait until the run ends" in result.stderr


def test_input_errors_count_from_0_and_say_so():
    result = invoke("run", "qa-demo", "--input", QUESTION, "--input", '{"question": "a",}')
    assert result.exit_code == 2
    assert result.stderr == (
        "dusttui: input 1 (--input): line 1, column 18: Expecting property name enclosed in "
        "double quotes. Inputs are counted from 0.\n"
    )
    result = invoke("run", "qa-demo", "--input", QUESTION, "--input", '{"q": "b"}')
    assert result.stderr == (
        "dusttui: inputs: all inputs must have the same keys — input 0 has {question}, input 1 "
        "has {q}. Inputs are counted from 0.\n"
    )
    # A run's own errors use the same numbers: the second input is input 1.
    result = invoke(
        "run",
        "flaky-demo",
        "--input",
        '{"payload": "{\\"name\\": \\"a\\", \\"items\\": [1]}"}',
        "--input",
        '{"payload": "{"}',
    )
    assert "PARSE (input 1): Error in `code`" in result.stdout


def _seed_journal(tmp_path: Path, app_id: str, run_ids: list[str], base_url: str) -> None:
    from dusttui.api.journal import Journal

    with Journal(tmp_path / "data" / "journal.sqlite") as journal:
        for run_id in run_ids:
            journal.record_launch(
                run_id=run_id, workspace_id="w-cli", app_id=app_id, base_url=base_url
            )


def test_short_ids_as_the_tui_shows_them_are_accepted_by_get_watch_and_cancel(remote, tmp_path):
    created = json.loads(invoke("run", "slow", "--input", '{"ms": 1}', "--json").stdout)
    run_id = created["run_id"]
    for ref in (run_id[:6], f"{run_id[:6]}…", run_id[:10]):
        result = invoke("get", ref, "--app", "slow", "--json")
        assert result.exit_code == 0, (ref, result.stderr)
        assert json.loads(result.stdout)["run_id"] == run_id
    result = invoke("watch", run_id[:8], "--app", "slow")
    assert result.stdout.splitlines()[0] == f"run {run_id} ✓ succeeded"


def test_a_prefix_of_several_runs_says_which_and_one_of_none_says_where_it_looked(remote, tmp_path):
    apps = json.loads(invoke("apps", "--json").stdout)
    sid = next(a["sId"] for a in apps if a["name"] == "slow")
    twins = ["abc1" + "0" * 60, "abc2" + "0" * 60, "abd3" + "0" * 60]
    _seed_journal(tmp_path, sid, twins, remote.url)
    result = invoke("get", "abc", "--app", "slow")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        "dusttui: `abc` starts the ids of 2 runs of slow (abc100000000…, abc200000000…): "
        "give more of it.\n"
    )
    result = invoke("watch", "0123", "--app", "slow")
    assert result.exit_code == 2
    # `remote` is a dusttui engine reached by URL: it can list its runs, so they are looked in.
    assert result.stderr == (
        "dusttui: No run of slow has an id starting with `0123` (looked in this machine's "
        "history and the engine's runs); give the whole id.\n"
    )


def test_on_the_local_engine_a_prefix_is_found_in_its_runs_without_any_history(tmp_path):
    from tests.cli.procs import SLOW_BLOCK_APP, cli_env, run_cli, stop_engines

    env = cli_env(tmp_path, apps={"slow": SLOW_BLOCK_APP})
    try:
        code, out, err = run_cli(["run", "slow", "--input", '{"ms": 1}', "--json"], env)
        assert code == 0, err
        run_id = json.loads(out)["run_id"]
        (tmp_path / "data" / "journal.sqlite").unlink()  # forget the history: the engine knows
        code, out, err = run_cli(["get", run_id[:7], "--app", "slow"], env)
        assert code == 0, err
        assert out.splitlines()[0] == f"run {run_id} ✓ succeeded"
        code, out, err = run_cli(["cancel", f"{run_id[:6]}…", "--app", "slow"], env)
        assert (code, out) == (2, "")
        assert err == f"dusttui: Run {run_id} is not running (succeeded): nothing to cancel.\n"
    finally:
        stop_engines(tmp_path / "data")


@pytest.mark.parametrize(
    ("url", "said"),
    [
        (
            "127.0.0.1:8899",
            "DUST_BASE_URL `127.0.0.1:8899` is not a base URL; with its scheme: "
            "http://127.0.0.1:8899",
        ),
        (
            "eu.dust.tt",
            "DUST_BASE_URL `eu.dust.tt` is not a base URL; with its scheme: https://eu.dust.tt",
        ),
        ("ftp://dust.tt", "DUST_BASE_URL `ftp://dust.tt` is not a base URL: http:// or https://"),
        ("http://host:99999", "DUST_BASE_URL `http://host:99999` is not a base URL"),
    ],
)
def test_a_base_url_without_its_scheme_is_a_usage_error_naming_it(monkeypatch, url, said):
    monkeypatch.setenv("DUST_BASE_URL", url)
    monkeypatch.setenv("DUST_WORKSPACE_ID", "w")
    monkeypatch.setenv("DUST_API_KEY", "sk-some-key")
    result = invoke("apps")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.startswith(f"dusttui: {said}")
    result = invoke("apps", "--base-url", url)
    assert result.stderr.startswith(f"dusttui: --base-url `{url}` is not a base URL")


def test_a_refused_key_says_it_was_refused_and_where_it_came_from(remote, monkeypatch, tmp_path):
    host = remote.url.split("://", 1)[1]
    monkeypatch.setenv("DUST_API_KEY", "sk-wrong-key")
    result = invoke("apps")
    assert (result.exit_code, result.stdout) == (3, "")
    assert result.stderr.startswith(
        f"dusttui: {host} answered, and refused the API key (invalid_api_key_error). "
        "The key came from DUST_API_KEY: check it belongs to workspace w-cli."
    ), result.stderr
    assert "sk-wrong-key" not in result.stderr
    monkeypatch.delenv("DUST_API_KEY")
    config = tmp_path / "config.toml"
    config.write_text(
        f'default_profile = "work"\n[profiles.work]\nbase_url = "{remote.url}"\n'
        'workspace_id = "w-cli"\nspace_id = "s-cli"\napi_key = "sk-wrong-in-file"\n'
    )
    monkeypatch.delenv("DUST_BASE_URL")
    monkeypatch.delenv("DUST_WORKSPACE_ID")
    result = invoke("apps")
    assert result.exit_code == 3
    assert f"The key came from the config file {config} (profile work)" in result.stderr


def test_locate_says_what_is_missing_and_create_writes_a_commented_starter(tmp_path):
    config = tmp_path / "config.toml"
    result = invoke("locate", "config")
    assert result.stdout == f"{config}\n"  # the path, always: $EDITOR "$(dusttui locate config)"
    assert result.stderr == (
        f"dusttui: {config} does not exist yet: `dusttui locate config --create` makes a "
        "commented starter.\n"
    )
    result = invoke("locate", "config", "--create")
    assert result.stdout == f"{config}\n"
    assert result.stderr == f"dusttui: wrote a commented starter config file: {config}\n"
    assert config.stat().st_mode & 0o777 == 0o600
    text = config.read_text()
    assert load_settings(config) == Settings()  # valid, and sets nothing but the defaults
    for setting in Settings.model_fields:  # every setting explained
        assert f"{setting} = " in text or f"[{setting}." in text or f"[{setting}]" in text, setting
    config.write_text('theme = "mine"\n')
    result = invoke("locate", "config", "--create")
    assert result.stderr == f"dusttui: {config} exists already: left as it is.\n"
    assert config.read_text() == 'theme = "mine"\n'


def test_locate_prices_and_a_users_prices_in_the_cost_of_a_run(remote, tmp_path):
    prices = tmp_path / "config" / "prices.toml"
    assert invoke("locate", "prices").stdout == f"{prices}\n"
    invoke("locate", "prices", "--create")
    from dusttui.costs import load_prices

    assert load_prices(prices).prices == load_prices().prices  # the starter sets nothing
    prices.write_text('[offline]\n"upper" = { prompt = 1000, completion = 2000 }\n')
    result = invoke("run", "qa-demo", "--input", QUESTION)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-2:] == [
        "cost (estimate, prices as of 2025-06): $0.0090",
        "  llm      ANSWER           offline/upper        3 + 3 tokens  $0.0090",
    ]
    run_id = lines[0].split()[1]
    result = invoke("get", run_id[:8], "--app", "qa-demo")
    assert result.stdout.splitlines()[-2] == "cost (estimate, prices as of 2025-06): $0.0090"
    run = json.loads(invoke("get", run_id, "--app", "qa-demo", "--json").stdout)
    assert run["dusttui_cost"] == {
        "estimate": True,
        "currency": "USD",
        "prices_as_of": "2025-06",
        "total": 0.009,
        "complete": True,
        "blocks": [
            {
                "block_type": "llm",
                "name": "ANSWER",
                "provider_id": "offline",
                "model_id": "upper",
                "prompt_tokens": 3,
                "completion_tokens": 3,
                "cost": 0.009,
                "note": None,
            }
        ],
    }
    prices.write_text("[offline\n")
    result = invoke("get", run_id, "--app", "qa-demo")
    assert result.exit_code == 0
    assert f"dusttui: {prices}: not valid TOML" in result.stderr
    assert "Cost estimates are left out." in result.stderr
    assert "cost (estimate" not in result.stdout


def test_a_run_without_tokens_has_no_cost_lines_and_json_says_null(remote):
    created = json.loads(invoke("run", "slow", "--input", '{"ms": 1}', "--json").stdout)
    assert "dusttui_cost" not in created  # `run --json` is the run as the server has it
    result = invoke("get", created["run_id"], "--app", "slow")
    assert "cost" not in result.stdout
    got = json.loads(invoke("get", created["run_id"], "--app", "slow", "--json").stdout)
    assert got["dusttui_cost"] is None
