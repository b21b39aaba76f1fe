"""The builder's block list as `.dust` text, byte for byte as front's `dumpSpecification`
(front/lib/specification.ts) writes it — JavaScript's number printing and truthiness included."""

from __future__ import annotations

import math

import pytest

from dusttui.builderspec import BuilderSpecError, dump_specification, js_number, js_str

F = "```"

EVERY_BLOCK = [
    {"type": "input", "name": "INPUT", "indent": 0, "spec": {}, "config": {"dataset": ""}},
    {"type": "data", "name": "EXAMPLES", "indent": 0, "spec": {"dataset": "ex"}, "config": {}},
    {
        "type": "code",
        "name": "PREP",
        "indent": 0,
        "spec": {"code": '_fun = (env) => {\n  return "```";\n}'},  # not escaped by front
        "config": {},
    },
    {"type": "map", "name": "LOOP", "indent": 0, "spec": {"from": "PREP", "repeat": ""}},
    {
        "type": "llm",
        "name": "MODEL",
        "indent": 1,
        "spec": {
            "temperature": 1,  # JavaScript prints the number 1 as "1"
            "max_tokens": 64,
            "few_shot_preprompt": "",
            "few_shot_count": 0,  # falsy: not written
            "few_shot_prompt": "",
            "prompt": "Q: {{LOOP}}\n```json\n{}\n```",
            "stop": ["\\n", "END"],
            "top_p": 0.00001,
            "presence_penalty": "",
        },
        "config": {"provider_id": "", "model_id": "", "use_cache": True},
    },
    {"type": "reduce", "name": "LOOP", "indent": 0, "spec": {}, "config": {}},
    {
        "type": "while",
        "name": "AGAIN",
        "indent": 0,
        "spec": {"condition_code": "_fun = (env) => false", "max_iterations": "8"},
        "config": {},
    },
    {
        "type": "chat",
        "name": "CHAT",
        "indent": 1,
        "spec": {
            "temperature": 0.7,
            "instructions": "Use ``` fences.",
            "max_tokens": "",
            "stop": [],
            "top_p": "0.9",  # a non-empty string is truthy
            "logprobs": True,
            "top_logprobs": 3,
            "messages_code": "_fun = (env) => [{role: 'user', content: 'hi'}]",
            "functions_code": "",
        },
        "config": {},
    },
    {"type": "end", "name": "AGAIN", "indent": 0, "spec": {}, "config": {}},
    {
        "type": "curl",
        "name": "FETCH",
        "indent": 0,
        "spec": {
            "scheme": "https",
            "method": "POST",
            "url": "example.com/x",
            "headers_code": "_fun = (env) => ({})",
            "body_code": "_fun = (env) => null",
        },
        "config": {"use_cache": True},
    },
    {"type": "search", "name": "SEARCH", "indent": 0, "spec": {"query": "q", "num": 8}},
    {
        "type": "browser",
        "name": "WEB",
        "indent": 0,
        "spec": {"url": "u", "selector": "body", "timeout": 16000, "wait_until": "networkidle2"},
    },
    {
        "type": "data_source",
        "name": "DS",
        "indent": 0,
        "spec": {"query": "a ``` b", "full_text": False, "filter_code": ""},
    },
    {"type": "database_schema", "name": "SCHEMA", "indent": 0, "spec": {}},
    {"type": "database", "name": "DB", "indent": 0, "spec": {"query": "SELECT 1"}},
]

# front writes `key: ` (a trailing space) before a fence; the literal below leaves it out.
EXPECTED_LINES = f"""input INPUT {{ }}

data EXAMPLES {{
  dataset_id: ex
  hash: 0123abcd
}}

code PREP {{
  code:
{F}
_fun = (env) => {{
  return "```";
}}
{F}
}}

map LOOP {{
  from: PREP
}}

llm MODEL {{
  temperature: 1
  max_tokens: 64
  stop:
{F}
\\n
END
{F}
  top_p: 0.00001
  prompt:
{F}
Q: {{{{LOOP}}}}
<DUST_TRIPLE_BACKTICKS>json
{{}}
<DUST_TRIPLE_BACKTICKS>
{F}
}}

reduce LOOP {{ }}

while AGAIN {{
  condition_code:
{F}
_fun = (env) => false
{F}
  max_iterations: 8
}}

chat CHAT {{
  temperature: 0.7
  top_p: 0.9
  instructions:
{F}
Use <DUST_TRIPLE_BACKTICKS> fences.
{F}
  logprobs: true
  top_logprobs: 3
  messages_code:
{F}
_fun = (env) => [{{role: 'user', content: 'hi'}}]
{F}
}}

end AGAIN {{ }}

curl FETCH {{
  method: POST
  url:
{F}
https://example.com/x
{F}
  headers_code:
{F}
_fun = (env) => ({{}})
{F}
  body_code:
{F}
_fun = (env) => null
{F}
}}

search SEARCH {{
  query:
{F}
q
{F}
  num: 8
}}

browser WEB {{
  url:
{F}
u
{F}
  selector:
{F}
body
{F}
  timeout: 16000
  wait_until: networkidle2
}}

data_source DS {{
  query:
{F}
a <DUST_TRIPLE_BACKTICKS> b
{F}
  full_text: false
}}

database_schema SCHEMA {{ }}

database DB {{
  query:
{F}
SELECT 1
{F}
}}
"""
EXPECTED = EXPECTED_LINES.replace(f":\n{F}\n", f": \n{F}\n")


