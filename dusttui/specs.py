"""The hash of an app's saved specification, as the Dust builder would register it.

An App lists its specification as the builder's JSON block list (``savedSpecification``), not as
``.dust`` text and not with its hash. To run "the saved version" we write that list back as
``.dust`` text the way the builder does, and hash it with the engine's parser. Apps whose
specification uses blocks that only the hosted service knows, or datasets (whose latest hash the
public API does not give), cannot be hashed here: callers then fall back to ``latest``.
"""

from __future__ import annotations

import json
from typing import Any

from dusttui.api.models import App

FENCE = "```"


def _fenced(key: str, text: Any) -> str:
    body = str(text).replace(FENCE, "<DUST_TRIPLE_BACKTICKS>")
    return f"  {key}: \n{FENCE}\n{body}\n{FENCE}\n"


def _line(key: str, value: Any) -> str:
    return f"  {key}: {value}\n"


def _block_body(kind: str, spec: dict[str, Any]) -> str | None:
    """The inside of one block, or None when this block cannot be written locally."""
    out = ""
    if kind in ("input", "reduce", "end"):
        return None  # written as `TYPE NAME { }`
    if kind == "code":
        return _fenced("code", spec.get("code", ""))
    if kind == "map":
        out += _line("from", spec.get("from", ""))
        if str(spec.get("repeat") or ""):
            out += _line("repeat", spec["repeat"])
        return out
    if kind == "while":
        out += _fenced("condition_code", spec.get("condition_code", ""))
        if str(spec.get("max_iterations") or ""):
            out += _line("max_iterations", spec["max_iterations"])
        return out
    if kind in ("llm", "chat"):
        out += _line("temperature", spec.get("temperature", 0))
        if spec.get("max_tokens"):
            out += _line("max_tokens", spec["max_tokens"])
        if spec.get("stop"):
            out += "  stop: \n" + FENCE + "\n" + "\n".join(spec["stop"]) + "\n" + FENCE + "\n"
        numeric = (
            ("frequency_penalty", "presence_penalty", "top_p", "top_logprobs")
            if kind == "llm"
            else ("top_p", "presence_penalty", "frequency_penalty")
        )
        for key in numeric:
            if spec.get(key):
                out += _line(key, spec[key])
        if kind == "llm":
            for key in ("few_shot_preprompt", "few_shot_count", "few_shot_prompt", "prompt"):
                if spec.get(key):
                    out += (
                        _line(key, spec[key])
                        if key == "few_shot_count"
                        else _fenced(key, spec[key])
                    )
            return out
        if spec.get("instructions"):
            out += _fenced("instructions", spec["instructions"])
        if spec.get("logprobs"):
            out += _line("logprobs", "true")
        if spec.get("top_logprobs"):
            out += _line("top_logprobs", spec["top_logprobs"])
        out += _fenced("messages_code", spec.get("messages_code", ""))
        if spec.get("functions_code"):
            out += _fenced("functions_code", spec["functions_code"])
        return out
    if kind == "curl":
        out += _line("method", spec.get("method", "GET"))
        out += _fenced("url", f"{spec.get('scheme', 'https')}://{spec.get('url', '')}")
        out += _fenced("headers_code", spec.get("headers_code", ""))
        out += _fenced("body_code", spec.get("body_code", ""))
        return out
    raise ValueError(kind)  # data (needs the dataset's hash) or a hosted-only block


def dust_text_of_builder_blocks(blocks: list[dict[str, Any]]) -> str | None:
    """``.dust`` text of a builder block list, or None if it holds a block we cannot write."""
    parts = []
    for block in blocks:
        kind, name = block.get("type"), block.get("name")
        if not isinstance(kind, str) or not isinstance(name, str):
            return None
        try:
            body = _block_body(kind, block.get("spec") or {})
        except ValueError:
            return None
        parts.append(f"{kind} {name} {{ }}\n" if body is None else f"{kind} {name} {{\n{body}}}\n")
    return "\n".join(parts)


def engine_extension(app: App) -> dict[str, Any]:
    """The local engine's extension of an App (its hash, sample inputs…), or {} elsewhere."""
    extra = (app.model_extra or {}).get("dusttui")
    return extra if isinstance(extra, dict) else {}


def sample_inputs(app: App) -> list[Any] | None:
    """The sample inputs the local engine ships with an app (None on other servers)."""
    sample = engine_extension(app).get("sampleInputs")
    return sample if isinstance(sample, list) and sample else None


def saved_specification_hash(app: App) -> str | None:
    """The specification_hash of ``app.savedSpecification``, or None when it cannot be known."""
    known = engine_extension(app).get("specificationHash")
    if isinstance(known, str) and known:
        return known
    if not app.savedSpecification:
        return None
    try:
        blocks = json.loads(app.savedSpecification)
    except json.JSONDecodeError:
        return None
    if not isinstance(blocks, list):
        return None
    text = dust_text_of_builder_blocks(blocks)
    if text is None:
        return None
    from dusttui.engine.spec import SpecError, parse_spec

    try:
        return parse_spec(text).hash
    except SpecError:
        return None
