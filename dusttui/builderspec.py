"""The Dust builder's block list (an App's `savedSpecification`) written as `.dust` text, the way
front's `dumpSpecification` (front/lib/specification.ts) writes it before core hashes it.

Pure: no I/O, no engine. The text is front's byte for byte, JavaScript's quirks included —
numbers and booleans as JavaScript prints them, optional fields written only when JavaScript
finds them truthy, triple backticks escaped (`<DUST_TRIPLE_BACKTICKS>`) in exactly the fields
front escapes, a `map` `repeat` written only when it is a non-empty string. One difference:
front knows each dataset's latest hash and we may not (the public API does not give it), so a
`data` block takes its hash from the block (`spec.hash`, which the local engine provides), then
from `latest_datasets`, else is written `hash: latest` and reported in `unknown_datasets`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

FENCE = "```"
ESCAPED = "<DUST_TRIPLE_BACKTICKS>"
LOCAL_TYPES = ("input", "data", "code", "llm", "chat", "map", "reduce", "while", "end", "curl")
HOSTED_TYPES = ("search", "browser", "data_source", "database_schema", "database")


class BuilderSpecError(ValueError):
    """The block list cannot be written as `.dust` (front would fail on it too)."""


class _Missing:
    def __repr__(self) -> str:
        return "undefined"


MISSING: Any = _Missing()


@dataclass
class Dumped:
    """The `.dust` text and the datasets whose hash was not known (written `latest`)."""

    text: str
    unknown_datasets: list[str] = field(default_factory=list)


def js_number(x: float) -> str:
    """A number as JavaScript's `String(x)` prints it (ECMAScript Number::toString)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    # Python's repr gives the same shortest round-trip digits as JavaScript; only the layout
    # differs. Find the digits and n, the decimal point's place after the first digit.
    mantissa, _, exponent = repr(abs(x)).partition("e")
    whole, _, frac = mantissa.partition(".")
    digits = whole + frac
    n = len(whole) + (int(exponent) if exponent else 0)
    stripped = digits.lstrip("0")
    n -= len(digits) - len(stripped)
    digits = stripped.rstrip("0") or "0"
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    e = n - 1
    head = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{sign}{head}e{'+' if e >= 0 else '-'}{abs(e)}"


def js_str(v: Any) -> str:
    """`${v}` in a JavaScript template literal."""
    if v is MISSING:
        return "undefined"
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int) and abs(v) < 2**53:
        return str(v)
    if isinstance(v, int | float):  # JavaScript numbers are doubles
        return js_number(float(v))
    if isinstance(v, str):
        return v
    if isinstance(v, list):  # Array.prototype.toString: null and undefined become ""
        return ",".join("" if e is None else js_str(e) for e in v)
    return "[object Object]"


def js_truthy(v: Any) -> bool:
    """JavaScript's truthiness (`if (v)`)."""
    if v is MISSING or v is None:
        return False
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        return v != 0 and not (isinstance(v, float) and math.isnan(v))
    if isinstance(v, str):
        return v != ""
    return True  # arrays and objects, even empty


def _escape(block: dict[str, Any], key: str, v: Any) -> str:
    if not isinstance(v, str):
        raise BuilderSpecError(
            f"Block `{block.get('name')}` ({block.get('type')}) has no text `{key}`"
        )
    return v.replace(FENCE, ESCAPED)


def _fenced(key: str, text: str) -> str:
    return f"  {key}: \n{FENCE}\n{text}\n{FENCE}\n"


def _stop(v: Any) -> str | None:
    """`stop` as front writes it: only when it has a length, its elements joined by newlines."""
    if isinstance(v, list) and v:
        return "\n".join("" if e is None else js_str(e) for e in v)
    if isinstance(v, str) and v:
        raise BuilderSpecError("`stop` must be a list of strings")  # front's join would throw
    return None


def _model_fields(s: dict[str, Any], order: tuple[str, ...]) -> str:
    out = f"  temperature: {js_str(s.get('temperature', MISSING))}\n"
    if js_truthy(s.get("max_tokens", MISSING)):
        out += f"  max_tokens: {js_str(s['max_tokens'])}\n"
    stop = _stop(s.get("stop"))
    if stop is not None:
        out += _fenced("stop", stop)
    for key in order:
        if js_truthy(s.get(key, MISSING)):
            out += f"  {key}: {js_str(s[key])}\n"
    return out


