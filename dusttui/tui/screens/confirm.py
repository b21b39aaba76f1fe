"""A yes/no question (quit while a run is still being watched)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmScreen(ModalScreen[bool]):
    """Answers True on y / enter, False on n / escape."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 64; max-width: 95%; height: auto; border: round $warning;
        background: $surface; padding: 1 2;
    }
    ConfirmScreen .hint { color: $text-muted; padding-top: 1; }
    """

    BINDINGS = [
        Binding("y,enter", "answer(True)", "yes", id="confirm_yes", tooltip="Yes"),
        Binding("n,escape", "answer(False)", "no", id="confirm_no", tooltip="No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self._question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self._question))
            yield Static(Text("y / enter: yes    n / escape: no"), classes="hint")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
