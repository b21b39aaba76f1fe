"""The export dialog: what to export (the selected block or the whole run) and to which file.

The format follows the file's extension: ``.json``, ``.jsonl`` or ``.csv``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, RadioButton, RadioSet, Static

from dusttui.tui.explorer.export import FORMATS
from dusttui.tui.explorer.safe_text import one_line


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """What the user chose: a path, a format, the block index (None for the whole run), and
    whether only the executions that failed go in."""

    path: Path
    fmt: str
    block: int | None
    errors_only: bool = False


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
        *,
        errors_only: bool = False,
    ) -> None:
        super().__init__()
        self.block = block
        self.block_label = block_label
        self.default_dir = default_dir
        # "block" / "run" (and "block-errors" / "run-errors") → file name
        self.default_names = default_names
        self.errors_only = errors_only

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Export executions")
            with RadioSet(id="export-scope"):
                if self.block is not None:
                    label = Text(f"selected block: {one_line(self.block_label or '')}")
                    yield RadioButton(label, value=True, id="scope-block")
                yield RadioButton(Text("whole run"), value=self.block is None, id="scope-run")
            yield Checkbox(
                Text("only the executions that failed"), self.errors_only, id="export-errors"
            )
            yield Label("File (.jsonl, .json or .csv):")
            yield Input(str(self.default_dir / self._file_name()), id="export-path")
            yield Static("", id="export-error", markup=False)
            with Horizontal():
                yield Button("Export", variant="primary", id="export-go")
                yield Button("Cancel", id="export-cancel")

    def on_mount(self) -> None:
        """Start in the path box."""
        self.query_one("#export-path", Input).focus()

    def _file_name(self, block: bool | None = None, errors: bool | None = None) -> str:
        """The default file name for a scope and filter (the dialog's current ones by default)."""
        block = self.block is not None if block is None else block
        errors = self.errors_only if errors is None else errors
        return self.default_names[("block" if block else "run") + ("-errors" if errors else "")]

    @on(RadioSet.Changed, "#export-scope")
    @on(Checkbox.Changed, "#export-errors")
    def _choice_changed(self) -> None:
        box = self.query_one("#export-path", Input)
        old = Path(box.value)
        if old.stem not in {Path(name).stem for name in self.default_names.values()}:
            return  # a name the user typed stays
        name = self._file_name(self._block_chosen() is not None, self._errors_chosen())
        box.value = str(old.with_name(Path(name).with_suffix(old.suffix or ".jsonl").name))

    def _block_chosen(self) -> int | None:
        if self.block is None:
            return None
        return self.block if self.query_one("#scope-block", RadioButton).value else None

    def _errors_chosen(self) -> bool:
        return self.query_one("#export-errors", Checkbox).value

    @on(Input.Submitted, "#export-path")
    @on(Button.Pressed, "#export-go")
    def action_export(self) -> None:
        """Check the file name and close with the request."""
        text = self.query_one("#export-path", Input).value.strip()
        fmt = format_of(text)
        error = self.query_one("#export-error", Static)
        if not text:
            error.update(Text("Give a file name."))
            return
        if fmt is None:
            error.update(
                Text("Give the file a .jsonl, .json or .csv extension: the format follows it.")
            )
            return
        self.dismiss(
            ExportRequest(Path(text).expanduser(), fmt, self._block_chosen(), self._errors_chosen())
        )

    @on(Button.Pressed, "#export-cancel")
    def action_cancel(self) -> None:
        """Close without exporting."""
        self.dismiss(None)
