"""The diff of two runs: per block, input and iteration — same, changed, fixed, broken, only in one.

:class:`RunDiff` reads two :class:`~dusttui.api.state.RunState` s (only through their public
reading API, see :mod:`dusttui.compare.rows`). Each (block, input) row is compared as JSON text
first: equal text is the same, without decoding; only rows that differ are decoded and compared
iteration by iteration. The differences are kept as compact arrays of positions, changed first,
then broken, fixed, only in A, only in B; :meth:`RunDiff.detail` reads one of them (values,
errors, value diff) when it is shown. :meth:`RunDiff.update` follows runs that still stream: blocks
whose executions did not move since the last update keep their comparison.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from dusttui.compare.rows import (
    BlockKey,
    Pair,
    Pairing,
    Rows,
    block_keys,
    decode_piece,
    input_key,
    merged_order,
    pair_inputs,
    rows_of,
    run_level,
)
from dusttui.compare.values import Change, diff_values, same_json

__all__ = ["COUNTS", "KINDS", "BlockDiff", "Detail", "Difference", "RunDiff"]

# What a difference can be, in the order they are listed; and every count the diff keeps.
KINDS = ("changed", "broken", "fixed", "only_a", "only_b")
COUNTS = ("same", *KINDS, "pending")


@dataclass(frozen=True, slots=True)
class Difference:
    """One execution that differs: where it is in each run (None: not in that run), and how."""

    kind: str
    block_type: str
    block_name: str
    input_a: int | None
    input_b: int | None
    iteration: int
    label: Any = None  # the --key value of the input (None when matched by index)
    run_level: bool = False  # a block before the input block: it ran once for the whole run

    @property
    def block(self) -> BlockKey:
        """(block_type, name) of the block."""
        return (self.block_type, self.block_name)


@dataclass(slots=True)
class Detail:
    """What a difference shows: both executions (``{"value", "error", "meta"}`` or None), the
    value diff when both have a value (``changes``, and ``more`` not listed), the inputs."""

    difference: Difference
    a: dict[str, Any] | None
    b: dict[str, Any] | None
    changes: list[Change]
    more: int
    input_a: Any = None
    input_b: Any = None


@dataclass(slots=True)
class _Compared:
    """A block's comparison: counts, and each kind's positions as flat (ia, ib, j) triples."""

    counts: dict[str, int]
    found: dict[str, array[int]]


@dataclass(slots=True)
class BlockDiff:
    """One block of either run: its comparison and what each run says of it."""

    key: BlockKey
    in_a: bool
    in_b: bool
    status_a: str | None
    status_b: str | None
    latency_a: float | None
    latency_b: float | None
    tokens_a: tuple[int, int] | None
    tokens_b: tuple[int, int] | None
    run_level: bool
    compared: _Compared

    @property
    def counts(self) -> dict[str, int]:
        """same / changed / broken / fixed / only_a / only_b / pending executions."""
        return self.compared.counts

    @property
    def differs(self) -> int:
        """Executions that differ (pending ones not counted)."""
        return sum(self.compared.counts[k] for k in KINDS)


def _latency(block: Any) -> float | None:
    if block is None or block.started_at is None or block.ended_at is None:
        return None  # not seen running here: how long it took is not known
    return float(block.ended_at - block.started_at)


def _tokens(block: Any) -> tuple[int, int] | None:
    return None if block is None else (block.prompt_tokens, block.completion_tokens)


def _text(execution: dict[str, Any]) -> bytes | None:
    try:
        return orjson.dumps(execution)
    except (TypeError, orjson.JSONEncodeError):  # what orjson cannot write: compared by value
        return None


def _classify(ea: dict[str, Any], eb: dict[str, Any]) -> str:
    err_a, err_b = ea.get("error"), eb.get("error")
    if err_a is None and err_b is None:
        return "same" if same_json(ea.get("value"), eb.get("value")) else "changed"
    if err_b is None:
        return "fixed"
    if err_a is None:
        return "broken"
    return "same" if err_a == err_b else "changed"


def compare_block(
    rows_a: Rows | None,
    rows_b: Rows | None,
    pairs: list[tuple[int | None, int | None]],
    pend_a: bool,
    pend_b: bool,
) -> _Compared:
    """Compare one block's rows pair by pair; ``pend_x``: what run X lacks may still come."""
    counts = dict.fromkeys(COUNTS, 0)
    found = {kind: array("q") for kind in KINDS}
    miss_a = "pending" if pend_a else "only_b"  # an execution B has and A has not (yet)
    miss_b = "pending" if pend_b else "only_a"
    ra = rows_a if rows_a is not None else Rows([])
    rb = rows_b if rows_b is not None else Rows([])
    len_a, len_b = len(ra), len(rb)
    for ia, ib in pairs:
        xa = -1 if ia is None or ia >= len_a else ia  # its row in A (-1: none)
        xb = -1 if ib is None or ib >= len_b else ib
        na = ra.size(xa) if xa >= 0 else 0
        nb = rb.size(xb) if xb >= 0 else 0
        first = 0
        if na and nb:
            if ra.text(xa) == rb.text(xb):
                counts["same"] += na
                continue
            first = min(na, nb)
            cut_a, cut_b = ra.pieces(xa), rb.pieces(xb)
            if cut_a is not None and cut_b is not None:
                for j in range(first):  # equal texts are the same: only the others are decoded
                    pa, pb = cut_a[j], cut_b[j]
                    if pa == pb:
                        counts["same"] += 1
                        continue
                    kind = _classify(decode_piece(pa), decode_piece(pb))
                    counts[kind] += 1
                    if kind != "same":
                        found[kind].extend((xa, xb, j))
            else:
                row_a, row_b = ra.decode(xa), rb.decode(xb)
                for j in range(first):
                    ea, eb = row_a[j], row_b[j]
                    # Rows are written by orjson: an execution written again gives its text back
                    text = _text(ea)
                    if text is not None and text == _text(eb):
                        counts["same"] += 1
                        continue
                    kind = _classify(ea, eb)
                    counts[kind] += 1
                    if kind != "same":
                        found[kind].extend((xa, xb, j))
        pos_a = -1 if ia is None else ia
        pos_b = -1 if ib is None else ib
        for kind, start, stop in ((miss_b, first, na), (miss_a, first, nb)):
            if stop <= start:
                continue
            counts[kind] += stop - start
            if kind != "pending":
                out = found[kind]
                for j in range(start, stop):
                    out.extend((pos_a, pos_b, j))
    return _Compared(counts, found)