def _body(block: dict[str, Any], latest: dict[str, str], unknown: list[str]) -> str | None:
    """A block's inside (None: written `TYPE NAME { }`)."""
    kind = block.get("type")
    s = block.get("spec")
    s = s if isinstance(s, dict) else {}

    def get(key: str) -> Any:  # front reads an absent key as undefined
        return s.get(key, MISSING)

    if kind in ("input", "reduce", "end", "database_schema"):
        return None
    if kind == "data":
        dataset = js_str(get("dataset"))
        known = s.get("hash") if isinstance(s.get("hash"), str) else latest.get(dataset)
        if not known:
            unknown.append(dataset)
        return f"  dataset_id: {dataset}\n  hash: {known or 'latest'}\n"
    if kind == "llm":
        out = _model_fields(s, ("frequency_penalty", "presence_penalty", "top_p", "top_logprobs"))
        for key in ("few_shot_preprompt", "few_shot_count", "few_shot_prompt", "prompt"):
            if js_truthy(get(key)):
                if key == "few_shot_count":
                    out += f"  few_shot_count: {js_str(s[key])}\n"
                else:
                    out += _fenced(key, _escape(block, key, s[key]))
        return out
    if kind == "chat":
        out = _model_fields(s, ("top_p", "presence_penalty", "frequency_penalty"))
        if js_truthy(get("instructions")):
            out += _fenced("instructions", _escape(block, "instructions", s["instructions"]))
        if js_truthy(get("logprobs")):
            out += "  logprobs: true\n"
        if js_truthy(get("top_logprobs")):
            out += f"  top_logprobs: {js_str(s['top_logprobs'])}\n"
        out += _fenced("messages_code", _escape(block, "messages_code", get("messages_code")))
        if js_truthy(get("functions_code")):
            out += _fenced("functions_code", _escape(block, "functions_code", s["functions_code"]))
        return out
    if kind == "code":
        return _fenced("code", js_str(get("code")))
    if kind == "map":
        out = f"  from: {js_str(get('from'))}\n"
        repeat = get("repeat")
        if isinstance(repeat, str) and repeat:  # front tests `.length`: numbers are skipped
            out += f"  repeat: {repeat}\n"
        return out
    if kind == "while":
        out = _fenced("condition_code", _escape(block, "condition_code", get("condition_code")))
        iterations = get("max_iterations")
        if isinstance(iterations, str) and iterations:
            out += f"  max_iterations: {iterations}\n"
        return out
    if kind == "curl":
        return (
            f"  method: {js_str(get('method'))}\n"
            + _fenced("url", f"{js_str(get('scheme'))}://{js_str(get('url'))}")
            + _fenced("headers_code", js_str(get("headers_code")))
            + _fenced("body_code", js_str(get("body_code")))
        )
    if kind == "search":
        out = _fenced("query", js_str(get("query")))
        if js_truthy(get("num")):
            out += f"  num: {js_str(s['num'])}\n"
        return out
    if kind == "browser":
        out = _fenced("url", js_str(get("url"))) + _fenced("selector", js_str(get("selector")))
        for key in ("timeout", "wait_until"):
            if js_truthy(get(key)):
                out += f"  {key}: {js_str(s[key])}\n"
        if js_truthy(get("wait_for")):
            out += _fenced("wait_for", js_str(s["wait_for"]))
        return out
    if kind == "data_source":
        out = _fenced("query", _escape(block, "query", get("query")))
        out += f"  full_text: {'true' if js_truthy(get('full_text')) else 'false'}\n"
        if js_truthy(get("filter_code")):
            out += _fenced("filter_code", _escape(block, "filter_code", s["filter_code"]))
        return out
    if kind == "database":
        return _fenced("query", _escape(block, "query", get("query")))
    known_types = ", ".join(LOCAL_TYPES + HOSTED_TYPES)
    raise BuilderSpecError(
        f"Block `{block.get('name')}` has an unknown type `{kind}` (one of: {known_types})"
    )


def dump_specification(blocks: Any, latest_datasets: dict[str, str] | None = None) -> Dumped:
    """`.dust` text of a builder block list, as front's `dumpSpecification` writes it."""
    if not isinstance(blocks, list):
        raise BuilderSpecError("a saved specification is a JSON list of blocks")
    latest = latest_datasets or {}
    unknown: list[str] = []
    out = ""
    for block in blocks:
        if not isinstance(block, dict):
            raise BuilderSpecError("every block of a saved specification is a JSON object")
        name = js_str(block.get("name", MISSING))
        body = _body(block, latest, unknown)
        kind = block.get("type")
        out += f"{kind} {name} {{ }}\n\n" if body is None else f"{kind} {name} {{\n{body}}}\n\n"
    return Dumped(out[:-1], unknown)
