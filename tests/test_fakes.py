"""The fakes themselves: a streamed default answer says what the plain one says, each Resp knob puts the promised
bytes on the wire at the promised times, and the auth, paths and fault helpers do what they document."""

import http.client
import json
import math
import random
import socket
import time

import pytest
from support import sse
from support.faults import EMPTY_200, QUOTA_REPLIES, echo_key, error_storm, huge_body, random_schedule
from support.fakes import (ANTHROPIC_529, DEFAULT, GEMINI_400_KEY, OPENAI_401_ORG, OPENAI_500, AnthropicFake,
                           GeminiFake, OpenAIFake, Resp, anthropic_message, gemini_response, llamacpp_400_context,
                           openai_completion)

KEY = "test-key-0000"
HI = [{"role": "user", "content": "Capital of France?"}]
FAKES = {"openai": OpenAIFake, "anthropic": AnthropicFake, "gemini": GeminiFake}


def request(style, stream=False, usage=True, version="v1beta", **body):
    """(path, body, headers) of a minimal valid request to the fake of `style`."""
    if style == "openai":
        extra = {"stream": True, "stream_options": {"include_usage": usage}} if stream else {}
        return "/v1/chat/completions", {"model": "gpt-4.1", "messages": HI, **extra, **body}, \
            {"Authorization": f"Bearer {KEY}"}
    if style == "anthropic":
        return "/v1/messages", {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": HI,
                                **({"stream": True} if stream else {}), **body}, \
            {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return f"/{version}/models/gemini-2.5-flash:{method}", \
        {"contents": [{"role": "user", "parts": [{"text": "Capital of France?"}]}], **body}, {"x-goog-api-key": KEY}


def post(fake, path, body, headers, timeout=5):
    """(status, headers, body bytes) of one POST, through the stdlib client (it de-chunks streams)."""
    conn = http.client.HTTPConnection("127.0.0.1", fake._server.server_address[1], timeout=timeout)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json", **headers})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def raw(fake, path, body, headers, timeout=2.0):
    """Send one request on a bare socket; [(seconds since sending, bytes)] as they arrive, and how it ended."""
    data = json.dumps(body).encode()
    head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": "127.0.0.1", "Content-Type": "application/json",
                                                 "Content-Length": len(data), **headers}.items())
    sock = socket.create_connection(("127.0.0.1", fake._server.server_address[1]), timeout=timeout)
    sock.sendall(f"POST {path} HTTP/1.1\r\n{head}\r\n".encode() + data)
    start, got, end = time.monotonic(), [], "eof"
    try:
        while chunk := sock.recv(65536):
            got.append((time.monotonic() - start, chunk))
            if chunk.endswith(b"0\r\n\r\n") or _complete(got):
                end = "complete"
                break
    except socket.timeout:
        end = "timeout"
    except ConnectionResetError:
        end = "reset"
    finally:
        sock.close()
    return got, end


