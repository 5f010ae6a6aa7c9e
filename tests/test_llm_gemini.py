"""Gemini generateContent against the fake: URL, header key, thoughts, safety blocks, errors, RetryInfo."""

import pytest
from support.fakes import (GEMINI_400_EMPTY_PARTS, GEMINI_400_KEY, GEMINI_403, GEMINI_404, GEMINI_503, FakeClock,
                      GeminiFake, Resp, gemini_429, gemini_response, loopback_session, make_config)

from hepmini.llm.client import client_for
from hepmini.llm import gemini
from hepmini.errors import AuthError, BadRequest, QuotaExceeded, RateLimited

KEY = "AIzaSy-test-gemini-0003"
CHAT = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris."}, {"role": "user", "content": "And of Italy?"}]


@pytest.fixture
def fake():
    with GeminiFake(key=KEY) as server:
        yield server


def connect(fake, tmp_path, model="gemini-2.5-flash", env=None, **settings):
    settings.setdefault("stream", False)   # the JSON wire; streaming has its own tests
    clock = FakeClock()
    env = {"GEMINI_API_KEY": KEY, "GEMINI_BASE_URL": fake.url, **(env or {})}
    client = client_for(f"gemini:{model}", make_config(tmp_path, env, **settings), sleep=clock.sleep,
                            session=loopback_session())
    client.fake_clock = clock
    return client


def test_request_url_header_key_system_instruction_and_roles(fake, tmp_path):
    with connect(fake, tmp_path) as client:
        reply = client.complete(CHAT, {"temperature": 0, "top_p": 0.95, "top_k": 40, "max_tokens": 1024,
                                       "seed": 1, "stop": "\n\n", "thinking_budget": 512,
                                       "reasoning_effort": "low"})
    seen = fake.requests[-1]
    assert seen.path == "/v1beta/models/gemini-2.5-flash:generateContent"     # the key is not in the URL
    assert seen.headers["x-goog-api-key"] == KEY and "authorization" not in seen.headers
    assert seen.body["systemInstruction"] == {"parts": [{"text": "You are terse."}]}
    assert [c["role"] for c in seen.body["contents"]] == ["user", "model", "user"]
    assert seen.body["generationConfig"] == {"temperature": 0, "topP": 0.95, "topK": 40, "maxOutputTokens": 1024,
                                             "seed": 1, "stopSequences": ["\n\n"],
                                             "thinkingConfig": {"thinkingBudget": 512}}
    assert list(reply.params_dropped) == ["reasoning_effort"]
    assert reply.text == "Paris." and reply.model == "gemini-2.5-flash"


def test_google_api_key_fallback_and_models_prefix_and_v1beta_base(fake, tmp_path):
    env = {"GEMINI_API_KEY": "", "GOOGLE_API_KEY": KEY, "GEMINI_BASE_URL": fake.url + "/v1beta/"}
    with connect(fake, tmp_path, "models/gemini-2.5-pro", env=env) as client:
        assert client.complete(CHAT).text == "Paris."
    assert fake.requests[-1].path == "/v1beta/models/gemini-2.5-pro:generateContent"


def test_thought_parts_are_excluded_and_counted(fake, tmp_path):
    fake.script(Resp(200, gemini_response("Rome.", thought="**Pinpointing the capital**\n...", prompt=34,
                                          candidates=418, thoughts=438)))
    with connect(fake, tmp_path) as client:
        reply = client.complete(CHAT)
    u = reply.usage
    assert reply.text == "Rome."
    assert (u.input, u.output, u.reasoning, u.total) == (34, 856, 438, 890)     # Firebase sample: 34+418+438
    assert reply.cost == pytest.approx((34 * 0.30 + 856 * 2.50) / 1e6)


def test_usage_without_thoughts_and_with_cache():
    u = gemini.parse_response(gemini_response(thoughts=None, cached=4, prompt=8, candidates=2)).usage
    assert (u.input, u.output, u.reasoning, u.cached_input, u.total) == (8, 2, 0, 4, 10)


@pytest.mark.parametrize("body, text, finish", [
    (gemini_response(None, finish="MAX_TOKENS", parts=False), "", "length"),      # no 'parts' key at all
    (gemini_response("", finish="MAX_TOKENS"), "", "length"),
    (gemini_response("x", finish="SAFETY"), "x", "content_filter"),
    (gemini_response("x", finish="RECITATION"), "x", "content_filter"),
    (gemini_response("x", finish="PROHIBITED_CONTENT"), "x", "content_filter"),
    (gemini_response("x", finish="OTHER"), "x", "error"),
    (gemini_response("x", finish="MALFORMED_FUNCTION_CALL"), "x", "error"),
])
def test_finish_variants(body, text, finish):
    reply = gemini.parse_response(body)
    assert (reply.text, reply.finish_reason) == (text, finish)


