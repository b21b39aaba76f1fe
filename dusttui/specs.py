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
from dusttui.builderspec import BuilderSpecError, dump_specification


def dust_text_of_builder_blocks(blocks: list[dict[str, Any]]) -> str | None:
    """``.dust`` text of a builder block list (front's ``dumpSpecification``, see
    :mod:`dusttui.builderspec`), or None when it cannot be written with its real hashes."""
    try:
        dumped = dump_specification(blocks)
    except BuilderSpecError:
        return None
    return None if dumped.unknown_datasets else dumped.text


def dust_text_hash(text: str) -> str:
    """The specification_hash of ``.dust`` text; ValueError with the parser's message."""
    from dusttui.engine.spec import SpecError, parse_spec

    try:
        return parse_spec(text).hash
    except SpecError as exc:
        raise ValueError(str(exc)) from None


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
    try:
        return dust_text_hash(text)
    except ValueError:
        return None
