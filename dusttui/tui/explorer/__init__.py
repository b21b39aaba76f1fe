"""The trace explorer: block → input → iteration → value or error, error-first, fast on big runs.

Textual-free logic lives in ``data``, ``errors``, ``search``, ``export``, ``jsonpath`` and
``summary``; the widgets each have a module; :class:`ExplorerScreen` puts them together.
"""

from dusttui.tui.explorer.screen import ExplorerScreen

__all__ = ["ExplorerScreen"]
