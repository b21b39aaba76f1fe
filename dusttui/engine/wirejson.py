"""Writing JSON for the wire and the store: compact bytes, or a clear refusal.

orjson writes almost everything; the json module takes over for what orjson refuses but JSON can
carry (integers beyond 64 bits, nesting beyond orjson's 255 levels). What neither can write — a
lone UTF-16 surrogate (text cut inside an emoji), nesting beyond Python's recursion — raises
:class:`EncodeError` with a phrase for the user, never a bare TypeError.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


class EncodeError(ValueError):
    """A value JSON cannot carry; the message is a phrase: "text that is not valid Unicode…"."""


def dumps(value: Any) -> bytes:
    """Compact JSON bytes; EncodeError when the value cannot be written."""
    try:
        return orjson.dumps(value)
    except TypeError:
        pass
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    except (TypeError, ValueError, RecursionError) as exc:  # UnicodeEncodeError is a ValueError
        raise EncodeError(_problem(exc)) from None


def _problem(exc: BaseException) -> str:
    if isinstance(exc, UnicodeEncodeError):
        return (
            "text that is not valid Unicode (a lone UTF-16 surrogate, e.g. a string cut inside "
            "an emoji)"
        )
    if isinstance(exc, RecursionError):
        return "a value nested too deeply to be written as JSON"
    return f"a value JSON cannot carry ({exc})"
