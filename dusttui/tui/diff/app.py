"""A minimal host App for the diff screen: ``python -m dusttui.tui.diff A.json B.json``, tests
and benchmarks. The real TUI pushes :class:`DiffScreen` from its own App."""

from __future__ import annotations

from typing import Any

from textual.app import App

from dusttui.tui.diff.screen import DiffScreen


class DiffApp(App[None]):
    """Shows the diff of two runs; escape closes it and quits."""

    def __init__(self, a: Any, b: Any, *, key: str | None = None) -> None:
        super().__init__()
        self.a, self.b, self.key = a, b, key

    def on_mount(self) -> None:
        """Open the diff; quit when it closes."""
        self.push_screen(DiffScreen(self.a, self.b, key=self.key), lambda _result: self.exit())
