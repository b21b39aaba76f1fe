"""The errors panel: errors grouped by message with a count each; Enter jumps to the next one."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from dusttui.tui.explorer.data import TraceData
from dusttui.tui.explorer.errors import ErrorGroup, group_errors


class ErrorGroups(OptionList):
    """One line per distinct error message, most frequent first."""

    class Jump(Message):
        """Go to the run's error number ``index`` (into ``TraceData.errors``)."""

        def __init__(self, index: int) -> None:
            self.index = index
            super().__init__()

    def __init__(self, data: TraceData, **kwargs) -> None:
        super().__init__(**kwargs)
        self.groups: list[ErrorGroup] = []
        self._turn: dict[str, int] = {}  # message → which of its errors the next Enter visits
        self._messages_seen = -1
        self.sync(data)

    def sync(self, data: TraceData) -> None:
        """Regroup when the run has new errors."""
        if len(data.messages) == self._messages_seen:
            return
        self._messages_seen = len(data.messages)
        self.groups = group_errors(data.messages)
        highlighted = self.highlighted
        self.clear_options()
        if not self.groups:
            self.add_option(Option(Text("No errors in this run."), disabled=True))
            return
        self.add_options(
            Option(Text.assemble((f"×{g.count:<5}", "bold"), " ", g.message.splitlines()[0][:300]))
            for g in self.groups
        )
        self.highlighted = (
            highlighted if highlighted is not None and highlighted < len(self.groups) else 0
        )

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option_index >= len(self.groups):
            return
        group = self.groups[event.option_index]
        turn = self._turn.get(group.message, 0)
        self._turn[group.message] = (turn + 1) % group.count
        self.post_message(self.Jump(group.indices[turn]))
