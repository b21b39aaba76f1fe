"""The editors' verdicts on what a user typed or loaded (no screen needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dusttui.tui.validation import (
    InputsFileError,
    check_config_text,
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


def test_inputs_verdicts():
    assert check_inputs_text("   ").value == []
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
