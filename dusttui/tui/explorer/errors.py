"""Error navigation (next / previous across the run) and grouping by message. Pure, no Textual."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

from dusttui.tui.explorer.data import Pos


def next_error(errors: Sequence[Pos], current: Pos | None) -> int | None:
    """Index of the first error strictly after ``current`` in run order, wrapping to the first.

    ``errors`` must be sorted (run order). None when the run has no error.
    """
    if not errors:
        return None
    if current is None:
        return 0
    k = bisect_right(errors, current)
    return k if k < len(errors) else 0


def prev_error(errors: Sequence[Pos], current: Pos | None) -> int | None:
    """Index of the last error strictly before ``current`` in run order, wrapping to the last."""
    if not errors:
        return None
    if current is None:
        return len(errors) - 1
    k = bisect_left(errors, current) - 1
    return k if k >= 0 else len(errors) - 1


@dataclass(slots=True)
class ErrorGroup:
    """Errors sharing one message: how many, and their indices into the run's error list."""

    message: str
    indices: list[int] = field(default_factory=list)

    @property
    def count(self) -> int:
        """How many errors carry this message."""
        return len(self.indices)


def group_errors(messages: Sequence[str]) -> list[ErrorGroup]:
    """Group errors by exact message; most frequent first, ties in order of first occurrence."""
    groups: dict[str, ErrorGroup] = {}
    for k, message in enumerate(messages):
        group = groups.get(message)
        if group is None:
            group = groups[message] = ErrorGroup(message)
        group.indices.append(k)
    # dicts keep insertion order, and sorted() is stable: ties stay in first-occurrence order
    return sorted(groups.values(), key=lambda g: -g.count)
