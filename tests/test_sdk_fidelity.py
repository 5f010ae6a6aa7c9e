"""The official SDKs (openai, anthropic, google-genai; the `sdk` test extra) read the fakes' replies, streams and
errors cleanly: so what hepmini is tested against is what the real services send. Skipped where not installed."""

import math

import pytest
from support.faults import QUOTA_REPLIES, server_error
from support.fakes import (ANTHROPIC_401, ANTHROPIC_429, ANTHROPIC_529, DEFAULT, GEMINI_400_KEY, GEMINI_503,
                           LITELLM_400_BUDGET, LLAMACPP_503_LOADING, OPENAI_401, OPENAI_429_TPM, OPENAI_500, VLLM_401,
                           AnthropicFake, GeminiFake, OpenAIFake, Resp, anthropic_message, gemini_429,
                           gemini_response, llamacpp_400_context, openai_completion)

KEY = "test-key-0000"
HI = [{"role": "user", "content": "Capital of France?"}]


# --- openai ------------------------------------------------------------------------------------------


@pytest.fixture
def openai():
    return pytest.importorskip("openai")


def openai_client(openai, fake, **options):
    http = openai.DefaultHttpxClient(trust_env=False)     # loopback, whatever proxy the machine has
    return openai.OpenAI(api_key=KEY, base_url=fake.url + "/v1", max_retries=0, http_client=http, **options)


