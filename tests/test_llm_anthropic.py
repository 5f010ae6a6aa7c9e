"""Anthropic Messages API against the fake: headers, system split, thinking, usage, errors, cost."""

import pytest
from support.fakes import (ANTHROPIC_400_TEMP_TOP_P, ANTHROPIC_400_USAGE_LIMIT, ANTHROPIC_404, ANTHROPIC_429,
                      ANTHROPIC_529, AnthropicFake, FakeClock, Resp, anthropic_message, loopback_session,
                      make_config)

from hepmini.llm.client import client_for
from hepmini.llm import anthropic
from hepmini.errors import AuthError, BadRequest, QuotaExceeded, ServerError

KEY = "sk-ant-test-0002"
HELLO = [{"role": "system", "content": "You are terse."}, {"role": "system", "content": "Answer in English."},
         {"role": "user", "content": "Capital of France?"}]


@pytest.fixture
def fake():
    with AnthropicFake(key=KEY) as server:
        yield server


def connect(fake, tmp_path, model="claude-sonnet-4-5", key=KEY, **settings):
    settings.setdefault("stream", False)   # the JSON wire; streaming has its own tests
    clock = FakeClock()
    env = {"ANTHROPIC_BASE_URL": fake.url, **({"ANTHROPIC_API_KEY": key} if key else {})}
    client = client_for(f"anthropic:{model}", make_config(tmp_path, env, **settings), sleep=clock.sleep,
                            session=loopback_session())
    client.fake_clock = clock
    return client


def test_request_headers_system_outside_and_default_max_tokens(fake, tmp_path):
    with connect(fake, tmp_path) as client:
        reply = client.complete(HELLO, {"temperature": 0, "stop": "\n\n", "seed": 3, "reasoning_effort": "low"})
    seen = fake.requests[-1]
    assert seen.path == "/v1/messages"
    assert seen.headers["x-api-key"] == KEY and seen.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in seen.headers
    assert seen.body["system"] == "You are terse.\n\nAnswer in English."
    assert seen.body["messages"] == [{"role": "user", "content": "Capital of France?"}]
    assert seen.body["max_tokens"] == 8192 and seen.body["stop_sequences"] == ["\n\n"]
    assert "seed" not in seen.body and set(reply.params_dropped) == {"seed", "reasoning_effort"}
    assert reply.text == "Paris." and reply.finish_reason == "stop"
    assert reply.model == "claude-sonnet-4-5-20250929"


def test_thinking_budget_drops_temperature_and_thinking_is_not_text(fake, tmp_path):
    with connect(fake, tmp_path) as client:
        reply = client.complete(HELLO, {"thinking_budget": 2048, "max_tokens": 4096, "temperature": 0})
    assert fake.requests[-1].body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert "temperature" not in fake.requests[-1].body
    assert reply.text == "Paris." and reply.raw["content"][0]["type"] == "thinking"


@pytest.mark.parametrize("body, text, finish", [
    (anthropic_message("A", thinking="hmm", redacted=True), "A", "stop"),
    (anthropic_message(None, thinking="long thought", stop="max_tokens"), "", "length"),   # thinking ate it
    (anthropic_message("Par", stop="max_tokens"), "Par", "length"),
    (anthropic_message("", stop="refusal"), "", "refusal"),
    (anthropic_message("x", stop="stop_sequence"), "x", "stop"),
    (anthropic_message("x", stop="model_context_window_exceeded"), "x", "length"),
    (anthropic_message("x", stop="pause_turn"), "x", "error"),
])
def test_parse_variants(body, text, finish):
    reply = anthropic.parse_response(body)
    assert (reply.text, reply.finish_reason, reply.finish_raw) == (text, finish, body["stop_reason"])


def test_two_text_blocks_are_joined():
    body = anthropic_message("Par")
    body["content"].append({"type": "text", "text": "is."})
    assert anthropic.parse_response(body).text == "Paris."


