"""Prompt templates: Tera-style `{{ }}` and `{% %}`, then `${BLOCK.key}`, with core's messages."""

from __future__ import annotations

import pytest

from dusttui.engine.templates import TemplateError, render, render_secrets

STATE = {
    "INPUT": {"question": "why?", "n": 3, "f": 1.0, "ok": True, "none": None},
    "PREP": {"items": ["a", 1, 2.5], "obj": {"x": 1}},
    "REVIEWS": [{"text": "good"}, {"text": "bad"}],
    "TEXT": "plain",
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Q: {{INPUT.question}}\nA:\n", "Q: why?\nA:\n"),
        ("{{ INPUT.n }} {{ INPUT.f }} {{ INPUT.ok }} [{{ INPUT.none }}]", "3 1 true []"),
        ("{{ PREP.items }} {{ PREP.obj }}", "[a, 1, 2.5] [object]"),
        ("{{ PREP.items.0 }} {{ PREP.items[2] }} {{ REVIEWS.1.text }}", "a 2.5 bad"),
        (
            "{% for r in REVIEWS %}{{ loop.index }}. {{ r.text }}\n{% endfor %}",
            "1. good\n2. bad\n",
        ),
        ("{% if INPUT.missing %}yes{% else %}no{% endif %}", "no"),
        ("{{ REVIEWS | map(attribute='text') | join(sep=', ') }}", "good, bad"),
        ("{{ INPUT.question | truncate(length=2) }}", "wh…"),
        ("{{ INPUT.question | replace(from='?', to='!') | upper }}", "WHY!"),
        ("{{ PREP.obj | json_encode() }}", '{"x":1}'),
        ("{{ NOPE | default(value='none') }}", "none"),
        ("{% if PREP.items is containing('a') %}has a{% endif %}", "has a"),
        ("${INPUT.question} / {{ INPUT.question }}", "why? / why?"),
        ("{# a comment #}{% raw %}{{ kept }}{% endraw %}", "{{ kept }}"),
    ],
)
def test_renders_like_tera(template: str, expected: str) -> None:
    assert render(template, STATE) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            "{{ INPUT.answer }}",
            "Templating error: Variable `INPUT.answer` not found in context while rendering 'prompt'",
        ),
        (
            "{{ NOPE.x.y }}",
            "Templating error: Variable `NOPE.x.y` not found in context while rendering 'prompt'",
        ),
        (
            "{% for r in REVIEWS %}{{ r.stars }}{% endfor %}",
            "Templating error: Variable `REVIEWS.0.stars` not found in context while rendering 'prompt'",
        ),
        (
            "{% for x in MISSING %}{% endfor %}",
            "Templating error: Variable `MISSING` not found in context while rendering 'prompt'",
        ),
        (
            "{{ INPUT.question.upper() }}",
            "Templating error: Variable `INPUT.question.upper` not found in context while rendering 'prompt'",
        ),
        (
            "{{ INPUT.__class__ }}",
            "Templating error: Variable `INPUT.__class__` not found in context while rendering 'prompt'",
        ),
        (
            "Q: {{ }}",
            "Templating error: Expected an expression, got 'end of print statement' (line 1 of 'prompt')",
        ),
        ("${NOPE.q}", "Block `NOPE` output not found"),
        (
            "${TEXT.q}",
            "Block `TEXT` output is not an object, the output of `TEXT` referred to as a variable in `prompt` must be an object",
        ),
        ("${INPUT.answer}", "Key `answer` is not present in block `INPUT` output"),
        ("${INPUT.n}", "`INPUT.n` is not a string"),
    ],
)
def test_errors_name_the_variable(template: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        render(template, STATE)
    assert str(info.value) == message


def test_field_name_appears_in_messages() -> None:
    with pytest.raises(TemplateError) as info:
        render("{{ X.y }}", STATE, field="instructions")
    assert str(info.value) == (
        "Templating error: Variable `X.y` not found in context while rendering 'instructions'"
    )


def test_dollar_variables_are_those_of_the_original_text() -> None:
    # core looks for `${…}` before rendering: a value that happens to contain one is left alone
    state = {"A": {"s": "${A.s}", "t": "x"}}
    assert render("{{ A.s }} ${A.t}", state) == "${A.s} x"


def test_secrets_pass_for_curl_urls() -> None:
    url = "https://api.example.com/{{ INPUT.n }}?key=${secrets.API_KEY}"
    assert render_secrets(url, STATE, {"API_KEY": "k1"}) == "https://api.example.com/3?key=k1"
    with pytest.raises(TemplateError) as info:
        render_secrets("${secrets.OTHER}", STATE, {"API_KEY": "k1"})
    assert str(info.value) == "`secrets.OTHER` is not a string"
