"""post_json retries, waits and the total deadline, transport failures, and no key in any output."""

import json
import logging
import time

import pytest
from support.fakes import (ANTHROPIC_401, ANTHROPIC_529, CLOUDFLARE_524, GEMINI_400_KEY, NGINX_502, OPENAI_429_QUOTA,
                      OPENAI_429_TPM, OPENAI_500, AnthropicFake, FakeClock, GeminiFake, OpenAIFake, Resp,
                      loopback_session, make_config)

from hepmini.llm.client import client_for
from hepmini.errors import (AuthError, BadRequest, MalformedResponse, ProviderError, ProviderTimeout,
                            QuotaExceeded, RateLimited, ServerError)

KEY = "sk-test-retry-0004"
HELLO = [{"role": "user", "content": "Capital of France?"}]
GENERIC_400 = {"error": {"message": "bad", "type": "invalid_request_error", "param": None, "code": None}}


@pytest.fixture
def fake():
    with OpenAIFake(key=KEY) as server:
        yield server


def connect(fake, tmp_path, model="gpt-4.1", clock=None, rng=lambda: 0.0, wallclock=time.time, **settings):
    """A client with instant waits; rng=0 makes the backoff exactly 0.5, 1, 2, 4, 8, 8..."""
    settings.setdefault("stream", False)   # the JSON wire; streaming has its own tests
    clock = clock or FakeClock()
    env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake.url + "/v1"}
    client = client_for(f"openai:{model}", make_config(tmp_path, env, **settings), sleep=clock.sleep,
                            clock=clock.time, rng=rng, wallclock=wallclock, session=loopback_session())
    client.fake_clock = clock
    return client


# --- what is retried -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 529])
def test_retryable_statuses(fake, tmp_path, status):
    fake.script(Resp(status, OPENAI_500))
    with connect(fake, tmp_path) as client:
        reply = client.complete(HELLO)
    assert [a["status"] for a in reply.attempts] == [status, 200]
    assert client.fake_clock.sleeps == [0.5] and reply.attempts[0]["wait_source"] == "backoff"


@pytest.mark.parametrize("status, cls", [(400, BadRequest), (401, AuthError), (403, AuthError),
                                         (404, BadRequest), (422, BadRequest)])
def test_client_errors_are_never_retried(fake, tmp_path, status, cls):
    fake.script(Resp(status, GENERIC_400, headers={"x-should-retry": "true"}))
    with connect(fake, tmp_path) as client, pytest.raises(cls) as err:
        client.complete(HELLO)
    assert len(err.value.attempts) == 1 and client.fake_clock.sleeps == [] and err.value.status == status


def test_insufficient_quota_429_is_not_retried(fake, tmp_path):
    fake.script(Resp(429, OPENAI_429_QUOTA, headers={"retry-after": "1"}))
    with connect(fake, tmp_path) as client, pytest.raises(QuotaExceeded) as err:
        client.complete(HELLO)
    assert len(err.value.attempts) == 1 and client.fake_clock.sleeps == []
    assert "add credit" in str(err.value) and "insufficient_quota" in str(err.value)


def test_backoff_doubles_and_is_capped(fake, tmp_path):
    fake.script(*[Resp(500, OPENAI_500)] * 7)
    with connect(fake, tmp_path, max_retries=6) as client, pytest.raises(ServerError) as err:
        client.complete(HELLO)
    assert client.fake_clock.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert [a["wait"] for a in err.value.attempts] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 0.0]
    assert len(err.value.attempts) == 7 and "gave up after 6 retries" in str(err.value)
    assert "7 attempt(s) in 23.5s" in str(err.value) and "try again later" in str(err.value)


def test_jitter_takes_off_at_most_a_quarter(fake, tmp_path):
    fake.script(*[Resp(503, OPENAI_500)] * 2)
    with connect(fake, tmp_path, rng=lambda: 0.999) as client:
        client.complete(HELLO)
    assert client.fake_clock.sleeps == pytest.approx([0.5 * 0.75025, 1.0 * 0.75025])


