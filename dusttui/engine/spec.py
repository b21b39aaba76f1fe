"""The `.dust` specification: parser, per-block validation and `specification_hash`.

Mirrors Dust core: its pest grammar (implicit whitespace, one-line values of letters, digits and
`. _ , / -` and spaces, multi-line values between ``` lines), the field rules and error texts of
each `core/src/blocks/*.rs`, the structural checks of `core/src/app.rs` and its blake3 hash chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import blake3

from dusttui.engine.rustnum import parse_f32, parse_int, rust_to_string
from dusttui.engine.spec_syntax import RawBlock, Reader, SpecError, parse_syntax

__all__ = [
    "HOSTED_ONLY",
    "LOCAL_TYPES",
    "MAP_MAX_ITERATIONS",
    "WHILE_MAX_ITERATIONS",
    "Block",
    "Spec",
    "SpecError",
    "builder_blocks",
    "parse_spec",
    "read_spec_file",
    "specification_hash",
]

HOSTED_ONLY = frozenset({"search", "browser", "data_source", "database_schema", "database"})
LOCAL_TYPES = ("input", "data", "code", "llm", "chat", "map", "reduce", "while", "end", "curl")
MAP_MAX_ITERATIONS = 64
WHILE_MAX_ITERATIONS = 32  # exclusive bound, as core's `max_iterations >= 32` check

# Per type: field -> kind, in core's hash order (each `core/src/blocks/*.rs` `inner_hash`).
# `input` and `database_schema` ignore their body in core (their `parse` never reads it).
_FIELDS: dict[str, dict[str, str]] = {
    "input": {},
    "reduce": {},
    "end": {},
    "code": {"code": "text"},
    "data": {"dataset_id": "text", "hash": "text"},
    "map": {"from": "text", "repeat": "usize"},
    "while": {"condition_code": "text", "max_iterations": "usize"},
    "llm": {
        "few_shot_preprompt": "text",
        "few_shot_count": "usize",
        "few_shot_prompt": "text",
        "prompt": "text",
        "max_tokens": "i32",
        "temperature": "f32",
        "stop": "lines",
        "frequency_penalty": "f32",
        "presence_penalty": "f32",
        "top_p": "f32",
        "top_logprobs": "i32",
    },
    "chat": {
        "instructions": "text",
        "messages_code": "text",
        "functions_code": "text",
        "temperature": "f32",
        "top_p": "f32",
        "stop": "lines",
        "max_tokens": "i32",
        "presence_penalty": "f32",
        "frequency_penalty": "f32",
        "logprobs": "bool",
        "top_logprobs": "i32",
    },
    "curl": {"method": "text", "url": "text", "headers_code": "text", "body_code": "text"},
    # hosted-only blocks: parsed and hashed as core does, refused only when one would run
    "search": {"query": "text", "engine": "text", "num": "usize"},
    "browser": {
        "url": "text",
        "selector": "text",
        "timeout": "usize",
        "wait_until": "wait_until",
        "wait_for": "text",
    },
    "data_source": {"query": "text", "full_text": "full_text", "filter_code": "text"},
    "database_schema": {},
    "database": {"query": "text"},
}
_BODY_IGNORED = frozenset({"input", "database_schema"})
_REQUIRED: dict[str, tuple[str, ...]] = {
    "code": ("code",),
    "data": ("dataset_id", "hash"),
    "map": ("from",),
    "while": ("condition_code", "max_iterations"),
    "llm": ("max_tokens", "temperature"),
    "chat": ("temperature", "messages_code"),
    "curl": ("method", "url", "headers_code", "body_code"),
    "search": ("query",),
    "browser": ("url", "selector"),
    "data_source": ("query",),
    "database": ("query",),
}
# core names a missing `dataset_id` after the builder's old field: "Missing required `id`"
_MISSING_NAME = {("data", "dataset_id"): "id"}
# Values core hashes even when the spec leaves them out (its parse fills them in).
_HASH_DEFAULTS: dict[str, dict[str, Any]] = {
    "search": {"engine": "google"},
    "browser": {"timeout": 16000},
    "data_source": {"full_text": False},
}
_NOT_HASHED = {"data_source": frozenset({"filter_code"})}
# core's `database` block hashes under the tag "database_schema" (sic, core/src/blocks/database.rs)
_HASH_TAG = {"database": "database_schema"}
_WAIT_UNTIL = ("load", "domcontentloaded", "networkidle0", "networkidle2")
_EXPECTING = {
    "f32": "float",
    "i32": "integer",
    "usize": "unsigned integer",
    "bool": "boolean",
}


@dataclass(frozen=True)
class Block:
    """One parsed block: its type, name, validated field values (only those present) and place."""

    type: str
    name: str
    fields: dict[str, Any]
    line: int
    column: int = 1

    def get(self, key: str, default: Any = None) -> Any:
        """The value of field `key`, or `default` when the spec does not set it."""
        return self.fields.get(key, default)

    @property
    def hosted_only(self) -> bool:
        """True for the blocks only the hosted Dust service can run (search, data sources…)."""
        return self.type in HOSTED_ONLY

    @property
    def inner_hash(self) -> str:
        """core's `Block::inner_hash`: blake3 over the type tag and the field values in order."""
        h = blake3.blake3(_HASH_TAG.get(self.type, self.type).encode())
        defaults = _HASH_DEFAULTS.get(self.type, {})
        skipped = _NOT_HASHED.get(self.type, frozenset())
        for key in _FIELDS.get(self.type, {}):
            if key in skipped:
                continue
            value = self.fields.get(key, defaults.get(key))
            if value is None:
                continue
            for part in value if isinstance(value, list) else [value]:
                h.update(part.encode() if isinstance(part, str) else rust_to_string(part).encode())
        return h.hexdigest()


