"""Configs side by side: one set of inputs run with N configs, read as a grid inputs × configs.

Each cell is what one input gave with one config: the output (its last block's value, or the
first error on its way), and the tokens it used; each column, its run's status, latency (when
the run was followed here) and tokens. :func:`cell_diff` is the value diff of any two cells;
:func:`save_config` keeps one config as the app's saved config (the local engine's
``NAME.config.json``). Pure but for that file write; reads runs through their public API.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dusttui.compare.rows import Rows, block_keys, run_level
from dusttui.compare.text import one_line, safe
from dusttui.compare.values import Change, diff_values, same_json

__all__ = [
    "Cell",
    "Column",
    "ConfigGrid",
    "SaveError",
    "cell_diff",
    "config_target",
    "row_texts",
    "save_config",
    "write_config",
]


class SaveError(ValueError):
    """The config cannot be kept as the app's saved config here; the message says why."""


@dataclass(frozen=True, slots=True)
class Cell:
    """One input with one config: its output (``value``) or ``error``, and its tokens."""

    value: Any = None
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    ran: bool = False  # False: the run gave nothing for this input (yet)

    @property
    def tokens(self) -> int:
        """Prompt and completion tokens together."""
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class Column:
    """One config's run: where the config came from, the run, its status, latency and tokens."""

    label: str
    config: dict[str, Any]
    run_id: str | None
    status: str | None
    latency: float | None
    prompt_tokens: int
    completion_tokens: int


def _latency(state: Any) -> float | None:
    starts = [b.started_at for b in state.blocks if b.started_at is not None]
    ends = [b.ended_at for b in state.blocks if b.ended_at is not None]
    if not starts or not ends or len(ends) != len(state.blocks):
        return None  # not followed here from its start to its end
    return float(max(ends) - min(starts))


def _usage(meta: Any) -> tuple[int, int]:
    usage = meta.get("token_usage") if type(meta) is dict else None
    if type(usage) is not dict:
        return 0, 0
    p, c = usage.get("prompt_tokens"), usage.get("completion_tokens")
    return (p if type(p) is int else 0), (c if type(c) is int else 0)


def read_cell(state: Any, i: int) -> Cell:
    """What input ``i`` gave in run ``state``: the last block's value, or its first error."""
    level = run_level(state)
    value: Any = None
    error: str | None = None
    ran = False
    prompt = completion = 0
    for key in block_keys(state):
        if key in level or key not in state.trace_keys():
            continue
        rows = Rows(state.executions(*key))
        if i >= len(rows) or not rows.size(i):
            continue
        row = rows.decode(i)
        for execution in row:
            p, c = _usage(execution.get("meta"))
            prompt += p
            completion += c
            if error is None and execution.get("error") is not None:
                error = str(execution["error"])
        values = [e.get("value") for e in row]
        value = values[0] if len(values) == 1 else values
        ran = True
    return Cell(None if error else value, error, prompt, completion, ran)


class ConfigGrid:
    """Inputs × configs over N runs of the same inputs (``labels[k]`` names config ``k``)."""

    def __init__(self, states: list[Any], labels: list[str], inputs: list[Any]) -> None:
        if len(states) != len(labels):
            raise ValueError("one label per run")
        self.states = states
        self.labels = labels
        self.inputs = inputs
        self._cells: dict[tuple[int, int], tuple[int, Cell]] = {}

    @property
    def columns(self) -> list[Column]:
        """Each config's run, in order."""
        return [
            Column(
                label,
                dict(state.config),
                state.run_id,
                state.status,
                _latency(state),
                state.prompt_tokens,
                state.completion_tokens,
            )
            for label, state in zip(self.labels, self.states, strict=True)
        ]

    def cell(self, i: int, k: int) -> Cell:
        """Input ``i`` with config ``k`` (read again only when that run moved)."""
        state = self.states[k]
        cached = self._cells.get((i, k))
        if cached is not None and cached[0] == state.version:
            return cached[1]
        found = read_cell(state, i)
        self._cells[(i, k)] = (state.version, found)
        return found

    @property
    def done(self) -> bool:
        """Every run ended."""
        return all(state.done for state in self.states)

    def differs(self, i: int) -> bool:
        """The configs do not all give input ``i`` the same output."""
        first = self.cell(i, 0)
        return any(cell_diff(first, self.cell(i, k))[1] for k in range(1, len(self.states)))


def row_texts(grid: ConfigGrid, i: int) -> list[str]:
    """Input ``i``'s cells as text; objects show only the fields where the configs differ."""
    cells = [grid.cell(i, k) for k in range(len(grid.states))]
    values = [c.value for c in cells if c.ran and c.error is None]
    shown: list[str] | None = None
    if len(values) == len(cells) > 1 and all(type(v) is dict for v in values):
        keys = [
            key
            for key in values[0]
            if any(not same_json(values[0].get(key), v.get(key)) for v in values)
        ]
        keys += [key for v in values for key in v if key not in values[0] and key not in keys]
        if keys:
            shown = [one_line({key: v[key] for key in keys if key in v}) for v in values]
    out = []
    for k, found in enumerate(cells):
        if not found.ran:
            out.append("·")
            continue
        if found.error:
            text = "✗ " + safe(found.error.splitlines()[0])
        else:
            text = shown[k] if shown is not None else one_line(found.value)
        out.append(f"{text} · {found.tokens} tok" if found.tokens else text)
    return out


def cell_diff(a: Cell, b: Cell, *, limit: int = 200) -> tuple[list[Change], int]:
    """The value diff of two cells (an error counts as the value ``{"error": text}``)."""
    left = {"error": a.error} if a.error is not None else a.value
    right = {"error": b.error} if b.error is not None else b.value
    return diff_values(left, right, limit=limit)


def save_config(app: Any, config: dict[str, Any], apps_dir: Path | None) -> Path:
    """Write ``config`` as the app's saved config, ``NAME.config.json`` beside its ``.dust``
    file, when the app is one of the local engine's apps folder (``apps_dir``)."""
    return write_config(config_target(app, apps_dir), config)


def config_target(app: Any, apps_dir: Path | None) -> Path:
    """Where the app's saved config is written (raises :class:`SaveError` when it cannot be)."""
    ext = (app.model_extra or {}).get("dusttui")
    source = ext.get("source") if isinstance(ext, dict) else None
    where = ext.get("path") if isinstance(ext, dict) else None
    if source is None or not isinstance(where, str):
        raise SaveError(
            f"{app.name} is not an app of the local engine: keep the config in Dust's builder."
        )
    if source != "apps_dir":
        raise SaveError(
            f"{app.name} is a bundled demo: its files are part of dusttui. Copy it to your apps "
            "folder (apps_dir in config.toml, or dusttui serve --apps DIR) to keep a config."
        )
    dust = Path(where)
    # Only the user's own apps folder is ever written to, whatever path a server names.
    if (
        apps_dir is None
        or not dust.name.endswith(".dust")
        or dust.resolve().parent != Path(apps_dir).resolve()
    ):
        raise SaveError(
            f"{app.name} is not in your apps folder (apps_dir in config.toml): nothing written."
        )
    return dust.with_name(dust.name[: -len(".dust")] + ".config.json")


def write_config(target: Path, config: dict[str, Any]) -> Path:
    """Write ``config`` to ``target`` whole (a temporary file renamed over it)."""
    text = json.dumps(config, indent=2, ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=".config-", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, target)  # whole or not at all: the engine may read it any moment
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise SaveError(f"{target} cannot be written: {exc.strerror}") from None
    return target
