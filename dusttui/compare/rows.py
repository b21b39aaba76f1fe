"""How the diff reads a run: each block's rows as JSON text, and which inputs of two runs pair up.

Only :class:`~dusttui.api.state.RunState`'s public reading API is used: ``blocks``,
``executions()`` (whose view's ``trace`` gives each input's row as JSON text, ``row_bytes``) and
``done``. Two rows with equal text are the same without decoding; only rows that differ are read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from dusttui.compare.values import canonical

__all__ = [
    "BlockKey",
    "DiffError",
    "Pair",
    "Pairing",
    "Rows",
    "block_keys",
    "decode_piece",
    "pair_inputs",
    "rows_of",
]

BlockKey = tuple[str, str]  # (block_type, name)
Pair = tuple[int | None, int | None]  # (input in A, input in B); None: not in that run


class DiffError(ValueError):
    """Two runs cannot be compared as asked (e.g. ``--key`` names no field of the inputs)."""


class Rows:
    """One block of one run: its rows (one per input) as JSON text, read lazily."""

    __slots__ = ("_trace", "view")

    def __init__(self, view: Sequence[Any]) -> None:
        self.view = view  # the state's view of the block: the same object until the block moves
        self._trace = getattr(view, "trace", None)

    def __len__(self) -> int:
        return len(self.view)

    def size(self, i: int) -> int:
        """Executions in row ``i`` (iterations of the block for that input)."""
        trace = self._trace
        if trace is not None:
            return int(trace.lens[i])
        return len(self.view[i])

    def counts(self, i: int) -> tuple[int, int]:
        """(successes, errors) in row ``i``, without decoding it."""
        if self._trace is not None:
            ok, err = self._trace.counts(i)
            return int(ok), int(err)
        errors = sum(1 for e in self.view[i] if _fields(e)["error"] is not None)
        return self.size(i) - errors, errors

    def text(self, i: int) -> bytes:
        """Row ``i`` as JSON text (what the state holds; equal texts are equal rows)."""
        if self._trace is not None:
            return bytes(self._trace.row_bytes(i))
        return orjson.dumps([_fields(e) for e in self.view[i]])

    def pieces(self, i: int) -> list[bytes] | None:
        """Row ``i`` cut into each execution's JSON text, without decoding; None when it cannot
        be cut exactly (then :meth:`decode` it).

        A state writes every execution compactly with ``value`` first, so two executions meet
        at ``},{"value":``; the same bytes inside a value (a list of objects keyed ``value``
        first) would make more pieces than executions: the count tells.
        """
        n = self.size(i)
        if not n:
            return []
        text = self.text(i)
        if not text.startswith(_FIRST) or not text.endswith(b"}]"):
            return None
        parts = text[len(_FIRST) : -2].split(_SEAM)
        if len(parts) != n:
            return None
        return parts

    def decode(self, i: int) -> list[dict[str, Any]]:
        """Row ``i`` decoded: one ``{"value", "error", "meta"}`` per iteration."""
        if self._trace is not None:
            return list(self._trace.row_dicts(i))
        return [_fields(e) for e in self.view[i]]


_FIRST = b'[{"value":'
_SEAM = b'},{"value":'


def decode_piece(piece: bytes) -> dict[str, Any]:
    """One execution from its piece of a row (see :meth:`Rows.pieces`)."""
    data = b'{"value":' + piece + b"}"
    try:
        out: dict[str, Any] = orjson.loads(data)
    except orjson.JSONDecodeError:  # NaN or lone surrogates, written by the stdlib
        out = json.loads(data)
    return out


def _fields(execution: Any) -> dict[str, Any]:
    if type(execution) is dict:
        return execution
    return {"value": execution.value, "error": execution.error, "meta": execution.meta}


def rows_of(state: Any, key: BlockKey) -> Rows | None:
    """The block's rows in ``state``, or None when it has no executions (yet)."""
    if key not in state.trace_keys():
        return None
    return Rows(state.executions(*key))


def block_keys(state: Any) -> list[BlockKey]:
    """Every block of the run in run order: those with a status, then any with only executions."""
    keys = [(b.block_type, b.name) for b in state.blocks]
    seen = set(keys)
    keys += [k for k in state.trace_keys() if k not in seen]
    return keys


def merged_order(a: list[BlockKey], b: list[BlockKey]) -> list[BlockKey]:
    """Both runs' blocks in one order: A's, with B's own blocks at their place in B."""
    in_a = set(a)
    out: list[BlockKey] = []
    seen: set[BlockKey] = set()
    k = 0
    for key in a:
        if key in seen:
            continue
        if key in b:
            while k < len(b) and b[k] != key:  # B's own blocks that come before this one
                if b[k] not in in_a and b[k] not in seen:
                    out.append(b[k])
                    seen.add(b[k])
                k += 1
        out.append(key)
        seen.add(key)
    out += [key for key in b if key not in seen]
    return out


def input_key(state: Any) -> BlockKey | None:
    """The run's ``input`` block, if it has one."""
    for key in block_keys(state):
        if key[0] == "input":
            return key
    return None


def run_level(state: Any) -> set[BlockKey]:
    """Blocks that run before the ``input`` block: once for the whole run (one row)."""
    keys = block_keys(state)
    for n, key in enumerate(keys):
        if key[0] == "input":
            return set(keys[:n])
    return set()


def input_count(state: Any) -> int | None:
    """How many inputs the run has; None while it is not known yet (no input block yet)."""
    key = input_key(state)
    if key is not None and key in state.trace_keys():
        return len(state.executions(*key))
    if not state.done:
        return None
    return max((len(state.executions(*k)) for k in state.trace_keys()), default=0)


@dataclass(slots=True)
class Pairing:
    """Which input of A goes with which input of B.

    ``pairs`` in A's order, then B's own inputs; ``labels`` holds the key value of each pair when
    matched by ``key`` (None when matched by index). ``complete`` is False while a run's inputs are
    not known yet (its input block has not run).
    """

    key: str | None
    pairs: list[Pair]
    inputs_a: int | None
    inputs_b: int | None
    labels: list[Any] | None = None
    complete: bool = True

    @property
    def only_a(self) -> int:
        """Inputs of A without a partner in B."""
        return sum(1 for _, ib in self.pairs if ib is None) if self.complete else 0

    @property
    def only_b(self) -> int:
        """Inputs of B without a partner in A."""
        return sum(1 for ia, _ in self.pairs if ia is None) if self.complete else 0

    @property
    def matched(self) -> int:
        """Inputs found in both runs."""
        return sum(1 for ia, ib in self.pairs if ia is not None and ib is not None)


def pair_inputs(a: Any, b: Any, key: str | None = None) -> Pairing:
    """Pair the inputs of runs ``a`` and ``b``: by index, or by the value of field ``key``.

    Raises :class:`DiffError` when ``key`` cannot pair them (an input without that field, two
    inputs of one run with the same value, a run without an input block).
    """
    na, nb = input_count(a), input_count(b)
    if key is None:
        # A run whose inputs are not known yet is paired index for index (its rows come later).
        n = max(na or 0, nb or 0)
        pairs: list[Pair] = [
            (i if na is None or i < na else None, i if nb is None or i < nb else None)
            for i in range(n)
        ]
        return Pairing(None, pairs, na, nb, complete=na is not None and nb is not None)
    keys_a = _keys(a, "A", key)
    keys_b = _keys(b, "B", key)
    if keys_a is None or keys_b is None:
        known = keys_a if keys_a is not None else (keys_b or {})
        side = "a" if keys_a is not None else "b"
        pairs = [((i, None) if side == "a" else (None, i)) for i in known.values()]
        labels = [_label(k) for k in known]
        return Pairing(key, pairs, na, nb, labels, complete=False)
    pairs = []
    labels = []
    for value, ia in keys_a.items():
        pairs.append((ia, keys_b.get(value)))
        labels.append(_label(value))
    for value, ib in keys_b.items():
        if value not in keys_a:
            pairs.append((None, ib))
            labels.append(_label(value))
    return Pairing(key, pairs, na, nb, labels)


def _label(text: bytes) -> Any:
    return orjson.loads(text)


def _keys(state: Any, side: str, key: str) -> dict[bytes, int] | None:
    """Input index by the (canonical JSON of the) value of field ``key``; None if not known yet."""
    block = input_key(state)
    if block is None or block not in state.trace_keys():
        if not state.done:
            return None
        raise DiffError(f"Run {side} has no input block: its inputs cannot be matched by `{key}`.")
    rows = Rows(state.executions(*block))
    found: dict[bytes, int] = {}
    for i in range(len(rows)):
        row = rows.decode(i)
        value = row[0].get("value") if row else None
        if type(value) is not dict or key not in value:
            raise DiffError(
                f"Input {i} of run {side} has no field `{key}`: --key must name a field every "
                "input has."
            )
        text = canonical(value[key])
        if text in found:
            raise DiffError(
                f"Inputs {found[text]} and {i} of run {side} have the same `{key}` "
                f"({_short(text)}): --key must name a field unique to each input."
            )
        found[text] = i
    return found


def _short(text: bytes, width: int = 40) -> str:
    out = text.decode("utf-8", "replace")
    return out if len(out) <= width else out[: width - 1] + "…"
