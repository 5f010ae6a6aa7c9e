"""Every provider fault ends where it belongs: no hang past the deadline, no server fault blamed on the model, the right fix."""

import io
import random
import time

import pytest
from support.bodies import llamacpp_400_context
from support.fakes import AnthropicFake, GeminiFake, OpenAIFake, Resp, loopback_session, make_config
from support.faults import CONTEXT_REPLIES, EMPTY_200, QUOTA_REPLIES, echo_key, error_storm, huge_body, random_schedule

from hepmini import cli
from hepmini.errors import (AuthError, BadRequest, ContextOverflow, MalformedResponse, ProviderTimeout, QuotaExceeded,
                            ServerError)
from hepmini.llm.client import client_for

KEY = "sk-test-faults-0123456789"
HELLO = [{"role": "user", "content": "Capital of France?"}]
FAKES = {"openai": OpenAIFake, "anthropic": AnthropicFake, "gemini": GeminiFake}
MODELS = {"openai": "openai:gpt-4.1", "anthropic": "anthropic:claude-haiku-4-5", "gemini": "gemini:gemini-2.5-flash"}
ENV = {"openai": ("OPENAI_API_KEY", "OPENAI_BASE_URL", "/v1"), "anthropic": ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", ""),
       "gemini": ("GEMINI_API_KEY", "GEMINI_BASE_URL", "")}


def connect(protocol, fake, tmp_path, sleep=lambda s: None, **settings):
    key_var, url_var, suffix = ENV[protocol]
    cfg = make_config(tmp_path, {key_var: KEY, url_var: fake.url + suffix}, **settings)
    return client_for(MODELS[protocol], cfg, session=loopback_session(), sleep=sleep)


@pytest.mark.parametrize("protocol", sorted(FAKES))
def test_a_server_trickling_its_status_line_cannot_pass_the_deadline(protocol, tmp_path):
    with FAKES[protocol](key=KEY) as fake:
        fake.always(Resp(head_trickle=0.2))
        with connect(protocol, fake, tmp_path, request_timeout=5, call_deadline=1.5) as client, \
                pytest.raises(ProviderTimeout, match="call_deadline=1.5s") as err:
            start = time.monotonic()
            client.complete(HELLO)
    assert time.monotonic() - start < 2.5 and len(err.value.attempts) == 1


@pytest.mark.slow   # a property test over random byte schedules: seconds per protocol
@pytest.mark.parametrize("protocol", sorted(FAKES))
def test_the_deadline_holds_for_any_byte_pattern(protocol, tmp_path):
    rng = random.Random(f"deadline-{protocol}")
    with FAKES[protocol](key=KEY) as fake:
        for _ in range(6):
            fake.always(Resp(body=None if protocol == "gemini" else None, schedule=random_schedule(rng)))
            start = time.monotonic()
            with connect(protocol, fake, tmp_path, request_timeout=0.4, call_deadline=1.2, max_retries=3) as client:
                try:
                    client.complete(HELLO)
                except (ProviderTimeout, ServerError, MalformedResponse, BadRequest, AuthError):
                    pass
            assert time.monotonic() - start < 1.2 + 0.6, "a call outlived its deadline"


@pytest.mark.parametrize("name", sorted(EMPTY_200))
def test_an_empty_200_is_the_servers_fault_retried_then_infrastructure(name, tmp_path):
    protocol, body = EMPTY_200[name]
    with FAKES[protocol](key=KEY) as fake:
        fake.always(Resp(200, body, stream=False))
        with connect(protocol, fake, tmp_path, max_retries=2) as client, pytest.raises(MalformedResponse) as err:
            client.complete(HELLO)
    assert len(err.value.attempts) == 3 and err.value.retryable and err.value.kind == "MalformedResponse"


def test_instant_500s_report_the_500_and_no_attempt_starts_that_cannot_finish(tmp_path):
    clock = [0.0]
    with OpenAIFake(key=KEY) as fake:
        error_storm(fake, 500)
        with connect("openai", fake, tmp_path, sleep=lambda s: clock.__setitem__(0, clock[0] + s),
                     call_deadline=10, max_retries=8) as client:
            client.clock = lambda: clock[0]
            with pytest.raises(ServerError) as err:
                client.complete(HELLO)
    message = str(err.value)
    assert "HTTP 500" in message and "too slow" not in message and "sends too slowly" not in message
    assert "would pass call_deadline=10s" in message or "no time left" in message


# each wording of a reply that no retry can mend: its class, and the words of the fix the error names
ENDS_AT_ONCE = {**{name: (reply, QuotaExceeded, "add credit") for name, reply in QUOTA_REPLIES.items()},
                **{name: (reply, ContextOverflow, "context window") for name, reply in CONTEXT_REPLIES.items()}}


