"""The Spec tab's text: an app's `.dust` source, highlighted, with line numbers and any parse error
at its line. Pure (no Textual, no I/O): the screen reads the file in a thread and hands the text.

No tree-sitter (it crashes a JSON TextArea here): block headers and keys are styled by pattern,
code between ``` fences by pygments' JavaScript lexer through ``rich.syntax``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rich.text import Text

from dusttui.tui import safe

__all__ = ["ParseProblem", "parse_problem", "source_view"]

_HEADER = re.compile(r"^([a-z_]+)(\s+)([A-Za-z0-9_]+)(\s*\{)")
_KEY = re.compile(r"^(\s*)([a-z_]+)(:)")
_FENCE = "```"
_WHERE = re.compile(r"line (\d+), column (\d+): (.*)", re.S)


@dataclass(frozen=True)
class ParseProblem:
    """Where a `.dust` file stops parsing (line and column from 1), and why."""

    line: int | None
    column: int | None
    message: str


def parse_problem(error: str) -> ParseProblem:
    """Read the engine's ``specificationError`` (``NAME.dust: line L, column C: message``)."""
    found = _WHERE.search(error)
    if found is None:
        return ParseProblem(None, None, error.split(": ", 1)[-1] if ": " in error else error)
    return ParseProblem(int(found.group(1)), int(found.group(2)), found.group(3))


def _highlight_code(code: str) -> Text:
    from rich.syntax import Syntax  # pygments: loaded when a spec is first shown

    syntax = Syntax("", "javascript", theme="ansi_dark", background_color="default")
    text = syntax.highlight(code)
    text.rstrip()
    return text


def source_view(text: str, problem: ParseProblem | None = None) -> Text:
    """The source with line numbers; a problem's line is marked, a caret under its column."""
    lines = safe.lines(text).split("\n")
    width = len(str(len(lines)))
    out = Text(no_wrap=True)
    if problem is not None:
        where = f"line {problem.line}, column {problem.column}: " if problem.line else ""
        out.append(f"✗ does not parse — {where}{safe.line(problem.message)}\n\n", style="bold red")
    code: list[str] | None = None  # the lines of an open ``` block
    start = 0
    for number, line in enumerate(lines, start=1):
        fence = line.strip().startswith(_FENCE)
        if code is not None and not fence:
            code.append(line)
            continue
        if code is not None:  # the closing fence: the block's code, highlighted
            _code_lines(out, code, start, width, problem)
            code = None
        elif fence:
            code, start = [], number + 1
        _number(out, number, width, problem)
        out.append_text(Text(line, style="dim") if fence else _styled_line(line))
        out.append("\n")
        _caret(out, number, width, problem)
    if code is not None:  # a fence never closed
        _code_lines(out, code, start, width, problem)
    out.rstrip()
    return out


def _code_lines(
    out: Text, code: list[str], start: int, width: int, problem: ParseProblem | None
) -> None:
    pieces: list[Text] = list(_highlight_code("\n".join(code)).split("\n")) if code else []
    for offset, piece in enumerate(pieces[: len(code)]):
        _number(out, start + offset, width, problem)
        out.append_text(piece)
        out.append("\n")
        _caret(out, start + offset, width, problem)


def _number(out: Text, number: int, width: int, problem: ParseProblem | None) -> None:
    bad = problem is not None and problem.line == number
    out.append(f"{number:>{width}} ", style="bold red" if bad else "dim")
    out.append("│ ", style="red" if bad else "dim")


def _caret(out: Text, number: int, width: int, problem: ParseProblem | None) -> None:
    if problem is None or problem.line != number or problem.column is None:
        return
    out.append(" " * (width + 3 + max(0, problem.column - 1)))
    out.append(f"^ {safe.line(problem.message)}\n", style="bold red")


def _styled_line(line: str) -> Text:
    header = _HEADER.match(line)
    if header is not None:
        text = Text()
        text.append(header.group(1), style="bold magenta")
        text.append(header.group(2))
        text.append(header.group(3), style="bold")
        text.append(line[header.end(3) :])
        return text
    key = _KEY.match(line)
    if key is not None:
        text = Text(key.group(1))
        text.append(key.group(2), style="cyan")
        text.append(line[key.end(2) :])
        return text
    return Text(line)
