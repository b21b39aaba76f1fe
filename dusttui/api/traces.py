"""Compact storage of a block's executions: each input's row kept as its JSON text.

A big run holds hundreds of thousands of executions; as pydantic models they weigh about 35×
their JSON. A :class:`BlockTrace` keeps a block's rows packed in one ``bytes`` (offsets, sizes and
error counts per input beside it) and builds ``Execution`` models only for the rows being read,
with a small shared cache (:class:`RowCache`); readers get the list-like views of
:mod:`dusttui.api.trace_views`. Nothing here holds a reference cycle (a trace refers to its cache
weakly): a dropped run state is freed at once, not at the collector's next full pass.

Rows are stored normalised (``value``, ``error``, ``meta`` first, then any extra keys), so two
equal rows almost always have equal bytes; when they differ, the rows are compared as decoded
JSON, which is how the models compare.
"""

from __future__ import annotations

import json
import weakref
from array import array
from collections import OrderedDict
from collections.abc import Callable, Sequence
from itertools import accumulate
from typing import Any, NamedTuple

import orjson
from pydantic import TypeAdapter

from dusttui.api.models import Execution

__all__ = [
    "BlockCounts",
    "BlockTrace",
    "Note",
    "RowCache",
    "TraceShapeError",
    "check_rows",
    "is_not_run",
    "loads",
    "note",
    "own",
    "tally_rows",
]

_ROW: TypeAdapter[list[Execution]] = TypeAdapter(list[Execution])
_validate_row: Callable[[Any], list[Execution]] = _ROW.validator.validate_python
_KEYS = ("value", "error", "meta")

# (input, iteration, error, prompt tokens, completion tokens) of an execution that failed or
# reported token usage (``meta.token_usage``); the error text is a copy (see :func:`own`).
Note = tuple[int, int, "str | None", int, int]

# What the engine records for an execution a cancelled or interrupted run never ran (contract
# A.3): ``{"value": null, "error": "Not run: the run was cancelled.", "meta": null}``.
NOT_RUN_PREFIX = "Not run: the run was "


def is_not_run(error: str | None) -> bool:
    """The one count's rule: an execution whose error says the run stopped before it ran is
    neither a success nor an error, it did not run (a cut block shows what ran, 11/20)."""
    return error is not None and error.startswith(NOT_RUN_PREFIX)


class BlockCounts(NamedTuple):
    """A block's executions by the one count: ``ok`` + ``err`` ran, ``not_run`` never did."""

    ok: int = 0
    err: int = 0
    not_run: int = 0
    inputs: int = 0  # rows (one per input)

    @property
    def done(self) -> int:
        """Executions that ran, successes and errors."""
        return self.ok + self.err


def tally_rows(execution: Sequence[Sequence[Any]]) -> BlockCounts:
    """The :class:`BlockCounts` of rows of executions (models or decoded dicts)."""
    total = err = skip = 0
    for row in execution:
        total += len(row)
        for e in row:
            error = e.get("error") if type(e) is dict else e.error
            if error is not None:
                if is_not_run(error):
                    skip += 1
                else:
                    err += 1
    return BlockCounts(total - err - skip, err, skip, len(execution))


def own(text: str) -> str:
    """A copy of a string from a parsed answer: a string left in a freed memory page keeps the
    page, so what outlives a big parse must not point into it."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass")


def note(i: int, j: int, error: str | None, meta: Any) -> Note:
    """The :data:`Note` of an execution (its usage counted as the reducer counts it)."""
    p = c = 0
    usage = meta.get("token_usage") if type(meta) is dict else None
    if type(usage) is dict:
        prompt = usage.get("prompt_tokens")
        completion = usage.get("completion_tokens")
        p = prompt if type(prompt) is int else 0
        c = completion if type(completion) is int else 0
    return (i, j, None if error is None else own(error), p, c)


class TraceShapeError(ValueError):
    """Executions that do not have the wire shape; ``where`` is the path inside them."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