@pytest.mark.parametrize("flavor", ["openai", "vllm", "ollama", "llamacpp", "litellm"])
def test_openai_reply_and_stream(openai, flavor):
    with OpenAIFake(key=KEY, flavor=flavor) as fake, openai_client(openai, fake) as client:
        reply = client.chat.completions.create(model="gpt-4.1", messages=HI)
        chunks = list(client.chat.completions.create(model="gpt-4.1", messages=HI, stream=True,
                                                     stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert (reply.choices[0].message.content, reply.choices[0].finish_reason) == ("Paris.", "stop")
    assert (text, finish) == ("Paris.", ["stop"])
    assert chunks[-1].usage == reply.usage and reply.usage.total_tokens == 32


def test_openai_refusal_and_reasoning_exhaustion(openai):
    refusal = openai_completion(None, extra_message={"refusal": "I can't help with that."})
    with OpenAIFake(key=KEY) as fake, openai_client(openai, fake) as client:
        fake.script(Resp(200, refusal), Resp(200, refusal))
        reply = client.chat.completions.create(model="gpt-4.1", messages=HI)
        chunks = list(client.chat.completions.create(model="gpt-4.1", messages=HI, stream=True))
        exhausted = client.chat.completions.create(model="gpt-5-mini", messages=HI, max_completion_tokens=64)
    assert reply.choices[0].message.refusal == "I can't help with that." and reply.choices[0].message.content is None
    assert "".join(c.choices[0].delta.refusal or "" for c in chunks) == "I can't help with that."
    usage = exhausted.usage
    assert exhausted.choices[0].finish_reason == "length" and usage.completion_tokens_details.reasoning_tokens == 64


@pytest.mark.parametrize("status, body, cls", [
    (401, OPENAI_401, "AuthenticationError"), (401, VLLM_401, "AuthenticationError"),
    (429, OPENAI_429_TPM, "RateLimitError"), (500, OPENAI_500, "InternalServerError"),
    (503, LLAMACPP_503_LOADING, "InternalServerError"), (400, llamacpp_400_context(), "BadRequestError"),
    (400, LITELLM_400_BUDGET, "BadRequestError"),
    *[(status, body, {400: "BadRequestError", 429: "RateLimitError"}.get(status, "APIStatusError"))
      for style, status, body in QUOTA_REPLIES.values() if style == "openai"],
])
def test_openai_errors(openai, status, body, cls):
    with OpenAIFake(key=KEY) as fake, openai_client(openai, fake) as client:
        fake.script(Resp(status, body), Resp(status, body))
        for stream in (False, True):
            with pytest.raises(getattr(openai, cls)) as err:
                client.chat.completions.create(model="gpt-4.1", messages=HI, stream=stream)
            assert err.value.status_code == status and err.value.body is not None


def test_openai_mid_stream_error_and_truncation(openai):
    with OpenAIFake(key=KEY) as fake, openai_client(openai, fake) as client:
        fake.script(Resp(body=DEFAULT, error_after=2), Resp(body=DEFAULT, truncate_after=2))
        with pytest.raises(openai.APIError, match="The server had an error"):
            list(client.chat.completions.create(model="gpt-4.1", messages=HI, stream=True))
        with pytest.raises(openai.APIConnectionError):     # the connection closed before the last chunk
            list(client.chat.completions.create(model="gpt-4.1", messages=HI, stream=True))


def test_openai_organization_and_project_headers(openai):
    with OpenAIFake(key=KEY, org="org-1") as fake, \
            openai_client(openai, fake, organization="org-1", project="proj_1") as client:
        client.chat.completions.create(model="gpt-4.1", messages=HI)
    assert (fake.requests[0].headers["openai-organization"], fake.requests[0].headers["openai-project"]) == \
        ("org-1", "proj_1")


# --- anthropic ----------------------------------------------------------------------------------------


@pytest.fixture
def anthropic():
    return pytest.importorskip("anthropic")


def anthropic_client(anthropic, fake):
    http = anthropic.DefaultHttpxClient(trust_env=False)
    return anthropic.Anthropic(api_key=KEY, base_url=fake.url, max_retries=0, http_client=http)


@pytest.mark.parametrize("thinking", [False, True])
def test_anthropic_reply_and_stream(anthropic, thinking):
    extra = {"thinking": {"type": "enabled", "budget_tokens": 1024}} if thinking else {}
    with AnthropicFake(key=KEY) as fake, anthropic_client(anthropic, fake) as client:
        reply = client.messages.create(model="claude-sonnet-4-5", max_tokens=2048, messages=HI, **extra)
        with client.messages.stream(model="claude-sonnet-4-5", max_tokens=2048, messages=HI, **extra) as stream:
            streamed_text = "".join(stream.text_stream)
            final = stream.get_final_message()
    assert [b.type for b in reply.content] == (["thinking", "text"] if thinking else ["text"])
    assert (reply.content[-1].text, reply.stop_reason, streamed_text) == ("Paris.", "end_turn", "Paris.")
    assert final.model_dump(exclude={"content"}) == reply.model_dump(exclude={"content"})
    assert [b.model_dump() for b in final.content] == [b.model_dump() for b in reply.content]
    assert fake.requests[0].headers.get("authorization") == f"Bearer {KEY}" or \
        fake.requests[0].headers.get("x-api-key") == KEY


def test_anthropic_empty_and_refusal_replies(anthropic):
    with AnthropicFake(key=KEY) as fake, anthropic_client(anthropic, fake) as client:
        fake.script(Resp(200, anthropic_message(None)), Resp(200, anthropic_message("", stop="refusal")))
        empty = client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=HI)
        with client.messages.stream(model="claude-sonnet-4-5", max_tokens=64, messages=HI) as stream:
            refused = stream.get_final_message()
    assert (empty.content, empty.stop_reason) == ([], "end_turn") and refused.stop_reason == "refusal"


@pytest.mark.parametrize("status, body, cls", [
    (401, ANTHROPIC_401, "AuthenticationError"), (429, ANTHROPIC_429, "RateLimitError"),
    (500, server_error("anthropic"), "InternalServerError"), (529, ANTHROPIC_529, "OverloadedError"),
    *[(status, body, {400: "BadRequestError", 429: "RateLimitError"}[status])
      for style, status, body in QUOTA_REPLIES.values() if style == "anthropic"],
])
def test_anthropic_errors(anthropic, status, body, cls):
    with AnthropicFake(key=KEY) as fake, anthropic_client(anthropic, fake) as client:
        fake.script(Resp(status, body), Resp(status, body))
        for stream in (False, True):
            with pytest.raises(getattr(anthropic, cls)) as err:
                list(client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=HI, stream=stream))
            assert err.value.status_code == status and err.value.type == body["error"]["type"]


