"""What a provider's failure becomes: one clear sentence per execution, with the provider's own
message, its HTTP status and the retries made (core's `with_retryable_back_off`: 429 and 5xx are
retried 3 times), and never the API key — not in the error, a log line or a repr."""

from __future__ import annotations

import logging

import pytest
import pytest_asyncio

from dusttui.engine.providers import (
    CORE_PROVIDER_IDS,
    GenerationRequest,
    OpenAICompatibleProvider,
    ProviderError,
    ProviderRegistry,
)
from tests.engine.fake_llm_servers import KEY, FakeLLMServer, provider_env, serve

pytestmark = pytest.mark.asyncio(loop_scope="module")

# provider id -> the prefix of its messages (core's provider names)
LABELS = {
    "openai": "OpenAI",
    "azure_openai": "AzureOpenAI",
    "anthropic": "Anthropic",
    "google_ai_studio": "GoogleAIStudio",
    "mistral": "MistralAI",
    "xai": "xAI",
}
# provider id -> the error type its fake server reports
KINDS = {"anthropic": "authentication_error", "google_ai_studio": "INVALID_ARGUMENT"}


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def fake_server():
    server = FakeLLMServer()
    async with serve(server.app) as base:
        server.base = base
        server.registry = ProviderRegistry.from_env(provider_env(base))
        yield server


@pytest.fixture
def fake(fake_server):
    fake_server.requests.clear()
    fake_server.attempts.clear()
    return fake_server


def chat(model: str) -> GenerationRequest:
    return GenerationRequest(
        model_id=model, messages=[{"role": "user", "content": "abc def"}], temperature=0.0
    )


async def fails(provider, model: str, stream: bool = False) -> str:
    async def sink(event_type: str, content: dict) -> None:
        pass

    with pytest.raises(ProviderError) as exc:
        await provider.generate(chat(model), sink if stream else None)
    return str(exc.value)


@pytest.mark.parametrize("pid", list(LABELS))
async def test_401_shows_the_providers_message_with_the_echoed_key_scrubbed(fake, pid):
    # The fake server, like some real proxies, repeats the key it was sent in its message.
    message = await fails(fake.registry.get(pid), "fail-401")
    kind = KINDS.get(pid, "invalid_request_error")
    assert message == (f"{LABELS[pid]}Error: [{kind}] Incorrect API key provided: *** (HTTP 401)")
    assert fake.attempts["fail-401"] == 1  # an auth error is not retried


@pytest.mark.parametrize("pid", list(LABELS))
async def test_429_is_retried_then_answers(fake, pid):
    g = await fake.registry.get(pid).generate(chat("fail-429-once"), None)
    assert g.text == "cba fed"
    assert fake.attempts["fail-429-once"] == 2


@pytest.mark.parametrize("pid", list(LABELS))
async def test_a_lasting_5xx_fails_after_three_retries(fake, pid):
    message = await fails(fake.registry.get(pid), "fail-500")
    kind = KINDS.get(pid, "invalid_request_error")
    assert message == (
        f"{LABELS[pid]}Error: [{kind}] The server had an error (HTTP 500, after 3 retries)"
    )
    assert fake.attempts["fail-500"] == 4


async def test_a_proxy_page_is_quoted_short_on_one_line(fake):
    message = await fails(fake.registry.get("openai"), "html-502")
    assert message == (
        "OpenAIError: <html><body><h1>502 Bad Gateway</h1></body></html> (HTTP 502, after 3 retries)"
    )


@pytest.mark.parametrize("pid", ["openai", "anthropic", "google_ai_studio", "xai"])
async def test_a_stream_cut_mid_answer_is_an_error_not_a_short_answer(fake, pid):
    message = await fails(fake.registry.get(pid), "cut", stream=True)
    assert message == f"the stream from {LABELS[pid]} was cut before its end (RemoteProtocolError)"


async def test_a_stream_that_ends_before_its_last_event_is_an_error(fake):
    message = await fails(fake.registry.get("openai"), "ends-early", stream=True)
    assert message == "the stream from OpenAI ended before the answer was complete"


async def test_malformed_json_bodies_and_events_are_named(fake):
    assert await fails(fake.registry.get("openai"), "bad-json") == (
        'OpenAI answered with malformed JSON: {"choices": ['
    )
    assert await fails(fake.registry.get("anthropic"), "bad-json") == (
        "Anthropic answered with malformed JSON: {oops"
    )
    for pid in ("openai", "anthropic", "google_ai_studio"):
        assert await fails(fake.registry.get(pid), "bad-json", stream=True) == (
            f"{LABELS[pid]} sent a malformed event in its stream: {{oops"
        )


async def test_an_error_event_inside_an_anthropic_stream_ends_it(fake):
    message = await fails(fake.registry.get("anthropic"), "overloaded", stream=True)
    assert message == "AnthropicError: [overloaded_error] Overloaded"


async def test_a_silent_provider_times_out_with_a_sentence(fake):
    provider = OpenAICompatibleProvider("openai", f"{fake.base}/oai/openai/v1", KEY, timeout=0.3)
    message = await fails(provider, "slow", stream=True)
    assert message == (
        f"OpenAI did not answer within 0.3 s ({fake.base}/oai/openai/v1/chat/completions)"
    )


async def test_every_core_provider_without_a_key_names_the_variable_to_set():
    registry = ProviderRegistry.from_env({})
    messages = {pid: await fails(registry.get(pid), "m") for pid in CORE_PROVIDER_IDS}
    variables = {
        "openai": "OPENAI_API_KEY",
        "anthropic": "ANTHROPIC_API_KEY",
        "mistral": "MISTRAL_API_KEY",
        "google_ai_studio": "GOOGLE_AI_STUDIO_API_KEY",
        "togetherai": "TOGETHERAI_API_KEY",
        "deepseek": "DEEPSEEK_API_KEY",
        "fireworks": "FIREWORKS_API_KEY",
        "xai": "XAI_API_KEY",
    }
    for pid, var in variables.items():
        assert messages[pid] == (
            f"Provider `{pid}` needs an API key: set {var} in the engine's environment"
        )
    assert messages["azure_openai"] == (
        "Provider `azure_openai` has no endpoint: set AZURE_OPENAI_ENDPOINT in the engine's "
        "environment"
    )


async def test_usual_alternative_key_variables_are_read():
    registry = ProviderRegistry.from_env({"GEMINI_API_KEY": "g-1", "TOGETHER_API_KEY": "t-1"})
    for pid in ("google_ai_studio", "togetherai"):
        with pytest.raises(ProviderError) as exc:  # a key is set: it tries to connect
            await registry.get(pid).generate(chat("m"), None)
        assert "needs an API key" not in str(exc.value)


async def test_the_key_is_in_no_log_line_and_no_repr(fake, caplog):
    caplog.set_level(logging.DEBUG)
    for pid in ("openai", "azure_openai", "anthropic", "google_ai_studio", "mistral"):
        provider = fake.registry.get(pid)
        await provider.generate(chat("m"), None)
        await fails(provider, "fail-401")
        await fails(provider, "cut", stream=True)
        assert KEY not in repr(provider)
    assert "HTTP Request: POST" in caplog.text  # httpx did log the requests…
    assert KEY not in caplog.text  # …without the key
    assert KEY not in repr(fake.registry)
