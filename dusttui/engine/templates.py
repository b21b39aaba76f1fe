"""Templates in `prompt`, `instructions`, `url`, `query`, rendered by Tera itself, as core does.

core (core/src/blocks/block.rs `replace_variables_in_string`) finds the `${BLOCK.key}` variables
of the text, renders it with `Tera::one_off(text, &state, false)` (tera 1.20), then replaces each
variable with that block output's string. Here Tera is the `pytera` binding of tera 1.20.0:

- a text without `{{`, `{%`, `{#` is not rendered at all (Tera would give it back unchanged);
- a text of plain `{{ BLOCK.key.0 }}` paths renders in-process (the values looked up first, its
  size known before it is built);
- anything else (loops, filters, functions, macros) renders in a worker process with a time, an
  output and a memory limit (:mod:`dusttui.engine.template_pool`), never on the event loop.

The `${…}` variables (and a curl URL's `${secrets.NAME}`) are taken from the text as written and
stand in Tera's input as random markers, so a value that happens to hold `${secrets.KEY}` or
`{{ … }}` stays data: it is never rendered or substituted (core renders a URL twice and
substitutes anywhere, so input data could reach a secret; see docs/fidelity.md).
"""

from __future__ import annotations

import asyncio
import atexit
import os
import re
import secrets as _secrets
import shutil
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from dusttui.engine.template_pool import RenderFailure, TemplateLimits, TemplatePool
from dusttui.engine.template_worker import render_error

__all__ = ["TemplateError", "TemplateLimits", "TemplateRenderer"]

_VARIABLE = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)\.(?P<key>[a-zA-Z0-9_.]+)\}")
_SECRET = re.compile(r"\$\{secrets\.(?P<name>[a-zA-Z0-9_.]+)\}")
_TERA = re.compile(r"\{\{|\{%|\{#")
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_PATH_EXPR = re.compile(rf"\{{\{{\s*({_IDENT}(?:\.(?:{_IDENT}|[0-9]+))*)\s*\}}\}}")
_WORD = re.compile(_IDENT)
# names a path cannot start with in the fast path (Tera literals, operators, its own variables)
_RESERVED = frozenset(
    "true false True False and or not in is loop self super __tera_context".split()
)
_INLINE_CHARS = 256 * 1024  # fast-path outputs above this render in a thread


class TemplateError(ValueError):
    """A template could not be rendered; the message reads like Dust core's."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class _Compiled:
    """A template text prepared once: markers for its `${…}`, and how it renders."""

    text: str  # as written
    tera: str  # what Tera gets: each `${…}` replaced by its marker
    variables: tuple[tuple[str, str, str], ...]  # (block, key, marker) in order of appearance
    secrets: tuple[tuple[str, str], ...]  # (name, marker)
    plain: bool  # no Tera syntax: the output is `tera` itself
    paths: tuple[tuple[str, ...], ...] | None  # the fast path's `{{ a.b }}` paths, else None
    fast: str | None  # the fast path's template: each path replaced by `{{ __dusttui_vN }}`
    names: frozenset[str]  # words of the text (the state entries Tera could read)
    whole_context: bool  # uses `__tera_context`: Tera needs the whole state


@lru_cache(maxsize=1024)
def _compile(text: str) -> _Compiled:
    token = _secrets.token_hex(12)  # per text and process: input data cannot guess it
    markers: dict[str, str] = {}

    def marker(found: str) -> str:
        return markers.setdefault(found, f"${{~{token}{len(markers)}~}}")

    variables = tuple((m["name"], m["key"], marker(m[0])) for m in _VARIABLE.finditer(text))
    secret_refs = tuple((m["name"], marker(m[0])) for m in _SECRET.finditer(text))
    tera = text
    for found, mark in markers.items():
        tera = tera.replace(found, mark)
    plain = _TERA.search(tera) is None
    paths: list[tuple[str, ...]] = []
    fast_parts: list[str] = []
    fast: str | None = None
    if not plain:
        pos = 0
        for m in _TERA.finditer(tera):
            if m.start() < pos:
                continue
            expr = _PATH_EXPR.match(tera, m.start())
            path = tuple(expr[1].split(".")) if expr else ()
            if not path or path[0] in _RESERVED:
                fast_parts = []
                break
            fast_parts += [tera[pos : m.start()], f"{{{{ __dusttui_v{len(paths)} }}}}"]
            paths.append(path)
            pos = expr.end() if expr else pos
        if fast_parts:
            fast = "".join([*fast_parts, tera[pos:]])
    return _Compiled(
        text=text,
        tera=tera,
        variables=variables,
        secrets=secret_refs,
        plain=plain,
        paths=tuple(paths) if fast is not None else None,
        fast=fast,
        names=frozenset(_WORD.findall(tera)),
        whole_context="__tera_context" in tera,
    )


def _lookup(state: dict[str, Any], path: tuple[str, ...]) -> tuple[bool, Any]:
    """Tera's path lookup: object keys, array indexes; (False, None) when it does not resolve."""
    if path[0] not in state:
        return False, None
    value = state[path[0]]
    for part in path[1:]:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return False, None
    return True, value


def _printed(value: Any, budget: int) -> int:
    """An upper bound of Tera's printed length of `value`, stopping once over `budget`."""
    total, stack = 0, [value]
    while stack and total <= budget:  # iterative: a deeply nested value costs no recursion
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, float):
            total += len(format(Decimal(repr(item)), "f")) + 1 if item == item else 3
        elif isinstance(item, list):
            total += 2 + 2 * len(item)  # brackets and ", " separators
            stack.extend(item)
        else:
            total += 32  # null, booleans, integers, "[object]"
    return total