def test_every_block_type_is_written_as_front_writes_it():
    dumped = dump_specification(EVERY_BLOCK, {"ex": "0123abcd"})
    assert dumped.text == EXPECTED
    assert dumped.unknown_datasets == []


def test_a_dataset_hash_comes_from_the_block_then_the_map_else_latest_and_is_reported():
    block = {"type": "data", "name": "D", "spec": {"dataset": "words", "hash": "feed"}}
    assert dump_specification([block]).text == "data D {\n  dataset_id: words\n  hash: feed\n}\n"
    bare = {"type": "data", "name": "D", "spec": {"dataset": "words"}}
    assert "hash: beef" in dump_specification([bare], {"words": "beef"}).text
    dumped = dump_specification([bare])
    assert "hash: latest" in dumped.text
    assert dumped.unknown_datasets == ["words"]


def test_map_repeat_and_while_iterations_only_as_non_empty_strings():
    # front tests `.length > 0`: a number has no length and is skipped
    blocks = [
        {"type": "map", "name": "A", "spec": {"from": "X", "repeat": 3}},
        {"type": "map", "name": "B", "spec": {"from": "X", "repeat": "3"}},
        {"type": "while", "name": "W", "spec": {"condition_code": "c", "max_iterations": 4}},
    ]
    assert dump_specification(blocks).text == (
        "map A {\n  from: X\n}\n\nmap B {\n  from: X\n  repeat: 3\n}\n\n"
        f"while W {{\n  condition_code: \n{F}\nc\n{F}\n}}\n"
    )


def test_absent_fields_read_as_javascript_reads_them():
    blocks = [
        {"type": "code", "name": "C", "spec": {}},
        {"type": "llm", "name": "M", "spec": {"temperature": None}},
    ]
    assert dump_specification(blocks).text == (
        f"code C {{\n  code: \n{F}\nundefined\n{F}\n}}\n\nllm M {{\n  temperature: null\n}}\n"
    )


@pytest.mark.parametrize(
    ("blocks", "message"),
    [
        ({"type": "input"}, "a saved specification is a JSON list of blocks"),
        (["input"], "every block of a saved specification is a JSON object"),
        (
            [{"type": "widget", "name": "W", "spec": {}}],
            "Block `W` has an unknown type `widget` (one of: input, data, code, llm, chat, map, "
            "reduce, while, end, curl, search, browser, data_source, database_schema, database)",
        ),
        (
            [{"type": "chat", "name": "C", "spec": {}}],
            "Block `C` (chat) has no text `messages_code`",
        ),
        (
            [{"type": "llm", "name": "M", "spec": {"stop": "END"}}],
            "`stop` must be a list of strings",
        ),
    ],
)
def test_what_front_could_not_write_is_a_clear_error(blocks, message):
    with pytest.raises(BuilderSpecError) as exc:
        dump_specification(blocks)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    ("x", "text"),
    [
        (0.7, "0.7"),
        (1.0, "1"),
        (100.0, "100"),
        (-0.5, "-0.5"),
        (1e-05, "0.00001"),
        (1e-06, "0.000001"),
        (1e-07, "1e-7"),
        (2.5e-08, "2.5e-8"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1.5e300, "1.5e+300"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1.9492188, "1.9492188"),
        (math.inf, "Infinity"),
    ],
)
def test_numbers_print_as_javascript_prints_them(x, text):
    assert js_number(x) == text


def test_values_in_templates_print_as_javascript_prints_them():
    assert [js_str(v) for v in (True, None, 2**60, [1, None, "a"], {"a": 1})] == [
        "true",
        "null",
        "1152921504606847000",  # a double, as (2 ** 60).toString() prints it
        "1,,a",
        "[object Object]",
    ]