def _complete(got):
    wire = b"".join(c for _, c in got)
    head, blank, body = wire.partition(b"\r\n\r\n")
    if not blank:
        return False
    length = [int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")]
    return bool(length) and len(body) >= length[0]


def dechunk(wire: bytes):
    """(body, whether the chunked body was terminated) of a raw HTTP reply."""
    _, _, rest = wire.partition(b"\r\n\r\n")
    body = b""
    while rest:
        size, _, rest = rest.partition(b"\r\n")
        if not size or int(size, 16) == 0:
            return body, bool(size)
        body, rest = body + rest[:int(size, 16)], rest[int(size, 16) + 2:]
    return body, False


# --- a stream says what the plain answer says ----------------------------------------------------


@pytest.mark.parametrize("flavor", ["openai", "vllm", "ollama", "llamacpp", "litellm"])
@pytest.mark.parametrize("usage", [True, False])
def test_openai_stream_equals_plain_answer(flavor, usage):
    with OpenAIFake(key=KEY, flavor=flavor) as fake:
        _, _, plain = post(fake, *request("openai"))
        status, headers, data = post(fake, *request("openai", stream=True, usage=usage))
    plain = json.loads(plain)
    message, got = plain["choices"][0]["message"], sse.openai_result(data)
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    assert headers["transfer-encoding"] == "chunked" and got["done"] and got["error"] is None
    assert (got["text"], got["finish"]) == (message["content"], plain["choices"][0]["finish_reason"])
    assert got["reasoning"] == (message.get("reasoning_content") or "")
    assert got["usage"] == (plain["usage"] if usage else None)
    events = [json.loads(d) for _, d in sse.parse(data) if d != "[DONE]"]
    if flavor == "llamacpp":      # as the real server: timings on the last chunk, usage only when asked
        assert "timings" in events[-1] and all("timings" not in e for e in events[:-1])


@pytest.mark.parametrize("thinking", [False, True])
def test_anthropic_stream_equals_plain_answer(thinking):
    extra = {"thinking": {"type": "enabled", "budget_tokens": 1024}} if thinking else {}
    with AnthropicFake(key=KEY) as fake:
        _, _, plain = post(fake, *request("anthropic", **extra))
        status, headers, data = post(fake, *request("anthropic", stream=True, **extra))
    plain, got = json.loads(plain), sse.anthropic_result(data)
    names = [name for name, _ in sse.parse(data)]
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"] and "ping" in names
    assert got["text"] == "".join(b["text"] for b in plain["content"] if b["type"] == "text")
    assert got["thinking"] == "".join(b.get("thinking", "") for b in plain["content"])
    assert got["stop"] == plain["stop_reason"] and got["done"]
    assert {k: got["usage"][k] for k in ("input_tokens", "output_tokens")} == \
        {k: plain["usage"][k] for k in ("input_tokens", "output_tokens")}


@pytest.mark.parametrize("version", ["v1beta", "v1"])
@pytest.mark.parametrize("thought", [None, "**Pinpointing the capital**\nFrance's capital."])
def test_gemini_stream_equals_plain_answer(version, thought):
    with GeminiFake(key=KEY) as fake:
        fake.script(Resp(200, gemini_response(thought=thought)), Resp(200, gemini_response(thought=thought)))
        _, _, plain = post(fake, *request("gemini", version=version))
        status, headers, data = post(fake, *request("gemini", stream=True, version=version))
    plain, got = json.loads(plain), sse.gemini_result(data)
    parts = plain["candidates"][0]["content"]["parts"]
    assert status == 200 and headers["content-type"] == "text/event-stream" and b"\r\n\r\n" in data
    assert got["text"] == "".join(p["text"] for p in parts if not p.get("thought"))
    assert got["thoughts"] == (thought or "")
    assert (got["finish"], got["usage"]) == (plain["candidates"][0]["finishReason"], plain["usageMetadata"])
    chunks = [json.loads(d) for _, d in sse.parse(data)]
    assert len(chunks) > 1 and all("finishReason" not in c["candidates"][0] for c in chunks[:-1])


def test_gemini_stream_without_alt_sse_is_a_json_array():
    with GeminiFake(key=KEY) as fake:
        path, body, headers = request("gemini")
        status, got_headers, data = post(fake, path.replace("generateContent", "streamGenerateContent"), body,
                                         headers)
    chunks = json.loads(data)
    assert status == 200 and got_headers["content-type"].startswith("application/json")
    assert "".join(c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks) == "Paris."


@pytest.mark.parametrize("name", sorted(EMPTY_200))
def test_scripted_bodies_stream_when_asked(name):
    style, body = EMPTY_200[name]
    with FAKES[style](key=KEY) as fake:
        fake.script(Resp(200, body))
        status, headers, data = post(fake, *request(style, stream=True))
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    got = getattr(sse, f"{style}_result")(data)
    assert got["text"] == ""
    if style == "anthropic":
        assert got["stop"] == "end_turn" and got["done"]


def test_refusal_streams_as_refusal_deltas():
    body = openai_completion(None, extra_message={"refusal": "I can't help with that."})
    with OpenAIFake(key=KEY) as fake:
        fake.script(Resp(200, body))
        _, _, data = post(fake, *request("openai", stream=True))
    got = sse.openai_result(data)
    assert (got["text"], got["refusal"], got["finish"]) == ("", "I can't help with that.", "stop")


def test_stream_false_answers_json_although_asked():
    with OpenAIFake(key=KEY) as fake:
        fake.script(Resp(200, openai_completion("plain"), stream=False))
        _, headers, data = post(fake, *request("openai", stream=True))
    assert headers["content-type"] == "application/json" and json.loads(data)["choices"][0]["message"]["content"]


def test_errors_are_plain_json_even_for_streams():
    with OpenAIFake(key=KEY, flavor="llamacpp") as fake:
        fake.script(Resp(400, llamacpp_400_context(), headers={"Connection": "close"}))
        status, headers, data = post(fake, *request("openai", stream=True))
    assert status == 400 and headers["content-type"] == "application/json"
    assert json.loads(data)["error"]["type"] == "exceed_context_size_error"


def test_keep_alive_survives_a_stream():
    with OpenAIFake(key=KEY) as fake:
        conn = http.client.HTTPConnection("127.0.0.1", fake._server.server_address[1], timeout=5)
        path, body, headers = request("openai", stream=True)
        for _ in range(2):
            conn.request("POST", path, json.dumps(body), headers)
            assert sse.openai_result(conn.getresponse().read())["done"]
        conn.close()


# --- stream knobs -----------------------------------------------------------------------------------


def test_stall_after_sends_n_events_then_keeps_the_socket_open():
    with AnthropicFake(key=KEY) as fake:
        fake.script(Resp(body=DEFAULT, stall_after=3))
        got, end = raw(fake, *request("anthropic", stream=True), timeout=0.3)
    body, terminated = dechunk(b"".join(c for _, c in got))
    assert end == "timeout" and not terminated
    assert [name for name, _ in sse.parse(body)] == ["message_start", "content_block_start", "ping"]


def test_truncate_after_closes_without_terminator():
    with OpenAIFake(key=KEY) as fake:
        fake.script(Resp(body=DEFAULT, truncate_after=2))
        got, end = raw(fake, *request("openai", stream=True))
        with pytest.raises(http.client.IncompleteRead):
            fake.script(Resp(body=DEFAULT, truncate_after=2))
            post(fake, *request("openai", stream=True))
    body, terminated = dechunk(b"".join(c for _, c in got))
    assert end == "eof" and not terminated and len(sse.parse(body)) == 2 and b"[DONE]" not in body


@pytest.mark.parametrize("style, error", [("anthropic", ANTHROPIC_529["error"]), ("openai", OPENAI_500["error"]),
                                          ("gemini", {"code": 503, "status": "UNAVAILABLE"})])
def test_error_after_sends_the_protocols_error_event(style, error):
    with FAKES[style](key=KEY) as fake:
        fake.script(Resp(body=DEFAULT, error_after=1))
        status, _, data = post(fake, *request(style, stream=True))
    events = sse.parse(data)
    last = json.loads(events[-1][1])
    assert status == 200 and len(events) == 2 and error.items() <= last["error"].items()
    if style == "anthropic":
        assert events[-1][0] == "error" and last["type"] == "error"


def test_explicit_events_and_pace():
    events = [{"type": "message_start", "message": anthropic_message("")}, b": keep-alive\n\n",
              "event: message_stop\ndata: {\"type\": \"message_stop\"}"]
    with AnthropicFake(key=KEY) as fake:
        fake.script(Resp(events=events, pace=0.05))
        got, end = raw(fake, *request("anthropic", stream=True))
    body, terminated = dechunk(b"".join(c for _, c in got))
    assert end == "complete" and terminated and [n for n, _ in sse.parse(body)] == ["message_start", "message_stop"]
    assert got[-1][0] >= 3 * 0.05 * 0.9 and b": keep-alive" in body


# --- transport knobs ---------------------------------------------------------------------------------


def test_head_trickle_sends_status_line_and_headers_byte_by_byte():
    with OpenAIFake(key=KEY) as fake:
        fake.script(Resp(body=DEFAULT, head_trickle=0.002))
        got, end = raw(fake, *request("openai"))
    wire = b"".join(c for _, c in got)
    head_bytes = len(wire.partition(b"\r\n\r\n")[0]) + 4
    assert end == "complete" and wire.startswith(b"HTTP/1.1 200")
    assert len(got) > head_bytes / 4                                # arrives in many small pieces
    assert arrival(got, head_bytes - 1) - arrival(got, 0) >= (head_bytes - 1) * 0.002 * 0.9


def test_delay_is_silence_before_the_status_line():
    with GeminiFake(key=KEY) as fake:
        fake.script(Resp(body=DEFAULT, delay=0.2))
        got, end = raw(fake, *request("gemini"))
    assert end == "complete" and got[0][0] >= 0.19


def arrival(got, n):
    """Seconds until the first n+1 bytes of the reply had arrived."""
    total = 0
    for t, chunk in got:
        total += len(chunk)
        if total > n:
            return t
    return math.inf


def test_schedule_paces_the_whole_reply():
    with OpenAIFake(key=KEY) as fake:
        fake.script(Resp(body=DEFAULT, schedule=[(5, 0.1), (0, 0.1), (10, 0.1)]))
        got, end = raw(fake, *request("openai"))
    assert end == "complete" and b"".join(c for _, c in got)[:5] == b"HTTP/"
    assert arrival(got, 5) - arrival(got, 0) >= 0.19 and arrival(got, 15) - arrival(got, 0) >= 0.29


def test_schedule_stall_ends_when_client_hangs_up_and_fake_closes_at_once():
    fake = OpenAIFake(key=KEY).__enter__()
    fake.always(Resp(body=DEFAULT, schedule=[(20, math.inf)]))
    got, end = raw(fake, *request("openai"), timeout=0.2)
    assert end == "timeout" and sum(len(c) for _, c in got) == 20
    fake.always(None)
    assert post(fake, *request("openai"))[0] == 200          # the stalled handler does not block others
    held = socket.create_connection(("127.0.0.1", fake._server.server_address[1]))
    held.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
    fake.script(Resp(delay=math.inf))
    start = time.monotonic()
    fake.__exit__(None, None, None)
    held.close()
    assert time.monotonic() - start < 1


@pytest.mark.parametrize("seed", range(4))
def test_random_schedules_deliver_the_reply_intact(seed):
    schedule = [s for s in random_schedule(random.Random(seed), max_pause=0.02) if s[1] != math.inf]
    with OpenAIFake(key=KEY) as fake:
        fake.script(Resp(body=DEFAULT, schedule=schedule))
        status, _, data = post(fake, *request("openai", stream=True))
    assert status == 200 and sse.openai_result(data)["text"] == "Paris."


def test_always_storms_after_the_scripted_replies():
    with OpenAIFake(key=KEY) as fake:
        fake.script(Resp(200, openai_completion("first")))
        error_storm(fake, 500)
        statuses = [post(fake, *request("openai"))[0] for _ in range(4)]
        fake.always(None)
        statuses.append(post(fake, *request("openai"))[0])
    assert statuses == [200, 500, 500, 500, 200]


def test_huge_body_is_50_mib():
    with AnthropicFake(key=KEY) as fake:
        fake.script(Resp(200, huge_body("anthropic")))
        status, _, data = post(fake, *request("anthropic"), timeout=30)
    assert status == 200 and len(json.loads(data)["content"][0]["text"]) == 50 * 2**20


# --- auth, paths, fault bodies ---------------------------------------------------------------------------


def test_anthropic_accepts_bearer_and_any_version():
    with AnthropicFake(key=KEY) as fake:
        path, body, _ = request("anthropic")
        ok = post(fake, path, body, {"Authorization": f"Bearer {KEY}", "anthropic-version": "2026-10-21"})
        wrong = post(fake, path, body, {"Authorization": "Bearer nope", "anthropic-version": "2023-06-01"})
        no_version = post(fake, path, body, {"x-api-key": KEY})
    assert (ok[0], wrong[0], no_version[0]) == (200, 401, 400)


def test_gemini_serves_v1_and_v1beta_with_header_or_query_key():
    with GeminiFake(key=KEY) as fake:
        path, body, headers = request("gemini", version="v1")
        assert post(fake, path, body, headers)[0] == 200
        assert post(fake, path + f"?key={KEY}", body, {})[0] == 200
        status, _, data = post(fake, path, body, {"x-goog-api-key": "nope"})
        assert (status, json.loads(data)) == (400, GEMINI_400_KEY)
        assert post(fake, "/v2/models/gemini-2.5-flash:generateContent", body, headers)[0] == 404


def test_openai_records_organization_and_project():
    with OpenAIFake(key=KEY, org="org-right") as fake:
        path, body, headers = request("openai")
        ok = post(fake, path, body, {**headers, "OpenAI-Organization": "org-right", "OpenAI-Project": "proj_1"})
        wrong = post(fake, path, body, {**headers, "OpenAI-Organization": "org-other"})
    assert ok[0] == 200 and (wrong[0], json.loads(wrong[2])) == (401, OPENAI_401_ORG)
    assert fake.requests[0].headers["openai-project"] == "proj_1"


@pytest.mark.parametrize("style", sorted(FAKES))
def test_echo_key_repeats_the_key(style):
    with FAKES[style](key=KEY) as fake:
        fake.script(echo_key())
        status, _, data = post(fake, *request(style))
    assert status == 401 and KEY in data.decode()


@pytest.mark.parametrize("name", sorted(QUOTA_REPLIES))
def test_quota_replies_have_their_protocols_error_shape(name):
    style, status, body = QUOTA_REPLIES[name]
    with FAKES[style](key=KEY) as fake:
        fake.script(Resp(status, body))
        got_status, _, data = post(fake, *request(style))
    error = json.loads(data)["error"]
    assert got_status == status and error["message"]
    assert {"anthropic": error.get("type") in ("invalid_request_error", "rate_limit_error"),
            "gemini": error.get("status") == "RESOURCE_EXHAUSTED", "openai": True}[style]
