"""While loops: each iteration's executions merged into one trace along j, as core's GET gives it.

Written once, used by the reducer (:class:`dusttui.api.state.RunState`, event by event) and by the
GET parser (:func:`dusttui.api.run_json.built_traces`, which replays a blocking answer's entries,
one per iteration). An input whose condition turned false leaves the loop for good: later
iterations skip it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dusttui.api.traces import BlockTrace, RowCache

__all__ = ["Loops", "fields"]

BlockKey = tuple[str, str]
# (input, iteration, error, meta) of an execution merged into a loop's trace
OnExecution = Callable[[int, int, "str | None", Any], None]


def fields(execution: Any) -> dict[str, Any]:
    """An execution's fields, whether a decoded dict or a model."""
    return execution if type(execution) is dict else execution.__dict__


@dataclass(slots=True)
class _Loop:
    """The `while` loop being run: its name, iteration, and which inputs already left it."""

    name: str
    iteration: int = 0
    skips: list[bool] | None = None


class Loops:
    """Which `while` loop runs, and how its blocks' executions merge."""

    __slots__ = ("_loop",)

    def __init__(self) -> None:
        self._loop: _Loop | None = None

    @property
    def active(self) -> bool:
        """True while a loop runs: its blocks' executions are merged, not replaced."""
        return self._loop is not None

    def started(self, block_type: str, name: str) -> None:
        """A block started running (a `while` block starts each iteration)."""
        if block_type != "while":
            return
        loop = self._loop
        if loop is not None and loop.name == name:
            loop.iteration += 1
        else:
            self._loop = _Loop(name)

    def expected(self) -> int | None:
        """Executions a block of the loop expects: the inputs still in it (None: no loop)."""
        loop = self._loop
        if loop is not None and loop.skips is not None:
            return loop.skips.count(False)
        return None

    def merge(
        self,
        key: BlockKey,
        execution: list[list[Any]],
        trace: BlockTrace | None,
        *,
        cache: RowCache | None = None,
        stdlib: bool = False,
        on_execution: OnExecution | None = None,
    ) -> BlockTrace:
        """Fold one iteration's executions of a block inside the loop into its trace (made when
        ``trace`` is None); skipped inputs dropped. Returns the trace, grown in place."""
        loop = self._loop
        assert loop is not None, "merge() outside a while loop"
        if loop.skips is None:
            loop.skips = [False] * len(execution)
        skips = loop.skips
        merged = trace if trace is not None else BlockTrace.empty(len(execution), cache=cache)
        for i, row in enumerate(execution):
            if i < len(skips) and skips[i]:
                continue
            for ex in row:
                j = merged.lens[i] if i < len(merged) else 0
                merged.append(i, ex, stdlib)
                if on_execution is not None:
                    f = fields(ex)
                    on_execution(i, j, f.get("error"), f.get("meta"))
        if key[0] == "while":
            # An input leaves the loop once its condition is false; it never comes back.
            loop.skips = [skips[i] if i < len(skips) else False for i in range(len(execution))]
            for i, row in enumerate(execution):
                if not loop.skips[i] and row and fields(row[0]).get("value") is not True:
                    loop.skips[i] = True
        elif key[0] == "end" and all(loop.skips):
            self._loop = None
        return merged
