"""OpenAI Chat Completions and compatible servers (CBorg/LiteLLM, vLLM, Ollama, llama.cpp) against fakes."""

import json

import pytest
from support.fakes import (LITELLM_400_BUDGET, LITELLM_400_WRAPPED, LITELLM_401, LITELLM_429, LLAMACPP_503_LOADING,
                      OLLAMA_404, OPENAI_400_MAX_TOKENS, OPENAI_400_STOP, OPENAI_400_TEMPERATURE, OPENAI_400_TOP_P,
                      VLLM_400, VLLM_OLD_FLAT, FakeClock, OpenAIFake, Resp, loopback_session, make_config,
                      openai_completion)

from hepmini.llm.client import client_for
from hepmini.llm import openai
from hepmini.errors import AuthError, BadRequest, MalformedResponse, QuotaExceeded, RateLimited

KEY = "sk-test-openai-0001"
HELLO = [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Capital of France?"}]


@pytest.fixture
def fake():
    with OpenAIFake(key=KEY) as server:
        yield server


def connect(fake, tmp_path, model, provider="openai", env=None, **settings):
    """A client whose waits are instant (FakeClock), pointed at `fake`."""
    settings.setdefault("stream", False)   # the JSON wire; streaming has its own tests
    env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake.url + "/v1", **(env or {})}
    clock = FakeClock()
    client = client_for(f"{provider}:{model}", make_config(tmp_path, env, **settings), sleep=clock.sleep,
                            session=loopback_session())
    client.fake_clock = clock
    return client


def sent(fake):
    return fake.requests[-1].body


# --- request bodies ------------------------------------------------------------------------------


def test_reasoning_model_gets_max_completion_tokens_and_no_sampling_params(fake, tmp_path):
    with connect(fake, tmp_path, "gpt-5-mini") as client:
        reply = client.complete(HELLO, {"temperature": 0, "top_p": 0.9, "stop": "\n\n", "max_tokens": 2000,
                                        "seed": 1})
    body = sent(fake)
    assert fake.requests[-1].path == "/v1/chat/completions"
    assert fake.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    assert body["max_completion_tokens"] == 2000 and body["seed"] == 1
    assert not {"temperature", "top_p", "stop", "max_tokens"} & set(body)
    assert body["messages"] == HELLO
    assert reply.params_sent == {"max_completion_tokens": 2000, "seed": 1}
    assert set(reply.params_dropped) == {"temperature", "top_p", "stop"}
    assert reply.text == "Paris." and reply.finish_reason == "stop"


@pytest.mark.parametrize("model", ["o3", "o4-mini", "gpt-5", "gpt-5.1", "o1-pro"])
def test_every_reasoning_family_is_accepted_by_the_strict_fake(fake, tmp_path, model):
    with connect(fake, tmp_path, model) as client:
        reply = client.complete(HELLO, {"temperature": 0.2, "max_tokens": 500, "stop": ["x"]})
    assert reply.finish_reason == "stop" and reply.model == f"{model}-2025-08-07"


def test_non_reasoning_model_keeps_sampling_params(fake, tmp_path):
    with connect(fake, tmp_path, "gpt-4.1") as client:
        reply = client.complete(HELLO, {"temperature": 0, "top_p": 1, "stop": "END", "max_tokens": 100,
                                        "top_k": 5})
    body = sent(fake)
    assert body["temperature"] == 0 and body["top_p"] == 1 and body["stop"] == ["END"]
    assert body["max_completion_tokens"] == 100 and "top_k" not in body
    assert reply.params_dropped == {"top_k": "api.openai.com has no top_k"}


@pytest.mark.parametrize("body, param", [(OPENAI_400_TEMPERATURE, "temperature"),
                                         (OPENAI_400_MAX_TOKENS, "max_tokens"),
                                         (OPENAI_400_STOP, "stop"), (OPENAI_400_TOP_P, "top_p")])
