"""The line above the tabs: the selected app, the hash the next launch runs, the launch mode.

It says as much as its width allows (the mode and the hash stay visible at 80 columns) and names
the keys as the user's keymap makes them.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import Static

from dusttui.tui import safe


@dataclass(frozen=True)
class AppLineData:
    """What the line says."""

    name: str
    spec_hash: str  # "latest" or a hex hash
    origin: str  # saved, typed, latest
    mode: str
    hash_key: str = "h"
    mode_key: str = "m"
    spec_key: str = "s"
    problem: str | None = None  # the app's file does not parse: the launch runs an older version


def app_line_text(data: AppLineData, width: int) -> Text:
    """The longest wording of the line that fits ``width`` cells."""
    short = "latest" if data.spec_hash == "latest" else data.spec_hash[:8]
    name = safe.line(data.name)
    h, m = data.hash_key, data.mode_key
    origin = "" if data.origin == "latest" else f" ({data.origin})"
    variants = [
        f"{name} · hash {short}{origin}, {h} to change · mode {data.mode}, {m} to change",
        f"{name} · hash {short}{origin} ({h}) · mode {data.mode} ({m})",
        f"{name} · {short} ({h}) · {data.mode} ({m})",
        f"{name} · {short} · {data.mode}",
    ]
    # A file that does not parse is said whole: the rest is worded to leave it room.
    problems = (
        [f" · ✗ file does not parse ({data.spec_key}: Spec tab)", " · ✗ does not parse"]
        if data.problem
        else [""]
    )
    chosen, problem = next(
        ((v, p) for v in variants for p in problems if len(v) + len(p) <= width),
        (variants[-1], problems[-1]),
    )
    text = Text(chosen, no_wrap=True, overflow="ellipsis")
    if problem:
        text.append(problem, style="bold")
    return text


class AppLine(Static):
    """One line; re-worded when the pane is resized."""

    DEFAULT_CSS = """
    AppLine { height: 1; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._data: AppLineData | None = None
        self._message: Text | None = Text("Loading apps…")

    def show_app(self, data: AppLineData) -> None:
        """Say this about the selected app."""
        self._data = data
        self._message = None
        self.refresh()

    def show_message(self, message: str) -> None:
        """Say something else (no app, the backend cannot be reached)."""
        self._message = Text(safe.line(message), no_wrap=True, overflow="ellipsis")
        self.refresh()

    def render(self) -> Text:
        if self._message is not None or self._data is None:
            return self._message or Text("")
        return app_line_text(self._data, max(20, self.size.width - 2))


class Clipped(Static):
    """Wrapped text cut to its height, the last line ending with an ellipsis when text is left."""

    def __init__(self, *, lines: int = 3, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text = ""
        self._lines = lines

    def show(self, text: str) -> None:
        """Show ``text`` (made safe)."""
        self._text = safe.lines(text)
        self.refresh(layout=True)

    def render(self) -> Text:
        width = max(4, self.size.width - 2) if self.size.width else 30
        wrapped = Text(self._text).wrap(self.app.console, width)
        if len(wrapped) <= self._lines:
            return Text("\n").join(wrapped)
        kept = list(wrapped)[: self._lines]
        last = kept[-1]
        last.truncate(width - 1)
        last.append("…")
        return Text("\n").join(kept)