def loads(data: bytes) -> Any:
    """JSON text → Python (orjson; the stdlib for what orjson refuses, e.g. lone surrogates)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def _dumps(obj: Any, stdlib: bool) -> bytes:
    if not stdlib:
        try:
            return orjson.dumps(obj)
        except TypeError:  # lone surrogates: orjson cannot write them
            pass
    # The stdlib keeps NaN and lone surrogates (as escapes): what the stdlib parser gave back.
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":")).encode()


# ---------------------------------------------------------------- cache


class RowCache:
    """The rows read last, as models: at most ``limit`` executions (and always the last row)."""

    __slots__ = ("__weakref__", "_rows", "_size", "limit")

    def __init__(self, limit: int = 1024) -> None:
        self._rows: OrderedDict[tuple[BlockTrace, int], list[Execution]] = OrderedDict()
        self._size = 0
        self.limit = limit

    def get(self, trace: BlockTrace, i: int) -> list[Execution] | None:
        """The cached models of row ``i`` of ``trace``, or None."""
        key = (trace, i)
        rows = self._rows.get(key)
        if rows is not None:
            self._rows.move_to_end(key)
        return rows

    def put(self, trace: BlockTrace, i: int, row: list[Execution]) -> None:
        """Remember a row's models, forgetting the oldest rows beyond the limit."""
        self.drop(trace, i)
        self._rows[(trace, i)] = row
        self._size += len(row) or 1
        while self._size > self.limit and len(self._rows) > 1:
            _, old = self._rows.popitem(last=False)
            self._size -= len(old) or 1

    def drop(self, trace: BlockTrace, i: int) -> None:
        """Forget row ``i`` of ``trace`` (it changed)."""
        old = self._rows.pop((trace, i), None)
        if old is not None:
            self._size -= len(old) or 1

    def __len__(self) -> int:
        return len(self._rows)


# ---------------------------------------------------------------- storage


