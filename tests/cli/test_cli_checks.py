"""Checks before launch (issue 12), through the real CLI against the real engine: a misspelt
config key is named, a provider the local engine does not serve is refused before any run, and
inputs that are an empty list launch nothing."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from dusttui.api.inputs import LOCAL_ENGINE_PROVIDER_IDS
from dusttui.cli import main

QUESTION = '{"question": "What is 2+2?"}'
KNOWN = (
    "offline, openai, azure_openai, anthropic, mistral, google_ai_studio, togetherai, deepseek, "
    "fireworks, xai, openai_compatible, ollama"
)


def invoke(*args: str, stdin: str | None = None):
    return CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)


def test_a_misspelt_config_key_is_named_with_the_key_it_stands_for(remote):
    config = '{"ANSWER": {"providr_id": "offline", "model_id": "upper"}}'
    result = invoke("run", "qa-demo", "--input", QUESTION, "--config", config)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        "dusttui: config: llm block `ANSWER` needs `provider_id` (`providr_id` given: a typo of "
        '`provider_id`?), e.g. {"provider_id": "openai", "model_id": "gpt-4o-mini"}.\n'
    )
    config = '{"ANSWER": {"provider_id": "offline", "modelid": "upper"}}'
    result = invoke("run", "qa-demo", "--input", QUESTION, "--config", config)
    assert "needs `model_id` (`modelid` given: a typo of `model_id`?)" in result.stderr
    config = '{"ANSWER": {"provider_id": "offline", "temperature": 0.2}}'  # nothing close
    result = invoke("run", "qa-demo", "--input", QUESTION, "--config", config)
    assert result.stderr == (
        'dusttui: config: llm block `ANSWER` needs `model_id`, e.g. {"provider_id": "openai", '
        '"model_id": "gpt-4o-mini"}.\n'
    )


def test_a_provider_the_local_engine_does_not_serve_is_refused_before_any_run():
    config = '{"ANSWER": {"provider_id": "opneai", "model_id": "gpt-4o-mini"}}'
    result = invoke("run", "qa-demo", "--input", QUESTION, "--config", config)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        'dusttui: config: llm block `ANSWER`: `provider_id` "opneai" is not a provider of this '
        f"engine (known: {KNOWN}).\n"
    )  # and no "run … started": nothing was launched
    # several configs side by side: each is checked before any of them runs
    good = '{"ANSWER": {"provider_id": "offline", "model_id": "upper"}}'
    result = invoke("run", "qa-demo", "--input", QUESTION, "--config", good, "--config", config)
    assert (result.exit_code, result.stdout) == (2, "")
    assert '`provider_id` "opneai" is not a provider of this engine' in result.stderr
    assert "started" not in result.stderr


def test_on_a_remote_api_the_provider_is_left_to_the_server(remote):
    config = '{"ANSWER": {"provider_id": "opneai", "model_id": "gpt-4o-mini"}}'
    result = invoke("run", "qa-demo", "--input", QUESTION, "--config", config)
    assert result.exit_code == 1  # the server knows its providers: the run says why it failed
    assert "Invalid `provider_id` `opneai` in configuration for llm block `ANSWER`" in (
        result.stdout
    )


def test_the_local_engines_providers_are_the_ones_the_cli_checks():
    from dusttui.engine.providers import ProviderRegistry

    assert LOCAL_ENGINE_PROVIDER_IDS == tuple(ProviderRegistry.from_env({}).ids())


@pytest.mark.parametrize(
    ("name", "text"),
    [("empty.json", "[]"), ("empty.jsonl", "\n"), ("header-only.csv", "question\n")],
)
def test_inputs_that_hold_none_launch_nothing(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    result = invoke("run", "qa-demo", "--inputs", str(path))
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"dusttui: --inputs: `{path}` holds no inputs: a run of none would do nothing. "
        "Give at least one.\n"
    )
    result = invoke("run", "qa-demo", "--inputs", "-", stdin="[]")
    assert result.stderr == (
        "dusttui: --inputs: stdin holds no inputs: a run of none would do nothing. "
        "Give at least one.\n"
    )


def test_a_hash_that_cannot_be_one_is_refused_naming_the_saved_version():
    from dusttui.engine.appstore import BUNDLED_APPS_DIR
    from dusttui.engine.spec import parse_spec, read_spec_file

    saved = parse_spec(read_spec_file(BUNDLED_APPS_DIR / "qa-demo.dust")).hash
    result = invoke("run", "qa-demo", "--hash", "deadbeef", "--input", QUESTION)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        "dusttui: --hash `deadbeef` is not a specification hash: 64 hex characters (as `dusttui "
        f"hash FILE.dust` prints) or `latest`; the saved version of qa-demo is {saved}.\n"
    )
    result = invoke("run", "qa-demo", "--hash", saved.upper(), "--input", QUESTION, "--json")
    assert result.exit_code == 0, result.stderr  # a hash pasted in capitals is still the hash
