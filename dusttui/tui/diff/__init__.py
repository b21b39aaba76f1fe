"""The diff screen: two runs compared in the TUI (the same RunDiff as `dusttui diff`)."""

from dusttui.tui.diff.screen import DiffScreen

__all__ = ["DiffScreen"]