def test_unsupported_parameter_400_is_a_bad_request_with_the_fix(fake, tmp_path, body, param):
    fake.script(Resp(400, body))
    with connect(fake, tmp_path, "gpt-4.1") as client, pytest.raises(BadRequest) as err:
        client.complete(HELLO)
    assert body["error"]["message"] in str(err.value)
    assert f"the model rejects the parameter '{param}'" in str(err.value) or "max_tokens_field" in str(err.value)
    assert err.value.status == 400 and len(err.value.attempts) == 1 and client.fake_clock.sleeps == []
    assert err.value.provider_message == body["error"]["message"]


def test_a_proxy_that_sends_max_tokens_to_a_reasoning_model_gets_the_real_400(fake, tmp_path):
    # A user-defined openai-compatible endpoint sends max_tokens; api.openai.com rejects it for gpt-5.
    env = {"HEPMINI_ENDPOINT_PROXY": fake.url + "/v1", "PROXY_API_KEY": KEY}
    with connect(fake, tmp_path, "gpt-5-mini", provider="proxy", env=env) as client, \
            pytest.raises(BadRequest, match="Use 'max_completion_tokens' instead"):
        client.complete(HELLO, {"max_tokens": 500})
    assert sent(fake)["max_tokens"] == 500


# --- responses -----------------------------------------------------------------------------------


def test_usage_with_details_and_cost(fake, tmp_path):
    fake.script(Resp(200, openai_completion("Paris.", prompt=1000, completion=500, reasoning=300, cached=200)))
    with connect(fake, tmp_path, "gpt-5-mini") as client:
        reply = client.complete(HELLO, {"max_tokens": 1000})
    u = reply.usage
    assert (u.input, u.output, u.reasoning, u.cached_input, u.total, u.reported) == (1000, 500, 300, 200, 1500, True)
    assert reply.cost == pytest.approx((800 * 0.25 + 200 * 0.025 + 500 * 2.0) / 1e6)
    assert reply.cost_source == "table"


def test_usage_without_optional_details(fake, tmp_path):
    fake.script(Resp(200, openai_completion("hi", details=False, prompt=7, completion=3)))
    with connect(fake, tmp_path, "gpt-5-mini") as client:
        u = client.complete(HELLO).usage
    assert (u.input, u.output, u.reasoning, u.cached_input, u.total) == (7, 3, 0, 0, 10)


def test_null_details_and_missing_usage(fake, tmp_path):
    body = openai_completion("hi")
    body["usage"]["prompt_tokens_details"] = body["usage"]["completion_tokens_details"] = None
    fake.script(Resp(200, body), Resp(200, openai_completion("hi", usage=False)))
    with connect(fake, tmp_path, "gpt-5-mini") as client:
        assert client.complete(HELLO).usage.reasoning == 0
        reply = client.complete(HELLO)
    assert reply.usage.reported is False and reply.cost is None   # no usage: cost unknown, not 0


def test_reasoning_exhaustion_is_an_empty_length_reply(fake, tmp_path):
    with connect(fake, tmp_path, "gpt-5-nano") as client:
        reply = client.complete(HELLO, {"max_tokens": 64})
    assert reply.text == "" and reply.finish_reason == "length"
    assert reply.usage.output == reply.usage.reasoning == 64


