"""Filling a block's text fields from the run state: Tera-like templates, then `${BLOCK.key}`.

Mirrors core's `replace_variables_in_string`: the `${BLOCK.key}` references are found in the raw
text, the template engine runs, then each reference is replaced by the (string) value it names.
"""

from __future__ import annotations

import re
from typing import Any

from dusttui.engine.blocks.base import BlockError

VARIABLE_RE = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)\.(?P<key>[a-zA-Z0-9_\.]+)\}")
SECRET_RE = re.compile(r"\$\{secrets\.(?P<name>[a-zA-Z0-9_\.]+)\}")


def _template(text: str, field: str, state: dict[str, Any]) -> str:
    from dusttui.engine.templates import TemplateError, render

    try:
        return render(text, state)
    except TemplateError as exc:
        message = str(exc)
        if not message.startswith("Templating error"):
            message = f"Templating error: {message}"
        raise BlockError(message.replace("__tera_one_off", field)) from None


def render_field(text: str, field: str, state: dict[str, Any]) -> str:
    """`text` with templates rendered and `${BLOCK.key}` replaced (core's errors)."""
    variables = [(m["name"], m["key"]) for m in VARIABLE_RE.finditer(text)]
    result = _template(text, field, state)
    for name, key in variables:
        if name not in state:
            raise BlockError(f"Block `{name}` output not found")
        output = state[name]
        if not isinstance(output, dict):
            raise BlockError(
                f"Block `{name}` output is not an object, the output of `{name}` referred to "
                f"as a variable in `{field}` must be an object"
            )
        if key not in output:
            raise BlockError(f"Key `{key}` is not present in block `{name}` output")
        if not isinstance(output[key], str):
            raise BlockError(f"`{name}.{key}` is not a string")
        result = result.replace(f"${{{name}.{key}}}", output[key])
    return result


def render_secrets(text: str, field: str, state: dict[str, Any], secrets: dict[str, str]) -> str:
    """`text` with templates rendered and `${secrets.NAME}` replaced by the secret's value."""
    names = [m["name"] for m in SECRET_RE.finditer(text)]
    result = _template(text, field, state)
    for name in names:
        if name not in secrets:
            raise BlockError(f"`secrets.{name}` is not a string")
        result = result.replace(f"${{secrets.{name}}}", secrets[name])
    return result


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
