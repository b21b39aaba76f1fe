"""A value diff that reads like a JSON diff: field by field, strings word by word. Pure.

:func:`diff_values` lists :class:`Change` s at JSON paths (``$.answer``, ``$.items[2]``): a field
changed, added or removed; two strings also carry their word diff. :func:`same_json` is the
equality the run diff uses: JSON's (key order does not matter, ``true`` is not ``1``), not
Python's. Both stay bounded on hostile values: nesting past ``MAX_DEPTH`` is compared whole, and
long lists and texts are aligned on what they have in common at both ends first.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

import orjson

__all__ = [
    "MAX_DEPTH",
    "Change",
    "Key",
    "Path",
    "canonical",
    "diff_values",
    "path_text",
    "same_json",
]

Key = str | int
Path = tuple[Key, ...]
Word = tuple[str, str]  # ("=" | "-" | "+", text)

MAX_DEPTH = 64  # deeper than this, two values are compared as a whole
_MAX_ALIGN = 1_000_000  # tokens × tokens (or items × items) aligned with difflib, beyond: ends only
_WORDS = re.compile(r"\w+|\s+|[^\w\s]", re.UNICODE)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SCALARS = (str, int, float, bool, type(None))


@dataclass(frozen=True, slots=True)
class Change:
    """One difference inside a value: at ``path``, ``op`` is changed, added or removed.

    ``a`` is the value before (changed, removed), ``b`` after (changed, added); ``words`` is the
    word diff when both are strings: ``("=", same)``, ``("-", only in a)``, ``("+", only in b)``.
    """

    path: Path
    op: str
    a: Any = None
    b: Any = None
    words: tuple[Word, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        """The stable JSON form (``docs/iterate.md``)."""
        out: dict[str, Any] = {"path": path_text(self.path), "op": self.op}
        if self.op != "added":
            out["a"] = self.a
        if self.op != "removed":
            out["b"] = self.b
        if self.words is not None:
            out["words"] = [list(w) for w in self.words]
        return out


def path_text(path: Path) -> str:
    """A JSON path: ``$``, ``$.a.b[3]``, ``$["odd key"]``."""
    parts = ["$"]
    for key in path:
        if isinstance(key, int):
            parts.append(f"[{key}]")
        elif _IDENT.match(key):
            parts.append(f".{key}")
        else:
            parts.append("[" + json.dumps(key, ensure_ascii=False) + "]")
    return "".join(parts)


def canonical(value: Any) -> bytes:
    """JSON text with sorted keys: equal texts ⇔ equal JSON values (as :func:`same_json`)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):  # lone surrogates, big integers, deep nesting
        return _canonical_slow(value).encode("utf-8", "surrogatepass")


def _canonical_slow(value: Any) -> str:
    """:func:`canonical` without recursion (any depth), by the stdlib for scalars."""
    out: list[str] = []
    stack: list[Any] = [value]
    close = object()  # marks where a container ends: the text to write is next on the stack
    while stack:
        item = stack.pop()
        if item is close:
            out.append(stack.pop())
        elif type(item) is tuple:  # a (separator, key) pair, already written as text
            out.append(item[0])
        elif type(item) is dict:
            out.append("{")
            stack += ["}", close]
            for n, key in enumerate(sorted(item, key=str, reverse=True)):
                stack.append(item[key])
                sep = "," if n < len(item) - 1 else ""
                stack.append((sep + json.dumps(str(key)) + ":",))
        elif type(item) is list:
            out.append("[")
            stack += ["]", close]
            for n, child in enumerate(reversed(item)):
                stack.append(child)
                if n < len(item) - 1:
                    stack.append((",",))
        else:
            out.append(json.dumps(item))
    return "".join(out)


def same_json(a: Any, b: Any) -> bool:
    """True if ``a`` and ``b`` are the same JSON value: key order ignored, ``true`` ≠ ``1``,
    ``1`` ≠ ``1.0`` (as the server wrote them)."""
    ta, tb = type(a), type(b)
    if ta is not tb:
        return False
    if ta is dict or ta is list:
        try:
            if a != b:
                return False
        except RecursionError:
            pass
        return canonical(a) == canonical(b)  # == says 1 == True == 1.0 inside containers
    if ta is float and a != a:
        return bool(b != b)  # NaN (a stdlib-read row) is the same as NaN
    return bool(a == b)