class BlockTrace:
    """One block's executions, ``[input][iteration]``, kept as JSON text per input row.

    Packed (one buffer and offsets) once built; a while loop's block, which grows along the
    iteration axis, keeps a list of row texts instead.
    """

    __slots__ = ("_buf", "_cache", "_offs", "_rows", "_stdlib", "_tally", "errs", "lens", "skips")

    def __init__(
        self,
        rows: list[bytes],
        lens: array[int],
        errs: array[int],
        *,
        skips: array[int] | None = None,
        cache: RowCache | None = None,
        stdlib: bool = False,
        packed: bool = True,
    ) -> None:
        self.lens = lens  # executions per input
        self.errs = errs  # failed executions per input (the not-run ones included)
        # executions per input the run never ran (:func:`is_not_run`; counted in errs too)
        self.skips = skips if skips is not None else array("q", [0]) * len(lens)
        self._tally: BlockCounts | None = None  # the block's counts, once summed
        self._cache: weakref.ref[RowCache] | None = None  # weak: the cache refers to the trace
        if cache is not None:
            self.cache = cache
        self._stdlib = stdlib  # rows written by the stdlib (NaN, lone surrogates): read them so
        self._buf: bytes | None = None
        self._offs: array[int] | None = None
        self._rows: list[bytes] | None = rows
        if packed:
            self.pack()

    # -------------------------------------------------------------- building

    @classmethod
    def from_dicts(
        cls,
        execution: Any,
        *,
        stdlib: bool = False,
        check: bool = False,
        notes: list[Note] | None = None,
        cache: RowCache | None = None,
    ) -> BlockTrace:
        """From decoded JSON rows. ``check``: verify the wire shape (raises TraceShapeError).
        Failed executions and token usage are appended to ``notes`` when given."""
        if check and type(execution) is not list:
            raise TraceShapeError("", "Input should be a valid list")
        rows: list[bytes] = []
        lens = array("q")
        errs = array("q")
        skips = array("q")
        dumps = _dumps
        for i, row in enumerate(execution):
            if check and type(row) is not list:
                raise TraceShapeError(f"{i}", "Input should be a valid list")
            out = row
            n_err = n_skip = 0
            for j, e in enumerate(row):
                if type(e) is not dict:
                    if check:
                        raise TraceShapeError(f"{i}.{j}", "Input should be a valid dictionary")
                    e = _model_fields(e)
                err = e.get("error")
                meta = e.get("meta")
                if err is not None:
                    if type(err) is not str:
                        raise TraceShapeError(f"{i}.{j}.error", "Input should be a valid string")
                    n_err += 1
                    n_skip += is_not_run(err)
                    if notes is not None:
                        notes.append(note(i, j, err, meta))
                elif notes is not None and type(meta) is dict and "token_usage" in meta:
                    notes.append(note(i, j, None, meta))
                if tuple(e) != _KEYS:  # written as the models write it: value, error, meta, extras
                    if out is row:
                        out = list(row)
                    out[j] = _normal(e)
            rows.append(dumps(out, stdlib))
            lens.append(len(row))
            errs.append(n_err)
            skips.append(n_skip)
        return cls(rows, lens, errs, skips=skips, cache=cache, stdlib=stdlib)

    @classmethod
    def from_models(
        cls,
        execution: Sequence[Sequence[Execution]],
        *,
        notes: list[Note] | None = None,
        cache: RowCache | None = None,
    ) -> BlockTrace:
        """From rows of ``Execution`` models; failed executions and token usage go to ``notes``."""
        rows: list[bytes] = []
        lens = array("q")
        errs = array("q")
        skips = array("q")
        dump = _ROW.dump_json
        for i, row in enumerate(execution):
            row = list(row)
            n_err = n_skip = 0
            for j, e in enumerate(row):
                err = e.error
                meta = e.meta
                if err is not None:
                    n_err += 1
                    n_skip += is_not_run(err)
                    if notes is not None:
                        notes.append(note(i, j, err, meta))
                elif notes is not None and type(meta) is dict and "token_usage" in meta:
                    notes.append(note(i, j, None, meta))
            rows.append(dump(row))
            lens.append(len(row))
            errs.append(n_err)
            skips.append(n_skip)
        return cls(rows, lens, errs, skips=skips, cache=cache)

    @classmethod
    def from_event(cls, raw: bytes, *, cache: RowCache | None = None) -> BlockTrace:
        """From a ``block_execution`` event's JSON text (already validated when it arrived)."""
        try:
            payload = orjson.loads(raw)
            stdlib = False
        except orjson.JSONDecodeError:
            payload = json.loads(raw)
            stdlib = True
        return cls.from_dicts(payload["content"]["execution"], stdlib=stdlib, cache=cache)

    @classmethod
    def empty(cls, inputs: int, *, cache: RowCache | None = None) -> BlockTrace:
        """``inputs`` empty rows that grow (a block inside a while loop)."""
        return cls(
            [b"[]"] * inputs,
            array("q", [0]) * inputs,
            array("q", [0]) * inputs,
            skips=array("q", [0]) * inputs,
            cache=cache,
            packed=False,
        )

    def append(self, i: int, execution: Any, stdlib: bool = False) -> None:
        """Add one execution (a model or a decoded dict) at the end of row ``i``."""
        if self._rows is None:
            self._rows = [self.row_bytes(k) for k in range(len(self.lens))]
            self._buf = self._offs = None
        while i >= len(self._rows):
            self._rows.append(b"[]")
            self.lens.append(0)
            self.errs.append(0)
            self.skips.append(0)
            self._tally = None
        if type(execution) is dict:
            item = _dumps(execution if tuple(execution) == _KEYS else _normal(execution), stdlib)
            error = execution.get("error")
        else:
            item = _EXECUTION.dump_json(execution)
            error = execution.error
        failed = error is not None
        self._stdlib = self._stdlib or stdlib
        old = self._rows[i]
        self._rows[i] = old[:-1] + (b"," if self.lens[i] else b"") + item + b"]"
        self.lens[i] += 1
        self.errs[i] += failed
        self.skips[i] += is_not_run(error)
        self._tally = None
        cache = self.cache
        if cache is not None:
            cache.drop(self, i)

    def pack(self) -> BlockTrace:
        """Pack the rows of a grown block into one buffer (fewer objects); returns self."""
        if self._rows is not None:
            rows = self._rows
            # Rows joined by commas: the block's JSON array is then the buffer in brackets (the
            # journal writes a huge run without a pass over its rows); offsets step over them.
            self._buf = b",".join(rows)
            self._offs = array("q", accumulate((len(r) + 1 for r in rows), initial=0))
            self._rows = None
        return self

    # -------------------------------------------------------------- reading

    def __len__(self) -> int:
        return len(self.lens)

    def __repr__(self) -> str:
        return f"BlockTrace(inputs={len(self.lens)}, executions={sum(self.lens)})"

    @property
    def size(self) -> int:
        """Bytes of JSON text held."""
        if self._buf is not None:
            return len(self._buf)
        return sum(map(len, self._rows or ()))

    def row_bytes(self, i: int) -> bytes:
        """The JSON text of row ``i``."""
        if self._rows is not None:
            return self._rows[i]
        offs = self._offs
        assert self._buf is not None and offs is not None
        return self._buf[offs[i] : offs[i + 1] - 1]

    def json_text(self) -> bytes:
        """The block's executions as one JSON array text (no decoding, no models)."""
        if self._buf is not None:
            return b"[" + self._buf + b"]"
        return b"[" + b",".join([self.row_bytes(i) for i in range(len(self.lens))]) + b"]"

    def row_dicts(self, i: int) -> list[dict[str, Any]]:
        """Row ``i`` decoded as JSON (fresh dicts, not cached)."""
        data = self.row_bytes(i)
        row: list[dict[str, Any]] = json.loads(data) if self._stdlib else loads(data)
        return row

    def row(self, i: int) -> list[Execution]:
        """Row ``i`` as models (from the cache when read lately)."""
        ref = self._cache
        cache = ref() if ref is not None else None
        if cache is None:
            return _validate_row(self.row_dicts(i))
        cached = cache.get(self, i)
        if cached is None:
            cached = _validate_row(self.row_dicts(i))
            cache.put(self, i, cached)
        return cached

    def fresh_row(self, i: int) -> list[Execution]:
        """Row ``i`` as new models, bypassing the cache (for whole-run copies)."""
        return _validate_row(self.row_dicts(i))

    def models(self) -> list[list[Execution]]:
        """Every row as new models (not cached): a plain copy of the block."""
        return [self.fresh_row(i) for i in range(len(self.lens))]

    def dicts(self) -> list[list[dict[str, Any]]]:
        """Every row decoded as JSON (fresh data, no models): the wire form of the block."""
        return [self.row_dicts(i) for i in range(len(self.lens))]

    def counts(self, i: int) -> tuple[int, int]:
        """(successes, failed executions) of row ``i``, without building it; the failed include
        the not-run ones (see :meth:`tally_row` for the one count)."""
        err = self.errs[i]
        return self.lens[i] - err, err

    def tally_row(self, i: int) -> BlockCounts:
        """Row ``i`` by the one count (ran ok, errored, not run), without building it."""
        err, skip = self.errs[i], self.skips[i]
        return BlockCounts(self.lens[i] - err, err - skip, skip, 1)

    def tally(self) -> BlockCounts:
        """The whole block by the one count, from the per-input counts (no decoding); summed
        once (a repaint reads every block's counts)."""
        if self._tally is None:
            total, err, skip = sum(self.lens), sum(self.errs), sum(self.skips)
            self._tally = BlockCounts(total - err, err - skip, skip, len(self.lens))
        return self._tally

    def to_parts(self) -> tuple[bytes, bytes, bytes, bytes, bytes, bool]:
        """The packed trace as plain bytes (to pass between processes): see :meth:`from_parts`."""
        self.pack()
        assert self._buf is not None and self._offs is not None
        return (
            self._buf,
            self._offs.tobytes(),
            self.lens.tobytes(),
            self.errs.tobytes(),
            self.skips.tobytes(),
            self._stdlib,
        )

    @classmethod
    def from_parts(
        cls, parts: tuple[bytes, bytes, bytes, bytes, bytes, bool], *, cache: RowCache | None = None
    ) -> BlockTrace:
        """A trace from :meth:`to_parts`, without decoding or copying its rows."""
        buf, offs, lens, errs, skips, stdlib = parts
        trace = cls([], _array(lens), _array(errs), skips=_array(skips), cache=cache, stdlib=stdlib)
        trace._buf, trace._offs = buf, _array(offs)
        return trace

    def notes(self) -> list[Note]:
        """Failed executions and token usage, in order (decodes every row)."""
        out: list[Note] = []
        for i in range(len(self.lens)):
            for j, e in enumerate(self.row_dicts(i)):
                meta = e.get("meta")
                if e.get("error") is not None or (type(meta) is dict and "token_usage" in meta):
                    out.append(note(i, j, e.get("error"), meta))
        return out

    def same(self, other: BlockTrace) -> bool:
        """True if both hold equal executions (as their models would compare)."""
        if self is other:
            return True
        if self.lens != other.lens or self.errs != other.errs or self.skips != other.skips:
            return False
        if (
            self._buf is not None
            and self._buf == other._buf
            and self._offs == other._offs
            and self._stdlib == other._stdlib
        ):
            return True
        for i in range(len(self.lens)):
            if self.row_bytes(i) != other.row_bytes(i) and self.row_dicts(i) != other.row_dicts(i):
                return False
        return True

    @property
    def cache(self) -> RowCache | None:
        """The cache of models this trace's rows go to (None: rows are built on each read)."""
        return self._cache() if self._cache is not None else None

    @cache.setter
    def cache(self, cache: RowCache) -> None:
        self._cache = weakref.ref(cache)