@dataclass(frozen=True)
class Spec:
    """A valid specification: its blocks in file order and its `specification_hash`."""

    blocks: tuple[Block, ...]
    hash: str

    def block(self, name: str) -> Block:
        """The first block named `name` (the `map`/`while` of a pair); KeyError if absent."""
        for b in self.blocks:
            if b.name == name:
                return b
        raise KeyError(name)

    @property
    def input_block(self) -> Block | None:
        """The `input` block, if the spec has one."""
        return next((b for b in self.blocks if b.type == "input"), None)

    @property
    def names(self) -> list[str]:
        """Distinct block names in file order (the keys a run's config may use)."""
        return list(dict.fromkeys(b.name for b in self.blocks))


def specification_hash(blocks: Any) -> str:
    """core's chain: h = hex(blake3(h_prev ‖ name ‖ inner_hash)) over blocks, from ""."""
    prev = ""
    for b in blocks:
        prev = blake3.blake3((prev + b.name + b.inner_hash).encode()).hexdigest()
    return prev


# ---------------------------------------------------------------------------------------------
# Per-block fields (core's `Block::parse`) and structure (core's `App::new`)


def _convert(kind: str, value: str) -> Any:
    """A field value as core's `parse` reads it (Rust's `str::parse`: no spaces, ASCII digits)."""
    if kind == "text":
        return value
    if kind == "lines":
        return value.split("\n")
    if kind in ("bool", "full_text"):
        return {"true": True, "false": False}.get(value)
    if kind == "wait_until":
        return value if value in _WAIT_UNTIL else None
    if kind == "f32":
        return parse_f32(value)
    return parse_int(value, signed=kind == "i32")


def _invalid(raw_type: str, key: str, kind: str) -> str:
    if kind == "full_text":
        return "Invalid value for `full_text`, must be `true` or `false`"
    if kind == "wait_until":
        return (
            "Invalid `wait_until` in `browser` block, expecting one of `load`, "
            "`domcontentloaded`, `networkidle0`, `networkidle2`"
        )
    return f"Invalid `{key}` in `{raw_type}` block, expecting {_EXPECTING[kind]}"


