"""`messages_code` output read as core reads it: serde into `Vec<ChatMessage>`.

core/src/blocks/chat.rs deserializes the array with `serde_json::from_value` into
core/src/providers/chat_messages.rs `ChatMessage` (dispatched on `role`: assistant, function,
user, system). A failure is the execution's error, with serde's own text ("missing field
`content`", "unknown field `foo`, expected `content` or `role`", "Invalid role: tool"…).

serde_json's `Value` objects are sorted maps, so fields are visited in key order: the first bad
key in that order is the one reported; missing fields are checked afterwards, in declaration
order. The messages come back normalized as core would send them on (`None` fields dropped where
core skips them, unknown assistant fields gone).
"""

from __future__ import annotations

from typing import Any


class SerdeError(ValueError):
    """A deserialization failure; `str()` is serde's message."""


def _unexpected(value: Any) -> str:
    """serde's `Unexpected` display for a JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean `{'true' if value else 'false'}`"
    if isinstance(value, int):
        return f"integer `{value}`"
    if isinstance(value, float):
        text = repr(value)
        return f"floating point `{text if ('.' in text or 'e' in text) else text + '.0'}`"
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'string "{escaped}"'
    if isinstance(value, list):
        return "sequence"
    return "map"


def _invalid_type(value: Any, expected: str) -> SerdeError:
    return SerdeError(f"invalid type: {_unexpected(value)}, expected {expected}")


def _expected_fields(fields: tuple[str, ...]) -> str:
    """serde's list of known fields in an `unknown field` error."""
    if len(fields) == 1:
        return f"`{fields[0]}`"
    if len(fields) == 2:
        return f"`{fields[0]}` or `{fields[1]}`"
    return "one of " + ", ".join(f"`{f}`" for f in fields)


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise _invalid_type(value, "a string")
    return value


def _opt_string(value: Any) -> str | None:
    return None if value is None else _string(value)


