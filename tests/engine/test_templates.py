"""Prompt templates rendered by Tera 1.20 itself (pytera), then `${BLOCK.key}`, with core's texts.

core/src/blocks/block.rs `replace_variables_in_string`: `Tera::one_off(text, &state, false)`, errors
"Templating error: " + the error's first cause with `__tera_one_off` replaced by the field name.
The expected outputs below are Tera's (they differ from Jinja2's where the comments say so).
"""

from __future__ import annotations

import asyncio

import pytest

from dusttui.engine.templates import TemplateError, TemplateLimits, TemplateRenderer

STATE = {
    "INPUT": {"question": "Why is the sky blue?", "n": 3, "f": 1.0, "ok": True, "none": None},
    "PREP": {"items": ["b", "a", 1, 2.5], "obj": {"y": 1, "x": 2}, "s": "  hi  "},
    "REVIEWS": [
        {"text": "good", "cat": "x"},
        {"text": "bad", "cat": "y"},
        {"text": "ok", "cat": "x"},
    ],
    "TEXT": "plain",
}


@pytest.fixture
async def renderer():
    r = TemplateRenderer()
    yield r
    await r.aclose()


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Q: {{INPUT.question}}\nA:\n", "Q: Why is the sky blue?\nA:\n"),
        ("{{ INPUT.n }} {{ INPUT.f }} {{ INPUT.ok }} [{{ INPUT.none }}]", "3 1 true []"),
        ("{{ PREP.items }} {{ PREP.obj }} {{ INPUT }}", "[b, a, 1, 2.5] [object] [object]"),
        ("{{ PREP.items.0 }} {{ PREP.items[2] }} {{ REVIEWS.1.text }}", "b 1 bad"),
        (
            "{% for r in REVIEWS %}{{ loop.index }}. {{ r.text }}\n{% endfor %}",
            "1. good\n2. bad\n3. ok\n",
        ),
        ("{% if INPUT.missing %}yes{% else %}no{% endif %}", "no"),
        ("{{ REVIEWS | map(attribute='text') | join(sep=', ') }}", "good, bad, ok"),
        ("{{ INPUT.question | truncate(length=2) }}", "Wh…"),
        ("{{ INPUT.question | replace(from='?', to='!') | upper }}", "WHY IS THE SKY BLUE!"),
        ("{{ PREP.obj | json_encode() }}", '{"x":2,"y":1}'),
        ("{{ NOPE | default(value='none') }}", "none"),
        ("{% if PREP.items is containing('a') %}has a{% endif %}", "has a"),
        ("${INPUT.question} / {{ INPUT.question }}", "Why is the sky blue? / Why is the sky blue?"),
        ("{# a comment #}{% raw %}{{ kept }}{% endraw %}", "{{ kept }}"),
        # where the former Jinja2 emulation differed from Tera:
        ("{% for k, v in PREP.obj %}{{ k }}={{ v }};{% endfor %}", "x=2;y=1;"),
        ("{{ PREP.items | reverse }}", "[2.5, 1, a, b]"),
        ("{% for i in range(end=3) %}{{ i }}{% endfor %}", "012"),
        (
            "{{ REVIEWS | filter(attribute='cat', value='x') | map(attribute='text') | join(sep=',') }}",
            "good,ok",
        ),
        ("{{ PREP.items | concat(with=[9]) }}", "[b, a, 1, 2.5, 9]"),
        ("{{ PREP.s | trim_start }}|", "hi  |"),
        ("{{ INPUT.n | as_str }}", "3"),
        ("{{ INPUT.question | slugify }}", "why-is-the-sky-blue"),
        ("{% set g = REVIEWS | group_by(attribute='cat') %}{{ g.x | length }}", "2"),
        ("{{ ['a', 'b', 'a'] | unique }}", "[a, b]"),
        ("{{ now() | length > 10 }}", "true"),
        ("{{ 1.5 + 1 }} {{ 10 / 4 }} {{ 10 % 3 }} {{ 2 * 3.0 }} {{ 1 / 0 }}", "2.5 2.5 1 6 NaN"),
        ("{{ INPUT.question | wordcount }}", "5"),
    ],
)
async def test_renders_as_tera(renderer, template, expected):
    assert await renderer.render(template, STATE) == expected


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
        (  # Tera names the loop variable (Jinja2's emulation said REVIEWS.0.stars)
            "{% for r in REVIEWS %}{{ r.stars }}{% endfor %}",
            "Templating error: Variable `r.stars` not found in context while rendering 'prompt'",
        ),
        (
            "{% for x in MISSING %}{% endfor %}",
            "Templating error: Variable `MISSING` not found in context while rendering 'prompt'",
        ),
        (
            "{{ INPUT.__class__ }}",
            "Templating error: Variable `INPUT.__class__` not found in context while rendering 'prompt'",
        ),
        (  # core shows the error's first cause only: the filter's reason is Tera's next cause
            "{{ PREP.items | unique }}",
            "Templating error: Filter call 'unique' failed",
        ),
        ("{{ INPUT.question | nope }}", "Templating error: Filter 'nope' not found"),
        (
            "Q: {{ }}",
            "Templating error:  --> 1:7\n  |\n1 | Q: {{ }}\n  |       ^---\n  |\n"
            "  = expected a value that can be negated or an array of values",
        ),
        (  # Jinja-only syntax: Tera has no inline if, no //, no method calls, no string *
            "{{ 1 if true else 2 }}",
            "Templating error:  --> 1:6\n  |\n1 | {{ 1 if true else 2 }}\n  |      ^---\n  |\n"
            "  = expected `or`, `and`, `not`, `<=`, `>=`, `<`, `>`, `==`, `!=`, `+`, `-`, `*`, "
            "`/`, `%`, a filter, or a variable end (`}}`)",
        ),
        (
            "{{ 7 // 2 }}",
            "Templating error:  --> 1:7\n  |\n1 | {{ 7 // 2 }}\n  |       ^---\n  |\n"
            "  = expected an integer, a float, `true` or `false`, an identifier (must start with "
            "a-z), a square bracketed identifier (identifiers separated by `.` or `[]`s), or an "
            "expression",
        ),
        (
            "{{ INPUT.question.upper() }}",
            "Templating error:  --> 1:24\n  |\n1 | {{ INPUT.question.upper() }}\n"
            "  |                        ^---\n  |\n  = expected `or`, `and`, `not`, `<=`, `>=`, "
            "`<`, `>`, `==`, `!=`, `+`, `-`, `*`, `/`, `%`, a filter, or a variable end (`}}`)",
        ),
        (  # the parse error shows the text as written, `${…}` included
            "${INPUT.question} {{ INPUT.n + }}",
            "Templating error:  --> 1:32\n  |\n1 | ${INPUT.question} {{ INPUT.n + }}\n"
            "  |                                ^---\n  |\n  = expected an integer, a float, "
            "`true` or `false`, an identifier (must start with a-z), a square bracketed "
            "identifier (identifiers separated by `.` or `[]`s), or an expression",
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
async def test_errors_are_teras_and_cores(renderer, template, message):
    with pytest.raises(TemplateError) as info:
        await renderer.render(template, STATE)
    assert str(info.value) == message


async def test_field_name_appears_in_messages(renderer):
    with pytest.raises(TemplateError) as info:
        await renderer.render("{{ X.y }}", STATE, field="instructions")
    assert str(info.value) == (
        "Templating error: Variable `X.y` not found in context while rendering 'instructions'"
    )


async def test_input_data_is_never_a_template(renderer):
    # a value holding template syntax or `${…}` is printed as is: never rendered, never replaced
    state = {"A": {"s": "{{ 7*7 }} ${A.t} ${secrets.KEY}", "t": "x"}}
    assert (
        await renderer.render("{{ A.s }} | ${A.t}", state) == "{{ 7*7 }} ${A.t} ${secrets.KEY} | x"
    )
    assert await renderer.render("{{ A.s | upper }}", state) == "{{ 7*7 }} ${A.T} ${SECRETS.KEY}"


async def test_curl_urls_render_once_and_only_written_secrets_are_replaced(renderer):
    url = "https://api.example.com/{{ INPUT.n }}?key=${secrets.API_KEY}"
    assert await renderer.render_url(url, STATE, {"API_KEY": "k1"}) == (
        "https://api.example.com/3?key=k1",
        "https://api.example.com/3?key=${secrets.API_KEY}",
    )
    state = {"INPUT": {"q": "${secrets.API_KEY}{{7*7}}"}}
    assert await renderer.render_url(
        "https://x.test/?q={{ INPUT.q }}&k=${secrets.API_KEY}", state, {"API_KEY": "k1"}
    ) == (
        "https://x.test/?q=${secrets.API_KEY}{{7*7}}&k=k1",
        "https://x.test/?q=${secrets.API_KEY}{{7*7}}&k=${secrets.API_KEY}",
    )
    with pytest.raises(TemplateError) as info:
        await renderer.render_url("${secrets.OTHER}", STATE, {"API_KEY": "k1"})
    assert str(info.value) == "`secrets.OTHER` is not a string"


async def test_get_env_sees_nothing_of_the_engine(renderer, monkeypatch):
    monkeypatch.setenv("DUSTTUI_TEST_SECRET", "s3cret")
    with pytest.raises(TemplateError) as info:
        await renderer.render("{{ get_env(name='DUSTTUI_TEST_SECRET') }}", STATE)
    assert str(info.value) == "Templating error: Function call 'get_env' failed"


async def test_paths_render_the_same_in_process_and_in_a_worker(renderer):
    # plain `{{ path }}` templates render in-process; the same paths through a filter-free
    # `{% if true %}` go to a worker: both are Tera's printing
    for path in ("INPUT.question", "INPUT.f", "INPUT.none", "PREP.items", "PREP.obj", "REVIEWS.2"):
        fast = await renderer.render(f"<{{{{ {path} }}}}>", STATE)
        slow = await renderer.render(f"{{% if true %}}<{{{{ {path} }}}}>{{% endif %}}", STATE)
        assert fast == slow


async def test_a_long_render_runs_off_the_event_loop_and_is_stopped():
    r = TemplateRenderer(TemplateLimits(seconds=0.5))
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        with pytest.raises(TemplateError) as info:
            await r.render(
                "{% for i in range(end=100000) %}{% for j in range(end=100000) %}"
                "{% endfor %}{% endfor %}",
                {},
            )
        assert str(info.value) == (
            "Templating error: rendering 'prompt' took longer than 0.5 s, the engine's limit; "
            "it was stopped"
        )
        assert ticks > 0  # the loop kept running while the worker was busy
        # the next render gets a fresh worker
        assert await r.render("{% if true %}ok{% endif %}", {}) == "ok"
    finally:
        task.cancel()
        await r.aclose()


async def test_output_memory_and_crash_limits_fail_only_that_render():
    r = TemplateRenderer(TemplateLimits(max_chars=1000, memory_mb=512))
    try:
        with pytest.raises(TemplateError) as info:
            await r.render("{% for i in range(end=200) %}xxxxxxxxxx{% endfor %}", {})
        assert str(info.value) == (
            "Templating error: rendering 'prompt' made more than 1,000 characters, the engine's limit"
        )
        with pytest.raises(TemplateError) as info:  # plain paths: refused before building
            await r.render("{{ A.s }}{{ A.s }}", {"A": {"s": "y" * 600}})
        assert "made more than 1,000 characters" in str(info.value)
        with pytest.raises(TemplateError) as info:  # `${…}` values count too
            await r.render("${A.s} ${A.s}", {"A": {"s": "y" * 600}})
        assert "made more than 1,000 characters" in str(info.value)
        with pytest.raises(TemplateError) as info:
            await r.render("{% set x = range(end=100000000) %}{{ x | length }}", {})
        assert str(info.value) == (
            "Templating error: rendering 'prompt' needed more than 512 MB of memory, the "
            "engine's limit; it was stopped"
        )
        with pytest.raises(TemplateError) as info:
            await r.render("{% macro f(n) %}{{ self::f(n=n) }}{% endmacro %}{{ self::f(n=1) }}", {})
        assert str(info.value) == (
            "Templating error: rendering 'prompt' crashed the template engine (a macro calling "
            "itself without end?); it was stopped"
        )
        assert await r.render("{% if true %}still here{% endif %}", {}) == "still here"
    finally:
        await r.aclose()


async def test_a_busy_worker_dies_with_the_engine(tmp_path):
    # a render that would run for hours must not outlive an engine killed with SIGKILL
    import os
    import signal
    import sys
    import textwrap

    script = tmp_path / "engine.py"
    script.write_text(
        textwrap.dedent(
            """
            import asyncio
            from dusttui.engine.templates import TemplateLimits, TemplateRenderer

            async def main():
                r = TemplateRenderer(TemplateLimits(seconds=3600))
                loop = "{% for i in range(end=100000) %}{% for j in range(end=100000) %}"
                task = asyncio.ensure_future(r.render(loop + "{% endfor %}{% endfor %}", {}))
                while not r.pool._all:
                    await asyncio.sleep(0.05)
                print(next(iter(r.pool._all)).proc.pid, flush=True)
                await task

            asyncio.run(main())
            """
        )
    )
    engine = await asyncio.create_subprocess_exec(
        sys.executable, str(script), stdout=asyncio.subprocess.PIPE, env=os.environ.copy()
    )
    assert engine.stdout is not None
    worker = int(await engine.stdout.readline())
    assert _alive(worker)
    engine.send_signal(signal.SIGKILL)
    await engine.wait()
    for _ in range(200):
        if not _alive(worker):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"worker {worker} outlived the engine")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False
