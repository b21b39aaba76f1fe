"""A minimal host App for the explorer: standalone use (``python -m dusttui.tui.explorer RUN.json``),
tests and benchmarks. The real TUI pushes :class:`ExplorerScreen` from its own App.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from textual.app import App

from dusttui.tui.explorer.screen import ExplorerScreen

# Fallbacks for the status colours the project's themes define (UI.md); a theme overrides them.
STATUS_VARIABLES: dict[str, str] = {
    "block-running": "#e0af68",
    "block-succeeded": "#7fb069",
    "block-errored": "#e5484d",
}


class ExplorerApp(App[None]):
    """Shows one run in the explorer; escape closes the explorer and quits."""

    def __init__(
        self,
        state: Any,
        *,
        title: str | None = None,
        export_dir: Path | None = None,
        spec_blocks: Sequence[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__()
        self.state = state
        self.explorer_title = title
        self.export_dir = export_dir
        self.spec_blocks = spec_blocks

    def get_theme_variable_defaults(self) -> dict[str, str]:
        """The status colours, unless the theme sets them."""
        return dict(STATUS_VARIABLES)

    def on_mount(self) -> None:
        """Open the explorer; quit when it closes."""
        screen = ExplorerScreen(
            self.state,
            title=self.explorer_title,
            export_dir=self.export_dir,
            spec_blocks=self.spec_blocks,
        )
        self.push_screen(screen, lambda _result: self.exit())
