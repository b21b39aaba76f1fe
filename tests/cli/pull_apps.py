"""Apps for the `dusttui pull` tests: specs the builder can express, each stressing a part of the
`.dust` ↔ builder JSON round trip (their hashes must survive it)."""

from __future__ import annotations

F = "```"

TRICKY: dict[str, str] = {
    # a data block with its dataset hash; multi-line values: blank lines, indentation, trailing
    # spaces, unicode, escaped fences
    "multiline": f"""data EXAMPLES {{
  dataset_id: words
  hash: 5e0c6d2bd2f8b5a6d35b0f7f47bd1d0c2f1a0e8d6c0b9a8f7e6d5c4b3a291807
}}

input INPUT {{ }}

code PREP {{
  code:
{F}
_fun = (env) => {{
  // a fence inside code stays as written: <DUST_TRIPLE_BACKTICKS>

  return {{ q: env.state.INPUT.q + "  ", t: "é ✓ 漢字" }};
}}
{F}
}}

llm MODEL {{
  max_tokens: 128
  temperature: 0.7
  top_p: 0.95
  frequency_penalty: 0.5
  stop:
{F}
\\n\\n
END
{F}
  few_shot_preprompt:
{F}
You answer.

Examples follow:
{F}
  few_shot_count: 2
  few_shot_prompt:
{F}
Q: ${{EXAMPLES.q}}
A: ${{EXAMPLES.a}}
{F}
  prompt:
{F}
Q: {{{{PREP.q}}}}
<DUST_TRIPLE_BACKTICKS>json
{{"x": 1}}
<DUST_TRIPLE_BACKTICKS>
   indented line
A:
{F}
}}
""",
    # map/reduce with repeat around a code block (runnable offline)
    "mapreduce": f"""input INPUT {{ }}

map EACH {{
  from: INPUT
  repeat: 3
}}

code ONE {{
  code:
{F}
_fun = (env) => env.state.EACH
{F}
}}

reduce EACH {{ }}
""",
    # while/end, chat with every text field, curl
    "loops": f"""input INPUT {{ }}

while AGAIN {{
  condition_code:
{F}
_fun = (env) => (env.state.STEP || []).length < 3
{F}
  max_iterations: 8
}}

code STEP {{
  code:
{F}
_fun = (env) => 1
{F}
}}

end AGAIN {{ }}

chat CHAT {{
  temperature: 0.2
  max_tokens: 256
  top_p: 0.9
  stop:
{F}
STOP
{F}
  instructions:
{F}
Answer in <DUST_TRIPLE_BACKTICKS>fenced<DUST_TRIPLE_BACKTICKS> blocks.
{F}
  logprobs: true
  top_logprobs: 2
  messages_code:
{F}
_fun = (env) => [{{ role: "user", content: "hi" }}]
{F}
  functions_code:
{F}
_fun = (env) => [{{ name: "f", description: "d", parameters: {{}} }}]
{F}
}}

curl FETCH {{
  method: POST
  url:
{F}
https://example.com/api?x=1
{F}
  headers_code:
{F}
_fun = (env) => ({{ "Content-Type": "application/json" }})
{F}
  body_code:
{F}
_fun = (env) => JSON.stringify({{ a: 1 }})
{F}
}}
""",
    # every block only the hosted service runs (parsed and hashed as core does)
    "hosted": f"""input INPUT {{ }}

search WEB {{
  query:
{F}
{{{{INPUT.q}}}} site:dust.tt
{F}
  num: 4
}}

browser PAGE {{
  url:
{F}
https://dust.tt/{{{{INPUT.path}}}}
{F}
  selector:
{F}
body main
{F}
  timeout: 9000
  wait_until: networkidle0
}}

data_source DOCS {{
  query:
{F}
What about <DUST_TRIPLE_BACKTICKS>code<DUST_TRIPLE_BACKTICKS>?
{F}
  full_text: true
  filter_code:
{F}
_fun = (env) => ({{ tags: {{ in: ["a"], not: null }} }})
{F}
}}

database_schema SCHEMA {{ }}

database QUERY {{
  query:
{F}
SELECT count(*) FROM t
{F}
}}
""",
}