@pytest.mark.parametrize("name", sorted(ENDS_AT_ONCE))
def test_every_quota_and_context_overflow_wording_ends_at_once_as_its_class(name, tmp_path):
    """Money gone stops the provider; a prompt too long is the limit a trial reads as its own (agent.loop)."""
    (protocol, status, body), cls, fix = ENDS_AT_ONCE[name]
    with FAKES[protocol](key=KEY) as fake:
        fake.always(Resp(status, body))
        with connect(protocol, fake, tmp_path) as client, pytest.raises(cls) as err:
            client.complete(HELLO)
    assert len(err.value.attempts) == 1 and fix in str(err.value) and not err.value.retryable


def test_a_prompt_too_long_names_the_context_window_not_a_parameter(tmp_path):
    with OpenAIFake(key=KEY, flavor="llamacpp") as fake:
        fake.always(Resp(400, llamacpp_400_context(9000, 8192)))
        env = {"HEPMINI_ENDPOINT_LL": fake.url + "/v1", "LL_API_KEY": KEY}
        with client_for("ll:m", make_config(tmp_path, env), session=loopback_session()) as client, \
                pytest.raises(ContextOverflow) as err:
            client.complete(HELLO)
    assert "context window" in str(err.value) and "parameter 'messages'" not in str(err.value)


def test_a_rejected_temperature_is_left_out_and_the_call_sent_again(tmp_path):
    with OpenAIFake(key=KEY) as fake:        # the real fake rejects temperature != 1 for reasoning models
        with connect("openai", fake, tmp_path) as client:
            fake.script(Resp(400, {"error": {"message": "Unsupported value: 'temperature' does not support 0 with "
                                             "this model. Only the default (1) value is supported.",
                                             "type": "invalid_request_error", "param": "temperature",
                                             "code": "unsupported_value"}}))
            reply = client.complete(HELLO, {"temperature": 0, "max_tokens": 50})
    assert reply.text and "temperature" in reply.params_dropped and "temperature" not in fake.requests[-1].body


def test_the_token_field_fix_is_named_for_a_proxy_model(tmp_path):
    with OpenAIFake(key=KEY, flavor="litellm") as fake:
        fake.always(Resp(400, {"error": {"message": "Unsupported parameter: 'max_tokens' is not supported with this "
                                         "model. Use 'max_completion_tokens' instead.", "type": "None",
                                         "param": "max_tokens", "code": "400"}}))
        env = {"CBORG_API_KEY": KEY, "CBORG_BASE_URL": fake.url + "/v1"}
        with client_for("cborg:o3", make_config(tmp_path, env), session=loopback_session()) as client, \
                pytest.raises(BadRequest, match=r"max_tokens_field = max_completion_tokens.*\[endpoint:cborg\]"):
            client.complete(HELLO, {"max_tokens": 50})


def test_a_wait_of_an_hour_says_when_to_come_back_not_to_raise_retries(tmp_path):
    with OpenAIFake(key=KEY) as fake:
        fake.always(Resp(429, {"error": {"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"}},
                         headers={"retry-after": "3600"}))
        with connect("openai", fake, tmp_path) as client, pytest.raises(Exception) as err:
            client.complete(HELLO)
    assert "try again in 60 min" in str(err.value) and "max_retries" not in str(err.value)


@pytest.mark.parametrize("protocol", sorted(FAKES))
def test_a_50_mb_reply_is_refused_as_not_a_chat_answer(protocol, tmp_path):
    with FAKES[protocol](key=KEY) as fake:
        fake.always(Resp(200, huge_body(protocol, 20)))
        with connect(protocol, fake, tmp_path, max_retries=0) as client, pytest.raises(MalformedResponse, match="MiB"):
            client.complete(HELLO)


def test_each_retry_is_heard_as_it_waits(tmp_path):
    heard = []
    with OpenAIFake(key=KEY) as fake:
        error_storm(fake, 503, count=2)
        with connect("openai", fake, tmp_path) as client:
            client.complete(HELLO, on_event=lambda kind, **info: heard.append((kind, info)))
    retries = [info for kind, info in heard if kind == "retry"]
    assert len(retries) == 2 and "HTTP 503" in retries[0]["error"] and retries[1]["n"] == 2


@pytest.mark.parametrize("protocol", sorted(FAKES))
def test_a_key_echoed_back_by_the_server_reaches_no_output(protocol, tmp_path, capsys, monkeypatch):
    with FAKES[protocol](key=KEY) as fake:
        fake.always(echo_key(401))
        key_var, url_var, suffix = ENV[protocol]
        monkeypatch.setenv(key_var, KEY)
        monkeypatch.setenv(url_var, fake.url + suffix)
        monkeypatch.setenv("HEPMINI_WORKDIR", str(tmp_path))
        monkeypatch.setenv("HEPMINI_STREAM", "0")
        code = cli.main(["ping", MODELS[protocol]])
    out = capsys.readouterr()
    assert code == 1 and KEY not in out.out + out.err and "<redacted>" in out.err
    assert KEY not in (tmp_path / "calls.jsonl").read_text()


