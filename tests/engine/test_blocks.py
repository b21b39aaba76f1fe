"""Block behaviour through real runs: llm prompts and variables, chat, curl over a loopback server,
and an OpenAI-compatible endpoint streaming into a run."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route

from dusttui.engine.context import EngineContext
from dusttui.engine.providers import Generation, ProviderRegistry
from dusttui.engine.providers.offline import OfflineProvider
from dusttui.engine.record import RunRecord
from dusttui.engine.runner import execute_run
from dusttui.engine.spec import parse_spec

F = "```"


async def run_app(spec_text: str, config: dict, inputs: list, ctx: EngineContext | None = None):
    spec = parse_spec(spec_text)
    record = RunRecord.new(spec.hash, "test-app", config)
    events: list[dict] = []

    async def emit(event: dict) -> None:
        events.append(json.loads(json.dumps(event)))

    await execute_run(spec, config, inputs, record, emit, ctx or EngineContext(token_delay=0))
    return events, record


def last(record: RunRecord) -> list[list[dict]]:
    """The executions of the last block that ran."""
    return record.traces[-1][1]


def code(name: str, js: str) -> str:
    return f"code {name} {{\n  code:\n{F}\n{js}\n{F}\n}}\n\n"


class Recorder:
    """A test provider that answers "ok" and keeps every request it gets."""

    provider_id = "rec"

    def __init__(self) -> None:
        self.requests = []

    async def generate(self, request, sink):
        self.requests.append(request)
        return Generation(text="ok", usage={"prompt_tokens": 2, "completion_tokens": 1})


def rec_ctx(rec: Recorder, **kw) -> EngineContext:
    providers = ProviderRegistry({"rec": rec, "offline": OfflineProvider()})
    return EngineContext(token_delay=0, providers=providers, **kw)


# ---------------------------------------------------------------- llm


async def test_llm_prompt_joins_few_shots_and_both_variable_forms():
    spec = (
        "input INPUT { }\n\n"
        + code(
            "SHOTS",
            "_fun = (env) => [{ q: '1+1', a: '2' }, { q: '2+2', a: '4' }, { q: 'x', a: 'y' }];",
        )
        + "llm MODEL {\n  max_tokens: 9\n  temperature: 0.2\n  stop:\n"
        + f"{F}\nEND\nSTOP\n{F}\n"
        + f"  few_shot_preprompt:\n{F}\nSolve.\n{F}\n"
        + f"  few_shot_count: 2\n  few_shot_prompt:\n{F}\nQ: ${{SHOTS.q}} A: ${{SHOTS.a}}\n{F}\n"
        + f"  prompt:\n{F}\nQ: {{{{INPUT.q}}}} / ${{INPUT.q}} A:\n{F}\n}}\n"
    )
    rec = Recorder()
    config = {"MODEL": {"provider_id": "rec", "model_id": "m", "temperature": 0.9}}
    _, record = await run_app(spec, config, [{"q": "3+3"}], rec_ctx(rec))
    prompt = "Solve.Q: 1+1 A: 2Q: 2+2 A: 4Q: 3+3 / 3+3 A:"
    assert last(record) == [
        [
            {
                "value": {
                    "prompt": {
                        "text": prompt,
                        "tokens": None,
                        "logprobs": None,
                        "top_logprobs": None,
                    },
                    "completion": {
                        "text": "ok",
                        "tokens": None,
                        "logprobs": None,
                        "top_logprobs": None,
                    },
                },
                "error": None,
                "meta": {
                    "token_usage": {"prompt_tokens": 2, "completion_tokens": 1},
                    "provider_request_id": None,
                },
            }
        ]
    ]
    request = rec.requests[0]
    assert request.messages == [{"role": "user", "content": prompt}]
    assert (request.temperature, request.max_tokens, request.stop) == (0.9, 9, ["END", "STOP"])


@pytest.mark.parametrize(
    ("prompt", "inputs", "error"),
    [
        ("${NOPE.q}", [{"q": "a"}], "Block `NOPE` output not found"),
        ("${INPUT.zz}", [{"q": "a"}], "Key `zz` is not present in block `INPUT` output"),
        ("${INPUT.q}", [{"q": 3}], "`INPUT.q` is not a string"),
        (
            "{{INPUT.zz}}",
            [{"q": "a"}],
            "Templating error: Variable `INPUT.zz` not found in context while rendering 'prompt'",
        ),
    ],
)
async def test_llm_variable_errors_are_cores(prompt, inputs, error):
    spec = f"input INPUT {{ }}\n\nllm MODEL {{\n  max_tokens: 9\n  temperature: 0\n  prompt:\n{F}\n{prompt}\n{F}\n}}\n"
    _, record = await run_app(
        spec, {"MODEL": {"provider_id": "rec", "model_id": "m"}}, inputs, rec_ctx(Recorder())
    )
    assert last(record) == [[{"value": None, "error": error, "meta": None}]]


# ---------------------------------------------------------------- chat

CHAT_SPEC = (
    "input INPUT { }\n\n"
    "chat CHAT {\n  temperature: 0.5\n"
    f"  instructions:\n{F}\nYou answer about {{{{INPUT.topic}}}}.\n{F}\n"
    f"  messages_code:\n{F}\n"
    "_fun = (env) => { console.log('building'); return [{ role: 'user', content: env.state.INPUT.q }]; }\n"
    f"{F}\n}}\n"
)


async def test_chat_streams_the_assistant_message_with_logs_and_usage():
    config = {"CHAT": {"provider_id": "offline", "model_id": "reverse", "use_stream": True}}
    events, record = await run_app(CHAT_SPEC, config, [{"topic": "tea", "q": "green or black"}])
    assert [e["content"]["tokens"]["text"] for e in events if e["type"] == "tokens"] == [
        "black",
        " or",
        " green",
    ]
    tokens = next(e for e in events if e["type"] == "tokens")["content"]
    assert (tokens["block_type"], tokens["block_name"], tokens["input_index"], tokens["map"]) == (
        "chat",
        "CHAT",
        0,
        None,
    )
    assert last(record) == [
        [
            {
                "value": {"message": {"content": "black or green", "role": "assistant"}},
                "error": None,
                "meta": {  # core/src/blocks/chat.rs: every key, nulls kept
                    "logs": ["building"],
                    "token_usage": {"prompt_tokens": 7, "completion_tokens": 3},
                    "provider_request_id": None,
                },
            }
        ]
    ]


async def test_chat_puts_instructions_first_and_checks_messages_and_function_call():
    rec = Recorder()
    config = {"CHAT": {"provider_id": "rec", "model_id": "m"}}
    await run_app(CHAT_SPEC, config, [{"topic": "tea", "q": "hi"}], rec_ctx(rec))
    assert rec.requests[0].messages == [
        {"role": "system", "content": "You answer about tea."},
        {"role": "user", "content": "hi"},
    ]
    bad = CHAT_SPEC.replace(
        "return [{ role: 'user', content: env.state.INPUT.q }];", "return 'hi';"
    )
    _, record = await run_app(bad, config, [{"topic": "t", "q": "x"}], rec_ctx(rec))
    assert last(record)[0][0]["error"] == (
        "Invalid messages code output, expecting an array of objects with  fields `role`, "
        "possibly `name`, and `content` or `function_call(s)`."
    )
    config = {"CHAT": {"provider_id": "rec", "model_id": "m", "function_call": "lookup"}}
    _, record = await run_app(CHAT_SPEC, config, [{"topic": "t", "q": "x"}], rec_ctx(rec))
    assert last(record)[0][0]["error"] == (
        "Invalid `function_call` in configuration for chat block `CHAT`: function name `lookup` "
        "not found in functions. Possible values are 'auto', 'none', 'any' or the name of one of "
        "the functions."
    )
    _, record = await run_app(CHAT_SPEC, {}, [{"topic": "t", "q": "x"}], rec_ctx(rec))
    assert last(record)[0][0]["error"] == (
        'Missing configuration for chat block `CHAT`, expecting `{ "provider_id": ..., "model_id": ... }`'
    )


def messages_spec(messages_js: str) -> str:
    return (
        "input INPUT { }\n\n"
        f"chat CHAT {{\n  temperature: 0.5\n  messages_code:\n{F}\n_fun = (env) => {messages_js};\n{F}\n}}\n"
    )


@pytest.mark.parametrize(
    ("messages_js", "error"),
    [
        # core/src/blocks/chat.rs deserializes into core/src/providers/chat_messages.rs ChatMessage:
        # serde's own texts, fields visited in sorted key order (serde_json's Map is a BTreeMap)
        (
            "[{ role: 'user', content: 'hi', foo: 1 }]",
            "unknown field `foo`, expected one of `content`, `name`, `role`",
        ),
        (
            "[{ role: 'system', content: 'x', zzz: 1, a: 2 }]",
            "unknown field `a`, expected `content` or `role`",
        ),
        ("[{ role: 'tool', content: 'x' }]", "Invalid role: tool"),
        ("[{ content: 'x' }]", "role field missing"),
        ("['hi']", "role field missing"),
        ("[{ role: 'user' }]", "missing field `content`"),
        ("[{ role: 'function', content: 'x' }]", "missing field `function_call_id`"),
        (
            "[{ role: 'user', content: 5 }]",
            "data did not match any variant of untagged enum ContentBlock",
        ),
        ("[{ role: 'assistant', content: 1 }]", "invalid type: integer `1`, expected a string"),
        (
            "[{ role: 'assistant', function_calls: [{ name: 'f', arguments: '{}' }] }]",
            "missing field `id`",
        ),
        (
            "({ role: 'user', content: 'hi' })",
            "Invalid messages code output, expecting an array of objects with  fields `role`, "
            "possibly `name`, and `content` or `function_call(s)`.",
        ),
    ],
)
async def test_chat_messages_are_read_as_cores_chat_message(messages_js, error):
    rec = Recorder()
    config = {"CHAT": {"provider_id": "rec", "model_id": "m"}}
    _, record = await run_app(messages_spec(messages_js), config, [{}], rec_ctx(rec))
    assert last(record) == [[{"value": None, "error": error, "meta": None}]]
    assert rec.requests == []


async def test_chat_messages_pass_normalized_as_core_sends_them():
    rec = Recorder()
    config = {"CHAT": {"provider_id": "rec", "model_id": "m"}}
    js = (
        "[{ role: 'assistant', content: 'a', extra: 1, name: null },"
        " { role: 'user', content: [{ type: 'text', text: 'hi', note: 'x' }], name: null },"
        " { role: 'function', content: 'r', function_call_id: 'c1' }]"
    )
    _, record = await run_app(messages_spec(js), config, [{}], rec_ctx(rec))
    assert last(record)[0][0]["error"] is None
    assert rec.requests[0].messages == [
        {"content": "a", "role": "assistant"},
        {"content": [{"type": "text", "text": "hi"}], "role": "user"},
        {"content": "r", "function_call_id": "c1", "role": "function"},
    ]


async def test_llm_on_a_chat_model_has_null_meta_and_bare_tokens():
    # core/src/blocks/llm.rs: gpt-4* and gpt-3.5-turbo* (not -instruct) go through chat, meta None
    spec = "input INPUT { }\n\n" + (
        f"llm MODEL {{\n  max_tokens: 9\n  temperature: 0\n  prompt:\n{F}\nQ: {{{{INPUT.q}}}}\n{F}\n}}\n"
    )
    bare = {"tokens": None, "logprobs": None, "top_logprobs": None}
    for model_id, meta in (
        ("gpt-4o-mini", None),
        ("gpt-3.5-turbo", None),
        (
            "gpt-3.5-turbo-instruct",
            {
                "token_usage": {"prompt_tokens": 2, "completion_tokens": 1},
                "provider_request_id": None,
            },
        ),
    ):
        config = {"MODEL": {"provider_id": "rec", "model_id": model_id}}
        _, record = await run_app(spec, config, [{"q": "x"}], rec_ctx(Recorder()))
        assert last(record) == [
            [
                {
                    "value": {
                        "prompt": {"text": "Q: x", **bare},
                        "completion": {"text": "ok", **bare},
                    },
                    "error": None,
                    "meta": meta,
                }
            ]
        ]


# ---------------------------------------------------------------- loopback servers


@contextlib.asynccontextmanager
async def serve(app):
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 — uvicorn offers no startup event to await
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def echo_request(request: Request):
    body = (await request.body()).decode()
    return JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "auth": request.headers.get("x-token"),
            "body": body,
        }
    )


async def plain(request: Request):
    return PlainTextResponse("not json", status_code=418)


CURL_SPEC = (
    "input INPUT { }\n\n"
    "curl FETCH {\n  method: POST\n"
    f"  url:\n{F}\nBASE/items/{{{{INPUT.id}}}}?k=${{secrets.TOKEN}}\n{F}\n"
    f"  headers_code:\n{F}\n_fun = (env) => ({{ 'x-token': env.secrets.TOKEN }});\n{F}\n"
    f"  body_code:\n{F}\n_fun = (env) => JSON.stringify({{ id: env.state.INPUT.id }});\n{F}\n}}\n"
)


async def test_curl_is_refused_unless_the_engine_allows_network():
    _, record = await run_app(CURL_SPEC.replace("BASE", "http://127.0.0.1:9"), {}, [{"id": "7"}])
    assert last(record)[0][0]["error"] == (
        "Network access is off: this engine was started without allowing `curl` blocks to make "
        "HTTP requests (start it with `dusttui serve --allow-network`)"
    )


async def test_curl_makes_the_request_with_code_headers_body_and_secrets():
    app = Starlette(
        routes=[Route("/items/{id}", echo_request, methods=["POST"]), Route("/plain", plain)]
    )
    async with serve(app) as base:
        ctx = EngineContext(
            token_delay=0, allow_network=True, curl_allow_loopback=True, secrets={"TOKEN": "tok-1"}
        )
        _, record = await run_app(CURL_SPEC.replace("BASE", base), {}, [{"id": "7"}], ctx)
        execution = last(record)[0][0]
        assert execution["error"] is None
        value = execution["value"]
        assert value["status"] == 200
        assert value["body"] == {
            "method": "POST",
            "path": "/items/7",
            "auth": "tok-1",
            "body": '{"id":"7"}',
        }
        assert value["headers"]["content-type"] == "application/json"
        assert isinstance(value["created"], int)
        assert value["body_base64"] is None  # textual content: core keeps no base64 copy
        assert list(value) == ["created", "status", "headers", "body", "body_base64"]
        assert execution["meta"] == {"logs": []}

        get = CURL_SPEC.replace("method: POST", "method: GET").replace(
            "BASE/items/{{INPUT.id}}?k=${secrets.TOKEN}", f"{base}/plain"
        )
        _, record = await run_app(get, {"FETCH": {"use_cache": False}}, [{"id": "7"}], ctx)
        assert last(record)[0][0]["value"]["status"] == 418
        assert last(record)[0][0]["value"]["body"] == "not json"


async def test_curl_headers_must_be_strings():
    # core/src/http/request.rs HttpRequest::execute
    spec = CURL_SPEC.replace("({ 'x-token': env.secrets.TOKEN })", "({ n: 1 })")
    ctx = EngineContext(token_delay=0, allow_network=True, secrets={"TOKEN": "t"})
    _, record = await run_app(spec.replace("BASE", "http://127.0.0.1:9"), {}, [{"id": "7"}], ctx)
    assert last(record)[0][0]["error"] == "Header value for header n must be a string"


def url_spec(url: str, method: str = "GET") -> str:
    return (
        "input INPUT { }\n\n"
        f"curl FETCH {{\n  method: {method}\n  url:\n{F}\n{url}\n{F}\n"
        f"  headers_code:\n{F}\n_fun = (env) => ({{}});\n{F}\n"
        f"  body_code:\n{F}\n_fun = (env) => null;\n{F}\n}}\n"
    )


@pytest.mark.parametrize(
    ("url", "error"),
    [
        # core/src/http/network.rs NetworkUtils::check_ipv4_is_public / check_ipv6_is_public
        ("http://0.0.0.0:9/", "Forbidden IP range: 0.0.0.0"),
        ("http://127.0.0.1:9/x", "Forbidden IP range: 127.0.0.1"),
        ("https://10.1.2.3/", "Forbidden IP range: 10.1.2.3"),
        ("http://192.168.0.10/", "Forbidden IP range: 192.168.0.10"),
        ("http://169.254.169.254/latest/meta-data", "Forbidden IP range: 169.254.169.254"),
        ("http://172.20.0.1/", "Forbidden IP range: 172.20.0.1"),
        ("http://100.100.0.1/", "Forbidden IP range: 100.100.0.1"),
        ("http://[::1]:9/", "Forbidden IP range: ::1"),
        ("http://[fd00::1]/", "Forbidden IP range: fd00::1"),
        ("http://[::ffff:10.0.0.1]/", "Forbidden IP range: 10.0.0.1"),
        ("http://localhost:9/", "Forbidden IP range: 127.0.0.1"),
        # core/src/blocks/curl.rs Curl::execute
        ("https://dust.tt/api/v1/w/x", "Curl block cannot be used for reentrant calls to Dust"),
        ("https://www.dust.tt/", "Curl block cannot be used for reentrant calls to Dust"),
    ],
)
async def test_curl_refuses_private_addresses_and_dust_itself(url, error):
    ctx = EngineContext(token_delay=0, allow_network=True)
    _, record = await run_app(url_spec(url), {}, [{}], ctx)
    got = last(record)[0][0]["error"]
    if url == "http://localhost:9/" and got == "Forbidden IP range: ::1":
        got = "Forbidden IP range: 127.0.0.1"  # localhost may resolve to ::1 first
    assert got == error


async def test_curl_bodies_read_as_serde_json_reads_them():
    from starlette.responses import Response

    async def deep(request: Request):
        n = int(request.query_params["n"])
        return PlainTextResponse("[" * n + "]" * n, media_type="application/json")

    async def binary(request: Request):
        return Response(b"\x00\xffok", media_type="application/octet-stream")

    app = Starlette(routes=[Route("/deep", deep), Route("/bin", binary)])
    async with serve(app) as base:
        ctx = EngineContext(token_delay=0, allow_network=True, curl_allow_loopback=True)
        values = []
        for url in (f"{base}/deep?n=127", f"{base}/deep?n=128", f"{base}/bin"):
            _, record = await run_app(url_spec(url), {}, [{}], ctx)
            values.append(last(record)[0][0]["value"])
    # serde_json's recursion limit (128): deeper is not JSON, the body stays text
    assert isinstance(values[0]["body"], list) and values[0]["body_base64"] is None
    assert values[1]["body"] == "[" * 128 + "]" * 128
    # a body that is not text also comes as base64 (core/src/http/request.rs)
    assert values[2]["body"] == "\x00\ufffdok"  # String::from_utf8_lossy
    assert values[2]["body_base64"] == "AP9vaw=="


async def test_curl_method_text_is_cores():
    ctx = EngineContext(token_delay=0, allow_network=True)
    _, record = await run_app(url_spec("https://example.test/", "HEAD"), {}, [{}], ctx)
    assert last(record)[0][0]["error"] == (
        "Invalid method HEAD, supported methods are GET, POST, PUT, PATCH, DELETE."
    )


async def redirect_to_private(request: Request):
    from starlette.responses import RedirectResponse

    return RedirectResponse("http://10.0.0.1/", status_code=302)


async def test_curl_input_data_never_reaches_a_secret_and_redirects_are_checked():
    seen: list[str] = []

    async def record_query(request: Request):
        seen.append(str(request.url))
        return JSONResponse({"query": str(request.url.query)})

    app = Starlette(routes=[Route("/q", record_query), Route("/redirect", redirect_to_private)])
    async with serve(app) as base:
        ctx = EngineContext(
            token_delay=0, allow_network=True, curl_allow_loopback=True, secrets={"KEY": "s3cr3t"}
        )
        spec = url_spec(f"{base}/q?q={{{{INPUT.q}}}}&k=${{secrets.KEY}}")
        inputs = [{"q": "${secrets.KEY}"}, {"q": "{{7*7}}"}]
        _, record = await run_app(spec, {"FETCH": {"use_cache": False}}, inputs, ctx)
        queries = [row[0]["value"]["body"]["query"] for row in last(record)]
        assert queries == [
            "q=${secrets.KEY}&k=s3cr3t",  # the input's text, not the secret
            "q={{7*7}}&k=s3cr3t",  # not 49: the input is not a template
        ]
        assert "s3cr3t" not in json.dumps(record.to_wire()["traces"][:1])
        _, record = await run_app(url_spec(f"{base}/redirect"), {}, [{}], ctx)
        error = last(record)[0][0]["error"]
        assert error.endswith("redirected to Forbidden IP range: 10.0.0.1")
        assert error.startswith("HTTP request failed (http://127.0.0.1:")


# ---------------------------------------------------------------- OpenAI-compatible in a run


async def chat_completions(request: Request):
    body = await request.json()
    word = body["messages"][-1]["content"]

    async def chunks():
        for piece in (word[:1], word[1:].upper()):
            yield f"data: {json.dumps({'choices': [{'delta': {'content': piece}}]})}\n\n"
        yield f"data: {json.dumps({'choices': [], 'usage': {'prompt_tokens': 3, 'completion_tokens': 2}})}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(chunks(), media_type="text/event-stream")


async def test_openai_compatible_endpoint_streams_tokens_into_a_mapped_run():
    spec = (
        "input INPUT { }\n\n"
        + code("SPLIT", "_fun = (env) => env.state.INPUT.s.split(' ');")
        + "map EACH {\n  from: SPLIT\n}\n\n"
        + f"llm MODEL {{\n  max_tokens: 9\n  temperature: 0\n  prompt:\n{F}\n{{{{EACH}}}}\n{F}\n}}\n\n"
        + "reduce EACH { }\n"
    )
    app = Starlette(routes=[Route("/v1/chat/completions", chat_completions, methods=["POST"])])
    async with serve(app) as base:
        providers = ProviderRegistry.from_env({"OPENAI_COMPATIBLE_BASE_URL": f"{base}/v1"})
        ctx = EngineContext(token_delay=0, providers=providers)
        config = {
            "MODEL": {"provider_id": "openai_compatible", "model_id": "local", "use_stream": True}
        }
        events, record = await run_app(spec, config, [{"s": "ab cd"}], ctx)
    tokens = sorted(
        (e["content"]["map"]["iteration"], e["content"]["tokens"]["text"])
        for e in events
        if e["type"] == "tokens"
    )
    assert tokens == [(0, "B"), (0, "a"), (1, "D"), (1, "c")]
    model = next(t for t in record.traces if t[0] == ["llm", "MODEL"])[1]
    assert [x["value"]["completion"]["text"] for x in model[0]] == ["aB", "cD"]
    assert model[0][0]["meta"] == {
        "token_usage": {"prompt_tokens": 3, "completion_tokens": 2},
        "provider_request_id": None,
    }
