"""Read-only views of a block's executions that behave like ``list[list[Execution]]``.

:class:`Executions` (a block: inputs) and :class:`ExecutionRow` (an input: iterations) build
``Execution`` models only for the rows read (see :class:`dusttui.api.traces.BlockTrace`); they
compare equal to lists of models, and to each other, as the models would.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, overload

from dusttui.api.models import Execution

if TYPE_CHECKING:
    from dusttui.api.traces import BlockCounts, BlockTrace

__all__ = ["ExecutionRow", "Executions"]


class ExecutionRow(Sequence[Execution]):
    """One input's executions of a block (read-only, like ``list[Execution]``)."""

    __slots__ = ("_i", "_trace")
    __hash__ = None  # type: ignore[assignment]  # like a list

    def __init__(self, trace: BlockTrace, i: int) -> None:
        self._trace = trace
        self._i = i

    def __len__(self) -> int:
        return self._trace.lens[self._i]

    @overload
    def __getitem__(self, j: int) -> Execution: ...
    @overload
    def __getitem__(self, j: slice) -> list[Execution]: ...
    def __getitem__(self, j: int | slice) -> Execution | list[Execution]:
        return self._trace.row(self._i)[j]

    def __iter__(self) -> Iterator[Execution]:
        return iter(self._trace.row(self._i))

    def __bool__(self) -> bool:
        return self._trace.lens[self._i] > 0

    def counts(self) -> tuple[int, int]:
        """(successes, errors) over these executions, without building them."""
        return self._trace.counts(self._i)

    def tally(self) -> BlockCounts:
        """These executions by the one count (ok, errored, not run), without building them."""
        return self._trace.tally_row(self._i)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ExecutionRow):
            a, b = self._trace, other._trace
            if a.lens[self._i] != b.lens[other._i]:
                return False
            x, y = a.row_bytes(self._i), b.row_bytes(other._i)
            return x == y or a.row_dicts(self._i) == b.row_dicts(other._i)
        if isinstance(other, list):
            return len(other) == len(self) and self._trace.row(self._i) == other
        return NotImplemented

    def __repr__(self) -> str:
        return repr(self._trace.row(self._i))


class Executions(Sequence[ExecutionRow]):
    """A block's executions ``[input][iteration]`` (read-only, like ``list[list[Execution]]``)."""

    __slots__ = ("_trace",)
    __hash__ = None  # type: ignore[assignment]  # like a list

    def __init__(self, trace: BlockTrace) -> None:
        self._trace = trace

    def __len__(self) -> int:
        return len(self._trace.lens)

    @overload
    def __getitem__(self, i: int) -> ExecutionRow: ...
    @overload
    def __getitem__(self, i: slice) -> list[ExecutionRow]: ...
    def __getitem__(self, i: int | slice) -> ExecutionRow | list[ExecutionRow]:
        n = len(self._trace.lens)
        if isinstance(i, slice):
            return [ExecutionRow(self._trace, k) for k in range(*i.indices(n))]
        k = i.__index__()
        if k < 0:
            k += n
        if not 0 <= k < n:
            raise IndexError("executions index out of range")
        return ExecutionRow(self._trace, k)

    def __iter__(self) -> Iterator[ExecutionRow]:
        trace = self._trace
        return (ExecutionRow(trace, k) for k in range(len(trace.lens)))

    def __bool__(self) -> bool:
        return len(self._trace.lens) > 0

    @property
    def trace(self) -> BlockTrace:
        """The storage behind this view."""
        return self._trace

    def counts(self, i: int) -> tuple[int, int]:
        """(successes, errors) of input ``i``, without building its executions."""
        return self._trace.counts(i)

    def to_list(self) -> list[list[Execution]]:
        """A plain copy, as new models (not cached)."""
        return self._trace.models()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Executions):
            return self._trace.same(other._trace)
        if isinstance(other, list):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    def __repr__(self) -> str:
        return repr(self.to_list())
