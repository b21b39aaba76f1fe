"""Wire models: parsing keeps every key, serialising gives the literal wire JSON."""

import json
from pathlib import Path

from dusttui.api.models import (
    BlockExecutionEvent,
    FinalEvent,
    Run,
    RunEnvelope,
    TokensEvent,
    UnknownEvent,
    parse_event_json,
    to_wire,
)

FIXTURES = Path(__file__).parent / "fixtures" / "streams"


def test_run_round_trips_to_literal_wire_json():
    raw = json.loads((FIXTURES / "errored_second_input.run.json").read_text())
    run = RunEnvelope.model_validate(raw).run
    assert to_wire(run) == raw["run"]
    assert run.traces[1][0] == ("code", "LEN")
    assert run.traces[1][1][1][0].error.startswith("Error in `code`")


def test_execution_keeps_all_three_keys_with_nulls():
    run = Run.model_validate(
        {
            "run_id": "a" * 64,
            "created": 1,
            "status": {"run": "running", "blocks": []},
            "traces": [[["input", "INPUT"], [[{"value": 1}]]]],
        }
    )
    assert to_wire(run)["traces"][0][1][0][0] == {"value": 1, "error": None, "meta": None}
    assert to_wire(run)["results"] is None


def test_unknown_block_type_is_accepted():
    ev = parse_event_json(
        b'{"type":"block_execution","content":{"block_type":"hologram","block_name":"H",'
        b'"execution":[[{"value":1,"error":null,"meta":null}]]}}'
    )
    assert isinstance(ev, BlockExecutionEvent)
    assert ev.content.block_type == "hologram"


def test_unknown_event_type_keeps_payload():
    ev = parse_event_json(b'{"content":{"x":[1,2]},"type":"telepathy"}')
    assert isinstance(ev, UnknownEvent)
    assert ev.type == "telepathy"
    assert ev.content == {"x": [1, 2]}


def test_tokens_and_final_events():
    ev = parse_event_json(
        b'{"type":"tokens","content":{"block_type":"llm","block_name":"UPPER","input_index":0,'
        b'"map":{"name":"EACH","iteration":2},"tokens":{"text":"C"}}}'
    )
    assert isinstance(ev, TokensEvent)
    assert (ev.content.map.name, ev.content.map.iteration, ev.content.tokens.text) == (
        "EACH",
        2,
        "C",
    )
    assert isinstance(parse_event_json(b'{"type":"final","content":null}'), FinalEvent)