def test_ping_caps_what_it_prints_of_a_huge_reply(tmp_path, capsys, monkeypatch):
    with OpenAIFake(key=KEY) as fake:
        fake.always(Resp(200, huge_body("openai", 1)))
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", fake.url + "/v1")
        monkeypatch.setenv("HEPMINI_WORKDIR", str(tmp_path))
        assert cli.main(["ping", "openai:gpt-4.1"]) == 0
    out = capsys.readouterr().out
    assert len(out) < 5000 and "characters)" in out


def test_quiet_streams_are_heard_too(tmp_path):
    stream = io.StringIO()
    from hepmini.agent.progress import Progress

    listener = Progress(stream, live=False).trial("step1 trial 1").call("coder", 1)
    with OpenAIFake(key=KEY) as fake:
        error_storm(fake, 500, count=1)
        with connect("openai", fake, tmp_path) as client:
            reply = client.complete(HELLO, on_event=listener)
    listener("done", reply=reply)
    text = stream.getvalue()
    assert "retry 1/6" in text and "HTTP 500" in text and "in / " in text


def test_a_long_call_says_where_it_is_once_a_minute_in_a_log():
    """Not a terminal (nohup, CI): a call of many minutes leaves a plain line a minute, not silence, nor a flood."""
    from types import SimpleNamespace

    from hepmini.agent.progress import Progress
    from hepmini.llm.base import Usage

    stream, now = io.StringIO(), [0.0]
    listener = Progress(stream, live=False, clock=lambda: now[0]).trial("step1 trial 2").call("supervisor", 1)
    events = [(0, "attempt", {"n": 1}), (40, "prompt", {"processed": 2048, "total": 5000}),
              (75, "prompt", {"processed": 4096, "total": 5000})] + [(90 + t, "delta", {}) for t in range(0, 200, 2)]
    for t, kind, info in events:
        now[0] = t
        listener(kind, **info)
    lines = stream.getvalue().splitlines()
    assert lines == ["[step1 trial 2] supervisor call 1: read 4096/5000 prompt tokens, 75 s",
                     "[step1 trial 2] supervisor call 1: 24 tokens, 0.5 tok/s, 136 s",
                     "[step1 trial 2] supervisor call 1: 54 tokens, 0.5 tok/s, 196 s",
                     "[step1 trial 2] supervisor call 1: 84 tokens, 0.5 tok/s, 256 s"]
    now[0] = 300
    listener("done", reply=SimpleNamespace(usage=Usage(input=5000, output=100), attempts=[{}], finish_reason="stop"))
    assert stream.getvalue().splitlines()[-1].startswith("[step1 trial 2] supervisor call 1: 5000 in / 100 out")


@pytest.mark.parametrize("protocol", sorted(FAKES))
@pytest.mark.parametrize("status", [302, 307, 308])
def test_a_redirect_is_never_followed_and_the_key_never_leaves(protocol, status, tmp_path):
    """requests would resend x-api-key / x-goog-api-key to the host a redirect names: hepmini stops there."""
    with FAKES[protocol](key=KEY) as elsewhere, FAKES[protocol](key=KEY) as fake:
        fake.always(Resp(status, {}, headers={"Location": elsewhere.url.replace("127.0.0.1", "localhost") + "/x"}))
        with connect(protocol, fake, tmp_path) as client, pytest.raises(BadRequest, match="redirects to") as err:
            client.complete(HELLO)
        assert elsewhere.requests == [] and len(fake.requests) == 1      # not followed, not retried
    assert "set base_url" in str(err.value) and KEY not in str(err.value)


def test_a_connection_its_server_is_about_to_close_for_idleness_is_not_reused(tmp_path):
    """llama-server closes a connection idle 5 s and says so (Keep-Alive: timeout=5); a request sent on it
    just then is lost (seen as "connection dropped", then a retry). hepmini opens a new one instead."""
    with OpenAIFake(key=KEY, flavor="llamacpp", keep_alive=2) as fake, connect("openai", fake, tmp_path) as client:
        replies = [client.complete(HELLO), client.complete(HELLO)]
        time.sleep(1.9)                  # the server would close it in 0.1 s
        replies.append(client.complete(HELLO))
        time.sleep(2.5)                  # the server has closed it
        replies.append(client.complete(HELLO))
        replies.append(client.complete(HELLO))
    peers = [seen.peer for seen in fake.requests]
    assert peers[0] == peers[1] and peers[2] not in peers[:2] and peers[3] not in peers[:3] and peers[4] == peers[3]
    assert [len(r.attempts) for r in replies] == [1] * 5            # no request was lost and sent again
