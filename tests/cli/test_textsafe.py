"""dusttui.textsafe: what a terminal would obey is shown escaped; JSON stays the same JSON."""

from __future__ import annotations

import json

from dusttui.textsafe import safe_json, safe_json_bytes, safe_line, safe_text

OSC52 = "\x1b]52;c;cHduZWQ=\x07"  # sets the clipboard to "pwned"
CLEAR = "\x1b[2J"
CSI_C1 = "\x9b31m"  # the one-byte CSI
HOSTILE = f"a{OSC52}b{CLEAR}c{CSI_C1}d\x07e\x00f\x7fg\u202eh\ud800i"


def test_escape_sequences_osc52_bel_c1_and_lone_surrogates_are_shown_escaped():
    assert safe_line(HOSTILE) == (
        "a\\x1b]52;c;cHduZWQ=\\x07b\\x1b[2Jc\\x9b31md\\x07e\\x00f\\x7fg\\u202eh\\ud800i"
    )
    assert safe_text(HOSTILE) == safe_line(HOSTILE)  # no newline in it: the same


def test_what_is_left_can_be_written_to_a_utf8_terminal():
    for text in (safe_line(HOSTILE), safe_text(HOSTILE)):
        text.encode("utf-8")  # a lone surrogate would raise here
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text if c != "\n")


def test_lines_are_kept_where_a_message_spans_lines_and_tabs_become_spaces():
    message = "Error: boom\r\n    at _fun (line 2)\n\tat main\rX"
    assert safe_text(message) == "Error: boom\n    at _fun (line 2)\n    at main\\rX"
    assert safe_line(message) == "Error: boom\\r\\n    at _fun (line 2)\\n at main\\rX"


def test_ordinary_text_is_returned_unchanged():
    text = "naïve café — 東京 😀 [/bold] \\x1b"
    assert safe_line(text) is text
    assert safe_text(text) is text


def test_json_stays_the_same_json_without_anything_a_terminal_obeys():
    value = {"v": HOSTILE, "k\x9b": ["\u2028", "\u2066x\u2069"]}
    text = json.dumps(value, ensure_ascii=False)
    safe = safe_json(text)
    assert json.loads(safe) == value
    assert safe == (
        '{"v": "a\\u001b]52;c;cHduZWQ=\\u0007b\\u001b[2Jc\\u009b31md\\u0007e\\u0000f\\u007fg'
        '\\u202eh\\ud800i", "k\\u009b": ["\\u2028", "\\u2066x\\u2069"]}'
    )
    raw = text.encode("utf-8", "surrogatepass")
    safe_bytes = safe_json_bytes(raw)
    assert safe_bytes == safe.encode()
    assert json.loads(safe_bytes) == value


def test_json_without_anything_to_escape_is_the_same_object():
    data = b'{"a": "caf\xc3\xa9 \xf0\x9f\x98\x80"}'
    assert safe_json_bytes(data) is data
