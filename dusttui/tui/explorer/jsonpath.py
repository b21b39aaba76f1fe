"""JSON helpers for the value view: JSON paths, children, short previews, search inside a value.

Pure, no Textual.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from dusttui.tui.explorer.safe_text import one_line

Key = str | int
Path = tuple[Key, ...]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def path_to_str(path: Path) -> str:
    """A JSON path for a value path: ``$``, ``$.a.b[3]``, ``$["odd key"]``."""
    parts = ["$"]
    for key in path:
        if isinstance(key, int):
            parts.append(f"[{key}]")
        elif _IDENT.match(key):
            parts.append(f".{key}")
        else:
            parts.append("[" + orjson.dumps(key).decode() + "]")
    return "".join(parts)


def get_at(value: Any, path: Path) -> Any:
    """The sub-value at ``path``; raises KeyError/IndexError when it does not exist."""
    for key in path:
        value = value[key]
    return value


def children(value: Any) -> list[tuple[Key, Any]]:
    """(key, child) pairs of an object or array; empty for a scalar."""
    if isinstance(value, dict):
        return list(value.items())
    if isinstance(value, list):
        return list(enumerate(value))
    return []


def is_container(value: Any) -> bool:
    """True for a non-empty object or array (something that can be folded)."""
    return isinstance(value, dict | list) and len(value) > 0


def dumps(value: Any, *, indent: bool = False) -> str:
    """JSON text of a value (UTF-8 kept as is; non-JSON objects shown with str())."""
    option = orjson.OPT_INDENT_2 if indent else 0
    return orjson.dumps(value, option=option | orjson.OPT_NON_STR_KEYS, default=str).decode()


def preview(value: Any, width: int = 60) -> str:
    """A one-line JSON preview to show, cut with an ellipsis past ``width`` characters (control
    characters JSON leaves raw, DEL and C1, shown escaped)."""
    text = one_line(dumps(value))
    return text if len(text) <= width else text[: width - 1] + "…"


def summary(value: Any) -> str:
    """How a folded container reads: ``{3 keys}``, ``[64 items]``."""
    if isinstance(value, dict):
        n = len(value)
        return "{1 key}" if n == 1 else f"{{{n} keys}}"
    if isinstance(value, list):
        n = len(value)
        return "[1 item]" if n == 1 else f"[{n} items]"
    return one_line(dumps(value))


def scalar_kind(value: Any) -> str:
    """Highlight class of a scalar: string, number, literal (true/false/null), or container."""
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool) or value is None:
        return "literal"
    if isinstance(value, int | float):
        return "number"
    return "container"


def walk(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every (path, sub-value) of a value, depth first, parents before children."""
    stack: list[tuple[Path, Any]] = [(path, value)]
    while stack:
        p, v = stack.pop()
        yield p, v
        kids = children(v)
        for key, child in reversed(kids):
            stack.append(((*p, key), child))


def find_paths(value: Any, matches: Callable[[str], bool]) -> list[Path]:
    """Paths whose key or scalar text matches, in display order (depth first)."""
    found: list[Path] = []
    for p, v in walk(value):
        key_hit = bool(p) and matches(str(p[-1]))
        text = v if isinstance(v, str) else (None if is_container(v) else dumps(v))
        if key_hit or (text is not None and matches(text)):
            found.append(p)
    return found
