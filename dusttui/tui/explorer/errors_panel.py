"""The errors panel: why the run ended early (when the engine ended it), then errors grouped by
message with a count each; Enter jumps to the next error of a group."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from dusttui.tui.explorer.data import TraceData
from dusttui.tui.explorer.errors import ErrorGroup, group_errors
from dusttui.tui.explorer.safe_text import lines, one_line

HEADLINES: dict[str, str] = {
    "cancelled": "Run cancelled",
    "interrupted": "Run interrupted",
    "engine_error": "The engine ended the run",
    "detached": "No longer followed",
    "connection_lost": "Connection lost",
}
ENDED: dict[str, str] = {  # "No execution failed before the run was …"
    "cancelled": "cancelled",
    "interrupted": "interrupted",
    "engine_error": "ended by the engine",
}


def first_line(message: str) -> str:
    """The first line of a message ("" for an empty one)."""
    return message.splitlines()[0] if message else ""


def end_of_run(data: TraceData) -> Text | None:
    """``Run interrupted`` and why, for a run the engine ended itself (or the front end stopped
    following); None for a run that ended by itself."""
    if data.end_reason is None or not (data.stopped_early or data.not_followed):
        return None
    headline = HEADLINES.get(data.end_reason, "The run was stopped")
    message = lines(data.end_message.strip()) if data.end_message else ""
    if message.startswith(headline):  # the engine's sentences start with it: say it once
        return Text(f"■ {message}", "bold")
    text = Text(f"■ {headline}", "bold")
    if message:
        text.append("\n" + message)
    return text


def no_errors_text(data: TraceData) -> str:
    """What the panel and ``n`` say when no execution failed."""
    if data.stopped_early and data.end_reason is not None:
        ended = ENDED.get(data.end_reason, "stopped")
        return f"No execution failed before the run was {ended}."
    if data.not_followed:
        return "No execution failed while the run was followed."
    return "No errors in this run."


class ErrorGroups(OptionList):
    """The end of the run when the engine ended it, then one line per distinct error message,
    most frequent first."""

    class Jump(Message):
        """Go to the run's error number ``index`` (into ``TraceData.errors``)."""

        def __init__(self, index: int) -> None:
            self.index = index
            super().__init__()

    class Preview(Message):
        """The cursor is on a group: show its next error (``index`` into the run's errors)."""

        def __init__(self, index: int) -> None:
            self.index = index
            super().__init__()

    def __init__(
        self,
        data: TraceData,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.groups: list[ErrorGroup] = []
        self._first_group = 0  # options before the groups (the end of the run)
        self._turn: dict[str, int] = {}  # message → which of its errors the next Enter visits
        self._seen: tuple[int, str | None, str | None] | None = None
        self.sync(data)

    def sync(self, data: TraceData) -> None:
        """Regroup when the run has new errors (or ended)."""
        seen = (len(data.messages), data.end_reason, data.end_message)
        if seen == self._seen:
            return
        self._seen = seen
        self.groups = group_errors(data.messages)
        highlighted = self.highlighted
        self.clear_options()
        options: list[Option] = []
        ended = end_of_run(data)
        if ended is not None:
            options.append(Option(ended, disabled=True))
        if not self.groups:
            options.append(Option(Text(no_errors_text(data)), disabled=True))
        self._first_group = len(options) if self.groups else 0
        options += [
            Option(
                Text.assemble(
                    (f"×{g.count:<5}", "bold"), " ", one_line(first_line(g.message)[:300])
                )
            )
            for g in self.groups
        ]
        self.add_options(options)
        if self.groups:
            first = self._first_group
            keep = highlighted is not None and first <= highlighted < len(options)
            self.highlighted = highlighted if keep else first

    def group_at(self, option_index: int) -> ErrorGroup | None:
        """The group shown at an option index (None for the lines above the groups)."""
        k = option_index - self._first_group
        return self.groups[k] if self.groups and 0 <= k < len(self.groups) else None

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        group = self.group_at(event.option_index)
        if group is not None:
            self.post_message(self.Preview(group.indices[self._turn.get(group.message, 0)]))

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        group = self.group_at(event.option_index)
        if group is None:
            return
        turn = self._turn.get(group.message, 0)
        self._turn[group.message] = (turn + 1) % group.count
        self.post_message(self.Jump(group.indices[turn]))
