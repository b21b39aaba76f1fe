"""The TUI's screens and modals."""
