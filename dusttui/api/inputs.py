"""Checks made before a run is sent: config and inputs are read and validated locally.

Shared by the CLI and the TUI so both say the same thing about the same mistake. Every error is an
:class:`InputError` whose message a user can act on (with line and column for malformed JSON).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any, Literal

MAX_BODY_BYTES = 4 * 1024 * 1024  # the hosted service refuses request bodies over 4 MB
MODEL_BLOCK_TYPES = ("llm", "chat")
# The providers the local engine serves, in its order (a test keeps this equal to the engine's
# registry: the client floor never imports the engine). dust.tt's are not known in advance.
LOCAL_ENGINE_PROVIDER_IDS = (
    "offline",
    "openai",
    "azure_openai",
    "anthropic",
    "mistral",
    "google_ai_studio",
    "togetherai",
    "deepseek",
    "fireworks",
    "xai",
    "openai_compatible",
    "ollama",
)

InputsFormat = Literal["json", "jsonl", "csv"]


class InputError(ValueError):
    """Config or inputs that cannot be sent; ``str()`` is the user-facing message."""


def parse_json(text: str, what: str = "JSON") -> Any:
    """Parse JSON text; a syntax error names the line and column."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{what}: line {exc.lineno}, column {exc.colno}: {exc.msg}") from None


def parse_inputs(text: str, fmt: InputsFormat | None = None, what: str = "inputs") -> list[Any]:
    """Read inputs as a JSON array, JSONL (one object a line) or CSV (a header line, then rows).

    Without ``fmt`` the shape decides: ``[`` starts an array, ``{`` starts JSONL.
    """
    stripped = text.lstrip("\ufeff \t\r\n")
    if fmt is None:
        if not stripped:
            raise InputError(f"{what}: empty — give a JSON array, JSONL or CSV.")
        fmt = "json" if stripped[0] == "[" else "jsonl" if stripped[0] == "{" else "csv"
    if fmt == "json":
        value = parse_json(text, what)
        if not isinstance(value, list):
            raise InputError(f"{what}: expected a JSON array of objects, got {_kind(value)}.")
        return value
    if fmt == "jsonl":
        items = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InputError(f"{what}: line {number}, column {exc.colno}: {exc.msg}") from None
        return items
    return _parse_csv(stripped, what)


def _parse_csv(text: str, what: str) -> list[dict[str, str]]:
    reader = csv.reader(io.StringIO(text))
    rows = [row for row in reader if row]
    if not rows:
        raise InputError(f"{what}: the CSV has no header line.")
    header = rows[0]
    if len(set(header)) != len(header) or any(not name for name in header):
        raise InputError(f"{what}: the CSV header needs distinct, non-empty column names.")
    items = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise InputError(
                f"{what}: CSV line {number} has {len(row)} fields, the header has {len(header)}."
            )
        items.append(dict(zip(header, row, strict=True)))
    return items


def inputs_format_for(filename: str) -> InputsFormat | None:
    """The format a file's extension promises (None: decide from the content)."""
    lower = filename.lower()
    if lower.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith(".json"):
        return "json"
    return None


def check_inputs(inputs: Sequence[Any]) -> None:
    """Inputs must be objects that all have the same keys (PROTOCOL.md §3)."""
    first_keys: list[str] | None = None
    for index, item in enumerate(inputs):
        if not isinstance(item, dict):
            raise InputError(
                f"inputs: input {index} is {_kind(item)}; every input must be an object."
            )
        keys = sorted(item)
        if first_keys is None:
            first_keys = keys
        elif keys != first_keys:
            raise InputError(
                f"inputs: all inputs must have the same keys — input 0 has "
                f"{_names(first_keys)}, input {index} has {_names(keys)}."
            )


def check_config(
    config: Any,
    blocks: Iterable[tuple[str, str]] | None,
    providers: Sequence[str] | None = None,
) -> None:
    """Config is ``{BLOCK_NAME: {...}}``; with the app's blocks known, keys must be its block names
    and llm/chat blocks need ``provider_id`` and ``model_id`` (one of ``providers`` when the
    server's providers are known)."""
    if not isinstance(config, dict):
        raise InputError(f"config: expected a JSON object of block names, got {_kind(config)}.")
    for name, value in config.items():
        if not isinstance(value, dict):
            raise InputError(f"config: `{name}` must be an object, got {_kind(value)}.")
    if blocks is None:
        return
    blocks = list(blocks)
    names = {name for _, name in blocks}
    unknown = [name for name in config if name not in names]
    if unknown:
        known = ", ".join(sorted(names)) or "none"
        raise InputError(f"config: `{unknown[0]}` is not a block of this app (blocks: {known}).")
    for block_type, name in blocks:
        if block_type in MODEL_BLOCK_TYPES:
            entry = config.get(name) or {}
            missing = [k for k in ("provider_id", "model_id") if not entry.get(k)]
            if missing:
                raise InputError(
                    f"config: {block_type} block `{name}` needs "
                    + " and ".join(f"`{k}`" for k in missing)
                    + _misspelt(entry, missing)
                    + ', e.g. {"provider_id": "openai", "model_id": "gpt-4o-mini"}.'
                )
            provider = entry["provider_id"]
            if providers is not None and provider not in providers:
                known = ", ".join(providers)
                raise InputError(
                    f"config: {block_type} block `{name}`: `provider_id` {json.dumps(provider)} "
                    f"is not a provider of this engine (known: {known})."
                )


def _misspelt(entry: dict[str, Any], missing: list[str]) -> str:
    """`` (`providr_id` given: a typo of `provider_id`?)`` when a key of ``entry`` is close to a
    missing one, so the message names what the user wrote."""
    from difflib import get_close_matches

    for key in entry:
        close = get_close_matches(key, missing, n=1, cutoff=0.75)
        if close and key not in missing:
            return f" (`{key}` given: a typo of `{close[0]}`?)"
    return ""


def check_body_size(body: dict[str, Any]) -> int:
    """The request body must stay under 4 MB; returns its size in bytes."""
    size = len(json.dumps(body, separators=(",", ":")).encode())
    if size > MAX_BODY_BYTES:
        raise InputError(
            f"request: {size / 1_048_576:.1f} MB is over the 4 MB limit of a run request — "
            "split the inputs into several runs."
        )
    return size


def blocks_of_saved_specification(saved: str | None) -> list[tuple[str, str]] | None:
    """(type, name) of each block in an App's ``savedSpecification`` (the builder's JSON list)."""
    if not saved:
        return None
    try:
        items = json.loads(saved)
    except json.JSONDecodeError:
        return None
    if not isinstance(items, list):
        return None
    blocks = []
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("type"), str) and item.get("name"):
            blocks.append((item["type"], str(item["name"])))
    return blocks


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def _names(keys: list[str]) -> str:
    return "{" + ", ".join(keys) + "}" if keys else "no keys"