@pytest.mark.parametrize("headers, wait, source", [
    ({"retry-after": "3"}, 3.0, "retry-after"),
    ({"retry-after": "1.5"}, 1.5, "retry-after"),
    ({"retry-after-ms": "84", "retry-after": "9"}, 0.084, "retry-after"),        # -ms wins
    ({"retry-after": "90"}, 90.0, "retry-after"),                               # 60 < x <= 120 honoured
    ({"retry-after": "Wed, 21 Oct 2015 07:28:07 GMT"}, 7.0, "retry-after"),     # HTTP-date
    ({"retry-after": "-1"}, 0.5, "backoff"),                                    # Azure placeholders
    ({"retry-after": "0"}, 0.5, "backoff"),
    ({"retry-after": "soon"}, 0.5, "backoff"),
])
def test_retry_after_forms(fake, tmp_path, headers, wait, source):
    fake.script(Resp(429, OPENAI_429_TPM, headers=headers))
    # the HTTP-date is 7 s after this injected wall clock: 2015-10-21T07:28:00Z
    with connect(fake, tmp_path, wallclock=lambda: 1445412480.0) as client:
        reply = client.complete(HELLO)
    assert client.fake_clock.sleeps == [pytest.approx(wait)]
    assert reply.attempts[0]["wait_source"] == source and reply.attempts[0]["wait"] == pytest.approx(wait)


@pytest.mark.parametrize("asked, said", [
    ("300", "asks to wait 5 min, longer than hepmini waits (2 min); try again in 5 min"),
    ("1e9", "asks to wait more than a year, longer than hepmini waits (2 min); try again later"),
])
def test_retry_after_beyond_120s_is_not_waited_for(fake, tmp_path, asked, said):
    fake.script(Resp(429, OPENAI_429_TPM, headers={"retry-after": asked}))
    with connect(fake, tmp_path) as client, pytest.raises(RateLimited) as err:
        client.complete(HELLO)
    assert client.fake_clock.sleeps == [] and said in str(err.value)


def test_x_should_retry_false(fake, tmp_path):
    fake.script(Resp(503, OPENAI_500, headers={"x-should-retry": "false"}))
    with connect(fake, tmp_path) as client, pytest.raises(ServerError) as err:
        client.complete(HELLO)
    assert len(err.value.attempts) == 1


def test_a_wait_that_would_pass_the_deadline_is_not_taken(fake, tmp_path):
    fake.script(*[Resp(429, OPENAI_429_TPM, headers={"retry-after": "8"})] * 3)
    with connect(fake, tmp_path, call_deadline=20) as client, pytest.raises(RateLimited) as err:
        client.complete(HELLO)
    assert client.fake_clock.sleeps == [8.0, 8.0] and len(err.value.attempts) == 3
    assert "waiting 8.0s more would pass call_deadline=20s" in str(err.value)
    assert "lower the concurrency" in str(err.value)


# --- transport -----------------------------------------------------------------------------------


def test_a_trickling_server_cannot_pass_the_deadline(fake, tmp_path):
    body = json.dumps({"choices": [{"message": {"content": "x" * 2000}}]})
    fake.script(Resp(200, body, trickle=0.01))          # ~20 s if read to the end
    clock = FakeClock()
    clock.time = time.monotonic                         # real time for the deadline, instant sleeps
    start = time.monotonic()
    with connect(fake, tmp_path, clock=clock, call_deadline=0.5, request_timeout=0.3) as client, \
            pytest.raises(ProviderTimeout) as err:
        client.complete(HELLO)
    assert time.monotonic() - start < 2.0
    assert "no complete answer within call_deadline=0.5s" in str(err.value)
    assert len(err.value.attempts) == 1 and err.value.attempts[0]["status"] == 200


