"""The `.dust` grammar (Dust core's pest grammar, `core/src/dust.pest`), read into raw blocks.

Whitespace (space, tab, CR, LF) may separate every token; a one-line value holds ASCII letters,
digits, spaces and `. _ , / -` (trailing spaces included); a multi-line value is ``` then LF right
away, then any text up to the next ``` (core checks the `\\n```` ending per block, not here:
`input` bodies are never read). The text is taken as is: no newline translation.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

_TYPE_RE = re.compile(r"[a-z0-9._]+")
_NAME_RE = re.compile(r"[A-Z0-9_]+")
_KEY_RE = re.compile(r"[A-Za-z0-9._]+")
_STRING_RE = re.compile(r"[A-Za-z0-9._ ,/-]+")
WS = " \t\r\n"
_FENCE = "```"


class SpecError(ValueError):
    """An invalid specification; `str()` is "line L, column C: message" when the place is known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        self.message = message
        self.line = line
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        return f"line {self.line}, column {self.column}: {self.message}"


@dataclass
class RawPair:
    key: str
    value: str  # a multi-line value's raw content: its text and the `\n` before the closing ```
    key_pos: int
    value_pos: int
    multiline: bool = False
    end_pos: int = 0  # where the closing ``` starts (multi-line values)

    def text(self) -> str:
        """The value as core's `parse_pair` reads it; SpecError on a malformed multi-line end."""
        if not self.multiline:
            return self.value
        if not self.value.endswith("\n"):
            raise SpecError("Multine values are expected to end with '\\n```'")
        return self.value[:-1]


@dataclass
class RawBlock:
    type: str
    name: str
    pos: int
    pairs: list[RawPair] = field(default_factory=list)
    expected_pos: int | None = None


class Reader:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self._starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]

    def where(self, pos: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._starts, pos)
        return line, pos - self._starts[line - 1] + 1

    def error(self, message: str, pos: int | None = None) -> SpecError:
        return SpecError(message, *self.where(self.pos if pos is None else pos))

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in WS:
            self.pos += 1

    def match(self, regex: re.Pattern[str]) -> str | None:
        m = regex.match(self.text, self.pos)
        if not m:
            return None
        self.pos = m.end()
        return m.group()

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def found(self) -> str:
        c = self.peek()
        return "the end of the file" if not c else ("a new line" if c == "\n" else f"`{c}`")


def parse_syntax(text: str) -> list[RawBlock]:
    r = Reader(text)
    blocks: list[RawBlock] = []
    r.skip_ws()
    while r.pos < len(r.text):
        start = r.pos
        btype = r.match(_TYPE_RE)
        if btype is None:
            raise r.error(f"expected a block type such as `input` or `code`, found {r.found()}")
        r.skip_ws()
        name = r.match(_NAME_RE)
        if name is None:
            raise r.error(
                f"expected a block name after `{btype}` (UPPER_CASE: A-Z, 0-9 and `_`), "
                f"found {r.found()}"
            )
        r.skip_ws()
        if r.peek() != "{":
            raise r.error(f"expected `{{` after `{btype} {name}`, found {r.found()}")
        r.pos += 1
        raw = RawBlock(btype, name, start)
        _parse_body(r, raw)
        blocks.append(raw)
        r.skip_ws()
    return blocks


def _parse_body(r: Reader, raw: RawBlock) -> None:
    opened = r.pos - 1
    while True:
        r.skip_ws()
        if r.peek() == "}":
            r.pos += 1
            return
        if not r.peek():
            line, _ = r.where(opened)
            raise r.error(f"missing `}}` to close block `{raw.name}` opened at line {line}")
        if raw.expected_pos is not None:
            raise r.error(f"expected `}}` after `expected` in block `{raw.name}`")
        key_pos = r.pos
        key = r.match(_KEY_RE)
        if key is None:
            raise r.error(f"expected a key or `}}` in block `{raw.name}`, found {r.found()}")
        r.skip_ws()
        if key.startswith("expected"):
            if key != "expected" or r.peek() != ":":
                raise r.error("keys cannot start with `expected`", key_pos)
            r.pos += 1
            _parse_expected(r)
            raw.expected_pos = key_pos
            continue
        if r.peek() != ":":
            raise r.error(f"expected `:` after `{key}`, found {r.found()}")
        r.pos += 1
        r.skip_ws()
        pair = _parse_value(r, key)
        pair.key_pos = key_pos
        raw.pairs.append(pair)
        c = r.peek()
        if c and c not in WS and c != "}" and r.text[r.pos - 1] != "`":
            raise r.error(
                f"`{c}` cannot appear in the one-line value of `{key}` (only letters, digits, "
                "spaces and `. _ , / -`); put each `key: value` on its own line, and other "
                "values between a ``` line and a ``` line"
            )


def _parse_value(r: Reader, key: str) -> RawPair:
    value_pos = r.pos
    if r.text.startswith(_FENCE, r.pos):
        fence = r.pos
        r.pos += 3
        if r.text.startswith("\r\n", r.pos):
            raise r.error(
                "the opening ``` ends with a Windows line ending (CR LF): Dust core reads only LF "
                "there; save the file with LF line endings"
            )
        if r.peek() != "\n":
            raise r.error(
                "the opening ``` must end its line (nothing after it, not even spaces: the value "
                "starts on the next line)"
            )
        start = r.pos + 1
        end = r.text.find(_FENCE, start)
        if end < 0:
            raise r.error(f"no closing ``` line for the value of `{key}`", fence)
        if end == start:
            raise r.error(f"empty multi-line value for `{key}`", end)
        r.pos = end + 3
        return RawPair(key, r.text[start:end], 0, value_pos, multiline=True, end_pos=end)
    value = r.match(_STRING_RE) if r.peek() not in ("\n", "\r") else None
    if value is None:
        raise r.error(
            f"expected a value for `{key}`: one line of letters, digits, spaces and `. _ , / -`, "
            f"or lines between a ``` line and a ``` line; found {r.found()}"
        )
    return RawPair(key, value, 0, value_pos)


def _parse_expected(r: Reader) -> None:
    # expected = ("[]")* "{" key ("," key)* "}" — parsed, then refused per block like core
    r.skip_ws()
    while r.text.startswith("[]", r.pos):
        r.pos += 2
        r.skip_ws()
    bad = "malformed `expected`, the form is `expected: []{ key, key }`"
    if r.peek() != "{":
        raise r.error(bad)
    r.pos += 1
    while True:
        r.skip_ws()
        if r.match(_KEY_RE) is None:
            raise r.error(bad)
        r.skip_ws()
        if r.peek() == "}":
            r.pos += 1
            return
        if r.peek() != ",":
            raise r.error(bad)
        r.pos += 1
