"""The config and inputs editors: JSON text areas checked as you type, with a status line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static, TextArea

from dusttui.tui.validation import Check, check_config_text, check_inputs_text


class JsonEditor(Vertical):
    """A TextArea and a one-line verdict under it; ``check`` holds the latest verdict."""

    DEFAULT_CSS = """
    JsonEditor { height: 1fr; }
    JsonEditor > TextArea { height: 1fr; border: none; padding: 0 1; }
    JsonEditor > .verdict { height: auto; max-height: 3; padding: 0 1; }
    JsonEditor > .verdict.-invalid { color: $block-errored; }
    JsonEditor > .verdict.-valid { color: $block-succeeded; }
    """

    @dataclass
    class Edited(Message):
        """The text changed (typed, pasted or loaded): drafts are kept from it."""

        editor: JsonEditor

    def __init__(self, text: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._initial = text
        self.check: Check = self._check(text)

    def compose(self) -> ComposeResult:
        yield TextArea(
            self._initial,
            soft_wrap=False,
            show_line_numbers=True,
            tab_behavior="focus",
            id=f"{self.id}-text" if self.id else None,
        )
        yield Static(classes="verdict")

    def on_mount(self) -> None:
        self._show_verdict()

    @property
    def text_area(self) -> TextArea:
        """The text area itself."""
        return self.query_one(TextArea)

    @property
    def text(self) -> str:
        """The editor's current text."""
        return self.text_area.text

    def load(self, text: str) -> None:
        """Replace the text (the verdict follows through the Changed event)."""
        self.text_area.load_text(text)
        self.check = self._check(text)
        self._show_verdict()

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        event.stop()
        self.check = self._check(event.text_area.text)
        self._show_verdict()
        self.post_message(self.Edited(self))

    def recheck(self) -> None:
        """Check again (the rules changed, e.g. another app was selected)."""
        self.check = self._check(self.text)
        self._show_verdict()

    def _check(self, text: str) -> Check:
        raise NotImplementedError

    def _verdict_text(self) -> str:
        raise NotImplementedError

    def _show_verdict(self) -> None:
        if not self.is_mounted:
            return
        verdict = self.query_one(".verdict", Static)
        verdict.set_class(not self.check.ok, "-invalid")
        verdict.set_class(self.check.ok, "-valid")
        text = self._verdict_text() if self.check.ok else f"✗ {self.check.message}"
        verdict.update(Text(text))


class ConfigEditor(JsonEditor):
    """Per-block config, `{"BLOCK": {...}}`; keys must be the app's block names."""

    def __init__(
        self,
        text: str = "{}",
        *,
        blocks: Callable[[], list[tuple[str, str]] | None] = lambda: None,
        providers: Callable[[], list[str] | None] = lambda: None,
        id: str | None = None,
    ) -> None:
        self._blocks = blocks
        self._providers = providers
        super().__init__(text, id=id)

    def _check(self, text: str) -> Check:
        return check_config_text(text, self._blocks(), self._providers())

    def _verdict_text(self) -> str:
        count = self.check.count
        if isinstance(self.check.value, list):
            return f"✓ {count} valid configs · r runs them side by side"
        return f"✓ valid config · {count} block{'s' if count != 1 else ''} configured"


class InputsEditor(JsonEditor):
    """A JSON array or JSONL of input objects with the same keys."""

    def _check(self, text: str) -> Check:
        return check_inputs_text(text)

    def _verdict_text(self) -> str:
        count = self.check.count
        return f"✓ valid inputs · {count} input{'s' if count != 1 else ''}"
