"""A one-line question (a file to load inputs from, a specification hash to run)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class PromptScreen(ModalScreen[str | None]):
    """Answers the typed text on enter, None on escape."""

    DEFAULT_CSS = """
    PromptScreen { align: center middle; }
    PromptScreen > Vertical {
        width: 80; max-width: 95%; height: auto; border: round $primary;
        background: $surface; padding: 1 2;
    }
    PromptScreen Input { margin-top: 1; }
    PromptScreen .hint { color: $text-muted; }
    """

    BINDINGS = [
        Binding("escape", "cancel", "cancel", id="prompt_cancel", tooltip="Close without answering")
    ]

    def __init__(
        self, question: str, *, value: str = "", placeholder: str = "", hint: str = ""
    ) -> None:
        super().__init__()
        self._question = question
        self._value = value
        self._placeholder = placeholder
        self._hint = hint

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(self._question))
            yield Input(self._value, placeholder=self._placeholder, id="prompt-input")
            if self._hint:
                yield Static(Text(self._hint), classes="hint")

    def on_mount(self) -> None:
        self.query_one(Input).cursor_blink = getattr(self.app, "cursor_blink", True)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
