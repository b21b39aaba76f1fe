"""The explorer's stats view: each block's estimated cost (dusttui.costs) and the run's."""

from __future__ import annotations

import json

from dusttui.api.state import RunState
from dusttui.costs import load_prices
from dusttui.tui.explorer.data import TraceData
from dusttui.tui.explorer.summary import stats_rows


def run_with_two_models() -> bytes:
    def llm(p: int, c: int) -> dict:
        usage = {"token_usage": {"prompt_tokens": p, "completion_tokens": c}}
        return {"value": {"completion": {"text": "x"}}, "error": None, "meta": usage}

    blocks = [("input", "INPUT"), ("llm", "CHEAP"), ("chat", "ODD")]
    return json.dumps(
        {
            "run": {
                "run_id": "r" * 64,
                "created": 1,
                "run_type": "deploy",
                "specification_hash": "h" * 64,
                "config": {
                    "blocks": {
                        "CHEAP": {"provider_id": "openai", "model_id": "gpt-4o-mini"},
                        "ODD": {"provider_id": "togetherai", "model_id": "some/model"},
                    }
                },
                "status": {
                    "run": "succeeded",
                    "blocks": [
                        {
                            "block_type": t,
                            "name": n,
                            "status": "succeeded",
                            "success_count": 2,
                            "error_count": 0,
                        }
                        for t, n in blocks
                    ],
                },
                "traces": [
                    [["input", "INPUT"], [[{"value": {}, "error": None, "meta": None}]] * 2],
                    [["llm", "CHEAP"], [[llm(600_000, 100_000)], [llm(400_000, 100_000)]]],
                    [["chat", "ODD"], [[llm(10, 5)], [llm(10, 5)]]],
                ],
                "results": None,
            }
        }
    ).encode()


def test_stats_show_each_blocks_cost_and_a_partial_total_when_a_model_has_no_price():
    data = TraceData.from_state(RunState.from_run_json(run_with_two_models()))
    rows = stats_rows(data, load_prices())
    assert [(r.name, r.prompt_tokens, r.completion_tokens, r.cost) for r in rows] == [
        ("INPUT", None, None, "–"),
        ("CHEAP", 1_000_000, 200_000, "$0.27"),  # $0.15 + 0.2 × $0.60
        ("ODD", 20, 10, "no price known"),
        ("", 1_000_020, 200_010, "$0.27 (partial)"),
    ]
    assert [r.cost for r in stats_rows(data)] == ["–"] * 4  # without prices: nothing made up
