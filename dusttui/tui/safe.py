"""What the TUI shows from a server or a user, made safe: control characters escaped, never markup.

App names, descriptions, error messages and values can hold escape sequences (``\\x1b]52;…``
writes the clipboard) and text such as ``[/x]`` that Textual would read as markup. Every such
string on the main screen goes through :func:`line` (one line) or :func:`lines` (lines kept) and
into a ``rich.text.Text`` (never markup). The rules are the CLI's (:mod:`dusttui.textsafe`). Pure.
"""

from __future__ import annotations

from rich.text import Text

from dusttui.textsafe import safe_line as _one_line
from dusttui.textsafe import safe_text as _lines

__all__ = ["line", "line_text", "lines"]


def line(text: object) -> str:
    """``text`` on one line, every control character (newlines too) shown as an escape."""
    return _one_line(str(text))


def lines(text: object) -> str:
    """``text`` with its lines kept, every other control character shown as an escape."""
    return _lines(str(text))


def line_text(text: object, style: str = "") -> Text:
    """A one-line ``Text`` of ``text``, safe to show."""
    return Text(line(text), style=style)
