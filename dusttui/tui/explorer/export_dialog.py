"""The export dialog: what to export (the selected block or the whole run) and to which file.

The format follows the file's extension: ``.json``, ``.jsonl`` or ``.csv``.
"""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from dusttui.tui.explorer.export import FORMATS


class ExportRequest:
    """What the user chose: a path, a format, and the block index (None for the whole run)."""

    def __init__(self, path: Path, fmt: str, block: int | None) -> None:
        self.path, self.fmt, self.block = path, fmt, block

    def __repr__(self) -> str:
        return f"ExportRequest({str(self.path)!r}, {self.fmt!r}, block={self.block})"


def format_of(path: str) -> str | None:
    """The export format named by a file's extension, or None."""
    ext = Path(path).suffix.lower().lstrip(".")
    return ext if ext in FORMATS else None


class ExportDialog(ModalScreen[ExportRequest | None]):
    """Choose the scope and the file; Enter or the button exports, escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="explorer.export.cancel")]
    DEFAULT_CSS = """
    ExportDialog { align: center middle; }
    ExportDialog > Vertical { width: 72; height: auto; border: round $primary; padding: 1 2; background: $surface; }
    ExportDialog #export-error { color: $block-errored; height: auto; }
    ExportDialog Horizontal { height: auto; align-horizontal: right; }
    """

    def __init__(
        self,
        block: int | None,
        block_label: str | None,
        default_dir: Path,
        default_names: dict[str, str],
    ) -> None:
        super().__init__()
        self.block = block
        self.block_label = block_label
        self.default_dir = default_dir
        self.default_names = default_names  # "block" / "run" → file name

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Export executions")
            with RadioSet(id="export-scope"):
                if self.block is not None:
                    yield RadioButton(
                        f"selected block: {self.block_label}", value=True, id="scope-block"
                    )
                yield RadioButton("whole run", value=self.block is None, id="scope-run")
            yield Label("File (.jsonl, .json or .csv):")
            name = self.default_names["block" if self.block is not None else "run"]
            yield Input(str(self.default_dir / name), id="export-path")
            yield Static("", id="export-error", markup=False)
            with Horizontal():
                yield Button("Export", variant="primary", id="export-go")
                yield Button("Cancel", id="export-cancel")

    def on_mount(self) -> None:
        """Start in the path box."""
        self.query_one("#export-path", Input).focus()

    @on(RadioSet.Changed, "#export-scope")
    def _scope_changed(self, event: RadioSet.Changed) -> None:
        box = self.query_one("#export-path", Input)
        old = Path(box.value)
        key = "block" if event.pressed.id == "scope-block" else "run"
        new_name = Path(self.default_names[key]).with_suffix(old.suffix or ".jsonl").name
        box.value = str(old.with_name(new_name))

    def _block_chosen(self) -> int | None:
        if self.block is None:
            return None
        return self.block if self.query_one("#scope-block", RadioButton).value else None

    @on(Input.Submitted, "#export-path")
    @on(Button.Pressed, "#export-go")
    def action_export(self) -> None:
        """Check the file name and close with the request."""
        text = self.query_one("#export-path", Input).value.strip()
        fmt = format_of(text)
        error = self.query_one("#export-error", Static)
        if not text:
            error.update("Give a file name.")
            return
        if fmt is None:
            error.update("Give the file a .jsonl, .json or .csv extension: the format follows it.")
            return
        self.dismiss(ExportRequest(Path(text).expanduser(), fmt, self._block_chosen()))

    @on(Button.Pressed, "#export-cancel")
    def action_cancel(self) -> None:
        """Close without exporting."""
        self.dismiss(None)
