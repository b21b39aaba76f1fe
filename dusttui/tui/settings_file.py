"""What the TUI writes back into the user's config file: the theme chosen in the palette.

The file is the user's (comments, profiles, a keymap): only the top-level ``theme = ...`` line is
replaced, or added before the first table, and the result must read back as the same settings
with the new theme, else nothing is written. Plain file I/O: callers run it off the UI thread.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any

_THEME_LINE = re.compile(r"^\s*theme\s*=")
_TABLE_LINE = re.compile(r"^\s*\[")


def _quoted(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's for any text)."""
    return json.dumps(value, ensure_ascii=False)


def with_theme(text: str, theme: str) -> str:
    """``text`` (a TOML config) with its top-level ``theme`` set to ``theme``, all else kept."""
    lines = text.splitlines(keepends=True)
    first_table = next((i for i, line in enumerate(lines) if _TABLE_LINE.match(line)), len(lines))
    new_line = f"theme = {_quoted(theme)}\n"
    for i in range(first_table):
        if _THEME_LINE.match(lines[i]):
            lines[i] = new_line
            return "".join(lines)
    if first_table == len(lines):
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        return "".join(lines) + new_line
    # After the last top-level line, with a blank line before the first table.
    end = first_table
    while end > 0 and not lines[end - 1].strip():
        end -= 1
    gap = "".join(lines[end:first_table]) or "\n"
    return "".join(lines[:end]) + new_line + gap + "".join(lines[first_table:])


def save_theme(path: Path, theme: str) -> str | None:
    """Keep ``theme`` in the config file at ``path`` (created if missing); None once written,
    else a sentence saying why it was not (the file is left as it was)."""
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        return f"The theme is not kept: {path} cannot be read ({_why(exc)})."
    try:
        before: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return f"The theme is not kept: {path} is not valid TOML ({exc}); fix it first."
    new_text = with_theme(text, theme)
    try:  # the edit must change the theme and nothing else
        after = tomllib.loads(new_text)
    except tomllib.TOMLDecodeError:
        after = {}
    if after.get("theme") != theme or {**before, "theme": theme} != after:
        return f"The theme is not kept: {path} has a layout this edit cannot follow."
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(new_text)
        os.replace(draft, path)  # whole or not at all: a crash never leaves half a config
    except OSError as exc:
        return f"The theme is not kept: {path} cannot be written ({_why(exc)})."
    return None


def _why(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
