"""Filling a block's text fields from the run state: Tera templates, then `${BLOCK.key}`.

The rendering itself is :mod:`dusttui.engine.templates` (core's `replace_variables_in_string`);
this module turns its errors into execution errors and builds the llm block's few-shot examples.
"""

from __future__ import annotations

import re
from typing import Any

from dusttui.engine import templates
from dusttui.engine.blocks.base import BlockCall, BlockError

VARIABLE_RE = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)\.(?P<key>[a-zA-Z0-9_\.]+)\}")


async def render_field(call: BlockCall, text: str, field: str) -> str:
    """`text` with templates rendered and `${BLOCK.key}` replaced (core's errors)."""
    try:
        rendered: str = await call.run.ctx.template_renderer().render(text, call.env.state, field)
    except templates.TemplateError as exc:
        raise BlockError(exc.message) from None
    return rendered


async def render_url(call: BlockCall, text: str) -> tuple[str, str]:
    """A curl URL rendered once: (with secrets, as shown in errors: `${secrets.NAME}` kept)."""
    ctx = call.run.ctx
    try:
        url, shown = await ctx.template_renderer().render_url(text, call.env.state, ctx.secrets)
    except templates.TemplateError as exc:
        raise BlockError(exc.message) from None
    return str(url), str(shown)


def few_shot_texts(text: str, state: dict[str, Any]) -> list[str]:
    """The few-shot examples of an llm block: `text` filled from each element of one block's array."""
    variables = [(m["name"], m["key"]) for m in VARIABLE_RE.finditer(text)]
    if not variables:
        raise BlockError(
            "`few_shot_prompt` must contain variables refering to a block output (${BLOCK.key})"
        )
    name = variables[0][0]
    for other, _ in variables:
        if other != name:
            raise BlockError(
                f"Variables in `few_shot_prompt` must refer to the same block (`{other}` != `{name}`)"
            )
    if name not in state:
        raise BlockError(f"Block `{name}` output not found")
    output = state[name]
    if not isinstance(output, list):
        raise BlockError(
            f"Block `{name}` output is not an array, the block output referred in "
            "`few_shot_prompt` must be an array"
        )
    if any(not isinstance(o, dict) for o in output):
        raise BlockError(
            f"Block `{name}` output elements are not objects, the block output referred in "
            "`few_shot_prompt` must be an array of objects"
        )
    for _, key in variables:
        if output and key not in output[0]:
            raise BlockError(f"Key `{key}` is not present in block `{name}` output objects")
        if output and not isinstance(output[0][key], str):
            raise BlockError(f"`{name}.{key}` is not a string")
    texts = []
    for o in output:
        filled = text
        for n, key in variables:
            value = o.get(key)
            filled = filled.replace(f"${{{n}.{key}}}", value if isinstance(value, str) else "")
        texts.append(filled)
    return texts
