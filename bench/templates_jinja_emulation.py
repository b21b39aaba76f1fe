"""FROZEN COPY for bench/engine_templates.py: the Jinja2 emulation the engine used before it rendered
with Tera itself (dusttui/engine/templates.py until this change). Not used by the engine.

Templates in `prompt`, `instructions`, `url`, `query`, as Dust core renders them.

core first renders the text with Tera over `env.state` (`{{ BLOCK.key }}`, `{% for %}` …), then
replaces the older `${BLOCK.key}` variables (found in the original text) with string outputs.
Tera is close to Jinja2: this module uses Jinja2's sandbox and bends it towards Tera where it
shows: an undefined variable is an error naming it (falsy in an `if`), `{{ }}` prints values as
Tera does (`true`, nothing for null, `[a, b]`, `[object]`), the trailing newline is kept, and
the common filters take Tera's named arguments (`join(sep=", ")`, `truncate(length=10)` …).
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Any, NoReturn

import jinja2
from jinja2.sandbox import SandboxedEnvironment

_VARIABLE = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)\.(?P<key>[a-zA-Z0-9_.]+)\}")
_SECRET = re.compile(r"\$\{secrets\.(?P<name>[a-zA-Z0-9_.]+)\}")


class TemplateError(ValueError):
    """A template could not be rendered; the message reads like Dust core's."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


class _Missing(Exception):
    """Raised by an undefined value when used: the base it hangs from (if any) and the path."""

    def __init__(self, base: Any, path: str):
        self.base = base
        self.path = path
        super().__init__(path)


