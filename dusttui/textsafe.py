"""Text from a server or a user made safe for a terminal: what a terminal would obey is shown.

A run's value, an error message, an app's name or description can hold anything a code block, a
model or a workspace member wrote — escape sequences included (``\\x1b]52;c;…\\x07`` sets the
clipboard, ``\\x1b[2J`` clears the screen, ``\\x9b`` is the one-byte CSI). Everything the CLI
prints from a server or a user goes through :func:`safe_text` (messages that span lines) or
:func:`safe_line` (a table cell, a name); the TUI does the same before building ``Text``.

What is escaped: C0 controls (``\\x00``–``\\x1f`` but the newline where lines are kept), DEL,
C1 controls (``\\x80``–``\\x9f``) as ``\\xNN``; bidirectional overrides and isolates, line and
paragraph separators as ``\\uNNNN`` (they reorder or break what a line shows); lone surrogates
(invalid text a terminal cannot even be sent) as ``\\udNNN``. Tabs become spaces. Everything else,
emoji and every script included, is kept as it is. Pure: no I/O, no imports beyond ``re``.

JSON written for scripts (``--json``) stays exact JSON: :func:`safe_json` / :func:`safe_json_bytes`
rewrite the few characters JSON leaves raw (DEL, C1, bidi controls, lone surrogates) as JSON's own
``\\uNNNN`` escapes, which decode to the same value.
"""

from __future__ import annotations

import re

__all__ = ["TAB_WIDTH", "safe_json", "safe_json_bytes", "safe_line", "safe_text"]

TAB_WIDTH = 4  # a tab inside a multi-line message: spaces, so columns look as they are

# Characters a terminal may act on or that change how the rest of a line reads.
_BIDI = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSAFE_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}\u2028\u2029\ud800-\udfff]")
_UNSAFE_TEXT = re.compile(f"\r\n|[\x00-\x09\x0b-\x1f\x7f-\x9f{_BIDI}\u2028\u2029\ud800-\udfff]")
# In JSON text every C0 control is already escaped (inside strings) or absent (outside them).
_UNSAFE_JSON = re.compile(f"[\x7f-\x9f{_BIDI}\u2028\u2029\ud800-\udfff]")
_UNSAFE_JSON_BYTES = re.compile(
    rb"\x7f|\xc2[\x80-\x9f]|\xd8\x9c|\xe2\x80[\x8e\x8f\xa8\xa9\xaa-\xae]|\xe2\x81[\xa6-\xa9]"
    rb"|\xed[\xa0-\xbf][\x80-\xbf]"
)

_NAMED = {"\n": "\\n", "\r": "\\r", "\x1b": "\\x1b"}


def _escape(char: str) -> str:
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _line_sub(match: re.Match[str]) -> str:
    char = match.group()
    return " " if char == "\t" else _escape(char)


def _text_sub(match: re.Match[str]) -> str:
    char = match.group()
    if char == "\r\n":
        return "\n"
    return " " * TAB_WIDTH if char == "\t" else _escape(char)


def safe_line(text: str) -> str:
    """``text`` on one line: every control character (newlines too) shown as an escape,
    a tab as one space."""
    if _UNSAFE_LINE.search(text) is None:  # the common case: nothing to do, no copy
        return text
    return _UNSAFE_LINE.sub(_line_sub, text)


def safe_text(text: str) -> str:
    """``text`` with its lines kept (``\\r\\n`` read as one newline), tabs as spaces, every other
    control character shown as an escape."""
    if _UNSAFE_TEXT.search(text) is None:
        return text
    return _UNSAFE_TEXT.sub(_text_sub, text)


def _json_sub(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def safe_json(text: str) -> str:
    """JSON text with the characters JSON leaves raw in strings (DEL, C1, bidi controls, line
    separators, lone surrogates) written as ``\\uNNNN``: the same JSON value, safe on a terminal."""
    if _UNSAFE_JSON.search(text) is None:
        return text
    return _UNSAFE_JSON.sub(_json_sub, text)


def _json_bytes_sub(match: re.Match[bytes]) -> bytes:
    char = match.group().decode("utf-8", "surrogatepass")
    return f"\\u{ord(char):04x}".encode()


def safe_json_bytes(data: bytes) -> bytes:
    """:func:`safe_json` for UTF-8 JSON text (lone surrogates as ``surrogatepass`` wrote them)."""
    if _UNSAFE_JSON_BYTES.search(data) is None:
        return data
    return _UNSAFE_JSON_BYTES.sub(_json_bytes_sub, data)
