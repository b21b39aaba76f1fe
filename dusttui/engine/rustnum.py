"""Rust number parsing and `to_string`, as Dust core hashes numbers in specifications.

core parses `temperature` and friends with `str::parse::<f32>()` and hashes `f32::to_string()`
(the shortest decimal that reads back as the same f32, never in exponent form: `0.70` → `0.7`,
`1.0` → `1`, `1e-7` → `0.0000001`). Integers are `i32` or `usize`.
"""

from __future__ import annotations

import math
import re
import struct
from decimal import Decimal
from fractions import Fraction

# ASCII digits only: Rust's parsers refuse other Unicode digits (Python's `\d` would take them)
_FLOAT_RE = re.compile(
    r"(?P<sign>[+-]?)(?P<int>[0-9]*)(?:\.(?P<frac>[0-9]*))?(?:[eE](?P<exp>[+-]?[0-9]+))?"
)
_SPECIAL_RE = re.compile(r"[+-]?(?:inf|infinity|nan)", re.IGNORECASE)
_INT_RE = re.compile(r"[+-]?[0-9]+")
# Beyond these decimal exponents an f32 is surely infinite or zero (keeps Fraction small)
_EXP_MAX, _EXP_MIN = 60, -80
_F32_MAX = Fraction(struct.unpack("<f", b"\xff\xff\x7f\x7f")[0])
_F32_OVERFLOW = _F32_MAX + Fraction(2**103)  # half an ulp above the largest f32 rounds to inf
_I32 = (-(2**31), 2**31 - 1)
_USIZE_MAX = 2**64 - 1


def _bits_to_f32(bits: int) -> float:
    value: float = struct.unpack("<f", struct.pack("<I", bits))[0]
    return value


def _f32_bits(x: float) -> int:
    bits: int = struct.unpack("<I", struct.pack("<f", x))[0]
    return bits


def _round_to_f32(exact: Fraction) -> float:
    """The f32 nearest to `exact` (ties to even), computed exactly, as Rust's parser does."""
    if exact == 0:
        return 0.0
    if abs(exact) >= _F32_OVERFLOW:
        return math.copysign(math.inf, exact)
    sign = -1 if exact < 0 else 1
    mag = abs(exact)
    d = float(mag)
    bits = _f32_bits(min(d, float(_F32_MAX)))  # double → f32 may round twice: check neighbours
    best: tuple[Fraction, int, int] | None = None
    for b in (bits - 1, bits, bits + 1):
        if b < 0 or b > 0x7F7FFFFF:
            continue
        key = (abs(Fraction(_bits_to_f32(b)) - mag), b & 1, b)
        if best is None or key < best:
            best = key
    assert best is not None
    return sign * _bits_to_f32(best[2])


def parse_f32(text: str) -> float | None:
    """`text.parse::<f32>()` in Rust, as a Python float of the f32's value (None if invalid)."""
    if _SPECIAL_RE.fullmatch(text):
        low = text.lower()
        if "nan" in low:
            return math.nan
        return -math.inf if low.startswith("-") else math.inf
    m = _FLOAT_RE.fullmatch(text)
    if m is None or not (m["int"] or m["frac"]):
        return None
    digits = (m["int"] + (m["frac"] or "")).lstrip("0")
    negative = m["sign"] == "-"
    if not digits:
        return -0.0 if negative else 0.0
    # the decimal exponent of the leading digit, to settle huge exponents without big numbers
    exponent = int(m["exp"] or "0")
    magnitude = exponent + len(m["int"].lstrip("0")) - 1
    if not m["int"].lstrip("0"):
        magnitude = exponent - (len(m["frac"] or "") - len((m["frac"] or "").lstrip("0"))) - 1
    if magnitude > _EXP_MAX:
        return -math.inf if negative else math.inf
    if magnitude < _EXP_MIN:
        return -0.0 if negative else 0.0
    x = _round_to_f32(Fraction(text))
    # keep the short decimal (0.7, not 0.699999988…) so values sent onwards read as written
    return float(f32_to_string(x))


def parse_int(text: str, *, signed: bool) -> int | None:
    """`text.parse::<i32>()` (signed) or `::<usize>()`; None if invalid or out of range."""
    if not _INT_RE.fullmatch(text) or (not signed and text.startswith("-")):
        return None
    n = int(text)
    lo, hi = _I32 if signed else (0, _USIZE_MAX)
    return n if lo <= n <= hi else None


def f32_to_string(x: float) -> str:
    """Rust's `f32::to_string()` of the f32 nearest to `x`."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    x = _round_to_f32(Fraction(x)) if x != 0 else x
    if x == 0:
        return "-0" if math.copysign(1.0, x) < 0 else "0"
    bits = _f32_bits(x)
    exact = Fraction(x)
    for digits in range(1, 10):
        mantissa, exponent = f"{x:.{digits - 1}e}".split("e")
        n = int(mantissa.replace(".", "").replace("-", ""))
        scale = int(exponent) - digits + 1
        sign = -1 if x < 0 else 1
        found = []
        for m in (n - 1, n, n + 1):
            cand = Fraction(sign * m) * Fraction(10) ** scale
            if _f32_bits(_round_to_f32(cand)) == bits:
                # nearest to the exact value; on an exact tie Rust rounds up (away from zero)
                found.append((abs(cand - exact), -m, sign * m))
        if found:
            best = min(found)[2]
            return format(Decimal(best).scaleb(scale).normalize(), "f")
    raise AssertionError("an f32 always has a 9-digit round-trip form")


def rust_to_string(value: object) -> str:
    """The `to_string()` core hashes: bools lower-case, ints plain, floats as f32."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f32_to_string(value)
    raise TypeError(f"not a number: {value!r}")
