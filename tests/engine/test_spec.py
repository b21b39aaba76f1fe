"""The `.dust` parser, its error texts and the specification_hash (PROTOCOL.md §6)."""

from __future__ import annotations

import blake3
import pytest

from dusttui.engine.rustnum import f32_to_string, parse_f32
from dusttui.engine.spec import (
    HOSTED_ONLY,
    SpecError,
    builder_blocks,
    parse_spec,
    specification_hash,
)

F = "```"

TINY = f"""input INPUT {{ }}

code ECHO {{
  code:
{F}
_fun = (env) => env.state.INPUT;
{F}
}}

llm MODEL {{
  max_tokens: 64
  temperature: 0.70
  stop:
{F}
Q:

{F}
}}
"""
TINY_HASH = "85da10ba6daf42953e1de357c2678994dddb6002870c75a571a96acb19f75dfa"

EXAMPLE = f"""input INPUT {{ }}

code PREP {{
  code:
{F}
_fun = (env) => {{
  return {{ q: env.state.INPUT.question }};
}}
{F}
}}

llm MODEL {{
  max_tokens: 64
  temperature: 0.7
  prompt:
{F}
Q: {{{{PREP.q}}}}
A:
{F}
}}
"""


def _hex(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


def test_example_parses_into_typed_fields() -> None:
    spec = parse_spec(EXAMPLE)
    assert [(b.type, b.name, b.line) for b in spec.blocks] == [
        ("input", "INPUT", 1),
        ("code", "PREP", 3),
        ("llm", "MODEL", 12),
    ]
    assert spec.block("PREP").fields == {
        "code": "_fun = (env) => {\n  return { q: env.state.INPUT.question };\n}"
    }
    assert spec.block("MODEL").fields == {
        "prompt": "Q: {{PREP.q}}\nA:",
        "max_tokens": 64,
        "temperature": 0.7,
    }
    assert spec.input_block is not None and spec.input_block.name == "INPUT"
    assert spec.names == ["INPUT", "PREP", "MODEL"]


def test_hash_is_core_blake3_chain() -> None:
    # Built by hand from blake3 primitives: inner = blake3(tag ‖ fields), h = blake3(prev ‖ name ‖ inner)
    inner_input = _hex(b"input")
    inner_code = _hex(b"code" + b"_fun = (env) => env.state.INPUT;")
    inner_llm = _hex(b"llm" + b"64" + b"0.7" + b"Q:" + b"")  # max_tokens, temperature, stop lines
    h1 = _hex(b"INPUT" + inner_input.encode())
    h2 = _hex(h1.encode() + b"ECHO" + inner_code.encode())
    h3 = _hex(h2.encode() + b"MODEL" + inner_llm.encode())
    assert h1 == "36dab5ff82ae63d1e78462d66234a92615ca6e89122c5e58ff0e8cbc1b3af8f6"
    spec = parse_spec(TINY)
    assert spec.hash == h3 == TINY_HASH
    assert specification_hash(spec.blocks) == TINY_HASH
    assert spec.block("MODEL").fields["stop"] == ["Q:", ""]


def test_hash_ignores_whitespace_and_number_spelling() -> None:
    # core's WHITESPACE (space, tab, CR, LF) may separate tokens; ``` must be followed by LF
    variant = (
        f"input   INPUT{{}}\r\n\r\n\r\n   code ECHO\n{{\tcode :\r\n{F}\n"
        f"_fun = (env) => env.state.INPUT;\n{F}}}\n"
        f"llm MODEL {{ temperature:0.7000\n max_tokens: 064\r\nstop:{F}\nQ:\n\n{F} }}"
    )
    assert parse_spec(variant).hash == TINY_HASH


@pytest.mark.parametrize(
    "change",
    [
        ("temperature: 0.70", "temperature: 0.71"),
        ("env.state.INPUT;", "env.state.INPUT ;"),
        ("llm MODEL", "llm MODEL2"),
        ("max_tokens: 64", "max_tokens: 64\n  top_p: 1"),
        ("Q:\n\n", "A:\n\n"),
    ],
)
def test_hash_changes_with_the_specification(change: tuple[str, str]) -> None:
    changed = TINY.replace(*change)
    assert changed != TINY
    assert parse_spec(changed).hash != TINY_HASH


def test_block_order_changes_the_hash() -> None:
    a = "code A {\n  code: x\n}\ncode B {\n  code: y\n}\n"
    b = "code B {\n  code: y\n}\ncode A {\n  code: x\n}\n"
    assert parse_spec(a).hash != parse_spec(b).hash


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("0.7", "0.7"),
        ("0.70", "0.7"),
        ("1.0", "1"),
        ("1", "1"),
        ("1e-7", "0.0000001"),
        ("16777217", "16777216"),
        ("123456789", "123456790"),
        ("0.30000001", "0.3"),
        ("-0", "-0"),
        (".5", "0.5"),
        ("5.", "5"),
        ("1e10", "10000000000"),
        ("1e39", "inf"),
    ],
)
def test_numbers_hash_in_rust_f32_to_string_form(text: str, shown: str) -> None:
    value = parse_f32(text)
    assert value is not None
    assert f32_to_string(value) == shown


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("code X {\n  cod: foo\n}", "line 2, column 3: Unexpected `cod` in `code` block"),
        (
            "input A { }\ninput B { }",
            "line 2, column 1: Extraneous `input B` block, only one input block is allowed",
        ),
        (
            "llm M {\n  temperature: 0.7\n}",
            "line 1, column 1: Missing required `max_tokens` in `llm` block",
        ),
        (
            "llm M {\n  max_tokens: ten\n  temperature: 1\n}",
            "line 2, column 15: Invalid `max_tokens` in `llm` block, expecting integer",
        ),
        (
            "chat C {\n  temperature: hot\n}",
            "line 2, column 16: Invalid `temperature` in `chat` block, expecting float",
        ),
        (
            "map M {\n  from: A\n  repeat: 65\n}",
            "line 3, column 11: Map `repeat` exceeds maximum value (64)",
        ),
        (
            "map M {\n  from: A\n  repeat: -1\n}",
            "line 3, column 11: Invalid `repeat` in `map` block, expecting unsigned integer",
        ),
        (  # core/src/blocks/while.rs While::parse: `>= 32` refused, the text says 32
            "while W {\n  condition_code: x\n  max_iterations: 32\n}\nend W { }",
            "line 3, column 19: `max_iterations` cannot be greater than 32",
        ),
        (  # core/src/blocks/data.rs Data::parse names the missing `dataset_id` `id`
            "data D {\n  hash: abc\n}",
            "line 1, column 1: Missing required `id` in `data` block",
        ),
        (
            "code X {\n  code: x\n  expected: []{ a, b }\n}",
            "line 3, column 3: `expected` is not yet supported in `code` block",
        ),
        (
            "search WEB {\n  num: 3\n}",
            "line 1, column 1: Missing required `query` in `search` block",
        ),
        (
            "\n  fetch X { }",
            "line 2, column 3: Unknown block type `fetch` (one of: input, data, code, llm, chat, map, reduce, while, end, curl, browser, data_source, database, database_schema, search)",
        ),
    ],
)
def test_block_errors_say_what_and_where(text: str, error: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(text)
    assert str(info.value) == error


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            "Code X { }",
            "line 1, column 1: expected a block type such as `input` or `code`, found `C`",
        ),
        ("code Prep { }", "line 1, column 7: expected `{` after `code P`, found `r`"),
        (
            "code x { }",
            "line 1, column 6: expected a block name after `code` (UPPER_CASE: A-Z, 0-9 and `_`), found `x`",
        ),
        (
            "code X {\n  code: x\n",
            "line 3, column 1: missing `}` to close block `X` opened at line 1",
        ),
        ("code X {\n  code x\n}", "line 2, column 8: expected `:` after `code`, found `x`"),
        (
            "code X {\n  code:\n}",
            "line 3, column 1: expected a value for `code`: one line of letters, digits, spaces and `. _ , / -`, or lines between a ``` line and a ``` line; found `}`",
        ),
        (
            f"code X {{\n  code:\n{F}\nreturn 1;\n",
            "line 3, column 1: no closing ``` line for the value of `code`",
        ),
        (
            f"code X {{\n  code:\n{F}\nreturn 1;{F}\n}}",
            "line 4, column 10: Multine values are expected to end with '\\n```'",
        ),
        (
            f"code X {{\n  code: {F} x\n{F}\n}}",
            "line 2, column 12: the opening ``` must end its line (nothing after it, not even spaces: the value starts on the next line)",
        ),
        (
            "curl C {\n  url: https://dust.tt\n}",
            "line 2, column 13: `:` cannot appear in the one-line value of `url` (only letters, digits, spaces and `. _ , / -`); put each `key: value` on its own line, and other values between a ``` line and a ``` line",
        ),
        (
            "llm M { max_tokens: 6 temperature: 1 }",
            "line 1, column 34: `:` cannot appear in the one-line value of `max_tokens` (only letters, digits, spaces and `. _ , / -`); put each `key: value` on its own line, and other values between a ``` line and a ``` line",
        ),
    ],
)
def test_syntax_errors_point_at_line_and_column(text: str, error: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(text)
    assert str(info.value) == error
    assert info.value.line == int(error.split(",")[0].removeprefix("line "))


LOOP_BODY = "code C {\n  code: x\n}\n"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            "map M {\n  from: A\n}\nmap N {\n  from: A\n}\nreduce N { }\nreduce M { }",
            "line 4, column 1: Nested maps are not currently supported, found `map N` nested in `map M`",
        ),
        (
            "map M {\n  from: A\n}\nwhile W {\n  condition_code: x\n  max_iterations: 2\n}",
            "line 4, column 1: Nested maps and while blocks are not currently supported, found `while W` nested in `map M`",
        ),
        (
            "while W {\n  condition_code: x\n  max_iterations: 2\n}\nwhile V {\n  condition_code: x\n  max_iterations: 2\n}",
            "line 5, column 1: Nested while are not currently supported, found `while V` nested in `while W`",
        ),
        (
            "reduce M { }",
            "line 1, column 1: Block `reduce M` is not matched by a previous `map M` block",
        ),
        (
            "map M {\n  from: A\n}\nreduce N { }",
            "line 4, column 1: Block `reduce N` does not match the current `map M` block",
        ),
        (
            "end W { }",
            "line 1, column 1: Block `end W` is not matched by a previous `while W` block",
        ),
        (
            "map M {\n  from: A\n}\ninput I { }",
            "line 4, column 1: Block `input I` is nested in `map M` which is invalid.",
        ),
        (LOOP_BODY + LOOP_BODY, "line 4, column 1: Found multiple blocks with the same name `C`."),
        (
            "map C {\n  from: A\n}\n" + LOOP_BODY + "reduce C { }",
            "line 4, column 1: Found multiple blocks with the same name `C`.",
        ),
    ],
)
def test_structure_rules(text: str, error: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(text)
    assert str(info.value) == error


def test_loops_pair_by_name_and_share_it() -> None:
    text = (
        "input INPUT { }\nmap LOOP {\n  from: INPUT\n  repeat: 3\n}\n"
        + LOOP_BODY
        + "reduce LOOP { }\nwhile W {\n  condition_code: x\n  max_iterations: 31\n}\nend W { }\n"
    )
    spec = parse_spec(text)
    assert [(b.type, b.name) for b in spec.blocks] == [
        ("input", "INPUT"),
        ("map", "LOOP"),
        ("code", "C"),
        ("reduce", "LOOP"),
        ("while", "W"),
        ("end", "W"),
    ]
    assert spec.block("LOOP").type == "map"
    assert spec.block("LOOP").fields == {"from": "INPUT", "repeat": 3}
    assert spec.names == ["INPUT", "LOOP", "C", "W"]


def test_input_block_ignores_its_body_like_core() -> None:
    spec = parse_spec("input INPUT {\n  anything: goes\n  expected: { a }\n}")
    assert spec.blocks[0].fields == {}
    assert spec.hash == parse_spec("input INPUT { }").hash


def test_one_line_values_keep_inner_spaces_and_triple_backtick_escape_survives() -> None:
    spec = parse_spec(
        f"data D {{\n  dataset_id: my data, v2\n  hash: abc\n}}\nchat C {{\n  temperature: 1\n  logprobs: true\n  messages_code:\n{F}\nx = '<DUST_TRIPLE_BACKTICKS>'\n{F}\n}}"
    )
    assert spec.block("D").fields == {"dataset_id": "my data, v2", "hash": "abc"}
    assert spec.block("C").fields == {
        "messages_code": "x = '<DUST_TRIPLE_BACKTICKS>'",
        "temperature": 1.0,
        "logprobs": True,
    }


def test_hosted_only_types_are_the_five_service_blocks() -> None:
    assert (
        frozenset({"search", "browser", "data_source", "database_schema", "database"})
        == HOSTED_ONLY
    )


def test_builder_blocks_match_the_dust_builder_shape() -> None:
    text = (
        "input INPUT { }\nmap LOOP {\n  from: INPUT\n}\n"
        f"llm MODEL {{\n  max_tokens: 8\n  temperature: 0.2\n  prompt:\n{F}\nsay <DUST_TRIPLE_BACKTICKS>\n{F}\n}}\n"
        "reduce LOOP { }\n"
        f"curl CALL {{\n  method: POST\n  url:\n{F}\nhttps://example.com/x\n{F}\n"
        f"  headers_code:\n{F}\nh\n{F}\n  body_code:\n{F}\nb\n{F}\n}}\n"
    )
    blocks = builder_blocks(parse_spec(text), {"MODEL": {"provider_id": "openai", "model_id": "m"}})
    assert blocks == [
        {"type": "input", "name": "INPUT", "indent": 0, "spec": {}, "config": {"dataset": ""}},
        {
            "type": "map",
            "name": "LOOP",
            "indent": 0,
            "spec": {"from": "INPUT", "repeat": ""},
            "config": {},
        },
        {
            "type": "llm",
            "name": "MODEL",
            "indent": 1,
            "spec": {
                "temperature": 0.2,
                "max_tokens": 8,
                "few_shot_preprompt": "",
                "few_shot_count": 0,
                "few_shot_prompt": "",
                "prompt": "say ```",
                "stop": [],
            },
            "config": {"provider_id": "openai", "model_id": "m", "use_cache": True},
        },
        {"type": "reduce", "name": "LOOP", "indent": 0, "spec": {}, "config": {}},
        {
            "type": "curl",
            "name": "CALL",
            "indent": 0,
            "spec": {
                "scheme": "https",
                "method": "POST",
                "url": "example.com/x",
                "headers_code": "h",
                "body_code": "b",
            },
            "config": {"use_cache": True},
        },
    ]


# ---------------------------------------------------------------------------------------------
# What core's pest grammar (core/src/dust.pest) and each block's `parse` accept or refuse.


def _chain(*blocks: tuple[str, bytes]) -> str:
    """core's App::new hash chain over (name, inner-hash input bytes)."""
    prev = b""
    for name, inner in blocks:
        prev = _hex(prev + name.encode() + _hex(inner).encode()).encode()
    return prev.decode()


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (  # `string` holds spaces, so "64 " is the value; i32::from_str("64 ") fails
            "llm M {\n  max_tokens: 64 \n  temperature: 1\n}",
            "line 2, column 15: Invalid `max_tokens` in `llm` block, expecting integer",
        ),
        (
            "llm M {\n  max_tokens: 64\n  temperature: 0.5 \n}",
            "line 3, column 16: Invalid `temperature` in `llm` block, expecting float",
        ),
        (  # `multiline = @{ "```" ~ "\n" ~ content ~ "```" }`: nothing between ``` and LF
            f"code C {{\n  code: {F}  \nx\n{F}\n}}",
            "line 2, column 12: the opening ``` must end its line (nothing after it, not even spaces: the value starts on the next line)",
        ),
        (  # a CRLF file: "```\r\n" is not "```\n"
            f"code C {{\r\n  code:\r\n{F}\r\nx\r\n{F}\r\n}}\r\n",
            "line 3, column 4: the opening ``` ends with a Windows line ending (CR LF): Dust core reads only LF there; save the file with LF line endings",
        ),
        (  # Rust's integer and float parsers take ASCII digits only
            f"llm M {{\n  max_tokens:\n{F}\n\uff16\uff14\n{F}\n  temperature: 1\n}}",
            "line 3, column 1: Invalid `max_tokens` in `llm` block, expecting integer",
        ),
        (
            f"chat C {{\n  temperature:\n{F}\n\u0661.5\n{F}\n  messages_code: x\n}}",
            "line 3, column 1: Invalid `temperature` in `chat` block, expecting float",
        ),
        (  # `+` is not a one-line value character (the grammar stops there)
            "llm M {\n  max_tokens: +2\n  temperature: 1\n}",
            "line 2, column 15: expected a value for `max_tokens`: one line of letters, digits, spaces and `. _ , / -`, or lines between a ``` line and a ``` line; found `+`",
        ),
        (  # core/src/blocks/block.rs parse_pair: the content must end with "\n" before ```
            f"code C {{\n  code:\n{F}\nx{F}\n}}",
            "line 4, column 2: Multine values are expected to end with '\\n```'",
        ),
        (  # core/src/blocks/data_source.rs DataSource::parse
            "data_source DS {\n  query: q\n  full_text: yes\n}",
            "line 3, column 14: Invalid value for `full_text`, must be `true` or `false`",
        ),
        (  # core/src/blocks/browser.rs Browser::parse
            "browser B {\n  url: u\n  selector: s\n  wait_until: soon\n}",
            "line 4, column 15: Invalid `wait_until` in `browser` block, expecting one of `load`, `domcontentloaded`, `networkidle0`, `networkidle2`",
        ),
    ],
)
def test_core_grammar_refuses(text: str, error: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_spec(text)
    assert str(info.value) == error


def test_a_signed_integer_in_a_multiline_value_parses_as_rust_does() -> None:
    # Rust's `i32::from_str` and `usize::from_str` take a leading `+` ("+2" is 2): a multi-line
    # value can hold one, and the block hashes `2.to_string()`
    plus = parse_spec(f"llm M {{\n  max_tokens:\n{F}\n+2\n{F}\n  temperature: 1\n}}")
    plain = parse_spec("llm M {\n  max_tokens: 2\n  temperature: 1\n}")
    assert plus.block("M").fields == {"max_tokens": 2, "temperature": 1.0}
    assert plus.hash == plain.hash == _chain(("M", b"llm" + b"2" + b"1"))


def test_crlf_between_tokens_is_whitespace_and_cr_inside_a_value_is_hashed() -> None:
    # WHITESPACE is " " | "\t" | "\r" | "\n": a CRLF file without multi-line values parses
    assert parse_spec("input I { }\r\ncode C {\r\n  code: x\r\n}\r\n").hash == _chain(
        ("I", b"input"), ("C", b"code" + b"x")
    )
    # inside a multi-line value a CR is content: core hashes the bytes as they are
    spec = parse_spec(f"code C {{\n  code:\n{F}\na\r\nb\r\n{F}\n}}")
    assert spec.block("C").fields == {"code": "a\r\nb\r"}
    assert spec.hash == _chain(("C", b"code" + b"a\r\nb\r"))
    assert spec.hash != parse_spec(f"code C {{\n  code:\n{F}\na\nb\n{F}\n}}").hash


def test_read_spec_file_keeps_carriage_returns(tmp_path) -> None:
    from dusttui.engine.spec import read_spec_file

    path = tmp_path / "app.dust"
    path.write_bytes(b"\xef\xbb\xbfcode C {\n  code:\n```\na\r\nb\r\n```\n}\n")
    assert read_spec_file(path) == "code C {\n  code:\n```\na\r\nb\r\n```\n}\n"


def test_f32_on_an_exact_tie_prints_as_rust() -> None:
    # 1.94921875 is an f32 exactly halfway between 1.9492187 and 1.9492188: Rust's shortest
    # round-trip printing rounds the tie up (core hashes `temperature.to_string()`)
    assert f32_to_string(1.94921875) == "1.9492188"
    assert f32_to_string(-1.94921875) == "-1.9492188"
    spec = parse_spec("llm M {\n  max_tokens: 8\n  temperature: 1.94921875\n}")
    assert spec.hash == _chain(("M", b"llm" + b"8" + b"1.9492188"))


def test_huge_exponents_parse_as_rust_without_big_numbers() -> None:
    assert parse_f32("1e99999999999") == float("inf")
    tiny = parse_f32("-1e-99999999999")
    assert tiny is not None
    assert f32_to_string(tiny) == "-0"


def test_unclosed_map_and_while_are_accepted_and_hashed_as_core() -> None:
    # core/src/app.rs App::new checks nesting and names but not that loops are closed
    spec = parse_spec("input I { }\nmap M {\n  from: I\n}\ncode C {\n  code: x\n}\n")
    assert [b.type for b in spec.blocks] == ["input", "map", "code"]
    assert spec.hash == _chain(("I", b"input"), ("M", b"map" + b"I"), ("C", b"code" + b"x"))
    spec = parse_spec("while W {\n  condition_code: c\n  max_iterations: 3\n}\n" + LOOP_BODY)
    assert spec.hash == _chain(("W", b"while" + b"c" + b"3"), ("C", b"code" + b"x"))


def test_input_body_is_never_read() -> None:
    # core/src/blocks/input.rs Input::parse ignores its pairs, even a malformed multi-line end
    spec = parse_spec(f"input I {{\n  notes:\n{F}\nno newline before the fence{F}\n}}")
    assert spec.hash == parse_spec("input I { }").hash == _chain(("I", b"input"))


def test_hosted_only_blocks_are_hashed_as_core() -> None:
    text = (
        "search WEB {\n  query: q\n}\n"
        "search WEB2 {\n  query: q\n  engine: bing\n  num: 4\n}\n"
        "browser PAGE {\n  url: u\n  selector: s\n  wait_for: 2\n}\n"
        f"data_source DS {{\n  query: q\n  filter_code:\n{F}\nf\n{F}\n}}\n"
        f"database_schema SCHEMA {{\n  anything:\n{F}\nbroken{F}\n}}\n"
        "database DB {\n  query: select 1\n}\n"
    )
    spec = parse_spec(text)
    assert all(b.hosted_only for b in spec.blocks)
    assert spec.hash == _chain(
        ("WEB", b"search" + b"q" + b"google"),  # search.rs: engine defaults to "google"
        ("WEB2", b"search" + b"q" + b"bing" + b"4"),
        ("PAGE", b"browser" + b"u" + b"s" + b"16000" + b"2"),  # browser.rs: timeout 16000
        ("DS", b"data_source" + b"q" + b"false"),  # data_source.rs: filter_code not hashed
        ("SCHEMA", b"database_schema"),  # database_schema.rs: the body is never read
        ("DB", b"database_schema" + b"select 1"),  # database.rs hashes under that tag
    )