_EXECUTION: TypeAdapter[Execution] = TypeAdapter(Execution)


def check_rows(execution: Any) -> None:
    """Raise :class:`TraceShapeError` unless ``execution`` has the wire shape of executions."""
    if type(execution) is not list:
        raise TraceShapeError("", "Input should be a valid list")
    for i, row in enumerate(execution):
        if type(row) is not list:
            raise TraceShapeError(f"{i}", "Input should be a valid list")
        for j, e in enumerate(row):
            if type(e) is not dict:
                raise TraceShapeError(f"{i}.{j}", "Input should be a valid dictionary")
            err = e.get("error")
            if err is not None and type(err) is not str:
                raise TraceShapeError(f"{i}.{j}.error", "Input should be a valid string")


def _array(data: bytes) -> array[int]:
    out = array("q")
    out.frombytes(data)
    return out


def _model_fields(e: Any) -> dict[str, Any]:
    """An Execution model (in a dict-shaped row) as the dict the wire would carry."""
    return {**e.__dict__, **(e.__pydantic_extra__ or {})}


def _normal(e: dict[str, Any]) -> dict[str, Any]:
    out = {"value": e.get("value"), "error": e.get("error"), "meta": e.get("meta")}
    for k, v in e.items():
        if k not in out:
            out[k] = v
    return out
