"""Local checks of config and inputs: each mistake gets a message a user can act on."""

import json

import pytest

from dusttui.api.inputs import (
    InputError,
    blocks_of_saved_specification,
    check_body_size,
    check_config,
    check_inputs,
    inputs_format_for,
    parse_inputs,
    parse_json,
)

BLOCKS = [("input", "INPUT"), ("code", "PREP"), ("llm", "MODEL")]


def test_malformed_json_names_line_and_column():
    with pytest.raises(InputError) as err:
        parse_json('{\n  "MODEL": {"provider_id": "offline",}\n}', "config")
    assert (
        str(err.value)
        == "config: line 2, column 38: Expecting property name enclosed in double quotes"
    )


def test_inputs_as_array_jsonl_and_csv():
    assert parse_inputs('[{"q": "a"}, {"q": "b"}]') == [{"q": "a"}, {"q": "b"}]
    assert parse_inputs('{"q": "a"}\n\n{"q": "[/x]"}\n') == [{"q": "a"}, {"q": "[/x]"}]
    assert parse_inputs('q,n\nhello,1\n"a, b",2\n') == [
        {"q": "hello", "n": "1"},
        {"q": "a, b", "n": "2"},
    ]
    assert inputs_format_for("in.JSONL") == "jsonl"
    assert inputs_format_for("in.csv") == "csv"


def test_bad_jsonl_line_and_csv_row_are_located():
    with pytest.raises(InputError, match=r"inputs: line 2, column 7: Expecting value"):
        parse_inputs('{"q": 1}\n{"q": }\n')
    with pytest.raises(InputError, match="CSV line 3 has 1 fields, the header has 2"):
        parse_inputs("a,b\n1,2\n3\n", "csv")
    with pytest.raises(InputError, match="expected a JSON array of objects, got an object"):
        parse_inputs('{"q": 1}', "json")


def test_inputs_must_be_objects_with_the_same_keys():
    check_inputs([{"a": 1, "b": 2}, {"b": 3, "a": 4}])
    with pytest.raises(InputError) as err:
        check_inputs([{"a": 1, "b": 2}, {"a": 1, "c": 2}])
    assert str(err.value) == (
        "inputs: all inputs must have the same keys — input 0 has {a, b}, input 1 has {a, c}."
    )
    with pytest.raises(InputError, match="input 1 is a string; every input must be an object"):
        check_inputs([{"a": 1}, "a"])


def test_config_keys_must_be_blocks_and_models_need_provider():
    check_config({"MODEL": {"provider_id": "offline", "model_id": "echo"}}, BLOCKS)
    with pytest.raises(
        InputError, match=r"`MODLE` is not a block of this app \(blocks: INPUT, MODEL, PREP\)"
    ):
        check_config({"MODLE": {}}, BLOCKS)
    with pytest.raises(InputError, match="llm block `MODEL` needs `model_id`"):
        check_config({"MODEL": {"provider_id": "offline"}}, BLOCKS)
    with pytest.raises(
        InputError, match="config: expected a JSON object of block names, got an array"
    ):
        check_config([], BLOCKS)


def test_body_over_four_megabytes_is_refused():
    small = {"specification_hash": "x", "config": {}, "inputs": [{"t": "a" * 1000}]}
    assert check_body_size(small) == len(json.dumps(small, separators=(",", ":")))
    big = {"specification_hash": "x", "config": {}, "inputs": [{"t": "a" * 4_200_000}]}
    with pytest.raises(InputError, match=r"4\.0 MB is over the 4 MB limit"):
        check_body_size(big)


def test_blocks_of_saved_specification():
    saved = json.dumps(
        [{"type": "input", "name": "INPUT", "spec": {}}, {"type": "code", "name": "X"}]
    )
    assert blocks_of_saved_specification(saved) == [("input", "INPUT"), ("code", "X")]
    assert blocks_of_saved_specification("not json") is None
    assert blocks_of_saved_specification(None) is None
