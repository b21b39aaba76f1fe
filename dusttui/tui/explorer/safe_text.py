"""Text from a run made safe to show: control characters become visible escapes. Pure.

A value, an error or a key can hold anything a code block or a model returned, escape sequences
included (``\\x1b]52;c;…\\x07`` writes the clipboard, ``\\x1b[2J`` clears the screen). Rich keeps
ESC and most control characters in a ``Text`` and Textual writes them to the terminal as they
are, so everything the explorer shows from a run goes through :func:`one_line` or
:func:`lines` first. (Markup is the other half: the explorer builds ``Text`` objects and passes
``markup=False``, so ``[/x]`` stays text.)
"""

from __future__ import annotations

# C0 controls, DEL and C1 controls, as \xNN; bidirectional overrides and isolates, which can
# reorder what a line shows, as \uNNNN.
_CONTROLS = [*range(0x00, 0x20), *range(0x7F, 0xA0)]
_BIDI = [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_ONE_LINE: dict[int, str] = {c: f"\\x{c:02x}" for c in _CONTROLS}
_ONE_LINE.update({c: f"\\u{c:04x}" for c in _BIDI})
_ONE_LINE[ord("\n")] = "\\n"
_ONE_LINE[ord("\t")] = " "
_LINES = dict(_ONE_LINE)
del _LINES[ord("\n")]  # lines stay lines
_LINES[ord("\t")] = "    "  # tabs as spaces: widths stay what they look like


def one_line(text: str) -> str:
    """``text`` on one line, every control character shown as an escape (``\\x1b``, ``\\n``)."""
    return text.translate(_ONE_LINE)


def lines(text: str) -> str:
    """``text`` with its line breaks kept and every other control character shown escaped."""
    return text.replace("\r\n", "\n").translate(_LINES)