def _validate_block(r: Reader, raw: RawBlock) -> Block:
    line, col = r.where(raw.pos)
    here = {"line": line, "column": col}
    if raw.type not in _FIELDS:
        known = ", ".join((*LOCAL_TYPES, *sorted(HOSTED_ONLY)))
        raise SpecError(f"Unknown block type `{raw.type}` (one of: {known})", **here)
    kinds = _FIELDS[raw.type]
    values: dict[str, Any] = {}
    if raw.type not in _BODY_IGNORED:  # core's input and database_schema never read their body
        for pair in raw.pairs:
            try:
                text = pair.text()
            except SpecError as exc:
                raise r.error(exc.message, pair.end_pos) from None
            kind = kinds.get(pair.key)
            if kind is None:
                raise r.error(f"Unexpected `{pair.key}` in `{raw.type}` block", pair.key_pos)
            v = _convert(kind, text)
            if v is None:
                raise r.error(_invalid(raw.type, pair.key, kind), pair.value_pos)
            if raw.type == "map" and pair.key == "repeat" and v > MAP_MAX_ITERATIONS:
                raise r.error(
                    f"Map `repeat` exceeds maximum value ({MAP_MAX_ITERATIONS})", pair.value_pos
                )
            values[pair.key] = v
        if raw.expected_pos is not None:
            raise r.error(
                f"`expected` is not yet supported in `{raw.type}` block", raw.expected_pos
            )
    for key in _REQUIRED.get(raw.type, ()):
        if key not in values:
            name = _MISSING_NAME.get((raw.type, key), key)
            raise SpecError(f"Missing required `{name}` in `{raw.type}` block", **here)
    if raw.type == "while" and values["max_iterations"] >= WHILE_MAX_ITERATIONS:
        pos = next(p.value_pos for p in reversed(raw.pairs) if p.key == "max_iterations")
        raise r.error(f"`max_iterations` cannot be greater than {WHILE_MAX_ITERATIONS}", pos)
    ordered = {k: values[k] for k in kinds if k in values}
    return Block(raw.type, raw.name, ordered, line, col)


def _check_structure(blocks: list[Block]) -> None:
    current_map: str | None = None
    current_while: str | None = None
    has_input = False
    types_by_name: dict[str, set[str]] = {}

    def fail(b: Block, message: str) -> SpecError:
        return SpecError(message, b.line, b.column)

    for b in blocks:
        n = b.name
        if b.type == "input":
            if has_input:
                raise fail(b, f"Extraneous `input {n}` block, only one input block is allowed")
            for kind, loop in (("map", current_map), ("while", current_while)):
                if loop is not None:
                    raise fail(
                        b, f"Block `input {n}` is nested in `{kind} {loop}` which is invalid."
                    )
            has_input = True
        elif b.type in ("map", "while"):
            for kind, loop in (("map", current_map), ("while", current_while)):
                if loop is None:
                    continue
                if kind == b.type:
                    what = "maps are" if kind == "map" else "while are"
                    raise fail(
                        b,
                        f"Nested {what} not currently supported, "
                        f"found `{b.type} {n}` nested in `{kind} {loop}`",
                    )
                raise fail(
                    b,
                    "Nested maps and while blocks are not currently supported, "
                    f"found `{b.type} {n}` nested in `{kind} {loop}`",
                )
            if b.type == "map":
                current_map = n
            else:
                current_while = n
        elif b.type in ("reduce", "end"):
            opener = "map" if b.type == "reduce" else "while"
            loop = current_map if b.type == "reduce" else current_while
            if loop is None:
                raise fail(
                    b, f"Block `{b.type} {n}` is not matched by a previous `{opener} {n}` block"
                )
            if loop != n:
                raise fail(
                    b, f"Block `{b.type} {n}` does not match the current `{opener} {loop}` block"
                )
            if b.type == "reduce":
                current_map = None
            else:
                current_while = None

        seen = types_by_name.setdefault(n, set())
        pair_ok = (b.type == "end" and seen == {"while"}) or (
            b.type == "reduce" and seen == {"map"}
        )
        if seen and not pair_ok:
            raise fail(b, f"Found multiple blocks with the same name `{n}`.")
        seen.add(b.type)
    # core accepts a `map` without `reduce` or a `while` without `end`: the loop body runs to the
    # end of the app (a while then never loops again); so do we