def test_usage_total_input_includes_cache_and_cost_uses_cache_rates(fake, tmp_path):
    fake.script(Resp(200, anthropic_message(input_tokens=1000, cache_read=4000, cache_write=2000,
                                            output_tokens=500)))
    with connect(fake, tmp_path) as client:
        reply = client.complete(HELLO)
    u = reply.usage
    assert (u.input, u.cached_input, u.cache_write, u.output, u.reasoning, u.total) == \
        (7000, 4000, 2000, 500, 0, 7500)
    assert reply.cost == pytest.approx((1000 * 3 + 4000 * 0.3 + 2000 * 3.75 + 500 * 15) / 1e6)


def test_null_cache_fields_are_zero():
    body = anthropic_message()
    body["usage"]["cache_creation_input_tokens"] = body["usage"]["cache_read_input_tokens"] = None
    assert anthropic.parse_response(body).usage.input == 14


def test_529_overloaded_is_retried_then_server_error(fake, tmp_path):
    fake.script(Resp(529, ANTHROPIC_529), Resp(200, anthropic_message("ok")))
    with connect(fake, tmp_path, max_retries=2) as client:
        reply = client.complete(HELLO)
        assert [a["status"] for a in reply.attempts] == [529, 200] and len(client.fake_clock.sleeps) == 1
        fake.script(*[Resp(529, ANTHROPIC_529)] * 3)
        with pytest.raises(ServerError, match=r"HTTP 529 \[overloaded_error\] 'Overloaded'") as err:
            client.complete(HELLO)
    assert len(err.value.attempts) == 3 and "gave up after 2 retries" in str(err.value)


def test_429_with_retry_after_is_honoured(fake, tmp_path):
    fake.script(Resp(429, ANTHROPIC_429, headers={"retry-after": "7"}), Resp(200, anthropic_message()))
    with connect(fake, tmp_path) as client:
        reply = client.complete(HELLO)
    assert client.fake_clock.sleeps == [7.0] and reply.attempts[0]["wait_source"] == "retry-after"


@pytest.mark.parametrize("status, body, cls, match", [
    (400, ANTHROPIC_400_TEMP_TOP_P, BadRequest, "cannot both be specified"),
    (400, ANTHROPIC_400_USAGE_LIMIT, QuotaExceeded, "usage limits.*retrying will not help"),
    (404, ANTHROPIC_404, BadRequest, "model: claude-nope.*check the model name"),
])
def test_client_errors_are_not_retried(fake, tmp_path, status, body, cls, match):
    fake.script(Resp(status, body))
    with connect(fake, tmp_path) as client, pytest.raises(cls, match=match) as err:
        client.complete(HELLO)
    assert len(err.value.attempts) == 1 and client.fake_clock.sleeps == []


def test_a_rejected_top_p_is_left_out_and_the_call_sent_again(fake, tmp_path):
    with connect(fake, tmp_path) as client:
        reply = client.complete(HELLO, {"temperature": 0, "top_p": 0.9})
        again = client.complete(HELLO, {"temperature": 0, "top_p": 0.9})   # remembered: one request
    assert "Please use only one" in reply.params_dropped["top_p"] and reply.params_sent["temperature"] == 0
    assert [("top_p" in s.body) for s in fake.requests] == [True, False, False] and again.text


def test_wrong_and_missing_key(fake, tmp_path):
    with connect(fake, tmp_path, key="sk-ant-wrong") as client, \
            pytest.raises(AuthError, match=r"HTTP 401 \[authentication_error\].*ANTHROPIC_API_KEY"):
        client.complete(HELLO)
    with connect(fake, tmp_path, key=None) as client, \
            pytest.raises(AuthError, match="no API key; set ANTHROPIC_API_KEY"):
        client.complete(HELLO)
    assert len(fake.requests) == 1        # the keyless call never reached the server


def test_x_should_retry_false_stops_retries(fake, tmp_path):
    fake.script(Resp(503, {"type": "error", "error": {"type": "api_error", "message": "busy"}},
                     headers={"x-should-retry": "false"}))
    with connect(fake, tmp_path) as client, pytest.raises(ServerError) as err:
        client.complete(HELLO)
    assert len(err.value.attempts) == 1
