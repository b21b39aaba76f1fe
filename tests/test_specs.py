"""The saved specification's hash: what `dusttui run APP` sends when no --hash is given."""

import json

from dusttui.api.models import App
from dusttui.engine.spec import builder_blocks, parse_spec
from dusttui.specs import dust_text_of_builder_blocks, saved_specification_hash

SPEC = """input INPUT { }

code PREP {
  code:
```
_fun = (env) => {
  return { q: env.state.INPUT.question, words: ["a", "b"] };
}
```
}

map EACH {
  from: PREP.words
}

llm MODEL {
  max_tokens: 64
  temperature: 0.70
  stop:
```
\\n
END
```
  prompt:
```
Q: {{PREP.q}} ({{EACH}})
A:
```
}

reduce EACH { }

while LOOP {
  condition_code:
```
_fun = (env) => env.state.LOOP === undefined
```
  max_iterations: 3
}

code STEP {
  code:
```
_fun = (env) => 1
```
}

end LOOP { }
"""


def _app(saved: str | None) -> App:
    return App(id=1, sId="s1", name="demo", savedSpecification=saved)


def test_saved_specification_hashes_like_the_dust_file():
    spec = parse_spec(SPEC)
    saved = json.dumps(
        builder_blocks(spec, {"MODEL": {"provider_id": "offline", "model_id": "echo"}})
    )
    assert saved_specification_hash(_app(saved)) == spec.hash
    text = dust_text_of_builder_blocks(json.loads(saved))
    assert text.startswith("input INPUT { }\n\ncode PREP {\n  code: \n```\n_fun = (env) => {")


def test_unhashable_saved_specifications_fall_back():
    assert saved_specification_hash(_app(None)) is None
    assert saved_specification_hash(_app("{not json")) is None
    # a dataset's latest version is not in the public API: the hash cannot be known
    data = json.dumps([{"type": "data", "name": "D", "spec": {"dataset": "words"}}])
    assert saved_specification_hash(_app(data)) is None


def test_hosted_only_blocks_hash_as_front_writes_them():
    search = json.dumps([{"type": "search", "name": "S", "spec": {"query": "x"}}])
    assert (
        saved_specification_hash(_app(search))
        == parse_spec("search S {\n  query: \n```\nx\n```\n}\n").hash
    )
