"""A Tree whose component styles are computed once per theme, not once per rendered line."""

from __future__ import annotations

from typing import TypeVar

from rich.style import Style
from textual.widgets import Tree

T = TypeVar("T")


class FastTree(Tree[T]):
    """Textual's Tree asks for the same component styles several times per line; cache them."""

    def __init__(self, *args, **kwargs) -> None:
        self._rich_styles: dict[tuple[tuple[str, ...], bool], Style] = {}
        super().__init__(*args, **kwargs)

    def get_component_rich_style(self, *names: str, partial: bool = False) -> Style:
        """The rich style of component classes, cached until the styles change."""
        key = (names, partial)
        style = self._rich_styles.get(key)
        if style is None:
            style = self._rich_styles[key] = super().get_component_rich_style(
                *names, partial=partial
            )
        return style

    def is_current(self, node) -> bool:
        """False for a node that was cleared away (its messages may arrive after a change)."""
        while node.parent is not None:
            node = node.parent
        return node is self.root

    def notify_style_update(self) -> None:
        """Theme, CSS or pseudo-class changed: recompute styles on the next render."""
        self._rich_styles.clear()
        super().notify_style_update()
