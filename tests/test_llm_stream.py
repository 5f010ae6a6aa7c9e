"""Streaming calls on all three protocols: the same reply as the JSON wire, and the idle clock that never cuts flowing tokens."""

import time

import pytest
from support.fakes import (DEFAULT, AnthropicFake, GeminiFake, OpenAIFake, Resp, loopback_session, make_config,
                           openai_completion, sse)

from hepmini.errors import MalformedResponse, ProviderTimeout, ServerError
from hepmini.llm.client import client_for

KEY = "sk-test-stream-0123456789"
HELLO = [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Capital of France?"}]
FAKES = {"openai": (OpenAIFake, "openai:gpt-4.1", {"OPENAI_API_KEY": KEY}, "OPENAI_BASE_URL", "/v1"),
         "anthropic": (AnthropicFake, "anthropic:claude-haiku-4-5", {"ANTHROPIC_API_KEY": KEY}, "ANTHROPIC_BASE_URL",
                       ""),
         "gemini": (GeminiFake, "gemini:gemini-2.5-flash", {"GEMINI_API_KEY": KEY}, "GEMINI_BASE_URL", "")}


def connect(protocol, fake, tmp_path, stream=True, **settings):
    _, model, env, var, suffix = FAKES[protocol]
    cfg = make_config(tmp_path, {**env, var: fake.url + suffix}, stream=stream, **settings)
    return client_for(model, cfg, session=loopback_session(), sleep=lambda s: None)


def same(a, b):
    return (a.text, a.finish_reason, a.usage, a.model) == (b.text, b.finish_reason, b.usage, b.model)


@pytest.mark.parametrize("protocol", sorted(FAKES))
def test_a_stream_gives_the_reply_the_json_wire_gives(protocol, tmp_path):
    with FAKES[protocol][0](key=KEY) as fake:
        with connect(protocol, fake, tmp_path, stream=False) as plain, connect(protocol, fake, tmp_path) as streamed:
            a, b = plain.complete(HELLO, {"max_tokens": 64}), streamed.complete(HELLO, {"max_tokens": 64})
    assert same(a, b) and b.streamed and not a.streamed and b.text
    assert fake.requests[-1].body.get("stream") is True or ":streamGenerateContent" in fake.requests[-1].path


@pytest.mark.parametrize("flavor", ["openai", "vllm", "ollama", "llamacpp", "litellm"])
def test_every_openai_compatible_flavor_streams_the_same_reply(flavor, tmp_path):
    with OpenAIFake(key=None if flavor == "ollama" else KEY, flavor=flavor) as fake:
        env = {"HEPMINI_ENDPOINT_SRV": fake.url + "/v1", "SRV_API_KEY": KEY}
        plain = client_for("srv:m-1", make_config(tmp_path, env, stream=False), session=loopback_session())
        streamed = client_for("srv:m-1", make_config(tmp_path, env), session=loopback_session())
        a, b = plain.complete(HELLO, {"max_tokens": 64}), streamed.complete(HELLO, {"max_tokens": 64})
    assert same(a, b) and b.streamed


@pytest.mark.parametrize("protocol", sorted(FAKES))
def test_tokens_that_keep_flowing_are_never_cut_by_the_idle_clock(protocol, tmp_path):
    with FAKES[protocol][0](key=KEY) as fake:
        fake.script(Resp(body=DEFAULT, pace=0.4))           # every event 0.4 s apart: longer than idle in all
        heard = []
        with connect(protocol, fake, tmp_path, request_timeout=0.6) as client:
            start = time.monotonic()
            reply = client.complete(HELLO, on_event=lambda kind, **info: heard.append(kind))
    assert len(reply.attempts) == 1 and reply.text and time.monotonic() - start > 0.6
    assert heard.count("delta") >= 1 and heard[0] == "attempt"


def test_keepalive_comments_of_a_server_reading_a_long_prompt_keep_the_call_alive(tmp_path):
    with OpenAIFake(key=KEY, flavor="llamacpp") as fake:
        events = sse.openai_events(openai_completion("Paris.", model="m"), include_usage=True, flavor="llamacpp")
        fake.script(Resp(body=DEFAULT, pace=0.3, events=[sse.PING] * 4 + events))
        env = {"HEPMINI_ENDPOINT_LL": fake.url + "/v1", "LL_API_KEY": KEY}
        with client_for("ll:m", make_config(tmp_path, env, request_timeout=0.6), session=loopback_session()) as client:
            reply = client.complete(HELLO)
    assert reply.text == "Paris." and len(reply.attempts) == 1


@pytest.mark.parametrize("protocol", sorted(FAKES))
def test_a_stalled_stream_is_cut_at_the_idle_clock_and_retried(protocol, tmp_path):
    with FAKES[protocol][0](key=KEY) as fake:
        fake.script(Resp(body=DEFAULT, stall_after=1))    # one event: before the end of any protocol's stream
        with connect(protocol, fake, tmp_path, request_timeout=0.5) as client:
            reply = client.complete(HELLO)
    assert [a["status"] for a in reply.attempts] == [200, 200] and "no byte for 0.5s" in reply.attempts[0]["error"]


@pytest.mark.parametrize("protocol", sorted(FAKES))
def test_a_truncated_stream_is_the_servers_fault_and_retried(protocol, tmp_path):
    with FAKES[protocol][0](key=KEY) as fake:
        fake.script(*[Resp(body=DEFAULT, truncate_after=1)] * 3)   # Gemini's two chunks would be complete
        with connect(protocol, fake, tmp_path, max_retries=2) as client, \
                pytest.raises((MalformedResponse, ServerError)) as err:
            client.complete(HELLO)
    assert len(err.value.attempts) == 3 and err.value.retryable and err.value.attempts[0]["status"] == 200
    assert "ended before its end event" in str(err.value) or "connection dropped" in str(err.value)


def test_an_error_event_mid_stream_is_retried_as_a_server_fault(tmp_path):
    with AnthropicFake(key=KEY) as fake:
        fake.script(Resp(body=DEFAULT, error_after=2))
        with connect("anthropic", fake, tmp_path) as client:
            reply = client.complete(HELLO)
        fake.script(*[Resp(body=DEFAULT, error_after=1)] * 2)
        with connect("anthropic", fake, tmp_path, max_retries=1) as client, pytest.raises(ServerError) as err:
            client.complete(HELLO)
    assert reply.text and len(reply.attempts) == 2 and "overloaded" in str(err.value)


def test_a_server_without_streaming_answers_json_and_that_is_read(tmp_path):
    with OpenAIFake(key=KEY) as fake:
        fake.script(Resp(body=DEFAULT, stream=False))
        with connect("openai", fake, tmp_path) as client:
            reply = client.complete(HELLO)
    assert reply.text == "Paris." and not reply.streamed


def test_an_endpoint_can_turn_streaming_off(tmp_path):
    with OpenAIFake(key=KEY) as fake:
        (tmp_path / "hepmini.cfg").write_text(f"[endpoint:old]\nbase_url = {fake.url}/v1\nstream = false\n")
        cfg = make_config(tmp_path, {"OLD_API_KEY": KEY})
        with client_for("old:m", cfg, session=loopback_session()) as client:
            client.complete(HELLO)
    assert "stream" not in fake.requests[-1].body


def test_the_deadline_cuts_a_slow_stream_and_is_never_retried(tmp_path):
    with OpenAIFake(key=KEY) as fake:
        fake.always(Resp(body=DEFAULT, pace=0.4))
        with connect("openai", fake, tmp_path, request_timeout=5, call_deadline=1.0) as client, \
                pytest.raises(ProviderTimeout, match="no complete answer within call_deadline=1s") as err:
            start = time.monotonic()
            client.complete(HELLO)
    assert len(err.value.attempts) == 1 and time.monotonic() - start < 2.0
