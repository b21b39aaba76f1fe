"""Text a terminal can show safely: values as one-line JSON, control characters escaped, columns.

Whatever a run's values or errors hold (escape sequences, bidi overrides, NUL...), what these
functions give has no raw control character: each is written as ``\\uXXXX``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

__all__ = [
    "cell",
    "clip",
    "one_line",
    "pretty_lines",
    "safe",
    "safe_json",
    "side_by_side",
    "width_of",
]

# Every C0/C1 control, DEL, the bidi controls that reorder what a terminal shows, and the three
# private-use characters the TUI marks styles with in rendered lines.
_OTHERS = "\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ue000-\ue002"
_UNSAFE = re.compile(f"[\x00-\x1f{_OTHERS}]")
_UNSAFE_KEEP_NL = re.compile(f"[\x00-\x09\x0b-\x1f{_OTHERS}]")


def plural(count: int, word: str) -> str:
    """`1 input`, `2 inputs`, `1,000 configs`."""
    return f"{count:,} {word if count == 1 else word + 's'}"


def numbered(word: str, numbers: Any) -> str:
    """`input 3`, `inputs 1, 2` (the indices a message names)."""
    items = list(numbers)
    return f"{word if len(items) == 1 else word + 's'} {', '.join(map(str, items))}"


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def safe(text: str, *, newlines: bool = False) -> str:
    """``text`` with every control character escaped (newlines kept when ``newlines``)."""
    return (_UNSAFE_KEEP_NL if newlines else _UNSAFE).sub(_escape, text)


def safe_json(text: str) -> str:
    """JSON text with raw control characters (possible only inside strings) escaped: still
    the same JSON, and safe on a terminal."""
    return _UNSAFE.sub(_escape, text)


def one_line(value: Any) -> str:
    """A value as compact one-line JSON, safe for a terminal."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return safe(text)


def pretty_lines(value: Any, limit: int = 12) -> list[str]:
    """A value as indented JSON lines (at most ``limit``), safe for a terminal."""
    try:
        text = json.dumps(value, ensure_ascii=False, indent=2)
    except (TypeError, ValueError, RecursionError):
        text = one_line(value)
    lines = [safe(line) for line in text.splitlines()]
    if len(lines) > limit:
        lines = [*lines[: limit - 1], f"… {len(lines) - limit + 1} more lines"]
    return lines


def width_of(text: str) -> int:
    """Columns a text takes on a terminal (wide characters count two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns, with an ellipsis when cut."""
    if width_of(text) <= width:
        return text
    out, used = [], 0
    for c in text:
        w = 2 if unicodedata.east_asian_width(c) in "WF" else 1
        if used + w > width - 1:
            break
        out.append(c)
        used += w
    return "".join(out) + "…"


def cell(text: str, width: int) -> str:
    """``text`` clipped and padded to exactly ``width`` columns."""
    text = clip(text, width)
    return text + " " * (width - width_of(text))


def _wrap(text: str, width: int) -> list[str]:
    """Hard-wrap one line at ``width`` columns (no word logic: errors and JSON keep every char)."""
    out: list[str] = []
    line: list[str] = []
    used = 0
    for c in text:
        w = 2 if unicodedata.east_asian_width(c) in "WF" else 1
        if used + w > width:
            out.append("".join(line))
            line, used = [], 0
        line.append(c)
        used += w
    out.append("".join(line))
    return out


def side_by_side(
    left: tuple[str, list[str]], right: tuple[str, list[str]], width: int, limit: int = 14
) -> list[str]:
    """Two titled columns of lines, wrapped to fit ``width`` columns in all, ``│`` between."""
    col = max(10, (width - 3) // 2)
    columns = []
    for title, lines in (left, right):
        wrapped = [title]
        for line in lines:
            wrapped += _wrap(line, col)
        if len(wrapped) > limit:
            wrapped = [*wrapped[: limit - 1], f"… {len(wrapped) - limit + 1} more lines"]
        columns.append(wrapped)
    rows = max(len(c) for c in columns)
    return [
        (
            cell(columns[0][k] if k < len(columns[0]) else "", col)
            + " │ "
            + (columns[1][k] if k < len(columns[1]) else "")
        ).rstrip()
        for k in range(rows)
    ]