def diff_values(a: Any, b: Any, *, limit: int = 200) -> tuple[list[Change], int]:
    """The changes from ``a`` to ``b`` in reading order: the first ``limit`` of them, and how
    many there are in all (nothing when they are the same JSON value)."""
    out = _Collector(limit)
    _diff(a, b, (), out, 0)
    return out.changes, out.total


class _Collector:
    __slots__ = ("changes", "limit", "total")

    def __init__(self, limit: int) -> None:
        self.changes: list[Change] = []
        self.limit = limit
        self.total = 0

    def add(self, change: Change) -> None:
        self.total += 1
        if len(self.changes) < self.limit:
            self.changes.append(change)


def _diff(a: Any, b: Any, path: Path, out: _Collector, depth: int) -> None:
    ta, tb = type(a), type(b)
    if ta is dict and tb is dict and depth < MAX_DEPTH:
        for key, va in a.items():
            if key not in b:
                out.add(Change((*path, key), "removed", a=va))
            else:
                _diff(va, b[key], (*path, key), out, depth + 1)
        for key, vb in b.items():
            if key not in a:
                out.add(Change((*path, key), "added", b=vb))
        return
    if ta is list and tb is list and depth < MAX_DEPTH:
        _diff_lists(a, b, path, out, depth)
        return
    if same_json(a, b):
        return
    if ta is str and tb is str:
        out.add(Change(path, "changed", a, b, word_diff(a, b)))
        return
    out.add(Change(path, "changed", a, b))


def _diff_lists(a: list[Any], b: list[Any], path: Path, out: _Collector, depth: int) -> None:
    if len(a) == len(b):  # the same layout: item by item
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _diff(x, y, (*path, i), out, depth + 1)
        return
    ka = [canonical(x) for x in a]
    kb = [canonical(y) for y in b]
    lo, hi = _common_ends(ka, kb)
    if (len(ka) - lo - hi) * (len(kb) - lo - hi) > _MAX_ALIGN:
        ops = [("replace", lo, len(ka) - hi, lo, len(kb) - hi)]
    else:
        matcher = SequenceMatcher(None, ka[lo : len(ka) - hi], kb[lo : len(kb) - hi], False)
        ops = [
            (t, i1 + lo, i2 + lo, j1 + lo, j2 + lo) for t, i1, i2, j1, j2 in matcher.get_opcodes()
        ]
    for tag, i1, i2, j1, j2 in ops:
        if tag == "equal":
            continue
        paired = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        for k in range(paired):
            _diff(a[i1 + k], b[j1 + k], (*path, j1 + k), out, depth + 1)
        for i in range(i1 + paired, i2):
            out.add(Change((*path, i), "removed", a=a[i]))
        for j in range(j1 + paired, j2):
            out.add(Change((*path, j), "added", b=b[j]))


def _common_ends(a: list[Any], b: list[Any]) -> tuple[int, int]:
    """How many items both sequences share at the start, then at the end (not overlapping)."""
    n = min(len(a), len(b))
    lo = 0
    while lo < n and a[lo] == b[lo]:
        lo += 1
    hi = 0
    while hi < n - lo and a[len(a) - 1 - hi] == b[len(b) - 1 - hi]:
        hi += 1
    return lo, hi


def word_diff(a: str, b: str) -> tuple[Word, ...]:
    """``a`` → ``b`` word by word (words, spaces and punctuation are the units)."""
    ta = _WORDS.findall(a)
    tb = _WORDS.findall(b)
    lo, hi = _common_ends(ta, tb)
    mid_a, mid_b = ta[lo : len(ta) - hi], tb[lo : len(tb) - hi]
    words: list[Word] = []
    if lo:
        words.append(("=", "".join(ta[:lo])))
    if len(mid_a) * len(mid_b) > _MAX_ALIGN:
        words += [("-", "".join(mid_a)), ("+", "".join(mid_b))]
    else:
        matcher = SequenceMatcher(None, mid_a, mid_b, False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                words.append(("=", "".join(mid_a[i1:i2])))
                continue
            if i2 > i1:
                words.append(("-", "".join(mid_a[i1:i2])))
            if j2 > j1:
                words.append(("+", "".join(mid_b[j1:j2])))
    if hi:
        words.append(("=", "".join(ta[len(ta) - hi :])))
    return tuple(_merge(w for w in words if w[1]))


def _merge(words: Any) -> list[Word]:
    """Adjacent pieces of one kind as one."""
    out: list[Word] = []
    for op, text in words:
        if out and out[-1][0] == op:
            out[-1] = (op, out[-1][1] + text)
        else:
            out.append((op, text))
    return out