class _Undefined(jinja2.Undefined):
    """Tera's undefined: an error naming the whole path when used, false in a condition."""

    __slots__ = ()

    def _fail_with_undefined_error(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise _Missing(self._undefined_obj, str(self._undefined_name))

    def __getattr__(self, name: str) -> Any:
        if name[:2] == "__":
            raise AttributeError(name)
        return _Undefined(obj=self._undefined_obj, name=f"{self._undefined_name}.{name}")

    def __getitem__(self, key: Any) -> Any:
        return self.__getattr__(str(key))

    def __bool__(self) -> bool:
        return False


# jinja2.Undefined binds its operators to its own failure function: point them at ours
for _op in (
    "__str__ __iter__ __len__ __eq__ __ne__ __hash__ __call__ __lt__ __le__ __gt__ __ge__ "
    "__int__ __float__ __complex__ __pow__ __rpow__ __add__ __radd__ __sub__ __rsub__ __mul__ "
    "__rmul__ __truediv__ __rtruediv__ __floordiv__ __rfloordiv__ __mod__ __rmod__ __pos__ __neg__"
).split():
    setattr(_Undefined, _op, _Undefined._fail_with_undefined_error)


def _tera_str(value: Any) -> str:
    """How Tera prints a JSON value in `{{ }}`."""
    if isinstance(value, _Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "inf" if value > 0 else ("-inf" if value < 0 else "NaN")
        return format(Decimal(repr(value)).normalize(), "f")  # Rust f64 Display: no exponent
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_tera_str(v) for v in value) + "]"
    if isinstance(value, dict):
        return "[object]"
    return str(value)


def _join(value: Any, sep: str = "", d: str | None = None) -> str:
    return (sep if d is None else d).join(_tera_str(v) for v in value)


def _truncate(value: str, length: int = 255, end: str = "…", **_: Any) -> str:
    return value if len(value) <= length else value[:length] + end


def _replace(value: str, from_: str | None = None, to: str = "", **kw: Any) -> str:
    return value.replace(kw.get("from", from_ or ""), to)


def _split(value: str, pat: str = " ") -> list[str]:
    return value.split(pat)


def _json_encode(value: Any, pretty: bool = False) -> str:
    if pretty:
        return json.dumps(value, indent=2, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _nth(value: Any, n: int = 0) -> Any:
    return value[n] if -len(value) <= n < len(value) else None


def _get(value: dict[str, Any], key: str, default: Any = None) -> Any:
    if key not in value and default is None:
        raise _Missing(value, key)
    return value.get(key, default)


def _slice(value: Any, start: int | None = None, end: int | None = None) -> Any:
    return value[start:end]


def _default(v: Any, value: Any = "") -> Any:
    return value if isinstance(v, jinja2.Undefined) else v


class _TeraEnvironment(SandboxedEnvironment):
    """`a.b` reads key `b` of a JSON object (Tera has no methods: `x.items` is a key)."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, dict):
            if attribute in obj:
                return obj[attribute]
            return self.undefined(obj=obj, name=attribute)
        if isinstance(obj, (list, str)):
            return (
                self.getitem(obj, attribute)
                if attribute.isdigit()
                else self.undefined(obj=obj, name=attribute)
            )
        return super().getattr(obj, attribute)


def _environment() -> SandboxedEnvironment:
    env = _TeraEnvironment(
        undefined=_Undefined,
        autoescape=False,
        keep_trailing_newline=True,
        finalize=_tera_str,
    )
    env.filters.update(
        join=_join,
        truncate=_truncate,
        replace=_replace,
        split=_split,
        json_encode=_json_encode,
        nth=_nth,
        get=_get,
        slice=_slice,
        default=_default,
    )
    env.tests.update(
        containing=lambda v, x: x in v,
        starting_with=lambda v, x: str(v).startswith(x),
        ending_with=lambda v, x: str(v).endswith(x),
        matching=lambda v, x: re.search(x, str(v)) is not None,
        object=lambda v: isinstance(v, dict),
        iterable=lambda v: isinstance(v, (list, dict, str)),
    )
    return env


_ENV = _environment()


def _where(node: Any, target: Any, path: str, depth: int = 0) -> str | None:
    if node is target:
        return path
    if depth > 8:
        return None
    children = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for k, v in children:
        if isinstance(v, (dict, list, str)):
            found = _where(v, target, f"{path}.{k}", depth + 1)
            if found is not None:
                return found
    return None


def _missing_name(state: dict[str, Any], e: _Missing) -> str:
    # an undefined key of a defined value: name that value by where it sits in the state
    if e.base is jinja2.utils.missing:
        return e.path
    for name, value in state.items():
        found = _where(value, e.base, name)
        if found is not None:
            return f"{found}.{e.path}"
    return e.path


def _tera(template: str, state: dict[str, Any], field: str) -> str:
    try:
        return _ENV.from_string(template).render(state)
    except _Missing as e:
        name = _missing_name(state, e)
        raise TemplateError(
            f"Templating error: Variable `{name}` not found in context while rendering '{field}'"
        ) from None
    except jinja2.TemplateSyntaxError as e:
        raise TemplateError(
            f"Templating error: {e.message} (line {e.lineno} of '{field}')"
        ) from None
    except (jinja2.TemplateError, TypeError, ValueError, KeyError, IndexError) as e:
        raise TemplateError(f"Templating error: {e} while rendering '{field}'") from None


def render(template: str, state: dict[str, Any], field: str = "prompt") -> str:
    """Render `template` over `state` (block name → output) like core; raises TemplateError."""
    variables = [(m["name"], m["key"]) for m in _VARIABLE.finditer(template)]
    result = _tera(template, state, field)
    for name, key in variables:
        if name not in state:
            raise TemplateError(f"Block `{name}` output not found")
        output = state[name]
        if not isinstance(output, dict):
            raise TemplateError(
                f"Block `{name}` output is not an object, the output of `{name}` referred to "
                f"as a variable in `{field}` must be an object"
            )
        if key not in output:
            raise TemplateError(f"Key `{key}` is not present in block `{name}` output")
        if not isinstance(output[key], str):
            raise TemplateError(f"`{name}.{key}` is not a string")
        result = result.replace(f"${{{name}.{key}}}", output[key])
    return result


def render_secrets(
    template: str, state: dict[str, Any], secrets: dict[str, str], field: str = "url"
) -> str:
    """core's second pass on a curl `url`: Tera again, then `${secrets.NAME}` replaced."""
    names = [m["name"] for m in _SECRET.finditer(template)]
    result = _tera(template, state, field)
    for name in names:
        if not isinstance(secrets.get(name), str):
            raise TemplateError(f"`secrets.{name}` is not a string")
        result = result.replace(f"${{secrets.{name}}}", secrets[name])
    return result
