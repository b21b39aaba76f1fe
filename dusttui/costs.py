"""What a run cost, estimated: each llm/chat block's token usage × its model's price. Pure.

Prices (US dollars per million prompt / completion tokens) come from the bundled
``dusttui/prices.toml`` and the user's own file (``dusttui locate prices``), which adds models and
wins where both list one. A block's model is its config's ``provider_id`` / ``model_id``. A block
that used tokens on a model without a price says "no price known": never a made-up 0, and the
run's total then covers only the priced blocks (and says so).

No Textual, no client: the CLI (``dusttui get``, ``dusttui run``'s summary) and the explorer's
stats view use it alike. Reading the files is the caller's (:func:`load_prices` does it once).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "BUNDLED_PRICES",
    "NO_PRICE",
    "BlockCost",
    "BlockUsage",
    "Price",
    "PriceError",
    "PriceTable",
    "RunCost",
    "block_costs",
    "cached_prices",
    "format_cost",
    "load_prices",
    "price_problem",
    "run_cost",
    "user_prices_path",
]

BUNDLED_PRICES = Path(__file__).with_name("prices.toml")
NO_PRICE = "no price known"
PER = 1_000_000  # prices are per million tokens

# A dated or aliased model id falls back to its base name: gpt-4o-2024-08-06 → gpt-4o,
# claude-3-5-sonnet-20241022 → claude-3-5-sonnet, mistral-large-latest → mistral-large.
_SUFFIX = re.compile(r"(-\d{4}-\d{2}-\d{2}|-\d{8}|-\d{4}|-latest)$")


class PriceError(ValueError):
    """A price file that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens, and where the price comes from."""

    prompt: float
    completion: float
    source: str  # "bundled" or the user file's path

    def of(self, prompt_tokens: int, completion_tokens: int) -> float:
        """The estimated cost of this many tokens."""
        return (prompt_tokens * self.prompt + completion_tokens * self.completion) / PER


@dataclass
class PriceTable:
    """Prices by (provider_id, model_id)."""

    prices: dict[tuple[str, str], Price] = field(default_factory=dict)
    as_of: str | None = None
    currency: str = "USD"

    def lookup(self, provider_id: str | None, model_id: str | None) -> Price | None:
        """The price of a model: listed as is, else without a date or ``-latest`` suffix."""
        if not provider_id or not model_id:
            return None
        found = self.prices.get((provider_id, model_id))
        if found is not None:
            return found
        base = model_id
        while True:
            shorter = _SUFFIX.sub("", base)
            if shorter == base:
                return None
            base = shorter
            found = self.prices.get((provider_id, base))
            if found is not None:
                return found

    def merged(self, text: str, source: str) -> PriceTable:
        """This table with the prices of a TOML price file added (they win)."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PriceError(f"{source}: not valid TOML: {exc}") from None
        prices = dict(self.prices)
        for provider, models in data.items():
            if provider in ("as_of", "currency"):
                continue
            if not isinstance(models, dict):
                raise PriceError(
                    f"{source}: `{provider}` must be a table of models, e.g. "
                    f'[{provider}] "model" = {{ prompt = 1.0, completion = 2.0 }}.'
                )
            for model, entry in models.items():
                prices[(provider, model)] = _price(entry, f"{provider}.{model}", source)
        as_of = data.get("as_of", self.as_of)
        currency = data.get("currency", self.currency)
        return PriceTable(prices, str(as_of) if as_of else None, str(currency))


def _price(entry: Any, where: str, source: str) -> Price:
    if not isinstance(entry, dict):
        raise PriceError(f"{source}: `{where}` must be {{ prompt = …, completion = … }}.")
    values = []
    for key in ("prompt", "completion"):
        value = entry.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise PriceError(
                f"{source}: `{where}.{key}` must be a number ≥ 0 (dollars per million tokens)."
            )
        values.append(float(value))
    unknown = sorted(set(entry) - {"prompt", "completion"})
    if unknown:
        raise PriceError(f"{source}: `{where}` has an unknown key `{unknown[0]}`.")
    return Price(values[0], values[1], "bundled" if source == "bundled" else source)


def user_prices_path() -> Path:
    """The user's own price file: ``prices.toml`` beside the config file's folder."""
    from dusttui.config import config_dir

    return config_dir() / "prices.toml"


def load_prices(user_file: Path | None = None) -> PriceTable:
    """The bundled prices, then the user's file (missing is fine); raises PriceError."""
    table = PriceTable().merged(BUNDLED_PRICES.read_text(encoding="utf-8"), "bundled")
    if user_file is not None and user_file.exists():
        try:
            text = user_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PriceError(f"{user_file}: cannot be read: {exc}") from None
        table = table.merged(text, str(user_file))
    return table


_cache: dict[str, Any] = {}


def cached_prices() -> PriceTable | None:
    """The price table (bundled + the user's file), read again only when the user's file
    changed; None when the user's file is broken (``price_problem()`` says why). Files this
    small are read where they are needed, as themes are."""
    path = user_prices_path()
    try:
        stamp: Any = path.stat().st_mtime_ns
    except OSError:
        stamp = None
    if _cache.get("stamp", "never") != stamp:
        try:
            _cache.update(table=load_prices(path), problem=None, stamp=stamp)
        except PriceError as exc:
            _cache.update(table=None, problem=str(exc), stamp=stamp)
    table: PriceTable | None = _cache["table"]
    return table


