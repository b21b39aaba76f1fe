"""The text report's lines as Rich Text: the renderers mark styles, this turns marks into spans.

The renderers of :mod:`dusttui.compare.render` take a ``style(text, role)`` function; here it
wraps the text in private-use marks (which :func:`dusttui.compare.text.safe` escapes in values,
so only ours remain), and :func:`styled` reads them back as spans of a ``Text``.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text

__all__ = ["ROLE_STYLES", "mark", "styled"]

_OPEN, _SEP, _CLOSE = "\ue000", "\ue001", "\ue002"
ROLE_STYLES = {"removed": "red", "added": "green", "title": "bold", "dim": "dim"}


def mark(text: str, role: str) -> str:
    """``text`` marked with ``role`` (read back by :func:`styled`)."""
    return f"{_OPEN}{role}{_SEP}{text}{_CLOSE}"


def styled(lines: Iterable[str]) -> Text:
    """Marked lines as one Text, a line each, the marks made styles (no markup is read)."""
    out = Text(no_wrap=True, overflow="ellipsis")
    first = True
    for line in lines:
        if not first:
            out.append("\n")
        first = False
        _append(out, line)
    return out


def _append(out: Text, line: str) -> None:
    rest = line
    stack: list[str] = []
    while rest:
        k = min((p for p in (rest.find(_OPEN), rest.find(_CLOSE)) if p >= 0), default=-1)
        if k < 0:
            out.append(rest, " ".join(stack) or None)
            return
        if k:
            out.append(rest[:k], " ".join(stack) or None)
        if rest[k] == _OPEN:
            sep = rest.find(_SEP, k)
            if sep < 0:  # a lone mark (cannot come from a value): shown as text
                out.append(rest[k:])
                return
            stack.append(ROLE_STYLES.get(rest[k + 1 : sep], ""))
            rest = rest[sep + 1 :]
        else:
            if stack:
                stack.pop()
            rest = rest[k + 1 :]
