"""Text the engine writes to its log (a terminal for `dusttui serve`, `engine.log` for the local
engine), with every control character shown as an escape.

App file names, their contents quoted in a parse error and error texts are not ours: a raw
``\\x1b]52;…\\x07`` in one would set the clipboard of whoever reads the log.
"""

from __future__ import annotations

import re

# C0 controls, DEL and C1 controls; the bidirectional overrides and isolates that reorder a line.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(text: object) -> str:
    """``str(text)`` with every control character written as ``\\xNN`` (or ``\\uNNNN``)."""
    return _UNSAFE.sub(_escape, str(text))
