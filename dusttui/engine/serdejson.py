"""`serde_json::to_string` of a JSON value, byte for byte, for the hashes core computes over JSON.

core/src/dataset.rs hashes each record as `serde_json::to_string(record)`: compact, object keys
sorted (serde_json's `Map` is a `BTreeMap` without the `preserve_order` feature), strings escaped
as Python's `json` does them, but floats printed by the `ryu` crate (`1e-5` is `0.00001`, `1e16`
is `1e16`, `1e-7` is `1e-7`, where Python writes `1e-05`, `1e+16`, `1e-07`), and integers beyond
u64/i64 held as f64 (serde_json parses them so).
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

_I64_MIN, _U64_MAX = -(2**63), 2**64 - 1


def ryu_f64(x: float) -> str:
    """An f64 as serde_json writes it (the `ryu` crate's `format64`); non-finite is `null`."""
    if not math.isfinite(x):
        return "null"
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    # Python's repr is the shortest round-trip decimal, the same digits ryu finds
    sign, digit_tuple, exp = Decimal(repr(x)).normalize().as_tuple()
    assert isinstance(exp, int)
    digits = "".join(map(str, digit_tuple))
    length = len(digits)
    kk = length + exp  # 10^(kk-1) <= |x| < 10^kk
    if 0 <= exp and kk <= 16:
        text = digits + "0" * exp + ".0"
    elif 0 < kk <= 16:
        text = digits[:kk] + "." + digits[kk:]
    elif -5 < kk <= 0:
        text = "0." + "0" * -kk + digits
    elif length == 1:
        text = f"{digits}e{kk - 1}"
    else:
        text = f"{digits[0]}.{digits[1:]}e{kk - 1}"
    return ("-" if sign else "") + text


def to_string(value: Any) -> str:
    """`serde_json::to_string(&value)` for a value parsed from JSON (dict, list, str, numbers…)."""
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts)


def _write(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value) if _I64_MIN <= value <= _U64_MAX else ryu_f64(float(value)))
    elif isinstance(value, float):
        out.append(ryu_f64(value))
    elif isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, dict):
        out.append("{")
        for i, key in enumerate(sorted(value)):
            if i:
                out.append(",")
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(":")
            _write(value[key], out)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out)
        out.append("]")
    else:
        raise TypeError(f"not a JSON value: {type(value).__name__}")