_local_dir: str | None = None
_local: dict[str, Any] = {}  # fast template -> its in-process pytera instance


def _local_tera(template: str) -> Any:
    """The in-process pytera instance of a fast-path template (path lookups only: no loops)."""
    global _local_dir
    tera = _local.get(template)
    if tera is None:
        from pytera import PyTera  # type: ignore[import-untyped, unused-ignore]

        if _local_dir is None:
            _local_dir = tempfile.mkdtemp(prefix="dusttui-tera-")
            atexit.register(shutil.rmtree, _local_dir, True)
        folder = os.path.join(_local_dir, str(len(_local)))
        os.mkdir(folder)
        with open(os.path.join(folder, "__tera_one_off"), "w", encoding="utf-8") as f:
            f.write(template)
        tera = PyTera(folder + "/*")
        if len(_local) < 4096:  # a bound for engines that see endless distinct templates
            _local[template] = tera
    return tera


class TemplateRenderer:
    """Renders block fields as core does, within :class:`TemplateLimits`."""

    def __init__(self, limits: TemplateLimits | None = None) -> None:
        self.limits = limits or TemplateLimits()
        self.pool = TemplatePool(self.limits)

    async def render(self, text: str, state: dict[str, Any], field: str = "prompt") -> str:
        """`text` rendered over `state` (block name → output); TemplateError with core's text."""
        compiled = _compile(text)
        out = await self._tera(compiled, state, field)
        return self._variables(compiled, out, state, field)

    async def render_url(
        self, text: str, state: dict[str, Any], secrets: dict[str, str]
    ) -> tuple[str, str]:
        """A curl URL: (the URL with secrets, the URL shown in errors with `${secrets.…}` kept).

        Rendered once: only the `${secrets.NAME}` written in the spec's URL become secrets.
        """
        compiled = _compile(text)
        out = self._variables(compiled, await self._tera(compiled, state, "url"), state, "url")
        url = shown = out
        for name, mark in compiled.secrets:
            value = secrets.get(name)
            if not isinstance(value, str):
                raise TemplateError(f"`secrets.{name}` is not a string")
            url = url.replace(mark, value)
            shown = shown.replace(mark, f"${{secrets.{name}}}")
        return url, shown

    async def aclose(self) -> None:
        """Stop the worker processes."""
        await self.pool.aclose()

    def close(self) -> None:
        """Stop the worker processes, from any thread."""
        self.pool.close()

    async def _tera(self, c: _Compiled, state: dict[str, Any], field: str) -> str:
        if c.plain:
            return c.tera
        if c.fast is not None and c.paths is not None:
            values = [_lookup(state, path) for path in c.paths]
            if all(found for found, _ in values):
                return await self._fast(c.fast, [v for _, v in values], field)
            # a path that does not resolve: Tera's own error, from the same safe in-process Tera
            names = {path[0] for path in c.paths}
            context = {k: v for k, v in state.items() if k in names}
            try:
                return str(_local_tera(c.tera).render_template("__tera_one_off", **context))
            except Exception as exc:
                message = render_error(str(exc)).replace("__tera_one_off", field)
                raise TemplateError(f"Templating error: {message}") from None
        context = state if c.whole_context else {k: v for k, v in state.items() if k in c.names}
        try:
            answer = await self.pool.render(c.tera, context, c.text if c.tera != c.text else None)
        except RenderFailure as failure:
            raise TemplateError(self._failure(failure.kind, field)) from None
        if "ok" in answer:
            return str(answer["ok"])
        if "error" in answer:
            message = str(answer["error"]).replace("__tera_one_off", field)
            raise TemplateError(f"Templating error: {message}")
        raise TemplateError(self._failure("limit" if "limit" in answer else "memory", field))

    async def _fast(self, template: str, values: list[Any], field: str) -> str:
        budget = self.limits.max_chars - len(template)
        size = 0
        for value in values:
            size += _printed(value, budget - size)
            if size > budget:
                raise TemplateError(self._failure("limit", field))
        context = {f"__dusttui_v{i}": v for i, v in enumerate(values)}
        tera = _local_tera(template)
        if size < _INLINE_CHARS:
            return str(tera.render_template("__tera_one_off", **context))
        return str(await asyncio.to_thread(tera.render_template, "__tera_one_off", **context))

    def _variables(self, c: _Compiled, out: str, state: dict[str, Any], field: str) -> str:
        """core's `${BLOCK.key}` pass (its checks and texts), on the markers of the text."""
        final = len(out)
        for name, key, mark in c.variables:
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
            final += out.count(mark) * (len(output[key]) - len(mark))
        if final > self.limits.max_chars:
            raise TemplateError(self._failure("limit", field))
        for name, key, mark in c.variables:
            out = out.replace(mark, state[name][key])
        return out

    def _failure(self, kind: str, field: str) -> str:
        limits = self.limits
        if kind == "timeout":
            return (
                f"Templating error: rendering '{field}' took longer than {limits.seconds:g} s, "
                "the engine's limit; it was stopped"
            )
        if kind == "limit":
            return (
                f"Templating error: rendering '{field}' made more than {limits.max_chars:,} "
                "characters, the engine's limit"
            )
        if kind == "crash":
            return (
                f"Templating error: rendering '{field}' crashed the template engine (a macro "
                "calling itself without end?); it was stopped"
            )
        return (
            f"Templating error: rendering '{field}' needed more than {limits.memory_mb} MB of "
            "memory, the engine's limit; it was stopped"
        )