def test_anthropic_spend_limit_429_is_its_own_error(anthropic):
    if not hasattr(anthropic, "EnforcedSpendLimitReachedError"):
        pytest.skip("an SDK older than the spend-limit error codes")
    _, status, body = QUOTA_REPLIES["anthropic_spend_limit_429"]
    with AnthropicFake(key=KEY) as fake, anthropic_client(anthropic, fake) as client:
        fake.script(Resp(status, body))
        with pytest.raises(anthropic.EnforcedSpendLimitReachedError) as err:
            client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=HI)
    assert err.value.error_code == "enforced_spend_limit_reached"


def test_anthropic_overloaded_mid_stream(anthropic):
    with AnthropicFake(key=KEY) as fake, anthropic_client(anthropic, fake) as client:
        fake.script(Resp(body=DEFAULT, error_after=4))
        with pytest.raises(anthropic.APIStatusError) as err:
            with client.messages.stream(model="claude-sonnet-4-5", max_tokens=64, messages=HI) as stream:
                stream.get_final_message()
    assert err.value.type == "overloaded_error"


# --- google-genai ---------------------------------------------------------------------------------------


@pytest.fixture
def genai():
    return pytest.importorskip("google.genai")


def genai_client(genai, fake, version=None):
    options = genai.types.HttpOptions(base_url=fake.url, api_version=version, client_args={"trust_env": False})
    return genai.Client(api_key=KEY, http_options=options)


@pytest.mark.parametrize("version", [None, "v1beta"])      # None: the SDK's default (/v1 in 3.x)
@pytest.mark.parametrize("thought", [None, "**Pinpointing the capital**"])
def test_gemini_reply_and_stream(genai, version, thought):
    with GeminiFake(key=KEY) as fake, genai_client(genai, fake, version) as client:
        fake.script(Resp(200, gemini_response(thought=thought)), Resp(200, gemini_response(thought=thought)))
        reply = client.models.generate_content(model="gemini-2.5-flash", contents="Capital of France?")
        chunks = list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="Capital of France?"))
    assert (reply.text, reply.candidates[0].finish_reason.value) == ("Paris.", "STOP")
    assert "".join(c.text or "" for c in chunks) == "Paris."
    assert chunks[-1].usage_metadata == reply.usage_metadata and reply.usage_metadata.total_token_count == 67
    assert chunks[-1].candidates[0].finish_reason.value == "STOP"
    assert fake.requests[0].route.startswith(f"/{version or 'v1'}/")


@pytest.mark.parametrize("status, body, cls", [
    (400, GEMINI_400_KEY, "ClientError"), (429, gemini_429(), "ClientError"),
    (500, server_error("gemini"), "ServerError"), (503, GEMINI_503, "ServerError"),
    *[(status, body, "ClientError") for style, status, body in QUOTA_REPLIES.values() if style == "gemini"],
])
def test_gemini_errors(genai, status, body, cls):
    errors = pytest.importorskip("google.genai.errors")
    with GeminiFake(key=KEY) as fake, genai_client(genai, fake) as client:
        fake.script(Resp(status, body), Resp(status, body))
        with pytest.raises(getattr(errors, cls)) as err:
            client.models.generate_content(model="gemini-2.5-flash", contents="hi")
        assert (err.value.code, err.value.status) == (status, body["error"]["status"])
        with pytest.raises(getattr(errors, cls)):
            list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi"))


def test_gemini_stream_stall_is_cut_by_the_sdk_timeout(genai):
    with GeminiFake(key=KEY) as fake:
        fake.script(Resp(body=DEFAULT, stall_after=1), Resp(body=DEFAULT, schedule=[(40, math.inf)]))
        options = genai.types.HttpOptions(base_url=fake.url, timeout=300, client_args={"trust_env": False})
        with genai.Client(api_key=KEY, http_options=options) as client:
            for _ in range(2):
                with pytest.raises(Exception, match="(?i)timed? ?out"):
                    list(client.models.generate_content_stream(model="gemini-2.5-flash", contents="hi"))
