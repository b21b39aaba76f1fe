"""The editors' checks, as results to show (no Textual here).

The rules themselves live in :mod:`dusttui.api.inputs`, shared with the CLI, so both say the same
thing about the same mistake; this module turns editor text into a :class:`Check` to display.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dusttui.api.inputs import (
    MAX_BODY_BYTES,
    InputError,
    blocks_of_saved_specification,
    check_body_size,
    check_config,
    check_inputs,
    inputs_format_for,
    parse_inputs,
    parse_json,
)

__all__ = [
    "Check",
    "check_config_text",
    "check_inputs_text",
    "load_inputs_file",
    "saved_config_text",
    "spec_blocks",
]


@dataclass(frozen=True)
class Check:
    """The outcome of a check: the parsed value when ``ok``, else a message for the user."""

    ok: bool
    value: Any = None
    message: str = ""
    count: int = 0


def spec_blocks(saved_specification: str | None) -> list[tuple[str, str]] | None:
    """(type, name) of each block of an app; None when the app does not say (names go unchecked)."""
    return blocks_of_saved_specification(saved_specification)


def saved_config_text(saved_config: str | None) -> str:
    """The app's saved config as pretty JSON for the editor (``{}`` when there is none)."""
    if not saved_config:
        return "{}"
    try:
        data = json.loads(saved_config)
    except ValueError:
        return saved_config
    if isinstance(data, dict) and set(data) == {"blocks"} and isinstance(data["blocks"], dict):
        data = data["blocks"]  # a run's config shape: unwrap it
    return json.dumps(data, indent=2, ensure_ascii=False)


def check_config_text(
    text: str, blocks: list[tuple[str, str]] | None, providers: list[str] | None = None
) -> Check:
    """Check the config editor's text against the app's blocks (and the engine's providers)."""
    try:
        config = parse_json(text if text.strip() else "{}", "config")
        if isinstance(config, list):  # several configs: one run each, side by side
            if not config:
                raise InputError("config: an empty list — give one config, or several in a list.")
            for n, item in enumerate(config, 1):
                try:
                    check_config(item, blocks, providers)
                except InputError as exc:
                    why = str(exc).removeprefix("config: ")
                    raise InputError(f"config {n} of {len(config)}: {why}") from None
            return Check(True, value=config, count=len(config))
        check_config(config, blocks, providers)
    except InputError as exc:
        return Check(False, message=str(exc))
    return Check(True, value=config, count=len(config))


def check_inputs_text(text: str) -> Check:
    """Check the inputs editor's text: a JSON array or JSON lines of same-keyed objects ≤ 4 MB,
    at least one (a run of no input "succeeds" having done nothing)."""
    if not text.strip():
        return Check(False, message=NO_INPUTS)
    try:
        if len(text.encode("utf-8")) > MAX_BODY_BYTES:
            raise InputError("inputs: larger than 4 MB, the limit of a run request.")
        inputs = parse_inputs(text, "json" if text.lstrip().startswith("[") else "jsonl")
        check_inputs(inputs)
        check_body_size({"inputs": inputs})
    except InputError as exc:
        return Check(False, message=str(exc))
    if not inputs:
        return Check(False, message=NO_INPUTS)
    return Check(True, value=inputs, count=len(inputs))


NO_INPUTS = (
    "inputs: none — a run needs at least one input (an object; {} for an app whose input block "
    "takes no field)."
)


class InputsFileError(ValueError):
    """An inputs file that cannot be loaded; the message says why."""


def load_inputs_file(path: Path) -> str:
    """Read a JSON, JSONL or CSV file of inputs; give the editor's text (a pretty JSON array)."""
    path = path.expanduser()
    if not path.is_file():
        raise InputsFileError(f"No file at {path}.")
    if path.stat().st_size > MAX_BODY_BYTES:
        raise InputsFileError(f"{path.name} is larger than 4 MB, the limit of a run request.")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputsFileError(f"{path.name} cannot be read: {exc}.") from None
    try:
        inputs = parse_inputs(text, inputs_format_for(path.name), what=path.name)
        check_inputs(inputs)
    except InputError as exc:
        raise InputsFileError(str(exc)) from None
    return json.dumps(inputs, indent=2, ensure_ascii=False)


HEX = frozenset("0123456789abcdef")


def check_hash(text: str, known: list[str] | None = None) -> Check:
    """The hash dialog's answer: empty (the saved specification), ``latest``, 64 hex characters,
    or the unique start (4 characters or more) of a known version's hash."""
    answer = text.strip().lower()
    if answer in ("", "latest"):
        return Check(True, value=answer)
    if len(answer) == 64 and set(answer) <= HEX:
        return Check(True, value=answer)
    if not set(answer) <= HEX:
        bad = next(c for c in answer if c not in HEX)
        return Check(
            False,
            message=f"A hash has only the characters 0-9 and a-f (not `{bad}`): pick a known "
            "version below, or type latest.",
        )
    matches = [h for h in known or [] if h.startswith(answer)] if len(answer) >= 4 else []
    if len(matches) == 1:
        return Check(True, value=matches[0])
    if len(matches) > 1:
        return Check(False, message=f"`{answer}` starts {len(matches)} known versions: type more.")
    return Check(
        False,
        message=f"A hash is 64 hex characters; `{answer}` has {len(answer)} and starts no "
        "known version: pick one below, or type latest.",
    )