def test_slow_first_byte_times_out_and_is_retried(fake, tmp_path):
    fake.script(Resp(200, {"choices": []}, delay=0.6))
    with connect(fake, tmp_path, request_timeout=0.2) as client:
        reply = client.complete(HELLO)
    assert reply.attempts[0]["status"] is None and reply.attempts[0]["error"].startswith("timed out")
    assert reply.text == "Paris." and reply.attempts[1]["status"] == 200


@pytest.mark.parametrize("resp", [Resp(reset="before"), Resp(200, {"choices": []}, reset="body"),
                                  Resp(200, {"choices": []}, bad_length=True)],
                         ids=["reset", "reset-mid-body", "truncated-json"])
def test_dropped_connections_are_retried(fake, tmp_path, resp):
    fake.script(resp)
    with connect(fake, tmp_path) as client:
        reply = client.complete(HELLO)
    assert reply.text == "Paris." and len(reply.attempts) == 2
    assert reply.attempts[0]["error"].startswith("connection dropped")


def test_keep_alive_socket_closed_between_calls(fake, tmp_path):
    fake.script(Resp(200, {"choices": [{"message": {"content": "a"}}]}, headers={"Connection": "close"}))
    with connect(fake, tmp_path) as client:
        assert client.complete(HELLO).text == "a"
        assert client.complete(HELLO).text == "Paris."


def test_connection_refused_is_a_timeout_class_error(tmp_path):
    with OpenAIFake(key=KEY) as fake:
        pass                                            # closed: nothing listens on its port any more
    with connect(fake, tmp_path, max_retries=2) as client, pytest.raises(ProviderTimeout) as err:
        client.complete(HELLO)
    assert "could not connect" in str(err.value) and "is up and reachable" in str(err.value)
    assert len(err.value.attempts) == 3 and client.fake_clock.sleeps == [0.5, 1.0]


@pytest.mark.parametrize("status, page, title", [(502, NGINX_502, "502 Bad Gateway"),
                                                 (524, CLOUDFLARE_524, "api.cborg.lbl.gov | 524: A timeout occurred")])
def test_html_pages_from_proxies(fake, tmp_path, status, page, title):
    fake.script(*[Resp(status, page, content_type="text/html")] * 2)
    with connect(fake, tmp_path, max_retries=1) as client, pytest.raises(ServerError) as err:
        client.complete(HELLO)
    assert f"HTTP {status} '{title}'" in str(err.value) and "<" not in str(err.value)


@pytest.mark.parametrize("body", ['{"id": "chatcmpl-1", "choices": [{"mess', "[1, 2]", '{"object": "x"}', "null",
                                  '{"choices": []}'])
def test_a_malformed_or_empty_2xx_is_the_servers_fault_retried_then_reported(fake, tmp_path, body):
    fake.script(*[Resp(200, body)] * 3)
    with connect(fake, tmp_path, max_retries=2) as client, pytest.raises(MalformedResponse) as err:
        client.complete(HELLO)
    assert len(err.value.attempts) == 3 and err.value.status == 200 and err.value.retryable
    fake.script(Resp(200, body))
    with connect(fake, tmp_path) as client:
        assert client.complete(HELLO).text == "Paris."     # the next attempt's proper answer is taken


