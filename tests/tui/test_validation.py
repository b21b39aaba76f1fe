"""The editors' verdicts on what a user typed or loaded (no screen needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dusttui.tui.validation import (
    InputsFileError,
    check_config_text,
    check_hash,
    check_inputs_text,
    load_inputs_file,
    saved_config_text,
    spec_blocks,
)

BLOCKS = [("input", "INPUT"), ("chat", "TALK")]


def test_config_verdicts():
    assert check_config_text("", BLOCKS).message == (
        "config: chat block `TALK` needs `provider_id` and `model_id`, "
        'e.g. {"provider_id": "openai", "model_id": "gpt-4o-mini"}.'
    )
    ok = check_config_text('{"TALK": {"provider_id": "offline", "model_id": "echo"}}', BLOCKS)
    assert ok.ok and ok.count == 1
    # a list is several configs (one run each, side by side): each must be a config
    assert check_config_text("[1]", None).message == (
        "config 1 of 1: expected a JSON object of block names, got a number."
    )
    assert check_config_text('[{"X": {}}, {"Y": {}}]', None).count == 2
    assert check_config_text('{"X": {}}', None).ok  # blocks unknown: names go unchecked


NO_INPUTS = (
    "inputs: none — a run needs at least one input (an object; {} for an app whose input block "
    "takes no field)."
)


def test_no_inputs_is_refused_not_launched():
    # A run of [] "succeeds" having done nothing: the editor says so before any launch.
    for text in ("   ", "[]", "[ ]\n", "\n\n"):
        check = check_inputs_text(text)
        assert (check.ok, check.message) == (False, NO_INPUTS), text
    assert check_inputs_text("[{}]").count == 1


def test_an_unknown_provider_is_refused_naming_the_engines():
    providers = ["offline", "openai", "anthropic"]
    typo = '{"TALK": {"provider_id": "opanai", "model_id": "gpt-4o-mini"}}'
    assert check_config_text(typo, BLOCKS, providers).message == (
        'config: chat block `TALK`: `provider_id` "opanai" is not a provider of this engine '
        "(known: offline, openai, anthropic)."
    )
    good = '{"TALK": {"provider_id": "openai", "model_id": "gpt-4o-mini"}}'
    assert check_config_text(good, BLOCKS, providers).ok
    assert check_config_text(typo, BLOCKS, None).ok  # providers unknown (a remote workspace)


def test_a_misspelt_key_is_named():
    text = '{"TALK": {"providr_id": "openai", "model_id": "gpt-4o-mini"}}'
    assert check_config_text(text, BLOCKS).message == (
        "config: chat block `TALK` needs `provider_id` (`providr_id` given: a typo of "
        '`provider_id`?), e.g. {"provider_id": "openai", "model_id": "gpt-4o-mini"}.'
    )


def test_hash_answers():
    known = ["ab" * 32, "abcd" + "0" * 60, "abcd" + "1" * 60, "1234" + "f" * 60]
    assert check_hash("", known).value == ""
    assert check_hash(" Latest ", known).value == "latest"
    assert check_hash("AB" * 32, known).value == "ab" * 32
    assert check_hash("1234", known).value == "1234" + "f" * 60  # a known version's unique start
    assert check_hash("deadbeef", known).message == (
        "A hash is 64 hex characters; `deadbeef` has 8 and starts no known version: pick one "
        "below, or type latest."
    )
    assert check_hash("abcd", known).message == "`abcd` starts 2 known versions: type more."
    assert check_hash("abcd1", known).value == "abcd" + "1" * 60
    assert check_hash("xyz", known).message == (
        "A hash has only the characters 0-9 and a-f (not `x`): pick a known version below, or "
        "type latest."
    )
    assert check_hash("ab", known).message.startswith("A hash is 64 hex characters; `ab` has 2")


def test_inputs_verdicts():
    assert check_inputs_text('[{"a": 1}, {"a": 2}]').count == 2
    assert check_inputs_text('{"a": 1}\n\n{"a": 2}\n').count == 2
    big = json.dumps([{"text": "x" * 1000}] * 4200)
    assert check_inputs_text(big).message == (
        "inputs: larger than 4 MB, the limit of a run request."
    )


def test_inputs_files(tmp_path: Path):
    jsonl = tmp_path / "in.jsonl"
    jsonl.write_text('{"q": "a"}\n{"q": "b"}\n')
    assert json.loads(load_inputs_file(jsonl)) == [{"q": "a"}, {"q": "b"}]
    csv = tmp_path / "in.csv"
    csv.write_text("q,n\nhello,1\n")
    assert json.loads(load_inputs_file(csv)) == [{"q": "hello", "n": "1"}]
    with pytest.raises(InputsFileError, match=r"^No file at .*missing\.json\.$"):
        load_inputs_file(tmp_path / "missing.json")
    mixed = tmp_path / "mixed.json"
    mixed.write_text('[{"a": 1}, {"b": 2}]')
    with pytest.raises(InputsFileError) as err:
        load_inputs_file(mixed)
    assert str(err.value) == (
        "inputs: all inputs must have the same keys — input 0 has {a}, input 1 has {b}."
    )


def test_saved_config_and_blocks_of_an_app():
    assert saved_config_text(None) == "{}"
    assert json.loads(saved_config_text('{"blocks": {"M": {"model_id": "x"}}}')) == {
        "M": {"model_id": "x"}
    }
    spec = json.dumps([{"type": "input", "name": "INPUT"}, {"type": "llm", "name": "M"}])
    assert spec_blocks(spec) == [("input", "INPUT"), ("llm", "M")]
    assert spec_blocks(None) is None
