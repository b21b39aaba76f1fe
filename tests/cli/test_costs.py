"""dusttui.costs: token usage × the price table, labelled an estimate; unknown models are never 0."""

from __future__ import annotations

import pytest

from dusttui.costs import (
    NO_PRICE,
    BlockUsage,
    PriceError,
    block_costs,
    cost_lines,
    format_cost,
    load_prices,
)

CONFIG = {
    "ANSWER": {"provider_id": "openai", "model_id": "gpt-4o-mini-2024-07-18"},
    "CHAT": {"provider_id": "togetherai", "model_id": "meta-llama/Llama-3-70b"},
    "ECHO": {"provider_id": "offline", "model_id": "echo"},
}


def test_bundled_prices_cover_the_providers_the_engine_serves():
    table = load_prices()
    assert table.currency == "USD" and table.as_of == "2025-06"
    gpt = table.lookup("openai", "gpt-4o")
    assert gpt is not None and (gpt.prompt, gpt.completion, gpt.source) == (2.5, 10.0, "bundled")
    for provider, model in [
        ("anthropic", "claude-3-5-sonnet-20241022"),  # dated ids price as their base model
        ("mistral", "mistral-large-latest"),
        ("google_ai_studio", "gemini-2.0-flash"),
        ("deepseek", "deepseek-chat"),
        ("xai", "grok-3"),
        ("offline", "upper"),
    ]:
        assert table.lookup(provider, model) is not None, (provider, model)
    assert table.lookup("openai", "gpt-5-imaginary") is None
    assert table.lookup("azure_openai", "my-deployment") is None  # a deployment, not a model


def test_a_run_cost_per_block_with_unknown_models_said_not_zero():
    blocks = [
        BlockUsage("input", "INPUT", 0, 0),  # no tokens: not listed
        BlockUsage("llm", "ANSWER", 1_000_000, 200_000),
        BlockUsage("chat", "CHAT", 500, 100),
        BlockUsage("llm", "ECHO", 30, 30),
        BlockUsage("llm", "NOCONF", 10, 10),
    ]
    cost = block_costs(blocks, CONFIG, load_prices())
    assert [b.name for b in cost.blocks] == ["ANSWER", "CHAT", "ECHO", "NOCONF"]
    answer, chat, echo, noconf = cost.blocks
    assert answer.cost == pytest.approx(0.15 + 0.2 * 0.60)  # gpt-4o-mini: $0.15 / $0.60 per M
    assert (chat.cost, chat.note) == (None, NO_PRICE)
    assert (echo.cost, echo.note) == (0.0, None)  # the offline provider is free, and known
    assert (noconf.cost, noconf.note) == (None, "no price known (no model in its config)")
    assert cost.total == pytest.approx(0.27)
    assert [b.name for b in cost.unpriced] == ["CHAT", "NOCONF"]
    assert cost.to_json()["complete"] is False
    assert cost.to_json()["estimate"] is True
    lines = cost_lines(cost)
    assert lines[0] == (
        "cost (estimate, prices as of 2025-06): $0.27 for the priced blocks; "
        "no price known for CHAT, NOCONF"
    )
    assert lines[1] == (
        "  llm      ANSWER           openai/gpt-4o-mini-2024-07-18 "
        "1,000,000 + 200,000 tokens  $0.27"
    )
    assert lines[2].endswith("500 + 100 tokens  no price known")


def test_no_priced_block_gives_no_total_never_zero():
    cost = block_costs([BlockUsage("chat", "CHAT", 5, 5)], CONFIG, load_prices())
    assert cost.total is None
    assert cost.to_json()["total"] is None
    assert cost_lines(cost)[0] == "cost (estimate, prices as of 2025-06): no price known"


def test_the_users_file_adds_models_and_wins(tmp_path):
    mine = tmp_path / "prices.toml"
    mine.write_text(
        'as_of = "2025-07"\n'
        '[togetherai]\n"meta-llama/Llama-3-70b" = { prompt = 0.9, completion = 0.9 }\n'
        '[openai]\n"gpt-4o-mini" = { prompt = 1, completion = 1 }\n'
    )
    table = load_prices(mine)
    assert table.as_of == "2025-07"
    chat = table.lookup("togetherai", "meta-llama/Llama-3-70b")
    assert chat is not None and chat.source == str(mine)
    mini = table.lookup("openai", "gpt-4o-mini")
    assert mini is not None and (mini.prompt, mini.completion) == (1.0, 1.0)
    assert load_prices(tmp_path / "missing.toml").lookup("togetherai", "x") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[openai\n", "not valid TOML"),
        ('[openai]\n"m" = { prompt = -1, completion = 1 }\n', "`openai.m.prompt` must be a number"),
        ('[openai]\n"m" = { prompt = 1 }\n', "`openai.m.completion` must be a number"),
        ('[openai]\n"m" = { prompt = 1, completion = 1, cache = 2 }\n', "unknown key `cache`"),
        ("openai = 3\n", "`openai` must be a table of models"),
    ],
)
def test_a_bad_price_file_is_named_with_what_is_wrong(tmp_path, text, message):
    bad = tmp_path / "prices.toml"
    bad.write_text(text)
    with pytest.raises(PriceError) as caught:
        load_prices(bad)
    assert str(caught.value).startswith(f"{bad}: ")
    assert message in str(caught.value)


def test_amounts_read_as_money():
    assert format_cost(None) == "no price known"
    assert format_cost(0.0) == "$0.00"
    assert format_cost(0.00042) == "$0.0004"
    assert format_cost(1234.5) == "$1,234.50"