def parse_spec(text: str) -> Spec:
    """Parse and validate a `.dust` specification; raises SpecError with a line and column."""
    r = Reader(text)
    raws = parse_syntax(text)
    blocks = [_validate_block(r, raw) for raw in raws]
    _check_structure(blocks)
    return Spec(tuple(blocks), specification_hash(blocks))


# ---------------------------------------------------------------------------------------------
# The Dust builder's block list (an App's `savedSpecification`, front's SpecificationType)

_ESCAPED = ("prompt", "few_shot_preprompt", "few_shot_prompt", "instructions", "messages_code")
_ESCAPED_MORE = ("functions_code", "condition_code")
_DEFAULT_CONFIG: dict[str, dict[str, Any]] = {
    "input": {"dataset": ""},
    "llm": {"provider_id": "", "model_id": "", "use_cache": True},
    "chat": {"provider_id": "", "model_id": "", "function_call": "", "use_cache": True},
    "curl": {"use_cache": True},
}


def _builder_spec(b: Block) -> dict[str, Any]:
    f = {
        k: v.replace("<DUST_TRIPLE_BACKTICKS>", "```") if k in _ESCAPED + _ESCAPED_MORE else v
        for k, v in b.fields.items()
    }
    if b.type == "data":
        # `hash` is ours (front keeps the latest dataset hashes apart): `dusttui pull` needs it.
        return {"dataset": f["dataset_id"], "hash": f["hash"]}
    if b.type == "map":
        return {"from": f["from"], "repeat": str(f.get("repeat", ""))}
    if b.type == "while":
        return {"condition_code": f["condition_code"], "max_iterations": str(f["max_iterations"])}
    if b.type == "curl":
        scheme, sep, rest = f["url"].partition("://")
        url = {"scheme": scheme, "url": rest} if sep else {"scheme": "https", "url": f["url"]}
        return {
            "scheme": url["scheme"],
            "method": f["method"],
            "url": url["url"],
            "headers_code": f["headers_code"],
            "body_code": f["body_code"],
        }
    if b.type == "llm":
        base = {
            "temperature": f["temperature"],
            "max_tokens": f["max_tokens"],
            "few_shot_preprompt": "",
            "few_shot_count": 0,
            "few_shot_prompt": "",
            "prompt": "",
            "stop": [],
        }
        return base | f
    if b.type == "chat":
        base = {
            "temperature": f["temperature"],
            "instructions": "",
            "max_tokens": "",
            "stop": [],
            "messages_code": f["messages_code"],
            "functions_code": "",
        }
        return base | f
    return f


def builder_blocks(spec: Spec, config: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The Dust builder's view of `spec`: `[{type, name, indent, spec, config}]` in file order.

    `config` is a run config (`{BLOCK_NAME: {...}}`); each block's entry is laid over the
    builder's defaults for its type (a `reduce` or `end` keeps an empty config).
    """
    config = config or {}
    out: list[dict[str, Any]] = []
    indent = 0
    for b in spec.blocks:
        if b.type in ("reduce", "end"):
            indent -= 1
        cfg = dict(_DEFAULT_CONFIG.get(b.type, {}))
        if b.type not in ("reduce", "end") and isinstance(config.get(b.name), dict):
            cfg |= config[b.name]
        out.append(
            {
                "type": b.type,
                "name": b.name,
                "indent": indent,
                "spec": _builder_spec(b),
                "config": cfg,
            }
        )
        if b.type in ("map", "while"):
            indent += 1
    return out


def read_spec_file(path: str | Path) -> str:
    """A `.dust` file's text exactly as written (UTF-8, CR kept: core hashes the bytes it gets).

    `Path.read_text` would turn CR LF into LF and change the hash of a multi-line value holding a
    CR; a leading byte-order mark (an editor's, never part of a spec) is dropped.
    """
    return Path(path).read_bytes().decode("utf-8").removeprefix("\ufeff")