@pytest.mark.parametrize("message, finish, text, expected", [
    ({"content": None, "refusal": "I can't help with that."}, "stop", "", "refusal"),
    ({"content": "partial"}, "content_filter", "partial", "content_filter"),
    ({"content": "x"}, "tool_calls", "x", "stop"),
    ({"content": "x"}, "abort", "x", "error"),           # vLLM abort
    ({"content": "x"}, None, "x", "stop"),
    ({"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}, "stop", "ab", "stop"),
])
def test_finish_reasons_and_odd_messages(message, finish, text, expected):
    body = openai_completion()
    body["choices"][0]["message"].update(message)
    body["choices"][0]["finish_reason"] = finish
    reply = openai.parse_response(body)
    assert (reply.text, reply.finish_reason) == (text, expected)


def test_empty_choices_and_200_with_error_object_are_the_servers_fault():
    with pytest.raises(MalformedResponse, match="no choices"):
        openai.parse_response({"choices": [], "model": "m"})
    with pytest.raises(MalformedResponse, match="upstream failed"):   # OpenRouter/LiteLLM (litellm#8448)
        openai.parse_response({"error": {"message": "upstream failed", "code": 502}})
    for body in (openai_completion(None, completion=0), openai_completion(None)):   # null content, stop (§5.2)
        with pytest.raises(MalformedResponse, match="empty"):
            openai.parse_response(body)
    assert openai.parse_response(openai_completion("", finish="length")).finish_reason == "length"


# --- compatible servers --------------------------------------------------------------------------


def test_ollama_gets_max_tokens_no_auth_and_unknown_price(tmp_path):
    with OpenAIFake(key=None, flavor="ollama") as fake:
        env = {"HEPMINI_ENDPOINT_OLLAMA": fake.url + "/v1"}
        with connect(fake, tmp_path, "qwen3:8b", provider="ollama", env=env) as client:
            reply = client.complete(HELLO, {"max_tokens": 300, "temperature": 0, "top_k": 20})
    body, headers = sent(fake), fake.requests[-1].headers
    assert body["model"] == "qwen3:8b" and body["max_tokens"] == 300 and "max_completion_tokens" not in body
    assert body["top_k"] == 20 and "authorization" not in headers
    assert reply.raw["system_fingerprint"] == "fp_ollama"
    assert reply.cost is None and reply.cost_source == ""


def test_ollama_404_error_shape(tmp_path):
    with OpenAIFake(key=None, flavor="ollama") as fake:
        fake.script(Resp(404, OLLAMA_404))
        with connect(fake, tmp_path, "llama9", provider="ollama",
                     env={"HEPMINI_ENDPOINT_OLLAMA": fake.url + "/v1"}) as client:
            with pytest.raises(BadRequest, match="not found, try pulling it first.*check the model name"):
                client.complete(HELLO)


def test_vllm_from_a_config_file_reasoning_text_is_left_out(tmp_path):
    with OpenAIFake(key="vllm-secret", flavor="vllm") as fake:
        (tmp_path / "hepmini.cfg").write_text(f"[endpoint:gpu]\nbase_url = {fake.url}/v1\nkey_env = VLLM_KEY\n")
        with connect(fake, tmp_path, "Qwen/Qwen3-8B", provider="gpu", env={"VLLM_KEY": "vllm-secret"}) as client:
            reply = client.complete(HELLO, {"max_tokens": 50})
        assert reply.text == "Paris." and "capital" not in reply.text
        assert reply.raw["choices"][0]["message"]["reasoning_content"]
        with connect(fake, tmp_path, "Qwen/Qwen3-8B", provider="gpu", env={"VLLM_KEY": "wrong"}) as client:
            with pytest.raises(AuthError, match=r"'Unauthorized' - check the API key \(VLLM_KEY\)"):
                client.complete(HELLO)


@pytest.mark.parametrize("body, match", [(VLLM_400, r"\[BadRequestError 400\] .*maximum context length"),
                                         (VLLM_OLD_FLAT, r"\[NotFoundError 404\] .*does not exist")])
def test_vllm_error_variants_with_int_codes(tmp_path, body, match):
    with OpenAIFake(key=None, flavor="vllm") as fake:
        fake.script(Resp(body.get("code", 400), body))
        with connect(fake, tmp_path, "m", provider="vllm", env={"HEPMINI_ENDPOINT_VLLM": fake.url + "/v1"}) as c:
            with pytest.raises(BadRequest, match=match):
                c.complete(HELLO)


def test_llamacpp_loading_503_is_retried(tmp_path):
    with OpenAIFake(key=None, flavor="llamacpp") as fake:
        fake.script(Resp(503, LLAMACPP_503_LOADING), Resp(503, LLAMACPP_503_LOADING))
        with connect(fake, tmp_path, "local", provider="llama",
                     env={"HEPMINI_ENDPOINT_LLAMA": fake.url + "/v1"}) as client:
            reply = client.complete(HELLO)
    assert [a["status"] for a in reply.attempts] == [503, 503, 200]
    assert reply.attempts[0]["error"] == "HTTP 503: Loading model" and reply.raw["timings"]


def cborg(fake, tmp_path, model="anthropic/claude-sonnet", **settings):
    return connect(fake, tmp_path, model, provider="cborg",
                   env={"CBORG_API_KEY": KEY, "CBORG_BASE_URL": fake.url + "/v1"}, **settings)


def test_cborg_alias_returned_model_and_litellm_cost_header(tmp_path):
    with OpenAIFake(key=KEY, flavor="litellm", returned_model="claude-sonnet-4-5-20250929",
                    cost_header="0.00123") as fake:
        with cborg(fake, tmp_path) as client:
            reply = client.complete(HELLO, {"temperature": 0, "max_tokens": 100})
    assert sent(fake)["max_tokens"] == 100 and sent(fake)["temperature"] == 0
    assert reply.requested_model == "anthropic/claude-sonnet" and reply.model == "claude-sonnet-4-5-20250929"
    assert (reply.cost, reply.cost_source) == (0.00123, "header")


def test_cborg_without_header_prices_by_vendor_list_price_or_free(tmp_path):
    with OpenAIFake(key=KEY, flavor="litellm", returned_model="claude-sonnet-4-5-20250929") as fake:
        with cborg(fake, tmp_path) as client:
            reply = client.complete(HELLO)
        assert reply.cost == pytest.approx((21 * 3.0 + 11 * 15.0) / 1e6) and reply.cost_source == "table"
        with cborg(fake, tmp_path, "lbl/cborg-chat") as client:
            assert client.complete(HELLO).cost == 0.0
        with cborg(fake, tmp_path, "lbl/../mystery") as client:
            assert client.complete(HELLO).cost == 0.0
    with OpenAIFake(key=KEY, flavor="litellm", returned_model="mystery-1") as fake, cborg(fake, tmp_path, "x/y") as c:
        assert c.complete(HELLO).cost is None


def test_litellm_error_variants(tmp_path):
    with OpenAIFake(key=KEY, flavor="litellm") as fake:
        fake.script(*[Resp(429, LITELLM_429)] * 3)
        with cborg(fake, tmp_path, max_retries=2) as client, pytest.raises(RateLimited) as err:
            client.complete(HELLO)
        assert "No deployments available" in str(err.value) and "None" not in str(err.value)
        assert "[429]" in str(err.value) and len(err.value.attempts) == 3
        for body, cls, match in ((LITELLM_401, AuthError, "CBORG_API_KEY"),
                                 (LITELLM_400_BUDGET, QuotaExceeded, "retrying will not help"),
                                 (LITELLM_400_WRAPPED, BadRequest, "cannot both be specified")):
            fake.script(Resp(int(body["error"]["code"]), body))
            with cborg(fake, tmp_path) as client, pytest.raises(cls, match=match) as err:
                client.complete(HELLO)
            assert len(err.value.attempts) == 1


def test_call_log_records_the_call(fake, tmp_path):
    with connect(fake, tmp_path, "gpt-5-mini") as client:
        client.complete(HELLO, {"temperature": 0, "max_tokens": 500})
    record = json.loads((tmp_path / "calls.jsonl").read_text().splitlines()[-1])
    assert record["provider"] == "openai" and record["model_requested"] == "gpt-5-mini"
    assert record["model_returned"] == "gpt-5-mini-2025-08-07" and record["status"] == "ok"
    assert record["params_sent"] == {"max_completion_tokens": 500}
    assert record["params_dropped"] == {"temperature": "reasoning models reject it"}
    assert record["usage"]["total"] == 32 and record["cost"] > 0 and record["attempts"][0]["status"] == 200
    assert record["time"].endswith("+00:00") and record["latency"] >= 0