class RunDiff:
    """The diff of run ``a`` (before) and run ``b`` (after); ``key`` pairs inputs by a field.

    Behaves like a read-only list of :class:`Difference` (changed first); ``counts`` totals every
    execution by kind, ``blocks`` gives each block's. Raises
    :class:`~dusttui.compare.rows.DiffError` when ``key`` cannot pair the inputs.
    """

    def __init__(self, a: Any, b: Any, *, key: str | None = None) -> None:
        self.a = a
        self.b = b
        self.key = key
        self.blocks: list[BlockDiff] = []
        self.counts: dict[str, int] = dict.fromkeys(COUNTS, 0)
        self.config_changes: list[Change] = []
        self.config_more = 0
        self.pairing: Pairing = Pairing(key, [], None, None)
        self._seen: tuple[int, int] | None = None
        self._pairing_ident: tuple[Any, ...] | None = None
        self._pairs_version = 0
        self._labels: tuple[dict[int, Any], dict[int, Any]] = ({}, {})
        self._cache: dict[BlockKey, tuple[tuple[Any, ...], _Compared]] = {}
        self._segments: list[tuple[str, int]] = []
        self._starts: list[int] = []
        self._total = 0
        self._rows: OrderedDict[tuple[str, BlockKey, int], tuple[Any, list[Any]]] = OrderedDict()
        self.update()

    # ------------------------------------------------------------------ computing

    def update(self) -> bool:
        """Bring the diff up to date with both runs; False when neither moved since last time."""
        a, b = self.a, self.b
        versions = (a.version, b.version)
        if versions == self._seen:
            return False
        self._seen = versions
        self._update_pairing()
        level = run_level(a) | run_level(b)
        keys_a, keys_b = block_keys(a), block_keys(b)
        blocks: list[BlockDiff] = []
        cache: dict[BlockKey, tuple[tuple[Any, ...], _Compared]] = {}
        for key in merged_order(keys_a, keys_b):
            ra, rb = rows_of(a, key), rows_of(b, key)
            sa, sb = a.block(*key), b.block(*key)
            # Until a run ends, what it lacks may still come (a while loop's block is over
            # between two iterations, yet runs again): pending, not "only in the other run".
            pend_a, pend_b = not a.done, not b.done
            ident = (
                ra.view if ra is not None else None,
                rb.view if rb is not None else None,
                self._pairs_version,
                key in level,
                pend_a,
                pend_b,
            )
            old = self._cache.get(key)
            if (
                old is not None
                and _same_ident(old[0][:4], ident[:4])
                and (old[0][4:] == ident[4:] or not _missing(old[1]))
            ):  # the same rows: only what one run lacks depends on whether it ended
                compared = old[1]
            else:
                pairs: list[Pair] = [(0, 0)] if key in level else self.pairing.pairs
                compared = compare_block(ra, rb, pairs, pend_a, pend_b)
            cache[key] = (ident, compared)
            blocks.append(
                BlockDiff(
                    key,
                    key in keys_a,
                    key in keys_b,
                    sa.status if sa is not None else None,
                    sb.status if sb is not None else None,
                    _latency(sa),
                    _latency(sb),
                    _tokens(sa),
                    _tokens(sb),
                    key in level,
                    compared,
                )
            )
        self._cache = cache
        self.blocks = blocks
        self.config_changes, total = diff_values(a.config, b.config)
        self.config_more = total - len(self.config_changes)
        self._index()
        return True

    def _update_pairing(self) -> None:
        a, b = self.a, self.b
        ka, kb = input_key(a), input_key(b)
        rows_a = rows_of(a, ka) if ka is not None else None
        rows_b = rows_of(b, kb) if kb is not None else None
        ident = (
            rows_a.view if rows_a is not None else None,
            rows_b.view if rows_b is not None else None,
            a.done,
            b.done,
        )
        if self._pairing_ident is not None and _same_ident(self._pairing_ident, ident):
            return
        pairing = pair_inputs(a, b, self.key)
        self._pairing_ident = ident
        old = self.pairing
        if (pairing.pairs, pairing.labels) != (old.pairs, old.labels) or self._pairs_version == 0:
            self._pairs_version += 1  # blocks compared with other pairs must be compared again
        self.pairing = pairing
        by_a: dict[int, Any] = {}
        by_b: dict[int, Any] = {}
        if self.pairing.labels is not None:
            for (ia, ib), label in zip(self.pairing.pairs, self.pairing.labels, strict=True):
                if ia is not None:
                    by_a[ia] = label
                if ib is not None:
                    by_b[ib] = label
        self._labels = (by_a, by_b)

    def _index(self) -> None:
        counts = dict.fromkeys(COUNTS, 0)
        for block in self.blocks:
            for kind, n in block.counts.items():
                counts[kind] += n
        self.counts = counts
        self._segments = []
        self._starts = []
        total = 0
        for kind in KINDS:
            for bi, block in enumerate(self.blocks):
                n = len(block.compared.found[kind]) // 3
                if n:
                    self._segments.append((kind, bi))
                    self._starts.append(total)
                    total += n
        self._total = total

    # ------------------------------------------------------------------ reading

    @property
    def equal(self) -> bool:
        """True when every execution is the same in both runs (and none is still to come)."""
        return self._total == 0 and self.counts["pending"] == 0

    @property
    def same_hash(self) -> bool | None:
        """Both runs ran the same specification (None: a run does not say which it ran)."""
        ha, hb = self.a.specification_hash, self.b.specification_hash
        if ha is None or hb is None:
            return None
        return bool(ha == hb)

    def __len__(self) -> int:
        return self._total

    def __getitem__(self, k: int) -> Difference:
        if k < 0:
            k += self._total
        if not 0 <= k < self._total:
            raise IndexError("difference index out of range")
        s = bisect_right(self._starts, k) - 1
        kind, bi = self._segments[s]
        block = self.blocks[bi]
        off = (k - self._starts[s]) * 3
        ia, ib, j = block.compared.found[kind][off : off + 3]
        label = None
        if self.pairing.labels is not None and not block.run_level:
            label = self._labels[0].get(ia) if ia >= 0 else self._labels[1].get(ib)
        return Difference(
            kind,
            block.key[0],
            block.key[1],
            None if ia < 0 else ia,
            None if ib < 0 else ib,
            j,
            label,
            block.run_level,
        )

    def __iter__(self) -> Iterator[Difference]:
        return (self[k] for k in range(self._total))

    def first(self, kind: str) -> int | None:
        """Index of the first difference of ``kind``, or None."""
        for (seg_kind, _), start in zip(self._segments, self._starts, strict=True):
            if seg_kind == kind:
                return start
        return None

    def detail(self, k: int, *, limit: int = 200) -> Detail:
        """Difference ``k`` with both executions, their value diff and the inputs (decoded now)."""
        d = self[k]
        ea = self._execution("a", d.block, d.input_a, d.iteration)
        eb = self._execution("b", d.block, d.input_b, d.iteration)
        changes: list[Change] = []
        total = 0
        if (
            ea is not None
            and eb is not None
            and ea.get("error") is None
            and eb.get("error") is None
        ):
            changes, total = diff_values(ea.get("value"), eb.get("value"), limit=limit)
        input_a = input_b = None
        if not d.run_level:
            input_a = self._input_value("a", d.input_a)
            input_b = self._input_value("b", d.input_b)
        return Detail(d, ea, eb, changes, total - len(changes), input_a, input_b)

    def _state(self, side: str) -> Any:
        return self.a if side == "a" else self.b

    def _row(self, side: str, key: BlockKey, i: int | None) -> list[Any]:
        """Row ``i`` as pieces of text (or decoded executions when it cannot be cut)."""
        if i is None:
            return []
        rows = rows_of(self._state(side), key)
        if rows is None or i >= len(rows):
            return []
        cached = self._rows.get((side, key, i))
        if cached is not None and cached[0] is rows.view:
            self._rows.move_to_end((side, key, i))
            return cached[1]
        row: list[Any] | None = rows.pieces(i)
        if row is None:
            row = rows.decode(i)
        self._rows[(side, key, i)] = (rows.view, row)
        while len(self._rows) > 8:  # a few rows: `n` through one row's iterations cuts it once
            self._rows.popitem(last=False)
        return row

    def _execution(self, side: str, key: BlockKey, i: int | None, j: int) -> dict[str, Any] | None:
        row = self._row(side, key, i)
        if j >= len(row):
            return None
        item = row[j]
        return decode_piece(item) if type(item) is bytes else item

    def _input_value(self, side: str, i: int | None) -> Any:
        key = input_key(self._state(side))
        if key is None:
            return None
        execution = self._execution(side, key, i, 0)
        return None if execution is None else execution.get("value")


def _missing(compared: _Compared) -> bool:
    c = compared.counts
    return bool(c["pending"] or c["only_a"] or c["only_b"])


def _same_ident(old: tuple[Any, ...], new: tuple[Any, ...]) -> bool:
    """Views are compared by identity (a state hands out a new one when a block moves)."""
    return len(old) == len(new) and all(
        x is y if i < 2 else x == y for i, (x, y) in enumerate(zip(old, new, strict=True))
    )