def test_bad_base_url_is_reported(tmp_path):
    cfg = make_config(tmp_path, {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": "api.openai.com/v1"})
    with client_for("openai:gpt-4.1", cfg) as client, pytest.raises(BadRequest, match="bad base URL"):
        client.complete(HELLO)


def test_failed_calls_are_logged_with_their_attempts(fake, tmp_path):
    fake.script(Resp(503, OPENAI_500), Resp(401, GENERIC_400))
    with connect(fake, tmp_path) as client, pytest.raises(AuthError):
        client.complete(HELLO)
    record = json.loads((tmp_path / "calls.jsonl").read_text())
    assert record["status"] == "AuthError" and [a["status"] for a in record["attempts"]] == [503, 401]
    assert record["usage"] is None and record["cost"] is None and "OPENAI_API_KEY" in record["error"]


# --- no key anywhere -----------------------------------------------------------------------------


def test_a_planted_key_never_leaks(tmp_path, caplog, capsys):
    planted = {"openai": "sk-PLANTED-openai-7f3a9c", "anthropic": "sk-ant-PLANTED-2b8e41",
               "gemini": "AIzaPLANTED-gemini-5d1c"}
    texts = []
    caplog.set_level(logging.DEBUG)
    echo = {"error": {"message": f"Incorrect API key provided: {planted['openai']}", "type": "x", "code": "y"}}
    with OpenAIFake(key=planted["openai"]) as oa, AnthropicFake(key=planted["anthropic"]) as an, \
            GeminiFake(key=planted["gemini"]) as ge:
        env = {"OPENAI_API_KEY": planted["openai"], "OPENAI_BASE_URL": oa.url + "/v1",
               "ANTHROPIC_API_KEY": planted["anthropic"], "ANTHROPIC_BASE_URL": an.url,
               "GEMINI_API_KEY": planted["gemini"], "GEMINI_BASE_URL": ge.url}
        cfg = make_config(tmp_path, env, max_retries=1, call_deadline=5, request_timeout=0.3)
        texts += [repr(cfg), str(cfg.keys)]
        oa.script(Resp(200, {"choices": []}), Resp(401, echo), Resp(500, OPENAI_500), Resp(500, OPENAI_500),
                  Resp(200, "not json"), Resp(200, {"choices": []}, delay=0.5), Resp(reset="before"),
                  Resp(401, echo, headers={"www-authenticate": f"Bearer {planted['openai']}"}))
        an.script(Resp(401, ANTHROPIC_401), Resp(529, ANTHROPIC_529), Resp(529, ANTHROPIC_529))
        ge.script(Resp(400, GEMINI_400_KEY))
        for model, calls in (("openai:gpt-5-mini", 7), ("anthropic:claude-haiku-4-5", 3),
                             ("gemini:gemini-2.5-flash", 2)):
            with client_for(model, cfg, sleep=FakeClock().sleep, session=loopback_session()) as client:
                texts.append(repr(client))
                for _ in range(calls):
                    try:
                        reply = client.complete(HELLO, {"max_tokens": 500})
                        texts.append(repr(reply) + json.dumps(reply.attempts))
                    except ProviderError as exc:
                        texts += [str(exc), repr(exc), exc.provider_message, json.dumps(exc.attempts)]
        # the keys really were sent, in the headers each protocol uses
        assert oa.requests[0].headers["authorization"] == f"Bearer {planted['openai']}"
        assert an.requests[0].headers["x-api-key"] == planted["anthropic"]
        assert ge.requests[0].headers["x-goog-api-key"] == planted["gemini"]
        assert all(planted["gemini"] not in r.path for r in ge.requests)
    texts.append(caplog.text)
    texts.append((tmp_path / "calls.jsonl").read_text())
    texts.append("".join(capsys.readouterr()))
    blob = "\n".join(texts)
    assert "Incorrect API key provided: <redacted>" in blob       # the echo was seen, and scrubbed
    assert len((tmp_path / "calls.jsonl").read_text().splitlines()) == 12
    for key in planted.values():
        assert key not in blob


def test_provider_text_with_braces_is_quoted_safely(fake, tmp_path):
    body = {"error": {"message": "bad {value}", "type": "invalid_request_error", "param": "{x}", "code": None}}
    fake.script(Resp(400, body))
    with connect(fake, tmp_path) as client, pytest.raises(BadRequest) as err:
        client.complete(HELLO)
    assert "'bad {value}'" in str(err.value) and "parameter '{x}'" in str(err.value)
