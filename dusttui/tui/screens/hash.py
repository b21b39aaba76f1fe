"""The hash dialog (`h`): which version of the app the next launch runs.

Typed answers are checked before the dialog closes (64 hex characters, `latest`, empty for the
saved version, or the start of a known version); the known versions are listed to pick from.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from dusttui.tui import safe
from dusttui.tui.validation import check_hash


@dataclass(frozen=True)
class Version:
    """A version to offer: its hash ("" = the saved one, "latest") and what it is."""

    hash: str
    label: str


class HashScreen(ModalScreen[str | None]):
    """Answers the chosen hash ("" for the saved version, "latest", or 64 hex), None on escape."""

    DEFAULT_CSS = """
    HashScreen { align: center middle; }
    HashScreen > Vertical {
        width: 90; max-width: 95%; height: auto; max-height: 90%; border: round $primary;
        background: $surface; padding: 1 2;
    }
    HashScreen Input { margin-top: 1; }
    HashScreen #hash-error { color: $block-errored; height: auto; }
    HashScreen OptionList { height: auto; max-height: 12; margin-top: 1; }
    HashScreen .hint { color: $text-muted; }
    """

    BINDINGS = [
        Binding("escape", "cancel", "cancel", id="hash_cancel", tooltip="Close without changing"),
    ]

    def __init__(self, question: str, *, value: str, versions: list[Version]) -> None:
        super().__init__()
        self._question = question
        self._value = value
        self._versions = versions

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(safe.line(self._question)))
            yield Input(
                self._value,
                placeholder="empty: the saved version · latest · a 64-hex hash or its start",
                id="hash-input",
            )
            yield Static(id="hash-error")
            yield OptionList(
                *(
                    Option(Text(f"{v.hash[:12] or 'saved':<12}  {safe.line(v.label)}"), id=v.hash)
                    for v in self._versions
                ),
                id="hash-versions",
            )
            yield Static(
                Text("enter uses it · tab/↓ to the known versions · escape cancels"),
                classes="hint",
            )

    def on_mount(self) -> None:
        self.query_one(Input).cursor_blink = getattr(self.app, "cursor_blink", True)

    @property
    def known(self) -> list[str]:
        """The full hashes offered."""
        return [v.hash for v in self._versions if len(v.hash) == 64]

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        check = check_hash(event.value, self.known)
        if check.ok:
            self.dismiss(check.value)
        else:
            self.query_one("#hash-error", Static).update(Text(f"✗ {check.message}"))

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        self.query_one("#hash-error", Static).update(Text(""))

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id or "")

    def action_cancel(self) -> None:
        self.dismiss(None)