def test_output_blocked_candidate_without_content():
    body = {"candidates": [{"finishReason": "SAFETY", "index": 0, "safetyRatings": [
        {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}]}],
        "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12}, "modelVersion": "gemini-2.5-flash"}
    reply = gemini.parse_response(body)
    assert (reply.text, reply.finish_reason, reply.usage.output) == ("", "content_filter", 0)


def test_prompt_blocked_is_a_200_content_filter(fake, tmp_path):
    fake.script(Resp(200, {"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": []},
                           "usageMetadata": {"promptTokenCount": 12, "totalTokenCount": 12},
                           "modelVersion": "gemini-2.5-flash"}))
    with connect(fake, tmp_path) as client:
        reply = client.complete(CHAT)
    assert (reply.text, reply.finish_reason, reply.finish_raw) == ("", "content_filter", "blockReason=SAFETY")
    assert reply.cost == pytest.approx(12 * 0.30 / 1e6)


def test_invalid_key_400_is_an_auth_error(fake, tmp_path):
    with connect(fake, tmp_path, env={"GEMINI_API_KEY": "AIza-wrong"}) as client, pytest.raises(AuthError) as err:
        client.complete(CHAT)
    assert "API key not valid" in str(err.value) and "GOOGLE_API_KEY or GEMINI_API_KEY" in str(err.value)
    assert err.value.status == 400 and len(err.value.attempts) == 1


def test_429_retry_info_delay_is_honoured(fake, tmp_path):
    fake.script(Resp(429, gemini_429()))
    with connect(fake, tmp_path) as client:
        reply = client.complete(CHAT)
    assert client.fake_clock.sleeps == [20.0]
    assert reply.attempts[0]["wait_source"] == "retryDelay" and reply.attempts[1]["status"] == 200


def test_429_exhausted_keeps_the_provider_message_on_one_line(fake, tmp_path):
    fake.script(*[Resp(429, gemini_429(delay="1.5s"))] * 2)
    with connect(fake, tmp_path, max_retries=1) as client, pytest.raises(RateLimited) as err:
        client.complete(CHAT)
    assert "\n" not in str(err.value) and "RESOURCE_EXHAUSTED" in str(err.value)
    assert client.fake_clock.sleeps == [1.5]


def test_daily_quota_429_is_not_retried(fake, tmp_path):
    fake.script(Resp(429, gemini_429("GenerateRequestsPerDayPerProjectPerModel-FreeTier")))
    with connect(fake, tmp_path) as client, pytest.raises(QuotaExceeded, match="retrying will not help") as err:
        client.complete(CHAT)
    assert len(err.value.attempts) == 1 and client.fake_clock.sleeps == []


@pytest.mark.parametrize("status, body, cls", [(403, GEMINI_403, AuthError), (404, GEMINI_404, BadRequest)])
def test_403_404(fake, tmp_path, status, body, cls):
    fake.script(Resp(status, body))
    with connect(fake, tmp_path) as client, pytest.raises(cls, match=body["error"]["status"]) as err:
        client.complete(CHAT)
    assert len(err.value.attempts) == 1


def test_503_overloaded_is_retried(fake, tmp_path):
    fake.script(Resp(503, GEMINI_503))
    with connect(fake, tmp_path) as client:
        assert [a["status"] for a in client.complete(CHAT).attempts] == [503, 200]


def test_invalid_argument_400_is_a_bad_request(fake, tmp_path):
    fake.script(Resp(400, GEMINI_400_EMPTY_PARTS))
    with connect(fake, tmp_path) as client, pytest.raises(BadRequest, match="must not be empty") as err:
        client.complete(CHAT)
    assert "\n" not in str(err.value) and len(err.value.attempts) == 1


def test_the_fake_answers_a_wrong_key_with_the_real_body(fake, tmp_path):
    with connect(fake, tmp_path, env={"GEMINI_API_KEY": "AIza-wrong"}) as client, pytest.raises(AuthError) as err:
        client.complete(CHAT)
    assert err.value.provider_message == GEMINI_400_KEY["error"]["message"]
