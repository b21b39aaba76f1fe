"""The TUI's widgets (no I/O: they show what they are given)."""