def price_problem() -> str | None:
    """Why :func:`cached_prices` gave None (the user's price file), else None."""
    problem: str | None = _cache.get("problem")
    return problem


# ------------------------------------------------------------------ costs


@dataclass(frozen=True)
class BlockUsage:
    """What a block used: anything with these four fields will do (a ``BlockState``, a row)."""

    block_type: str
    name: str
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class BlockCost:
    """One block's estimated cost; ``cost`` None with ``note`` when it cannot be priced."""

    block_type: str
    name: str
    provider_id: str | None
    model_id: str | None
    prompt_tokens: int
    completion_tokens: int
    cost: float | None
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        """As ``dusttui get --json`` writes it under ``dusttui_cost.blocks``."""
        return {
            "block_type": self.block_type,
            "name": self.name,
            "provider_id": self.provider_id,
            "model_id": self.model_id,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost": self.cost,
            "note": self.note,
        }


@dataclass(frozen=True)
class RunCost:
    """The run's estimate: its blocks that used tokens, and their total."""

    blocks: list[BlockCost]
    currency: str
    as_of: str | None

    @property
    def total(self) -> float | None:
        """The sum over the priced blocks; None when no block could be priced."""
        priced = [b.cost for b in self.blocks if b.cost is not None]
        return sum(priced) if priced else None

    @property
    def unpriced(self) -> list[BlockCost]:
        """Blocks that used tokens on a model without a known price."""
        return [b for b in self.blocks if b.cost is None]

    def to_json(self) -> dict[str, Any]:
        """The documented ``dusttui_cost`` object (README, "Cost per run")."""
        return {
            "estimate": True,
            "currency": self.currency,
            "prices_as_of": self.as_of,
            "total": self.total,
            "complete": not self.unpriced,
            "blocks": [b.to_json() for b in self.blocks],
        }


def _model(config: Mapping[str, Any], name: str) -> tuple[str | None, str | None]:
    entry = config.get(name)
    if not isinstance(entry, Mapping):
        return None, None
    provider, model = entry.get("provider_id"), entry.get("model_id")
    return (
        provider if isinstance(provider, str) and provider else None,
        model if isinstance(model, str) and model else None,
    )


def block_costs(blocks: Iterable[Any], config: Mapping[str, Any], table: PriceTable) -> RunCost:
    """The estimate of every block that used tokens (``blocks``: anything shaped like
    :class:`BlockUsage`; ``config``: the run's block config, ``{NAME: {provider_id, …}}``)."""
    out = []
    for block in blocks:
        prompt, completion = int(block.prompt_tokens or 0), int(block.completion_tokens or 0)
        if not prompt and not completion:
            continue
        provider, model = _model(config, block.name)
        price = table.lookup(provider, model)
        if price is None:
            note = NO_PRICE if model else f"{NO_PRICE} (no model in its config)"
            out.append(
                BlockCost(
                    block.block_type, block.name, provider, model, prompt, completion, None, note
                )
            )
            continue
        cost = price.of(prompt, completion)
        out.append(
            BlockCost(block.block_type, block.name, provider, model, prompt, completion, cost)
        )
    return RunCost(out, table.currency, table.as_of)


def run_cost(state: Any, table: PriceTable) -> RunCost | None:
    """The estimate of a run (a ``RunState``: its blocks' token usage and its config); None
    when no block used tokens (nothing to estimate)."""
    cost = block_costs(state.blocks, state.config or {}, table)
    return cost if cost.blocks else None


def format_cost(amount: float | None, currency: str = "USD") -> str:
    """`$0.0123`, `$1.24`, `$0.00` for free; `no price known` for None."""
    if amount is None:
        return NO_PRICE
    sign = "$" if currency == "USD" else f"{currency} "
    if amount == 0:
        return f"{sign}0.00"
    if amount < 0.01:
        return f"{sign}{amount:.4f}"
    return f"{sign}{amount:,.2f}"


def cost_lines(cost: RunCost) -> list[str]:
    """The estimate as the CLI's summary shows it (names made terminal-safe)::

    cost (estimate, prices as of 2025-06): $0.0042
      llm      ANSWER           openai/gpt-4o-mini   1,200 + 300 tokens  $0.0004
    """
    from dusttui.textsafe import safe_line

    when = f", prices as of {cost.as_of}" if cost.as_of else ""
    total = format_cost(cost.total, cost.currency)
    if cost.total is not None and cost.unpriced:
        total += f" for the priced blocks; {NO_PRICE} for " + ", ".join(
            safe_line(b.name) for b in cost.unpriced
        )
    lines = [f"cost (estimate{when}): {total}"]
    for b in cost.blocks:
        model = "/".join(safe_line(p) for p in (b.provider_id, b.model_id) if p) or "?"
        tokens = f"{b.prompt_tokens:,} + {b.completion_tokens:,} tokens"
        amount = format_cost(b.cost, cost.currency) if b.cost is not None else b.note or NO_PRICE
        lines.append(
            f"  {safe_line(b.block_type):<8} {safe_line(b.name):<16} {model:<20} {tokens}  {amount}"
        )
    return lines
