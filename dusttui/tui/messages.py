"""Messages between the App's workers and the screens."""

from __future__ import annotations

from textual.message import Message


class RunUpdated(Message):
    """A watched run moved on; a newer update of the same run supersedes a pending one."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunUpdated) and message.key == self.key


class RunsChanged(Message):
    """A run was added to the session or ended: the runs list needs rebuilding."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunsChanged)