def _struct(
    value: Any,
    name: str,
    fields: dict[str, Any],
    *,
    deny_unknown: bool,
    optional: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """serde_derive's struct visitor over a JSON object: `fields` maps each field to its reader."""
    if not isinstance(value, dict):
        raise _invalid_type(value, f"struct {name}")
    out: dict[str, Any] = {}
    for key in sorted(value):  # serde_json's Map is a BTreeMap: keys come sorted
        reader = fields.get(key)
        if reader is None:
            if deny_unknown:
                raise SerdeError(
                    f"unknown field `{key}`, expected {_expected_fields(tuple(fields))}"
                )
            continue
        out[key] = reader(value[key])
    for key in fields:
        if key not in out:
            if key in optional:
                out[key] = None
            else:
                raise SerdeError(f"missing field `{key}`")
    return out


def _role(value: Any) -> str:
    roles = ("system", "user", "assistant", "function")
    if not isinstance(value, str):
        raise _invalid_type(value, "string or map")
    if value not in roles:
        raise SerdeError(
            f"unknown variant `{value}`, expected one of " + ", ".join(f"`{r}`" for r in roles)
        )
    return value


def _function_call(value: Any) -> dict[str, Any]:
    return _struct(
        value,
        "ChatFunctionCall",
        {"arguments": _string, "id": _string, "name": _string},
        deny_unknown=False,
    )


def _function_calls(value: Any) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise _invalid_type(value, "a sequence")
    return [_function_call(v) for v in value]


def _mixed(value: Any) -> dict[str, Any]:
    """One `MixedContent` (untagged: a text part or an image part), or SerdeError."""
    if (
        isinstance(value, dict)
        and value.get("type") == "text"
        and isinstance(value.get("text"), str)
    ):
        return {"type": "text", "text": value["text"]}
    if (
        isinstance(value, dict)
        and value.get("type") == "image_url"
        and isinstance(value.get("image_url"), dict)
        and isinstance(value["image_url"].get("url"), str)
    ):
        return {"type": "image_url", "image_url": {"url": value["image_url"]["url"]}}
    raise SerdeError("data did not match any variant of untagged enum MixedContent")


def _content_block(value: Any) -> str | list[dict[str, Any]]:
    """`ContentBlock`, untagged: a string or an array of text/image parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        try:
            return [_mixed(v) for v in value]
        except SerdeError:
            pass
    raise SerdeError("data did not match any variant of untagged enum ContentBlock")


def _content_items(value: Any) -> list[dict[str, Any]] | None:
    """`Option<Vec<AssistantContentItem>>`, internally tagged by `type`."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise _invalid_type(value, "a sequence")
    variants = ("text_content", "function_call", "reasoning")
    items = []
    for item in value:
        if not isinstance(item, dict):
            raise _invalid_type(item, "internally tagged enum AssistantContentItem")
        if "type" not in item:
            raise SerdeError("missing field `type`")
        kind = item["type"]
        if kind not in variants:
            raise SerdeError(
                f"unknown variant `{kind}`, expected one of "
                + ", ".join(f"`{v}`" for v in variants)
            )
        if "value" not in item:
            raise SerdeError("missing field `value`")
        if kind == "text_content":
            inner: Any = _string(item["value"])
        elif kind == "function_call":
            inner = _function_call(item["value"])
        else:
            inner = _struct(
                item["value"],
                "ReasoningContent",
                {"metadata": _string, "reasoning": _opt_string, "region": _opt_string},
                deny_unknown=False,
                optional=frozenset({"reasoning", "region"}),
            )
            inner = {k: v for k, v in inner.items() if v is not None}
        items.append({"type": kind, "value": inner})
    return items


def _assistant(value: dict[str, Any]) -> dict[str, Any]:
    fields = {
        "content": _opt_string,
        "contents": _content_items,
        "function_call": lambda v: None if v is None else _function_call(v),
        "function_calls": _function_calls,
        "name": _opt_string,
        "role": _role,
    }
    msg = _struct(
        value,
        "AssistantChatMessage",
        fields,
        deny_unknown=False,
        optional=frozenset(fields) - {"role"},
    )
    return {k: v for k, v in msg.items() if v is not None}  # core skips None when serializing


def _user(value: dict[str, Any]) -> dict[str, Any]:
    msg = _struct(
        value,
        "UserChatMessage",
        {"content": _content_block, "name": _opt_string, "role": _role},
        deny_unknown=True,
        optional=frozenset({"name"}),
    )
    return {k: v for k, v in msg.items() if v is not None}


def _function(value: dict[str, Any]) -> dict[str, Any]:
    msg = _struct(
        value,
        "FunctionChatMessage",
        {
            "content": _content_block,
            "function_call_id": _string,
            "name": _opt_string,
            "role": _role,
        },
        deny_unknown=True,
        optional=frozenset({"name"}),
    )
    return {k: v for k, v in msg.items() if v is not None}


def _system(value: dict[str, Any]) -> dict[str, Any]:
    return _struct(
        value,
        "SystemChatMessage",
        {"content": _string, "role": _role},
        deny_unknown=True,
    )


_BY_ROLE = {"assistant": _assistant, "function": _function, "user": _user, "system": _system}


def chat_message(value: Any) -> dict[str, Any]:
    """One `ChatMessage`: dispatched on a string `role` (core's custom `Deserialize`)."""
    role = value.get("role") if isinstance(value, dict) else None
    if not isinstance(role, str):
        raise SerdeError("role field missing")
    reader = _BY_ROLE.get(role)
    if reader is None:
        raise SerdeError(f"Invalid role: {role}")
    return reader(value)


def chat_messages(values: list[Any]) -> list[dict[str, Any]]:
    """`Vec<ChatMessage>` from an array: the first failing element's serde error is raised."""
    return [chat_message(v) for v in values]
